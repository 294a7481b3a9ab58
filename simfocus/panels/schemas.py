"""A panel spec: the demographic distributions a research team samples personas from.

A spec is written in YAML (``configs/panels/*.yaml``); ``simfocus.panels.sampler`` turns it
into concrete ``CharacterConfig``s. Every weight map is validated (known keys only, weights
≥ 0 and not all zero) and normalised to sum to 1, so the sampler never has to check again.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from simfocus.characters.schemas import BehaviorPattern, ExpressionStyle, Gender, Stance
from simfocus.kit.models import InputModel

MIN_AGE = 16  # CharacterConfig's bounds: a sampled age must always make a valid persona
MAX_AGE = 100
MAX_EXPERIENCE = 80
MIN_SLIDER = 0
MAX_SLIDER = 10

K = TypeVar("K")

# Bounded: a sum of huge weights overflows to infinity (random.choices refuses it).
Weight = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


def _known_keys(enum: type[StrEnum], what: str) -> Callable[[Any], Any]:
    """A before-validator naming the allowed values, clearer than pydantic's per-key error."""
    allowed = [e.value for e in enum]

    def check(value: Any) -> Any:
        if isinstance(value, dict):
            for key in value:
                if key not in allowed:
                    raise ValueError(f"unknown {what} {key!r} (allowed: {', '.join(allowed)})")
        return value

    return check


def _normalised(weights: dict[K, float]) -> dict[K, float]:
    if not weights:
        raise ValueError("give at least one weight")
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("the weights are all zero; give at least one a positive weight")
    return {key: w / total for key, w in weights.items()}


GenderWeights = Annotated[
    dict[Gender, Weight],
    BeforeValidator(_known_keys(Gender, "gender")),
    AfterValidator(_normalised),
]
StanceWeights = Annotated[
    dict[Stance, Weight],
    BeforeValidator(_known_keys(Stance, "stance")),
    AfterValidator(_normalised),
]
StyleWeights = Annotated[
    dict[ExpressionStyle, Weight],
    BeforeValidator(_known_keys(ExpressionStyle, "expression style")),
    AfterValidator(_normalised),
]
BehaviorWeights = Annotated[
    dict[BehaviorPattern, Weight],
    BeforeValidator(_known_keys(BehaviorPattern, "behavior pattern")),
    AfterValidator(_normalised),
]

AgeValue = Annotated[int, Field(ge=MIN_AGE, le=MAX_AGE)]
YearsValue = Annotated[int, Field(ge=0, le=MAX_EXPERIENCE)]
SliderValue = Annotated[int, Field(ge=MIN_SLIDER, le=MAX_SLIDER)]


def _ordered(low: int, high: int) -> None:
    if low > high:
        raise ValueError(f"min ({low}) is greater than max ({high})")


class AgeBand(InputModel):
    """One age band: ages drawn uniformly from ``min``..``max`` (inclusive)."""

    min: AgeValue
    max: AgeValue
    weight: Weight = 1.0

    @model_validator(mode="after")
    def _check(self) -> AgeBand:
        _ordered(self.min, self.max)
        return self


class AgeSpec(InputModel):
    """Either a uniform range (``min``/``max``) or weighted ``bands``."""

    min: AgeValue | None = None
    max: AgeValue | None = None
    bands: list[AgeBand] | None = Field(default=None, min_length=1, max_length=20)

    @model_validator(mode="after")
    def _one_form(self) -> AgeSpec:
        has_range = self.min is not None or self.max is not None
        if self.bands is not None:
            if has_range:
                raise ValueError("give either 'min'/'max' or 'bands', not both")
            if sum(b.weight for b in self.bands) <= 0:
                raise ValueError("the band weights are all zero; give one a positive weight")
            return self
        if self.min is None or self.max is None:
            raise ValueError(
                "give both 'min' and 'max' (a uniform range) or 'bands' "
                "(e.g. bands: [{min: 18, max: 34, weight: 0.4}, ...])"
            )
        _ordered(self.min, self.max)
        return self

    def choices(self) -> list[tuple[int, int, float]]:
        """``(min, max, weight)`` for each band; a plain range is one band."""
        if self.bands is not None:
            return [(b.min, b.max, b.weight) for b in self.bands]
        assert self.min is not None and self.max is not None
        return [(self.min, self.max, 1.0)]


class YearsRange(InputModel):
    """Years of experience, drawn uniformly (then clipped to what the age allows)."""

    min: YearsValue = 0
    max: YearsValue = 40

    @model_validator(mode="after")
    def _check(self) -> YearsRange:
        _ordered(self.min, self.max)
        return self


class SliderSpec(InputModel):
    """A personality slider: a uniform ``min``..``max`` range, or a ``mean``/``sd`` normal
    (rounded and clipped to 0-10). With neither, 5 ± 2."""

    min: SliderValue | None = None
    max: SliderValue | None = None
    mean: float | None = Field(default=None, ge=MIN_SLIDER, le=MAX_SLIDER, allow_inf_nan=False)
    sd: float | None = Field(default=None, ge=0, le=10, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_form(self) -> SliderSpec:
        has_range = self.min is not None or self.max is not None
        if has_range and (self.mean is not None or self.sd is not None):
            raise ValueError("give either 'min'/'max' (uniform) or 'mean'/'sd' (normal), not both")
        if has_range:
            if self.min is None or self.max is None:
                raise ValueError("a uniform range needs both 'min' and 'max'")
            _ordered(self.min, self.max)
        return self

    @property
    def is_range(self) -> bool:
        return self.min is not None


class PersonalitySpec(InputModel):
    openness: SliderSpec = Field(default_factory=SliderSpec)
    rigor: SliderSpec = Field(default_factory=SliderSpec)
    critical_thinking: SliderSpec = Field(default_factory=SliderSpec)
    optimism: SliderSpec = Field(default_factory=SliderSpec)


class ProfessionEntry(InputModel):
    """A profession, how often it occurs, and what its holders know and say."""

    name: str = Field(min_length=1, max_length=120)
    weight: Weight = 1.0
    fields: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=12
    )
    views: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=8
    )


StanceMode = Literal["quota", "random"]


class PanelSpec(InputModel):
    """Distributions to sample a panel of personas from (see ``configs/panels/``)."""

    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    age: AgeSpec = Field(default_factory=lambda: AgeSpec(min=18, max=80))
    gender: GenderWeights = Field(
        default_factory=lambda: {Gender.FEMALE: 0.49, Gender.MALE: 0.49, Gender.NON_BINARY: 0.02}
    )
    professions: list[ProfessionEntry] = Field(min_length=1, max_length=100)
    stance: StanceWeights = Field(default_factory=lambda: dict.fromkeys(Stance, 0.25))
    # quota: counts as close to the weights as n allows; random: independent draws.
    stance_mode: StanceMode = "quota"
    personality: PersonalitySpec = Field(default_factory=PersonalitySpec)
    expression_style: StyleWeights = Field(
        default_factory=lambda: dict.fromkeys(ExpressionStyle, 0.25)
    )
    behavior_pattern: BehaviorWeights = Field(
        default_factory=lambda: {
            BehaviorPattern.BALANCED: 0.5,
            BehaviorPattern.ACTIVE: 0.25,
            BehaviorPattern.PASSIVE: 0.25,
        }
    )
    experience_years: YearsRange = Field(default_factory=YearsRange)
    # Full names to draw from; without it, first + last names from a built-in pool.
    names: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        default=None, min_length=1, max_length=2000
    )

    @field_validator("professions")
    @classmethod
    def _professions(cls, professions: list[ProfessionEntry]) -> list[ProfessionEntry]:
        seen: set[str] = set()
        for p in professions:
            key = p.name.casefold()
            if key in seen:
                raise ValueError(f"profession {p.name!r} is listed twice")
            seen.add(key)
        if sum(p.weight for p in professions) <= 0:
            raise ValueError("the profession weights are all zero; give one a positive weight")
        return professions

    @field_validator("names")
    @classmethod
    def _unique_names(cls, names: list[str] | None) -> list[str] | None:
        if names is not None:
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"name {name!r} is listed twice")
                seen.add(name)
        return names
