from __future__ import annotations

import pytest

from simfocus.discussions.phases import PhasePlan
from simfocus.discussions.schemas import PHASE_ORDER, Phase


@pytest.mark.parametrize("n", range(1, 101))
def test_every_length_gets_a_sensible_split(n: int) -> None:
    plan = PhasePlan.for_rounds(n)
    assert plan.max_rounds == n
    order = [PHASE_ORDER.index(p) for p in plan.rounds]
    assert order == sorted(order), "phases never go back"
    assert plan.rounds[0] is Phase.OPENING
    if n >= 2:
        assert plan.rounds[-1] is Phase.CLOSING
    if n >= 4:
        assert set(plan.rounds) == set(PHASE_ORDER), "a long discussion gets every phase"
    if n >= 10:
        counts = plan.counts()
        # close to the target proportions: within one round of the exact share
        for phase, share in {
            Phase.OPENING: 0.15,
            Phase.DEVELOPMENT: 0.35,
            Phase.DEBATE: 0.30,
            Phase.CLOSING: 0.20,
        }.items():
            assert abs(counts[phase] - share * n) <= 2, (phase, counts)


def test_short_discussions() -> None:
    assert PhasePlan.for_rounds(1).rounds == (Phase.OPENING,)
    assert PhasePlan.for_rounds(2).rounds == (Phase.OPENING, Phase.CLOSING)
    assert PhasePlan.for_rounds(3).rounds == (Phase.OPENING, Phase.DEVELOPMENT, Phase.CLOSING)


def test_phase_boundaries() -> None:
    plan = PhasePlan.for_rounds(10)
    starts = [r for r in range(1, 11) if plan.is_phase_start(r)]
    ends = [r for r in range(1, 11) if plan.is_phase_end(r)]
    assert len(starts) == len(ends) == 4
    assert starts[0] == 1 and ends[-1] == 10
    assert all(plan.phase_of(s) != plan.phase_of(s - 1) for s in starts[1:])


def test_zero_rounds_is_refused() -> None:
    with pytest.raises(ValueError):
        PhasePlan.for_rounds(0)
