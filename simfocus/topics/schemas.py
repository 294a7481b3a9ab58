"""A discussion topic."""

from __future__ import annotations

from pydantic import Field

from simfocus.kit.models import InputModel


class Topic(InputModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    context: str = Field(default="", max_length=20000)
