"""The shape of a study file (``configs/studies/*.yaml``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

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


class StudyFile(InputModel):
    name: str = Field(default="", max_length=200)
    topic: Topic
    panel: list[PanelEntry] = Field(min_length=MIN_PANEL, max_length=MAX_PANEL)
    discussion: DiscussionSpec = Field(default_factory=DiscussionSpec)


class Study(InputModel):
    """A study with its panel resolved into full persona configs."""

    name: str
    topic: Topic
    panel: list[CharacterConfig]
    discussion: DiscussionSpec
