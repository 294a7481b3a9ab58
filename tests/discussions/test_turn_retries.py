"""A provider that is down beyond the gateway's retries is waited out; a fatal error is not."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import DiscussionStatus, Mode
from simfocus.llm.errors import AuthenticationFailed, CircuitOpen
from simfocus.personas.schemas import TurnOutcome, TurnRequest
from tests.discussions.harness import build
from tests.factories import create_study


async def test_an_open_circuit_is_waited_out_and_the_turn_retried(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await build(
        sqlite_engine, create_study(templates, mode=Mode.CREATIVE, personas=2, rounds=2)
    )
    speak, failures = h.runner.speak, [CircuitOpen("openai is failing"), CircuitOpen("still")]

    async def flaky(pid: str, turn: TurnRequest) -> TurnOutcome:
        if failures and turn.round == 2:
            raise failures.pop(0)
        return await speak(pid, turn)

    h.runner.speak = flaky
    h.runner.provider_wait_s = 0.01
    snapshot = await h.runner.run()
    assert snapshot.status is DiscussionStatus.COMPLETED, snapshot.status_reason
    stored = await h.store.messages(h.runner.id)
    assert len([m for m in stored if m.role == "persona"]) == 4 and not failures


async def test_a_provider_down_for_too_long_or_a_bad_key_fails_with_the_reason(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    for error, retries in (
        (CircuitOpen("openai is down"), 2),
        (AuthenticationFailed("refused the API key", status_code=401), 0),
    ):
        h = await build(
            sqlite_engine, create_study(templates, mode=Mode.CREATIVE, personas=2, rounds=2)
        )
        calls = 0

        async def broken(pid: str, turn: TurnRequest, error: Exception = error) -> TurnOutcome:
            nonlocal calls
            calls += 1
            raise error

        h.runner.speak = broken
        h.runner.provider_wait_s = 0.01
        snapshot = await h.runner.run()
        assert snapshot.status is DiscussionStatus.FAILED
        assert str(error) in (snapshot.status_reason or "")
        assert calls == retries + 1


async def test_paused_after_the_last_turn_it_completes_on_resume(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    import asyncio

    h = await build(
        sqlite_engine, create_study(templates, mode=Mode.CREATIVE, personas=2, rounds=1)
    )
    speak, turns = h.runner.speak, []

    async def pausing(pid: str, turn: TurnRequest) -> TurnOutcome:
        outcome = await speak(pid, turn)
        turns.append(pid)
        if len(turns) == 2:  # the last turn: the user pauses as it is said
            await h.runner.pause()
        return outcome

    h.runner.speak = pausing
    run = asyncio.create_task(h.runner.run())
    while h.runner.status is not DiscussionStatus.PAUSED:
        await h.runner.events_since(h.runner.events.last_seq, h.runner.events.version, 1.0)
    await asyncio.sleep(0.05)
    assert not run.done(), "a paused discussion does not complete behind the user's back"
    await h.runner.resume()
    snapshot = await asyncio.wait_for(run, 10)
    assert snapshot.status is DiscussionStatus.COMPLETED, snapshot.status_reason
