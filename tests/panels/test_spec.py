"""Panel specs: what a research team may write, and the clear errors for what it may not."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from simfocus.characters.schemas import Gender, Stance
from simfocus.kit.errors import ValidationFailed
from simfocus.kit.validation import describe
from simfocus.panels.sampler import load_panel_spec
from simfocus.panels.schemas import PanelSpec
from simfocus.settings import REPO_CONFIGS

SPECS = sorted((REPO_CONFIGS / "panels").glob("*.yaml"))


def base(**changes: Any) -> dict[str, Any]:
    return {"professions": [{"name": "nurse"}, {"name": "baker", "weight": 3}], **changes}


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        PanelSpec.model_validate(data)
    return describe(info.value)


def test_the_shipped_specs_load() -> None:
    assert len(SPECS) >= 2
    for path in SPECS:
        spec = load_panel_spec(path)
        assert spec.name and len(spec.professions) >= 3


def test_defaults_and_normalised_weights() -> None:
    spec = PanelSpec.model_validate(
        base(gender={"female": 2, "male": 2, "non_binary": 0}, stance={"support": 1, "oppose": 3})
    )
    assert spec.gender == {Gender.FEMALE: 0.5, Gender.MALE: 0.5, Gender.NON_BINARY: 0.0}
    assert spec.stance == {Stance.SUPPORT: 0.25, Stance.OPPOSE: 0.75}
    assert spec.stance_mode == "quota" and spec.seed == 0
    assert spec.age.choices() == [(18, 80, 1.0)]
    assert spec.personality.openness.mean is None  # the sampler's 5 ± 2
    assert sum(PanelSpec.model_validate(base()).behavior_pattern.values()) == pytest.approx(1)


@pytest.mark.parametrize(
    "changes,field,words",
    [
        ({"gender": {"woman": 1}}, "gender", "unknown gender 'woman' (allowed: female, male,"),
        ({"stance": {"for": 1}}, "stance", "allowed: support, oppose, neutral"),
        (
            {"expression_style": {"poetic": 1}},
            "expression_style",
            "allowed: formal, casual, technical, storytelling",
        ),
        ({"behavior_pattern": {"shy": 1}}, "behavior_pattern", "allowed: active, passive"),
        ({"stance": {"support": -1, "oppose": 1}}, "stance.support", "greater than or equal to 0"),
        ({"gender": {"female": 0, "male": 0}}, "gender", "all zero"),
        ({"stance": {}}, "stance", "at least one weight"),
        ({"age": {"min": 50, "max": 30}}, "age", "min (50) is greater than max (30)"),
        ({"age": {"min": 12, "max": 30}}, "age.min", "greater than or equal to 16"),
        ({"age": {"min": 20, "max": 101}}, "age.max", "less than or equal to 100"),
        ({"age": {"min": 20}}, "age", "give both 'min' and 'max'"),
        (
            {"age": {"min": 20, "max": 30, "bands": [{"min": 20, "max": 30}]}},
            "age",
            "not both",
        ),
        ({"age": {"bands": [{"min": 40, "max": 30}]}}, "age.bands[0]", "min (40) is greater"),
        ({"age": {"bands": [{"min": 20, "max": 30, "weight": 0}]}}, "age", "all zero"),
        ({"age": {"bands": []}}, "age.bands", "at least 1 item"),
        ({"experience_years": {"min": 10, "max": 5}}, "experience_years", "min (10) is greater"),
        ({"experience_years": {"min": 0, "max": 81}}, "experience_years.max", "80"),
        ({"personality": {"openness": {"min": 3, "max": 11}}}, "personality.openness.max", "10"),
        ({"personality": {"rigor": {"min": 3}}}, "personality.rigor", "both 'min' and 'max'"),
        (
            {"personality": {"optimism": {"min": 3, "max": 6, "sd": 1}}},
            "personality.optimism",
            "not both",
        ),
        ({"personality": {"optimism": {"mean": 12}}}, "personality.optimism.mean", "10"),
        ({"personality": {"optimism": {"sd": -1}}}, "personality.optimism.sd", "0"),
        ({"personality": {"charm": {"mean": 5}}}, "personality.charm", "Extra inputs"),
        ({"professions": []}, "professions", "at least 1 item"),
        ({"professions": [{"name": "a", "weight": 0}]}, "professions", "all zero"),
        ({"professions": [{"name": "Nurse"}, {"name": "nurse"}]}, "professions", "listed twice"),
        ({"professions": [{"name": ""}]}, "professions[0].name", "at least 1 character"),
        ({"professions": [{"name": "a", "skills": ["x"]}]}, "professions[0].skills", "Extra"),
        ({"stance_mode": "lottery"}, "stance_mode", "'quota' or 'random'"),
        ({"names": ["Ann Lee", "Ann Lee"]}, "names", "'Ann Lee' is listed twice"),
        ({"names": []}, "names", "at least 1 item"),
        ({"seed": -1}, "seed", "greater than or equal to 0"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_specs_name_the_field(changes: dict[str, Any], field: str, words: str) -> None:
    found = problems(base(**changes))
    assert found[0][0] == field, found
    assert words in found[0][1], found


def test_professions_are_required() -> None:
    assert problems({}) == [("professions", "Field required")]


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_loading_errors_name_the_file_and_the_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        professions: [{name: nurse}]
        age: {min: 70, max: 20}
        gender: {woman: 1}
        """,
    )
    with pytest.raises(ValidationFailed) as info:
        load_panel_spec(path)
    lines = info.value.message.splitlines()
    assert info.value.field == "age"
    assert lines[0].startswith(f"{path}: age: ") and "min (70) is greater than max (20)" in lines[0]
    assert lines[1].startswith(f"{path}: gender: ") and "unknown gender 'woman'" in lines[1]


@pytest.mark.parametrize(
    "body,words",
    [
        ("professions: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "a panel spec is a YAML mapping"),
        ("", "a panel spec is a YAML mapping"),
    ],
)
def test_unloadable_files_name_the_file(tmp_path: Path, body: str, words: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ValidationFailed) as info:
        load_panel_spec(path)
    assert str(path) in info.value.message and words in info.value.message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match=r"nope\.yaml: no such file"):
        load_panel_spec(tmp_path / "nope.yaml")
