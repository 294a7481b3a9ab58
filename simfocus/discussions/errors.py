"""Errors of the discussion engine."""

from __future__ import annotations

from simfocus.kit.errors import Conflict, NotFound, SimfocusError


class InvalidTransition(Conflict):
    code = "INVALID_STATE_TRANSITION"


class DiscussionFailed(SimfocusError):
    code = "DISCUSSION_FAILED"


class DiscussionNotFound(NotFound):
    code = "DISCUSSION_NOT_FOUND"
