from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from simfocus.characters.schemas import Stance
from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import Mode
from simfocus.settings import REPO_CONFIGS
from simfocus.studies.errors import StudyInvalid
from simfocus.studies.loader import load_study

STUDIES = sorted((REPO_CONFIGS / "studies").glob("*.yaml"))


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(textwrap.dedent(body))
    return path


GOOD = """
    topic: {title: Bikes for all}
    panel:
      - template: software_engineer
      - template: night_shift_nurse
        overrides: {stance: oppose, personality: {optimism: 2}}
      - character: {name: Ana Ruiz, age: 31, profession: pharmacist}
    discussion: {mode: consensus, max_rounds: 3}
"""


def test_shipped_content_is_rich_and_valid(templates: TemplateLibrary) -> None:
    assert len(templates.ids()) >= 12
    characters = [c for _, c in templates.items()]
    assert len({c.stance for c in characters}) == 4
    assert len({c.expression_style for c in characters}) == 4
    assert len({c.behavior_pattern for c in characters}) == 3
    assert max(c.age for c in characters) - min(c.age for c in characters) >= 40
    modes = {load_study(p, templates).discussion.mode for p in STUDIES}
    assert len(STUDIES) >= 3 and len(modes) >= 3


def test_a_study_resolves_templates_overrides_and_inline_personas(
    tmp_path: Path, templates: TemplateLibrary
) -> None:
    study = load_study(write(tmp_path, GOOD), templates)
    assert [c.name for c in study.panel][2] == "Ana Ruiz"
    nurse = study.panel[1]
    assert nurse.stance is Stance.OPPOSE and nurse.personality.optimism == 2
    assert nurse.personality.rigor == templates.get("night_shift_nurse").personality.rigor  # type: ignore[union-attr]
    assert study.discussion.mode is Mode.CONSENSUS and study.name == "Bikes for all"


def test_command_line_overrides_patch_the_discussion(
    tmp_path: Path, templates: TemplateLibrary
) -> None:
    study = load_study(
        write(tmp_path, GOOD), templates, {"mode": "free", "max_rounds": 9, "seed": 3}
    )
    assert (study.discussion.mode, study.discussion.max_rounds, study.discussion.seed) == (
        Mode.FREE,
        9,
        3,
    )


@pytest.mark.parametrize(
    "change,field,words",
    [
        (
            lambda d: d["panel"].__setitem__(0, {"template": "astronaut"}),
            "panel[0].template",
            "unknown template",
        ),
        (
            lambda d: d["panel"][1]["overrides"]["personality"].__setitem__("optimism", 11),
            "panel[1].overrides.personality.optimism",
            "less than or equal to 10",
        ),
        (lambda d: d.pop("topic"), "topic", "Field required"),
        (lambda d: d["discussion"].__setitem__("mode", "shouting"), "discussion.mode", "free"),
        (lambda d: d["discussion"].__setitem__("max_rounds", 101), "discussion.max_rounds", "100"),
        (lambda d: d["topic"].__setitem__("title", "x" * 201), "topic.title", "200"),
        (
            lambda d: d["panel"][2]["character"].__setitem__("age", 7),
            "panel[2].character.age",
            "16",
        ),
        (lambda d: d.__setitem__("panel", d["panel"][:1]), "panel", "at least 2"),
        (lambda d: d.__setitem__("colour", "red"), "colour", "Extra inputs"),
    ],
)
def test_bad_studies_name_the_file_and_the_field(
    tmp_path: Path, templates: TemplateLibrary, change, field, words
) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(textwrap.dedent(GOOD))
    change(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(StudyInvalid) as info:
        load_study(path, templates)
    assert info.value.field == field
    assert (
        str(path) in info.value.message
        and field in info.value.message
        and words in info.value.message
    )


def test_unreadable_and_duplicate_names(tmp_path: Path, templates: TemplateLibrary) -> None:
    with pytest.raises(StudyInvalid, match="no such file"):
        load_study(tmp_path / "nope.yaml", templates)
    with pytest.raises(StudyInvalid, match="not valid YAML"):
        load_study(write(tmp_path, "topic: [unclosed"), templates)
    dup = write(
        tmp_path,
        """
        topic: {title: T}
        panel: [{template: software_engineer}, {template: software_engineer}]
    """,
    )
    with pytest.raises(StudyInvalid, match="share the name"):
        load_study(dup, templates)
