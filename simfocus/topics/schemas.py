"""A discussion topic, and the shapes the API takes in and gives back for it."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from simfocus.kit.models import InputModel, ValueModel

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
CONTEXT_MAX = 20000


class Topic(InputModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    context: str = Field(default="", max_length=20000)


class TopicIn(InputModel):
    """A new topic, as a user writes it."""

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    context: str = Field(default="", max_length=CONTEXT_MAX)


class TopicPatch(InputModel):
    """A partial update: only the fields given change; at least one must be given."""

    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    context: str | None = Field(default=None, max_length=CONTEXT_MAX)

    @model_validator(mode="after")
    def _something_to_change(self) -> TopicPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of 'title', 'description', 'context'")
        # ``null`` would mean "no title"; a topic always has all three, so refuse it.
        for name in self.model_fields_set:
            if getattr(self, name) is None:
                raise ValueError(f"'{name}' cannot be null")
        return self


class AttachmentOut(ValueModel):
    """An uploaded document's metadata (its text is only served by ``AttachmentText``)."""

    id: str
    filename: str
    content_type: str
    size: int  # bytes, as uploaded
    created_at: datetime


class AttachmentText(AttachmentOut):
    """An attachment with its decoded text."""

    text: str


class TopicOut(ValueModel):
    id: str
    title: str
    description: str
    context: str
    attachments: list[AttachmentOut]
    created_at: datetime
    updated_at: datetime
