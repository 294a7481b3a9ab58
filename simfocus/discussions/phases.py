"""Allocating rounds to phases in proportion to a discussion's length.

Every phase gets at least one round when there are enough rounds for all four; the rest
is shared by the largest-remainder method, so the split is as close to the target
proportions as whole rounds allow. Short discussions keep a sensible subset that always
ends in closing: 1 → opening, 2 → opening + closing, 3 → opening + development + closing.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import floor

from simfocus.discussions.schemas import PHASE_ORDER, Phase

# Target shares of the rounds: positions first, the bulk in development and debate.
PHASE_WEIGHTS: dict[Phase, float] = {
    Phase.OPENING: 0.15,
    Phase.DEVELOPMENT: 0.35,
    Phase.DEBATE: 0.30,
    Phase.CLOSING: 0.20,
}

SHORT_PLANS: dict[int, tuple[Phase, ...]] = {
    1: (Phase.OPENING,),
    2: (Phase.OPENING, Phase.CLOSING),
    3: (Phase.OPENING, Phase.DEVELOPMENT, Phase.CLOSING),
}


@dataclass(frozen=True)
class PhasePlan:
    """Which phase each round (1-based) belongs to."""

    rounds: tuple[Phase, ...]

    @classmethod
    def for_rounds(cls, max_rounds: int) -> PhasePlan:
        if max_rounds < 1:
            raise ValueError("a discussion has at least one round")
        if max_rounds in SHORT_PLANS:
            return cls(SHORT_PLANS[max_rounds])
        counts = _allocate(max_rounds)
        return cls(tuple(phase for phase in PHASE_ORDER for _ in range(counts[phase])))

    @property
    def max_rounds(self) -> int:
        return len(self.rounds)

    def phase_of(self, round_no: int) -> Phase:
        return self.rounds[round_no - 1]

    def counts(self) -> dict[Phase, int]:
        return {phase: self.rounds.count(phase) for phase in PHASE_ORDER if phase in self.rounds}

    def is_phase_start(self, round_no: int) -> bool:
        return round_no == 1 or self.rounds[round_no - 2] != self.rounds[round_no - 1]

    def is_phase_end(self, round_no: int) -> bool:
        return round_no == self.max_rounds or self.rounds[round_no] != self.rounds[round_no - 1]


def _allocate(max_rounds: int) -> dict[Phase, int]:
    spare = max_rounds - len(PHASE_ORDER)
    exact = {phase: spare * PHASE_WEIGHTS[phase] for phase in PHASE_ORDER}
    counts = {phase: 1 + floor(exact[phase]) for phase in PHASE_ORDER}
    left = max_rounds - sum(counts.values())
    # Ties go to the earlier phase, so the split is deterministic.
    by_remainder = sorted(
        PHASE_ORDER, key=lambda p: (-(exact[p] - floor(exact[p])), PHASE_ORDER.index(p))
    )
    for phase in by_remainder[:left]:
        counts[phase] += 1
    return counts
