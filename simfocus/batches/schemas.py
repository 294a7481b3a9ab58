"""The shape of a batch file (``configs/batches/*.yaml``) and of one expanded group.

A batch is a matrix: every concept variant (a topic) is discussed by every panel in every
mode, ``repeats`` times with different seeds. Each cell x repeat is one *group*: an
ordinary :class:`~simfocus.studies.schemas.Study` run as one discussion.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from simfocus.discussions.schemas import DiscussionSpec, Mode
from simfocus.kit.models import InputModel, ValueModel
from simfocus.studies.schemas import MAX_PANEL, MIN_PANEL, PanelEntry, Study
from simfocus.topics.schemas import Topic

# Ids end up in group keys ("variant.panel.mode.r3"), file names and URLs: keep them plain.
ID_PATTERN = r"^[a-z0-9_-]+$"
ID_MAX = 40
MAX_VARIANTS = 50
MAX_PANELS = 20
MAX_REPEATS = 100
DEFAULT_MAX_GROUPS = 1000
HARD_MAX_GROUPS = 5000
SEED_MAX = 2**31 - 1  # DiscussionSpec.seed's upper bound


class Variant(InputModel):
    """One concept variant: the topic the panels discuss."""

    id: str = Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)
    label: str = Field(default="", max_length=120, description="display name; id if empty")
    topic: Topic

    @property
    def display(self) -> str:
        return self.label or self.id


class BatchPanel(InputModel):
    """A panel: listed seats (``panel``) or the panel of a study file (``study``).

    ``study`` is a path relative to the batch file; that study's panel is resolved by the
    study loader (listed or sampled, whatever the study file says) and inlined by
    :func:`~simfocus.batches.loader.load_batch`, so a loaded batch never depends on the
    study file again.
    """

    id: str = Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)
    label: str = Field(default="", max_length=120)
    panel: list[PanelEntry] | None = Field(default=None, min_length=MIN_PANEL, max_length=MAX_PANEL)
    study: str | None = Field(default=None, min_length=1, max_length=500)

    @model_validator(mode="after")
    def _one_source(self) -> BatchPanel:
        if (self.panel is None) == (self.study is None):
            raise ValueError("give either 'panel' (a list of seats) or 'study' (a study file)")
        return self

    @property
    def display(self) -> str:
        return self.label or self.id


class BatchFile(InputModel):
    name: str = Field(default="", max_length=200)
    variants: list[Variant] = Field(min_length=1, max_length=MAX_VARIANTS)
    panels: list[BatchPanel] = Field(min_length=1, max_length=MAX_PANELS)
    modes: list[Mode] = Field(default_factory=lambda: [Mode.FREE], min_length=1, max_length=4)
    repeats: int = Field(default=1, ge=1, le=MAX_REPEATS, description="seeds per cell")
    seed: int = Field(default=0, ge=0, le=SEED_MAX, description="base seed")
    # Without mode and seed: those come from the matrix (checked below).
    discussion: DiscussionSpec = Field(default_factory=DiscussionSpec)
    budget_usd: float | None = Field(
        default=None, gt=0, le=100_000, description="the whole batch's budget, shared"
    )
    max_groups: int = Field(default=DEFAULT_MAX_GROUPS, ge=1, le=HARD_MAX_GROUPS)
    # Each group's report gives the consensus and controversy points whose recurrence the
    # aggregate measures; without reports the aggregate has stances, scores and cost only.
    reports: bool = True

    @field_validator("discussion", mode="before")
    @classmethod
    def _no_mode_or_seed(cls, value: Any) -> Any:
        if isinstance(value, dict):
            given = [k for k in ("mode", "seed") if k in value]
            if given:
                raise ValueError(
                    f"{' and '.join(repr(k) for k in given)} come from the matrix: "
                    "use the batch's 'modes' and 'seed' instead"
                )
        return value

    @field_validator("variants", "panels", "modes")
    @classmethod
    def _unique(cls, items: list[Any]) -> list[Any]:
        # Ids make the group keys; a repeated one would silently run a cell twice.
        ids = [item.value if isinstance(item, Mode) else item.id for item in items]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"{twice[0]!r} is listed twice")
        return items

    @property
    def group_count(self) -> int:
        return len(self.variants) * len(self.panels) * len(self.modes) * self.repeats

    @property
    def title(self) -> str:
        return self.name or self.variants[0].topic.title


class BatchGroup(ValueModel):
    """One discussion of the batch: a matrix cell and repeat, resolved into a study."""

    key: str  # f"{variant}.{panel}.{mode}.r{repeat}": stable, unique, readable
    variant: str
    panel: str
    mode: Mode
    repeat: int = Field(ge=1)  # 1-based, as in the key
    seed: int = Field(ge=0, le=SEED_MAX)
    study: Study
