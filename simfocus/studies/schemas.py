"""The shape of a study file (``configs/studies/*.yaml``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator

from simfocus.characters.schemas import CharacterConfig
from simfocus.discussions.schemas import DiscussionSpec
from simfocus.kit.models import InputModel
from simfocus.topics.schemas import Topic

MIN_PANEL = 2
MAX_PANEL = 12


class PanelEntry(InputModel):
    """A seat at the table: a shipped template (with overrides) or an inline persona."""

    template: str | None = Field(default=None, min_length=1, max_length=80)
    overrides: dict[str, Any] = Field(default_factory=dict)
    character: CharacterConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PanelEntry:
        if (self.template is None) == (self.character is None):
            raise ValueError("give either 'template' or 'character'")
        if self.overrides and self.template is None:
            raise ValueError("'overrides' only applies to a 'template'")
        return self


class PanelSpecRef(InputModel):
    """A panel sampled from a panel spec (``configs/panels/*.yaml``) instead of listed."""

    path: str = Field(min_length=1, max_length=500, description="relative to the study file")
    n: int = Field(ge=MIN_PANEL, le=MAX_PANEL)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1, description="default: the spec's")


class StudyFile(InputModel):
    name: str = Field(default="", max_length=200)
    topic: Topic
    # Declared before ``panel`` so the panel's validator can see it.
    panel_spec: PanelSpecRef | None = None
    # validate_default: a missing panel must still be checked against panel_spec.
    panel: list[PanelEntry] = Field(
        default_factory=list, max_length=MAX_PANEL, validate_default=True
    )
    discussion: DiscussionSpec = Field(default_factory=DiscussionSpec)

    @field_validator("panel")
    @classmethod
    def _one_panel_source(cls, panel: list[PanelEntry], info: ValidationInfo) -> list[PanelEntry]:
        if "panel_spec" not in info.data:
            return panel  # panel_spec itself was invalid and is reported on its own
        if info.data["panel_spec"] is not None:
            if panel:
                raise ValueError("give either a 'panel' list or a 'panel_spec', not both")
        elif len(panel) < MIN_PANEL:
            raise ValueError(
                f"a panel needs at least {MIN_PANEL} personas; "
                "list them, or sample them with 'panel_spec: {path: ..., n: ...}'"
            )
        return panel


class Study(InputModel):
    """A study with its panel resolved into full persona configs."""

    name: str
    topic: Topic
    panel: list[CharacterConfig]
    discussion: DiscussionSpec
