"""Base classes for value objects."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ValueModel(BaseModel):
    """An immutable value object that refuses unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class InputModel(BaseModel):
    """Input from a user: unknown fields are errors, whitespace is trimmed."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
