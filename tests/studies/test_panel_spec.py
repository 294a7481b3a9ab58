"""Studies whose panel is sampled from a panel spec (``panel_spec``) instead of listed."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from simfocus.characters.templates import TemplateLibrary
from simfocus.panels.sampler import load_panel_spec, sample_panel
from simfocus.settings import REPO_CONFIGS
from simfocus.studies.errors import StudyInvalid
from simfocus.studies.loader import load_study

UK = REPO_CONFIGS / "panels" / "uk_commuters.yaml"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A study folder next to a panels folder, as in configs/."""
    (tmp_path / "panels").mkdir()
    (tmp_path / "studies").mkdir()
    shutil.copy(UK, tmp_path / "panels" / "commuters.yaml")
    return tmp_path / "studies"


def write(folder: Path, body: str) -> Path:
    path = folder / "study.yaml"
    path.write_text(textwrap.dedent(body))
    return path


def test_the_shipped_sampled_study_seats_the_spec_panel(templates: TemplateLibrary) -> None:
    study = load_study(REPO_CONFIGS / "studies" / "commuters_sampled.yaml", templates)
    assert study.panel == sample_panel(load_panel_spec(UK), 8, seed=3)
    assert len({c.name for c in study.panel}) == 8


def test_the_spec_path_is_relative_to_the_study(layout: Path, templates: TemplateLibrary) -> None:
    path = write(
        layout,
        """
        topic: {title: Fares}
        panel_spec: {path: ../panels/commuters.yaml, n: 6, seed: 9}
        """,
    )
    study = load_study(path, templates)
    spec = load_panel_spec(layout.parent / "panels" / "commuters.yaml")
    assert study.panel == sample_panel(spec, 6, seed=9)
    assert load_study(path, templates).panel == study.panel  # reproducible


def test_without_a_seed_the_spec_seed_is_used(layout: Path, templates: TemplateLibrary) -> None:
    path = write(
        layout,
        """
        topic: {title: Fares}
        panel_spec: {path: ../panels/commuters.yaml, n: 4}
        panel: []
        """,
    )
    assert load_study(path, templates).panel == sample_panel(load_panel_spec(UK), 4)


@pytest.mark.parametrize(
    "body,field,words",
    [
        (
            """
            topic: {title: T}
            panel_spec: {path: ../panels/commuters.yaml, n: 4}
            panel: [{template: software_engineer}, {template: night_shift_nurse}]
            """,
            "panel",
            "not both",
        ),
        ("topic: {title: T}\n", "panel", "at least 2"),
        ("topic: {title: T}\npanel: []\n", "panel", "panel_spec"),
        (
            "topic: {title: T}\npanel_spec: {path: ../panels/commuters.yaml, n: 13}\n",
            "panel_spec.n",
            "less than or equal to 12",
        ),
        (
            "topic: {title: T}\npanel_spec: {path: ../panels/commuters.yaml, n: 1}\n",
            "panel_spec.n",
            "greater than or equal to 2",
        ),
        ("topic: {title: T}\npanel_spec: {n: 4}\n", "panel_spec.path", "Field required"),
        (
            "topic: {title: T}\npanel_spec: {path: x.yaml, n: 4, size: 3}\n",
            "panel_spec.size",
            "Extra inputs",
        ),
        (
            "topic: {title: T}\npanel_spec: {path: ../panels/nope.yaml, n: 4}\n",
            "panel_spec.path",
            "nope.yaml: no such file",
        ),
    ],
)
def test_bad_panel_specs_name_the_file_and_the_field(
    layout: Path, templates: TemplateLibrary, body: str, field: str, words: str
) -> None:
    path = write(layout, body)
    with pytest.raises(StudyInvalid) as info:
        load_study(path, templates)
    assert info.value.field == field
    message = info.value.message
    assert message.startswith(f"{path}: {field}: ") and words in message, message


def test_a_broken_spec_names_both_files(layout: Path, templates: TemplateLibrary) -> None:
    spec = layout.parent / "panels" / "broken.yaml"
    spec.write_text("professions: [{name: nurse}]\nage: {min: 60, max: 20}\ngender: {x: 1}\n")
    path = write(layout, "topic: {title: T}\npanel_spec: {path: ../panels/broken.yaml, n: 4}\n")
    with pytest.raises(StudyInvalid) as info:
        load_study(path, templates)
    lines = info.value.message.splitlines()
    assert info.value.field == "panel_spec.path"
    assert lines[0] == f"{path}: panel_spec.path: {spec}: age: " + lines[0].split(": age: ")[1]
    assert "min (60) is greater than max (20)" in lines[0]
    assert lines[1].startswith(f"{path}: panel_spec.path: {spec}: gender: ")


def test_a_spec_with_too_few_names_points_at_n(layout: Path, templates: TemplateLibrary) -> None:
    spec = layout.parent / "panels" / "named.yaml"
    spec.write_text("professions: [{name: nurse}]\nnames: [Ann Lee, Bo Chan, Cy Diaz]\n")
    path = write(layout, "topic: {title: T}\npanel_spec: {path: ../panels/named.yaml, n: 4}\n")
    with pytest.raises(StudyInvalid) as info:
        load_study(path, templates)
    assert info.value.field == "panel_spec.n" and "3 names but n is 4" in info.value.message
