"""Errors of the topics domain."""

from __future__ import annotations

from simfocus.kit.errors import Conflict, NotFound, ValidationFailed


class TopicNotFound(NotFound):
    """Missing, or owned by someone else: the two are indistinguishable on purpose."""

    code = "TOPIC_NOT_FOUND"


class TopicInUse(Conflict):
    code = "TOPIC_IN_USE"


class AttachmentNotFound(NotFound):
    code = "ATTACHMENT_NOT_FOUND"


class AttachmentRejected(ValidationFailed):
    """An upload refused; ``code`` says why (see ``simfocus.topics.service``)."""

    code = "ATTACHMENT_REJECTED"
