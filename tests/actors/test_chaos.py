"""Chaos: actor processes killed with SIGKILL during real runs, each kind several times.

After every crash the discussion must go on from the store: no message lost, none
doubled, ``seq`` gap-free, and no budget exceeded (the call log, including the calls that
were in flight when the gateway died, never adds up to more than the budget).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
import ray
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from actors.moderator import moderator_name, persona_name
from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import DiscussionStatus, Message, Mode
from simfocus.settings import Settings
from simfocus.store.engine import session_factory
from simfocus.store.models import LLMCallRow, ReservationRow
from simfocus.studies.schemas import Study
from tests.factories import create_study

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_cluster")]


def sigkill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def assert_whole(messages: list[Message], persona_turns: int) -> None:
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1)), "gap-free seq"
    persona = [m for m in messages if m.role == "persona"]
    assert len(persona) == persona_turns, "every turn exactly once"
    said = [(m.participant_id, m.round, m.responds_to_seq) for m in persona]
    assert len(said) == len(set(said)), "no turn doubled"


async def test_personas_killed_by_pid_mid_turn_each_come_back(
    launch: Callable[[Study], Any], templates: TemplateLibrary
) -> None:
    run = await launch(
        create_study(templates, mode=Mode.CREATIVE, personas=3, rounds=5, latency_ms=400, seed=11)
    )
    killed = 0
    for victim in run.setup.participants:  # each persona once (each may restart once)
        await run.wait_for_seq(2 + 3 * killed)
        handle = ray.get_actor(
            persona_name(run.setup.discussion_id, victim.position, victim.character.name)
        )
        sigkill(await handle.process_id.remote())
        killed += 1
    snapshot = await run.moderator.wait_finished.remote(180)
    assert snapshot.status is DiscussionStatus.COMPLETED, snapshot.status_reason
    assert_whole(await run.messages(), 3 * 5)


async def _name_released(name: str, timeout: float = 30) -> None:
    """Until the killed actor's name is free (``live_actor`` releases a dead one's)."""
    from actors.errors import live_actor

    await asyncio.wait_for(live_actor(name), timeout)
    with pytest.raises(ValueError):
        ray.get_actor(name)


async def _spent(engine: AsyncEngine, discussion_id: str, gateway: Any) -> int:
    await gateway.flush_call_log.remote()
    async with session_factory(engine)() as session:
        logged = await session.scalar(
            select(func.coalesce(func.sum(LLMCallRow.cost_micro_usd), 0)).where(
                LLMCallRow.discussion_id == discussion_id
            )
        )
        open_ = await session.scalar(
            select(func.coalesce(func.sum(ReservationRow.amount), 0)).where(
                ReservationRow.discussion_id == discussion_id
            )
        )
    return int(logged or 0) + int(open_ or 0)


async def test_the_gateway_killed_twice_mid_call_keeps_the_budget_and_the_transcript(
    launch: Callable[[Study], Any],
    templates: TemplateLibrary,
    settings: Settings,
    sqlite_engine: AsyncEngine,
) -> None:
    from actors.builders import gateway_actor

    gateway = gateway_actor(settings)
    # A budget that the whole discussion would overrun: it must stop on budget, never past it.
    study = create_study(
        templates, mode=Mode.CREATIVE, personas=3, rounds=12, latency_ms=300, budget_usd=0.004
    )
    run = await launch(study)
    for seq in (3, 7):
        await run.wait_for_seq(seq)
        await asyncio.sleep(0.1)  # a call is in flight now
        sigkill(await gateway.process_id.remote())
        await asyncio.sleep(0.5)
    snapshot = await run.moderator.wait_finished.remote(180)
    assert snapshot.status in (DiscussionStatus.COMPLETED, DiscussionStatus.STOPPED), (
        snapshot.status_reason
    )
    messages = await run.messages()
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    said = [(m.participant_id, m.round, m.responds_to_seq) for m in messages if m.participant_id]
    assert len(said) == len(set(said)), "no turn doubled"
    budget = study.discussion.budget_micro_usd
    assert budget is not None
    turn_limit = budget - round(budget * settings.report_budget_share)
    assert sum(m.cost_micro_usd for m in messages) <= turn_limit
    assert await _spent(sqlite_engine, run.setup.discussion_id, gateway) <= budget
    async with session_factory(sqlite_engine)() as session:
        lost = await session.scalar(
            select(func.count()).where(
                LLMCallRow.discussion_id == run.setup.discussion_id, LLMCallRow.status == "lost"
            )
        )
    assert lost is not None and lost >= 1, "calls in flight at the crash are booked"


async def test_the_moderator_killed_by_pid_twice_is_resumed_each_time(
    launch: Callable[[Study], Any], templates: TemplateLibrary, settings: Settings
) -> None:
    from actors.builders import gateway_actor, moderator_actor

    study = create_study(
        templates, mode=Mode.CREATIVE, personas=3, rounds=6, latency_ms=150, seed=5
    )
    run = await launch(study)
    moderator = run.moderator
    extra: list[Any] = []
    try:
        for seq in (4, 10):
            while (await moderator.events_since.remote(0, None, 2.0)).snapshot.last_seq < seq:
                pass
            sigkill(await moderator.process_id.remote())
            await _name_released(moderator_name(run.setup.discussion_id))
            before = await run.messages()
            moderator = moderator_actor(settings, run.setup.discussion_id, gateway_actor(settings))
            extra.append(moderator)
            snapshot = await moderator.start.remote()
            assert snapshot.last_seq == len(before), "seq continues from the store"
        final = await moderator.wait_finished.remote(180)
    finally:
        for m in extra:
            with contextlib.suppress(ray.exceptions.RayActorError):
                await m.shutdown.remote()
            ray.kill(m)
    assert final.status is DiscussionStatus.COMPLETED, final.status_reason
    assert_whole(await run.messages(), 3 * 6)
