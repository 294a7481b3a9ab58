"""The written report as a model returns it (lenient), and parsing its JSON.

Models put JSON in code fences, write citations as ``"#12"`` or ``"12"`` and add fields
we did not ask for; all of that is accepted here. What is not JSON of this shape raises
``DraftUnreadable`` (the writer asks once more, then gives up with a partial report).
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from simfocus.reports.errors import DraftUnreadable

MAX_POINTS = 12  # per section: a report is read by people
MAX_TEXT = 2000  # characters of one point


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DraftPoint(_Lenient):
    text: str = Field(min_length=1)
    citations: list[int] = Field(default_factory=list)

    @field_validator("text", mode="after")
    @classmethod
    def _short(cls, text: str) -> str:
        return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"

    @field_validator("citations", mode="before")
    @classmethod
    def _seqs(cls, value: Any) -> list[int]:
        if value is None:
            return []
        if not isinstance(value, list):
            value = [value]
        seqs = []
        for item in value:
            match = re.search(r"\d+", str(item))
            if match:
                seqs.append(int(match.group()))
        return seqs


class DraftViewpoint(_Lenient):
    participant_id: str | None = None
    name: str | None = None
    position: DraftPoint
    key_arguments: list[DraftPoint] = Field(default_factory=list)

    @field_validator("key_arguments", mode="after")
    @classmethod
    def _cut(cls, points: list[DraftPoint]) -> list[DraftPoint]:
        return points[:MAX_POINTS]


class DraftControversy(DraftPoint):
    sides: dict[str, list[str]] = Field(default_factory=dict)


class Draft(_Lenient):
    """A model that writes more points than asked is cut to ``MAX_POINTS`` per list,
    not refused (a retry would cost more than the extra points are worth)."""

    overview: DraftPoint
    viewpoints: list[DraftViewpoint] = Field(default_factory=list)
    consensus: list[DraftPoint] = Field(default_factory=list)
    controversies: list[DraftControversy] = Field(default_factory=list)
    insights: list[DraftPoint] = Field(default_factory=list)
    recommendations: list[DraftPoint] = Field(default_factory=list)

    @field_validator("consensus", "controversies", "insights", "recommendations", mode="after")
    @classmethod
    def _cut(cls, points: list[Any]) -> list[Any]:
        return points[:MAX_POINTS]


class Notes(_Lenient):
    """What a summarising stage returns: short notes, each citing its messages."""

    notes: list[DraftPoint] = Field(default_factory=list)


def _json_object(text: str) -> Any:
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.DOTALL)
    body = fenced.group(1) if fenced else text[text.find("{") : text.rfind("}") + 1]
    try:
        return json.loads(body)
    except ValueError as e:
        raise DraftUnreadable(f"the model did not return JSON: {e}") from None


def parse_draft(text: str) -> Draft:
    try:
        return Draft.model_validate(_json_object(text))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise DraftUnreadable(
            f"the model's report is not in the asked shape: {where}: {first['msg']}"
        ) from None


def parse_notes(text: str) -> Notes:
    try:
        return Notes.model_validate(_json_object(text))
    except ValidationError as e:
        raise DraftUnreadable(
            f"the model's notes are not in the asked shape: {e.errors()[0]['msg']}"
        ) from None
