"""A persona's configuration, as the seed review defines it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from simfocus.kit.models import InputModel

Slider = Annotated[int, Field(ge=0, le=10, description="0 (low) to 10 (high)")]


class Stance(StrEnum):
    SUPPORT = "support"
    OPPOSE = "oppose"
    NEUTRAL = "neutral"
    CRITICAL_EXPLORATION = "critical_exploration"


class ExpressionStyle(StrEnum):
    FORMAL = "formal"
    CASUAL = "casual"
    TECHNICAL = "technical"
    STORYTELLING = "storytelling"


class BehaviorPattern(StrEnum):
    ACTIVE = "active"
    PASSIVE = "passive"
    BALANCED = "balanced"


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"
    NON_BINARY = "non_binary"
    UNSPECIFIED = "unspecified"


class Personality(InputModel):
    openness: Slider = 5
    rigor: Slider = 5
    critical_thinking: Slider = 5
    optimism: Slider = 5


class Knowledge(InputModel):
    fields: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=12
    )
    experience_years: int = Field(default=0, ge=0, le=80)
    representative_views: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=8
    )


class CharacterConfig(InputModel):
    """Everything that makes a persona speak the way it does."""

    name: str = Field(min_length=1, max_length=80)
    age: int = Field(ge=16, le=100)
    gender: Gender = Gender.UNSPECIFIED
    profession: str = Field(min_length=1, max_length=120)
    personality: Personality = Field(default_factory=Personality)
    knowledge: Knowledge = Field(default_factory=Knowledge)
    stance: Stance = Stance.NEUTRAL
    expression_style: ExpressionStyle = ExpressionStyle.CASUAL
    behavior_pattern: BehaviorPattern = BehaviorPattern.BALANCED
    background: str = Field(default="", max_length=1000)
