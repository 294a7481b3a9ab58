"""Errors of the discussion engine."""

from __future__ import annotations

from simfocus.kit.errors import Conflict, NotFound, SimfocusError


class InvalidTransition(Conflict):
    code = "INVALID_STATE_TRANSITION"


class DiscussionFailed(SimfocusError):
    code = "DISCUSSION_FAILED"


class DiscussionNotFound(NotFound):
    code = "DISCUSSION_NOT_FOUND"


class PersonaLost(SimfocusError):
    """A persona's process died during its turn; the moderator may retry the turn once."""

    code = "PERSONA_LOST"
    status = 503
