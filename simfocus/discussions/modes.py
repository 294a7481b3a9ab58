"""Who speaks, in what order, in each round of each mode.

- ``free``: everyone speaks each round and the order rotates. An active persona may take
  an extra turn and a passive one may sit a round out, but never in the first round of a
  phase, so everyone speaks at least once per phase.
- ``structured``: personas are sided pro / con / neutral by stance; pro and con alternate
  (the leading side alternates by round) and answer each other, neutrals weigh in last.
- ``creative`` and ``consensus``: everyone speaks each round in rotating order; what
  differs is what the mode adds to the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import zip_longest

from simfocus.characters.schemas import BehaviorPattern, Stance
from simfocus.discussions.phases import PhasePlan
from simfocus.discussions.schemas import Message, Mode, Participant
from simfocus.kit.rand import stable_rng

PASSIVE_SKIP_CHANCE = 0.35
ACTIVE_EXTRA_CHANCE = 0.35


class Side(StrEnum):
    PRO = "pro"
    CON = "con"
    NEUTRAL = "neutral"


OPPOSING: dict[Side, Side | None] = {Side.PRO: Side.CON, Side.CON: Side.PRO, Side.NEUTRAL: None}


def side_of(stance: Stance) -> Side:
    if stance is Stance.SUPPORT:
        return Side.PRO
    if stance is Stance.OPPOSE:
        return Side.CON
    return Side.NEUTRAL


@dataclass(frozen=True)
class TurnSlot:
    participant_id: str
    side: Side | None = None
    extra: bool = False


class TurnPlanner:
    """Plans the speakers of each round. Pure: the same inputs give the same plan."""

    def __init__(
        self, mode: Mode, participants: Sequence[Participant], phases: PhasePlan, seed: int
    ) -> None:
        if not participants:
            raise ValueError("a discussion needs at least one participant")
        self.mode = mode
        self.participants = sorted(participants, key=lambda p: p.position)
        self.phases = phases
        self.seed = seed
        self._sides = {p.id: side_of(p.character.stance) for p in self.participants}

    def side(self, participant_id: str) -> Side | None:
        return self._sides[participant_id] if self.mode is Mode.STRUCTURED else None

    def round_turns(self, round_no: int) -> list[TurnSlot]:
        if self.mode is Mode.STRUCTURED:
            return self._structured(round_no)
        order = _rotate(self.participants, round_no - 1)
        if self.mode is Mode.FREE:
            return self._free(round_no, order)
        return [TurnSlot(p.id) for p in order]

    def _free(self, round_no: int, order: list[Participant]) -> list[TurnSlot]:
        if self.phases.is_phase_start(round_no) or len(order) == 1:
            return [TurnSlot(p.id) for p in order]
        slots: list[TurnSlot] = []
        extras: list[TurnSlot] = []
        for p in order:
            rng = stable_rng(self.seed, "turn", round_no, p.id)
            pattern = p.character.behavior_pattern
            if pattern is BehaviorPattern.PASSIVE and rng.random() < PASSIVE_SKIP_CHANCE:
                continue
            slots.append(TurnSlot(p.id))
            if pattern is BehaviorPattern.ACTIVE and rng.random() < ACTIVE_EXTRA_CHANCE:
                extras.append(TurnSlot(p.id, extra=True))
        if not slots:  # a round of only passive skippers still hears someone
            slots.append(TurnSlot(order[0].id))
        # An extra turn never follows its own speaker directly.
        for extra in extras:
            if slots[-1].participant_id != extra.participant_id:
                slots.append(extra)
        return slots

    def _structured(self, round_no: int) -> list[TurnSlot]:
        by_side: dict[Side, list[Participant]] = {side: [] for side in Side}
        for p in self.participants:
            by_side[self._sides[p.id]].append(p)
        shift = round_no - 1
        pro = _rotate(by_side[Side.PRO], shift)
        con = _rotate(by_side[Side.CON], shift)
        first, second = (pro, con) if round_no % 2 == 1 else (con, pro)
        slots = [
            TurnSlot(p.id, self._sides[p.id])
            for pair in zip_longest(first, second)
            for p in pair
            if p is not None
        ]
        slots += [TurnSlot(p.id, Side.NEUTRAL) for p in _rotate(by_side[Side.NEUTRAL], shift)]
        return slots

    def addressee(self, slot: TurnSlot, history: Sequence[Message]) -> Message | None:
        """The earlier message this turn should answer.

        In structured mode it is the latest point of the opposing side (neutrals answer
        whoever spoke last); otherwise the latest message by someone else.
        """
        wanted = OPPOSING.get(slot.side) if slot.side else None
        for message in reversed(history):
            if message.role != "persona" or message.participant_id == slot.participant_id:
                continue
            if wanted is None or self._sides.get(message.participant_id or "") is wanted:
                return message
        return None


def _rotate(items: Sequence[Participant], shift: int) -> list[Participant]:
    if not items:
        return []
    k = shift % len(items)
    return list(items[k:]) + list(items[:k])
