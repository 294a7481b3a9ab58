"""The discussion engine on a real local Ray: moderator, persona and gateway actors."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import ray

from actors.moderator import moderator_name
from simfocus.characters.schemas import Stance
from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.modes import TurnPlanner
from simfocus.discussions.phases import PhasePlan
from simfocus.discussions.schemas import DiscussionStatus, Mode
from simfocus.settings import Settings
from simfocus.studies.schemas import Study
from tests.factories import create_character, create_study

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_cluster")]


PANELS = {
    Mode.FREE: None,
    Mode.CREATIVE: None,
    Mode.CONSENSUS: None,
    Mode.STRUCTURED: [Stance.SUPPORT, Stance.OPPOSE, Stance.NEUTRAL, Stance.OPPOSE],
}


@pytest.mark.parametrize("mode", list(Mode))
async def test_each_mode_completes_with_the_planned_speakers(
    mode: Mode, launch: Callable[[Study], Any], templates: TemplateLibrary
) -> None:
    stances = PANELS[mode]
    panel = (
        [create_character(f"Person {i}", stance=s) for i, s in enumerate(stances)]
        if stances
        else None
    )
    personas = (
        len(stances) if stances else {Mode.FREE: 5, Mode.CREATIVE: 3, Mode.CONSENSUS: 4}[mode]
    )
    study = create_study(templates, mode=mode, personas=personas, rounds=5, panel=panel, seed=9)
    run = await launch(study)
    snapshot = await run.moderator.wait_finished.remote(60)
    assert snapshot.status is DiscussionStatus.COMPLETED, snapshot.status_reason
    messages = await run.messages()
    planner = TurnPlanner(mode, run.setup.participants, PhasePlan.for_rounds(5), 9)
    expected = [s.participant_id for r in range(1, 6) for s in planner.round_turns(r)]
    assert [m.participant_id for m in messages if m.role == "persona"] == expected
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    if mode is Mode.CONSENSUS:
        closing = [m for m in messages if m.phase.value == "closing" and m.role == "persona"]
        assert all("Shared statement:" in m.content for m in closing)


async def test_pause_resume_and_a_gap_free_event_stream(
    launch: Callable[[Study], Any], templates: TemplateLibrary
) -> None:
    run = await launch(create_study(templates, personas=3, rounds=3, latency_ms=40))
    events: list[dict[str, Any]] = []

    async def watch() -> None:
        last, version = 0, None
        while True:
            batch = await run.moderator.events_since.remote(last, version, 5.0)
            for event in batch.events:
                events.append(event)
                last = event["seq"]
            version = batch.snapshot.version
            if batch.snapshot.status.is_terminal and last >= batch.snapshot.last_seq:
                return

    watcher = asyncio.create_task(watch())
    await run.wait_for_seq(3)
    paused = await run.moderator.pause.remote()
    assert paused.status is DiscussionStatus.PAUSED
    await asyncio.sleep(0.2)  # the turn in flight may still land
    held = (await run.moderator.snapshot.remote()).last_seq
    await asyncio.sleep(0.6)
    assert (await run.moderator.snapshot.remote()).last_seq == held, "no new messages while paused"
    await run.moderator.resume.remote()
    assert (await run.moderator.wait_finished.remote(60)).status is DiscussionStatus.COMPLETED
    await asyncio.wait_for(watcher, 30)
    stored = await run.messages()
    assert [e["seq"] for e in events] == [m.seq for m in stored] == list(range(1, len(stored) + 1))
    assert [e["message"]["content"] for e in events] == [m.content for m in stored]


async def test_an_injected_question_is_answered_by_every_persona(
    launch: Callable[[Study], Any], templates: TemplateLibrary
) -> None:
    run = await launch(create_study(templates, personas=4, rounds=4, latency_ms=30))
    await run.wait_for_seq(3)
    question = await run.moderator.inject_question.remote("What would make you switch today?")
    assert question.kind == "question" and question.role == "moderator"
    await run.moderator.wait_finished.remote(60)
    messages = await run.messages()
    answers = [m for m in messages if m.responds_to_seq == question.seq]
    assert sorted(m.participant_id for m in answers) == sorted(p.id for p in run.setup.participants)
    persona_after = [m for m in messages if m.seq > question.seq and m.role == "persona"]
    assert persona_after.index(answers[0]) <= 1, "answered in the next turns"


async def test_stop_mid_turn_keeps_everything_said(
    launch: Callable[[Study], Any], templates: TemplateLibrary
) -> None:
    run = await launch(create_study(templates, personas=3, rounds=6, latency_ms=1500))
    await run.wait_for_seq(2)
    await asyncio.sleep(0.3)  # persona 2's 1.5 s call is in flight
    before = (await run.moderator.snapshot.remote()).last_seq
    await run.moderator.stop.remote("enough")
    snapshot = await run.moderator.wait_finished.remote(10)
    assert snapshot.status is DiscussionStatus.STOPPED and snapshot.status_reason == "enough"
    messages = await run.messages()
    assert len(messages) == before == snapshot.last_seq


async def test_a_budget_that_runs_out_stops_without_overspend(
    launch: Callable[[Study], Any], templates: TemplateLibrary, settings: Settings
) -> None:
    run = await launch(create_study(templates, personas=3, rounds=30, budget_usd=0.003))
    snapshot = await run.moderator.wait_finished.remote(60)
    assert snapshot.status is DiscussionStatus.STOPPED, snapshot.status_reason
    assert "budget exhausted" in (snapshot.status_reason or "")
    messages = await run.messages()
    assert sum(m.cost_micro_usd for m in messages) == snapshot.cost_micro_usd <= 3000
    status = await ray.get_actor(settings.gateway_name).budget_status.remote(
        run.setup.discussion_id
    )
    assert status.spent_micro_usd == snapshot.cost_micro_usd


async def test_actors_are_named_and_personas_keep_their_own_memory(
    launch: Callable[[Study], Any], templates: TemplateLibrary
) -> None:
    run = await launch(create_study(templates, mode=Mode.CREATIVE, personas=3, rounds=8))
    await run.moderator.wait_finished.remote(60)
    assert ray.get_actor(moderator_name(run.setup.discussion_id))
    states = [await run.moderator.persona_memory.remote(p.id) for p in run.setup.participants]
    assert all(s["turns_taken"] == 8 for s in states)
    assert len({tuple(s["own_points"]) for s in states}) == 3, (
        "each persona remembers its own words"
    )
    assert all(s["summary"] for s in states), "earlier rounds were folded into a summary"


async def test_a_persona_killed_mid_turn_comes_back_and_nothing_is_lost_or_repeated(
    launch: Callable[[Study], Any], templates: TemplateLibrary
) -> None:
    from actors.moderator import persona_name

    run = await launch(
        create_study(templates, mode=Mode.CREATIVE, personas=3, rounds=4, latency_ms=600)
    )
    await run.wait_for_seq(3)  # welcome, positions 0 and 1 said theirs: position 2 speaks now
    victim = run.setup.participants[2]
    handle = ray.get_actor(
        persona_name(run.setup.discussion_id, victim.position, victim.character.name)
    )
    ray.kill(handle, no_restart=False)  # a crash: Ray restarts it, empty
    snapshot = await run.moderator.wait_finished.remote(120)
    assert snapshot.status is DiscussionStatus.COMPLETED, snapshot.status_reason
    messages = await run.messages()
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    persona = [m for m in messages if m.role == "persona"]
    assert len(persona) == 3 * 4, "every turn once: the lost one retried, none doubled"
    memory = await run.moderator.persona_memory.remote(victim.id)
    assert memory["last_seq"] > 0, "the restarted persona heard the discussion again"


async def test_a_lost_moderator_is_resumed_from_the_store_without_loss_or_repeat(
    launch: Callable[[Study], Any], templates: TemplateLibrary, settings: Settings
) -> None:
    from actors.builders import gateway_actor, moderator_actor

    study = create_study(templates, mode=Mode.FREE, personas=3, rounds=5, latency_ms=150, seed=4)
    run = await launch(study)
    await run.wait_for_seq(5)
    await run.moderator.inject_question.remote("Who would pay for it?")
    ray.kill(run.moderator)  # a crash: its personas go with it; the store says "running"
    await asyncio.sleep(0.5)
    before = await run.messages()
    moderator = moderator_actor(settings, run.setup.discussion_id, gateway_actor(settings))
    try:
        snapshot = await moderator.start.remote()
        assert snapshot.last_seq == len(before), "seq continues from the store"
        final = await moderator.wait_finished.remote(120)
    finally:
        await moderator.shutdown.remote()
        ray.kill(moderator)
    assert final.status is DiscussionStatus.COMPLETED, final.status_reason
    messages = await run.messages()
    assert messages[: len(before)] == before
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    question = next(m for m in messages if m.kind == "question")
    answers = [m.participant_id for m in messages if m.responds_to_seq == question.seq]
    assert sorted(answers) == sorted(p.id for p in run.setup.participants), "each answered once"
    planner = TurnPlanner(Mode.FREE, run.setup.participants, PhasePlan.for_rounds(5), 4)
    planned = [s.participant_id for r in range(1, 6) for s in planner.round_turns(r)]
    said = [
        m.participant_id
        for m in messages
        if m.role == "persona" and m.responds_to_seq != question.seq
    ]
    assert said == planned, "every planned turn exactly once, in order"
