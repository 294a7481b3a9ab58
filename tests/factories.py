"""Factories: build studies and discussions in the open, instead of hiding data in fixtures."""

from __future__ import annotations

from simfocus.characters.schemas import CharacterConfig, Stance
from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import DiscussionSpec, Mode
from simfocus.llm.schemas import ProviderConfig
from simfocus.studies.schemas import Study
from simfocus.topics.schemas import Topic

DEFAULT_PANEL = [
    "software_engineer",
    "small_business_owner",
    "night_shift_nurse",
    "retired_teacher",
    "delivery_driver",
]


def create_character(name: str = "Test Person", **fields: object) -> CharacterConfig:
    data: dict[str, object] = {"name": name, "age": 40, "profession": "tester"}
    data.update(fields)
    return CharacterConfig.model_validate(data)


def create_study(
    templates: TemplateLibrary,
    *,
    mode: Mode = Mode.FREE,
    personas: int = 3,
    rounds: int = 4,
    latency_ms: float = 0.0,
    budget_usd: float | None = None,
    pacing_s: float = 0.0,
    seed: int = 1,
    panel: list[CharacterConfig] | None = None,
) -> Study:
    if panel is None:
        panel = []
        for template_id in DEFAULT_PANEL[:personas]:
            character = templates.get(template_id)
            assert character is not None, template_id
            panel.append(character)
    return Study(
        name=f"test {mode.value}",
        topic=Topic(title="A four-day work week for city employees", description="A pilot."),
        panel=panel,
        discussion=DiscussionSpec(
            mode=mode,
            max_rounds=rounds,
            provider=ProviderConfig(latency_ms=latency_ms),
            budget_usd=budget_usd,
            pacing_s=pacing_s,
            seed=seed,
        ),
    )


def stance_panel(stances: list[Stance]) -> list[CharacterConfig]:
    return [create_character(f"Person {i}", stance=s) for i, s in enumerate(stances)]
