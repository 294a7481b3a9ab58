from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime

from simfocus.characters.schemas import BehaviorPattern, Stance
from simfocus.discussions.modes import Side, TurnPlanner
from simfocus.discussions.phases import PhasePlan
from simfocus.discussions.schemas import Message, Mode, Participant, Phase
from tests.factories import create_character


def seat(*characters) -> list[Participant]:  # type: ignore[no-untyped-def]
    return [Participant(id=f"p{i}", position=i, character=c) for i, c in enumerate(characters)]


def planner(
    mode: Mode, participants: list[Participant], rounds: int = 10, seed: int = 3
) -> TurnPlanner:
    return TurnPlanner(mode, participants, PhasePlan.for_rounds(rounds), seed)


def ids(slots) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.participant_id for s in slots]


def test_creative_and_consensus_rotate_with_everyone_each_round() -> None:
    people = seat(*(create_character(f"P{i}") for i in range(4)))
    for mode in (Mode.CREATIVE, Mode.CONSENSUS):
        p = planner(mode, people)
        assert ids(p.round_turns(1)) == ["p0", "p1", "p2", "p3"]
        assert ids(p.round_turns(2)) == ["p1", "p2", "p3", "p0"]
        assert ids(p.round_turns(5)) == ["p0", "p1", "p2", "p3"]


def test_free_mode_behaviour_shifts_turns_but_everyone_speaks_each_phase() -> None:
    people = seat(
        create_character("Active", behavior_pattern=BehaviorPattern.ACTIVE),
        create_character("Passive", behavior_pattern=BehaviorPattern.PASSIVE),
        create_character("Balanced", behavior_pattern=BehaviorPattern.BALANCED),
        create_character("Passive2", behavior_pattern=BehaviorPattern.PASSIVE),
    )
    rounds = 40
    p = planner(Mode.FREE, people, rounds=rounds, seed=11)
    plan = PhasePlan.for_rounds(rounds)
    talk: Counter[str] = Counter()
    by_phase: dict[Phase, set[str]] = {}
    for r in range(1, rounds + 1):
        slots = p.round_turns(r)
        assert slots, "no round is empty"
        for a, b in itertools.pairwise(slots):
            assert a.participant_id != b.participant_id, "nobody speaks twice in a row"
        talk.update(ids(slots))
        by_phase.setdefault(plan.phase_of(r), set()).update(ids(slots))
        if plan.is_phase_start(r):
            assert sorted(ids(slots)) == ["p0", "p1", "p2", "p3"]
    assert all(speakers == {"p0", "p1", "p2", "p3"} for speakers in by_phase.values())
    assert talk["p0"] > talk["p2"] > talk["p1"], talk  # active > balanced > passive
    assert talk["p2"] == rounds


def test_free_mode_is_deterministic_under_a_seed() -> None:
    people = seat(
        *(create_character(f"P{i}", behavior_pattern=BehaviorPattern.ACTIVE) for i in range(3))
    )
    a = [ids(planner(Mode.FREE, people, seed=5).round_turns(r)) for r in range(1, 11)]
    b = [ids(planner(Mode.FREE, people, seed=5).round_turns(r)) for r in range(1, 11)]
    c = [ids(planner(Mode.FREE, people, seed=6).round_turns(r)) for r in range(1, 11)]
    assert a == b and a != c


def test_structured_sides_alternate_and_neutrals_weigh_in_last() -> None:
    people = seat(
        create_character("Pro1", stance=Stance.SUPPORT),
        create_character("Con1", stance=Stance.OPPOSE),
        create_character("Pro2", stance=Stance.SUPPORT),
        create_character("Neutral", stance=Stance.NEUTRAL),
        create_character("Con2", stance=Stance.OPPOSE),
        create_character("Explorer", stance=Stance.CRITICAL_EXPLORATION),
    )
    p = planner(Mode.STRUCTURED, people)
    r1 = p.round_turns(1)
    assert [s.side for s in r1] == [
        Side.PRO,
        Side.CON,
        Side.PRO,
        Side.CON,
        Side.NEUTRAL,
        Side.NEUTRAL,
    ]
    r2 = p.round_turns(2)
    assert [s.side for s in r2][:4] == [Side.CON, Side.PRO, Side.CON, Side.PRO], (
        "the leading side alternates"
    )
    assert set(ids(r1)) == set(ids(r2)) == {f"p{i}" for i in range(6)}


def test_structured_with_an_empty_side_still_works() -> None:
    people = seat(
        create_character("A", stance=Stance.SUPPORT),
        create_character("B", stance=Stance.SUPPORT),
        create_character("C", stance=Stance.NEUTRAL),
    )
    p = planner(Mode.STRUCTURED, people)
    for r in range(1, 5):
        slots = p.round_turns(r)
        assert sorted(ids(slots)) == ["p0", "p1", "p2"]
    only_neutral = planner(Mode.STRUCTURED, seat(create_character("N1"), create_character("N2")))
    assert sorted(ids(only_neutral.round_turns(1))) == ["p0", "p1"]


def _msg(seq: int, pid: str | None, name: str) -> Message:
    return Message(
        seq=seq,
        round=1,
        phase=Phase.OPENING,
        role="persona" if pid else "moderator",
        participant_id=pid,
        speaker_name=name,
        content="x",
        created_at=datetime.now(UTC),
    )


def test_structured_answers_the_other_side_others_the_last_speaker() -> None:
    people = seat(
        create_character("Pro", stance=Stance.SUPPORT),
        create_character("Con", stance=Stance.OPPOSE),
        create_character("Pro2", stance=Stance.SUPPORT),
    )
    history = [_msg(1, None, "Moderator"), _msg(2, "p1", "Con"), _msg(3, "p0", "Pro")]
    structured = planner(Mode.STRUCTURED, people)
    slot_pro2 = next(s for s in structured.round_turns(1) if s.participant_id == "p2")
    addressee = structured.addressee(slot_pro2, history)
    assert addressee is not None and addressee.speaker_name == "Con"
    free = planner(Mode.FREE, people)
    addressee = free.addressee(free.round_turns(1)[2], history)
    assert addressee is not None and addressee.speaker_name == "Pro"
