"""The discussion state machine: initialized → running ⇄ paused → completed | stopped | failed."""

from __future__ import annotations

from simfocus.discussions.errors import InvalidTransition
from simfocus.discussions.schemas import DiscussionStatus as S

ALLOWED: dict[S, frozenset[S]] = {
    S.INITIALIZED: frozenset({S.RUNNING, S.STOPPED, S.FAILED}),
    S.RUNNING: frozenset({S.PAUSED, S.COMPLETED, S.STOPPED, S.FAILED}),
    S.PAUSED: frozenset({S.RUNNING, S.STOPPED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.STOPPED: frozenset(),
    S.FAILED: frozenset(),
}


def can_transition(current: S, target: S) -> bool:
    return target in ALLOWED[current]


def transition(current: S, target: S) -> S:
    """Return ``target`` if the move is allowed, else raise ``InvalidTransition``."""
    if not can_transition(current, target):
        raise InvalidTransition(
            f"a {current.value} discussion cannot become {target.value}", field="status"
        )
    return target
