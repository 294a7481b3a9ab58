"""The moderator's logic without Ray: real minds, gateway and SQLite store."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncEngine

from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.phases import PhasePlan
from simfocus.discussions.schemas import DiscussionStatus, Mode
from tests.discussions.harness import build
from tests.factories import create_study


async def wait_for_seq(runner, seq: int, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async def until() -> None:
        while runner.events.last_seq < seq:
            await runner.events_since(runner.events.last_seq, timeout=1.0)

    await asyncio.wait_for(until(), timeout)


async def test_a_discussion_runs_to_completion_with_every_turn_committed(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await build(
        sqlite_engine, create_study(templates, mode=Mode.CREATIVE, personas=3, rounds=4)
    )
    snapshot = await h.runner.run()
    assert snapshot.status is DiscussionStatus.COMPLETED
    stored = await h.store.messages(h.runner.id)
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    persona = [m for m in stored if m.role == "persona"]
    assert len(persona) == 3 * 4
    plan = PhasePlan.for_rounds(4)
    assert all(m.phase is plan.phase_of(m.round) for m in persona)
    assert snapshot.cost_micro_usd == sum(m.cost_micro_usd for m in stored) > 0
    assert all(m.simulated for m in persona)
    # each persona remembers what it heard, but only up to its last turn
    assert all(mind.memory.last_seq > 0 for mind in h.minds.values())


async def test_pause_holds_at_the_boundary_and_resume_continues(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await build(sqlite_engine, create_study(templates, personas=3, rounds=3, latency_ms=30))
    task = asyncio.create_task(h.runner.run())
    await wait_for_seq(h.runner, 3)
    await h.runner.pause()
    await asyncio.sleep(0.1)  # the turn in flight may still land
    held = h.runner.events.last_seq
    await asyncio.sleep(0.4)
    assert h.runner.events.last_seq == held, "no new messages while paused"
    assert h.runner.snapshot().status is DiscussionStatus.PAUSED
    await h.runner.resume()
    assert (await task).status is DiscussionStatus.COMPLETED
    assert h.runner.events.last_seq > held


async def test_an_injected_question_is_answered_by_everyone_next(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await build(sqlite_engine, create_study(templates, personas=4, rounds=4, latency_ms=20))
    task = asyncio.create_task(h.runner.run())
    await wait_for_seq(h.runner, 3)
    question = await h.runner.inject_question("Would you pay 12 euros a month for it?")
    await task
    stored = await h.store.messages(h.runner.id)
    after = [m for m in stored if m.seq > question.seq and m.role == "persona"]
    # The turn in flight may land first; then all four answer before the plan continues.
    answers = [m for m in after if m.responds_to_seq == question.seq]
    assert sorted(m.participant_id for m in answers) == sorted(h.minds)
    first_answer = after.index(answers[0])
    assert first_answer <= 1 and after[first_answer : first_answer + 4] == answers
    assert all('"Would you pay 12 euros a month for it?"' in m.content for m in answers)


async def test_stop_cancels_the_turn_in_flight_and_keeps_what_was_said(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await build(sqlite_engine, create_study(templates, personas=3, rounds=5, latency_ms=400))
    task = asyncio.create_task(h.runner.run())
    await wait_for_seq(h.runner, 3)
    await asyncio.sleep(0.1)  # a turn is in flight now
    said = h.runner.events.last_seq
    await h.runner.stop()
    snapshot = await task
    assert (
        snapshot.status is DiscussionStatus.STOPPED and snapshot.status_reason == "stopped by user"
    )
    stored = await h.store.messages(h.runner.id)
    assert len(stored) == said == snapshot.last_seq
    # the call in flight was cancelled, not awaited: it is booked at its worst case
    assert h.gateway.ledger.spent(h.runner.id) > sum(m.cost_micro_usd for m in stored)


async def test_a_budget_that_runs_out_stops_the_discussion_without_overspend(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await build(sqlite_engine, create_study(templates, personas=3, rounds=20, budget_usd=0.002))
    snapshot = await h.runner.run()
    assert snapshot.status is DiscussionStatus.STOPPED
    assert snapshot.status_reason and snapshot.status_reason.startswith("budget exhausted")
    spent = h.gateway.ledger.spent(h.runner.id)
    assert spent == snapshot.cost_micro_usd
    assert spent <= 2000 * 0.9, "turns never touch the share kept for the report"
    assert snapshot.round < 20


async def test_controls_validate_their_input(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    import pytest

    from simfocus.discussions.errors import InvalidTransition
    from simfocus.kit.errors import ValidationFailed

    h = await build(sqlite_engine, create_study(templates, personas=2, rounds=1))
    with pytest.raises(InvalidTransition):
        await h.runner.resume()
    with pytest.raises(ValidationFailed) as info:
        await h.runner.set_speed(50)
    assert info.value.field == "speed"
    with pytest.raises(ValidationFailed):
        await h.runner.inject_question("   ")
    await h.runner.run()
    with pytest.raises(InvalidTransition):
        await h.runner.pause()
    with pytest.raises(InvalidTransition):
        await h.runner.inject_question("Too late?")


async def test_speed_scales_the_pacing_even_mid_wait(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await build(sqlite_engine, create_study(templates, personas=2, rounds=2, pacing_s=30))
    assert h.runner.pacing_delay() == 30
    task = asyncio.create_task(h.runner.run())
    await wait_for_seq(h.runner, 2)  # the first turn is done: a 30 s pause begins
    await h.runner.set_speed(10.0)
    assert h.runner.pacing_delay() == 3
    await h.runner.stop()
    assert (await task).status is DiscussionStatus.STOPPED
    await h.runner.set_speed(0.5)
    assert h.runner.snapshot().speed == 0.5
