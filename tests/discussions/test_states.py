from __future__ import annotations

import pickle

import pytest

from simfocus.discussions.errors import InvalidTransition
from simfocus.discussions.schemas import DiscussionStatus as S
from simfocus.discussions.states import can_transition, transition


def test_the_lifecycle() -> None:
    s = transition(S.INITIALIZED, S.RUNNING)
    s = transition(s, S.PAUSED)
    s = transition(s, S.RUNNING)
    assert transition(s, S.COMPLETED) is S.COMPLETED
    assert can_transition(S.PAUSED, S.STOPPED)
    assert can_transition(S.RUNNING, S.FAILED)


@pytest.mark.parametrize("terminal", [S.COMPLETED, S.STOPPED, S.FAILED])
def test_terminal_states_are_final(terminal: S) -> None:
    for target in S:
        assert not can_transition(terminal, target)


def test_invalid_transition_names_the_field_and_pickles() -> None:
    with pytest.raises(InvalidTransition) as info:
        transition(S.COMPLETED, S.RUNNING)
    err = pickle.loads(pickle.dumps(info.value))
    assert err.field == "status" and err.code == "INVALID_STATE_TRANSITION"
    assert "completed" in err.message
