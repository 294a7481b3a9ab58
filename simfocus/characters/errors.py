"""Errors of the characters domain."""

from __future__ import annotations

from simfocus.kit.errors import NotFound


class CharacterNotFound(NotFound):
    """Missing, or owned by someone else: the two are indistinguishable on purpose."""

    code = "CHARACTER_NOT_FOUND"


class TemplateNotFound(NotFound):
    code = "TEMPLATE_NOT_FOUND"
