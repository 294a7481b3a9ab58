"""The shapes the API takes in and gives back for characters and templates.

Output models are flat: the ``CharacterConfig`` fields plus the resource's own
(``id``, ``template_id``, timestamps), so a character and a template read alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, model_validator

from simfocus.characters.schemas import (
    BehaviorPattern,
    CharacterConfig,
    ExpressionStyle,
    Gender,
    Slider,
    Stance,
)
from simfocus.kit.models import InputModel
from simfocus.panels.schemas import PanelSpec

# A new character is a full persona config.
CharacterIn = CharacterConfig


class PersonalityPatch(InputModel):
    openness: Slider | None = None
    rigor: Slider | None = None
    critical_thinking: Slider | None = None
    optimism: Slider | None = None


class KnowledgePatch(InputModel):
    fields: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        default=None, max_length=12
    )
    experience_years: int | None = Field(default=None, ge=0, le=80)
    representative_views: list[Annotated[str, Field(min_length=1, max_length=300)]] | None = Field(
        default=None, max_length=8
    )


class CharacterPatch(InputModel):
    """Any subset of the ``CharacterConfig`` fields; ``personality``/``knowledge`` partial too.

    Lists (``knowledge.fields``, ``knowledge.representative_views``) are replaced whole.
    The merged result is validated again as a ``CharacterConfig``.
    """

    name: str | None = Field(default=None, min_length=1, max_length=80)
    age: int | None = Field(default=None, ge=16, le=100)
    gender: Gender | None = None
    profession: str | None = Field(default=None, min_length=1, max_length=120)
    personality: PersonalityPatch | None = None
    knowledge: KnowledgePatch | None = None
    stance: Stance | None = None
    expression_style: ExpressionStyle | None = None
    behavior_pattern: BehaviorPattern | None = None
    background: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _something_to_change(self) -> CharacterPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given (nested ones too), as JSON values, ready for ``deep_merge``."""
        return self.model_dump(mode="json", exclude_unset=True)


class CharacterOut(CharacterConfig):
    id: str
    template_id: str | None
    created_at: datetime
    updated_at: datetime

    def config(self) -> CharacterConfig:
        """The persona config alone."""
        return CharacterConfig.model_validate(
            self.model_dump(include=set(CharacterConfig.model_fields))
        )


class TemplateOut(CharacterConfig):
    template_id: str


class FromTemplateIn(InputModel):
    """A character from a shipped template, with fields laid over it (nested merge)."""

    template_id: str = Field(min_length=1, max_length=80)
    overrides: dict[str, Any] = Field(default_factory=dict)


class FromPanelIn(InputModel):
    """Personas sampled from a demographic panel spec (``simfocus/panels``), saved as the
    caller's characters: the same spec, n and seed give the same people."""

    spec: PanelSpec
    n: int = Field(ge=1, le=50)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
