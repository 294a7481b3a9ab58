"""Batch files: validation (errors named file:field), matrix expansion, seeds, the size guard."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from simfocus.batches.errors import BatchInvalid
from simfocus.batches.loader import expand, group_key, group_seed, load_batch, parse_batch
from simfocus.batches.schemas import BatchFile
from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import Mode
from simfocus.kit.errors import ValidationFailed
from simfocus.settings import REPO_CONFIGS

EXAMPLE = REPO_CONFIGS / "batches" / "meal_kit_variants.yaml"


def raw_batch(**changes: Any) -> dict[str, Any]:
    """2 variants x 2 panels x 2 modes x 3 repeats = 24 groups, unless changed."""
    raw: dict[str, Any] = {
        "name": "Concept test",
        "variants": [
            {"id": "alpha", "topic": {"title": "Alpha box"}},
            {"id": "beta", "label": "Beta box", "topic": {"title": "Beta box"}},
        ],
        "panels": [
            {"id": "mixed", "panel": [{"template": "night_shift_nurse"}, {"template": "farmer"}]},
            {
                "id": "young",
                "panel": [
                    {"template": "university_student"},
                    {"template": "software_engineer", "overrides": {"stance": "oppose"}},
                ],
            },
        ],
        "modes": ["free", "consensus"],
        "repeats": 3,
        "seed": 7,
        "discussion": {"max_rounds": 4, "provider": {"name": "simulated", "latency_ms": 20}},
    }
    raw.update(changes)
    return raw


def write(tmp_path: Path, raw: dict[str, Any] | str, name: str = "batch.yaml") -> Path:
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
    return path


def problems_of(path: Path, templates: TemplateLibrary) -> str:
    with pytest.raises(BatchInvalid) as info:
        load_batch(path, templates)
    return info.value.message


# ----- expansion -----------------------------------------------------------------------


def test_the_shipped_example_is_valid_and_small(templates: TemplateLibrary) -> None:
    batch = load_batch(EXAMPLE, templates)
    groups = expand(batch, templates)
    assert len(groups) == 6 == batch.group_count
    assert {g.variant for g in groups} == {"shiftplate", "shiftplate_cheap"}
    assert all(len(g.study.panel) == 5 for g in groups)
    assert all(g.study.discussion.max_rounds == 6 for g in groups)
    assert all(g.study.discussion.provider.name == "simulated" for g in groups)
    assert all(g.study.discussion.provider.latency_ms == 50 for g in groups)
    assert [g.repeat for g in groups] == [1, 2, 3, 1, 2, 3]


def test_expansion_counts_and_order(tmp_path: Path, templates: TemplateLibrary) -> None:
    batch = load_batch(write(tmp_path, raw_batch()), templates)
    groups = expand(batch, templates)
    assert len(groups) == 2 * 2 * 2 * 3 == batch.group_count
    expected = [
        (v, p, m, r)
        for v, p, m, r in itertools.product(
            ["alpha", "beta"], ["mixed", "young"], [Mode.FREE, Mode.CONSENSUS], [1, 2, 3]
        )
    ]
    assert [(g.variant, g.panel, g.mode, g.repeat) for g in groups] == expected
    assert groups[0].key == "alpha.mixed.free.r1"
    assert groups[-1].key == "beta.young.consensus.r3"
    assert len({g.key for g in groups}) == len(groups)


def test_each_group_is_a_resolved_study(tmp_path: Path, templates: TemplateLibrary) -> None:
    batch = load_batch(write(tmp_path, raw_batch()), templates)
    for g in expand(batch, templates):
        assert g.key == group_key(g.variant, g.panel, g.mode, g.repeat)
        assert g.study.topic.title == ("Alpha box" if g.variant == "alpha" else "Beta box")
        assert g.study.discussion.mode is g.mode
        assert g.study.discussion.seed == g.seed
        assert g.study.discussion.max_rounds == 4
        assert g.study.discussion.provider.latency_ms == 20
        assert g.study.name == f"Concept test · {g.key}"
        if g.panel == "young":
            assert g.study.panel[1].stance.value == "oppose"  # the override applied
            assert g.study.panel[0].name == templates.get("university_student").name  # type: ignore[union-attr]


def test_seeds_are_deterministic_distinct_and_stable_when_a_variant_is_added(
    tmp_path: Path, templates: TemplateLibrary
) -> None:
    base = raw_batch()
    groups = expand(load_batch(write(tmp_path, base), templates), templates)
    again = expand(load_batch(write(tmp_path, base, "again.yaml"), templates), templates)
    assert [g.seed for g in groups] == [g.seed for g in again]
    assert len({g.seed for g in groups}) == len(groups)  # no two groups share a seed
    assert all(0 <= g.seed <= 2**31 - 1 for g in groups)

    grown = raw_batch(
        variants=[{"id": "gamma", "topic": {"title": "Gamma"}}, *base["variants"]], repeats=4
    )
    bigger = {
        g.key: g.seed
        for g in expand(load_batch(write(tmp_path, grown, "g.yaml"), templates), templates)
    }
    assert len(bigger) == 3 * 2 * 2 * 4
    assert all(bigger[g.key] == g.seed for g in groups)  # old groups keep their seeds

    reseeded = expand(
        load_batch(write(tmp_path, raw_batch(seed=8), "s.yaml"), templates), templates
    )
    assert all(a.seed != b.seed for a, b in zip(groups, reseeded, strict=True))


def test_group_seed_is_a_pure_function_of_base_seed_and_key() -> None:
    assert group_seed(7, "a.p.free.r1") == group_seed(7, "a.p.free.r1")
    assert group_seed(7, "a.p.free.r1") != group_seed(7, "a.p.free.r2")
    assert group_key("a", "p", "free", 2) == "a.p.free.r2"


def test_defaults_one_free_mode_one_repeat(tmp_path: Path, templates: TemplateLibrary) -> None:
    raw = raw_batch()
    for key in ("modes", "repeats", "seed", "name"):
        raw.pop(key)
    batch = load_batch(write(tmp_path, raw), templates)
    assert batch.modes == [Mode.FREE] and batch.repeats == 1 and batch.max_groups == 1000
    groups = expand(batch, templates)
    assert [g.key for g in groups] == [
        "alpha.mixed.free.r1",
        "alpha.young.free.r1",
        "beta.mixed.free.r1",
        "beta.young.free.r1",
    ]
    assert groups[0].study.name == "Alpha box · alpha.mixed.free.r1"  # named after the topic


# ----- the size guard ------------------------------------------------------------------


def test_max_groups_guard_names_the_count_and_the_fix(
    tmp_path: Path, templates: TemplateLibrary
) -> None:
    message = problems_of(write(tmp_path, raw_batch(repeats=10, max_groups=50)), templates)
    assert message.startswith(f"{tmp_path / 'batch.yaml'}: max_groups: ")
    assert "80 groups" in message and "2 variants x 2 panels x 2 modes x 10 repeats" in message
    assert "set 'max_groups: 80'" in message

    # Raising the limit is the fix.
    batch = load_batch(write(tmp_path, raw_batch(repeats=10, max_groups=80)), templates)
    assert len(expand(batch, templates)) == 80


def test_default_guard_and_hard_limit(tmp_path: Path, templates: TemplateLibrary) -> None:
    variants = [{"id": f"v{i}", "topic": {"title": f"V{i}"}} for i in range(50)]
    message = problems_of(write(tmp_path, raw_batch(variants=variants, repeats=20)), templates)
    assert "4000 groups" in message and "max_groups = 1000" in message  # the default

    message = problems_of(
        write(tmp_path, raw_batch(variants=variants, repeats=100, max_groups=5000)), templates
    )
    assert "20000 groups" in message and "hard limit of 5000" in message

    message = problems_of(write(tmp_path, raw_batch(max_groups=5001)), templates)
    assert "max_groups: Input should be less than or equal to 5000" in message


def test_expand_checks_the_guard_too(templates: TemplateLibrary) -> None:
    batch = BatchFile.model_validate(raw_batch(max_groups=10))  # built without the loader
    with pytest.raises(BatchInvalid, match="24 groups"):
        expand(batch, templates)


# ----- validation errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"variants": []}, "variants", "at least 1 item"),
        ({"repeats": 0}, "repeats", "greater than or equal to 1"),
        ({"repeats": 101}, "repeats", "less than or equal to 100"),
        ({"modes": []}, "modes", "at least 1 item"),
        ({"modes": ["free", "chaos"]}, "modes[1]", "Input should be"),
        ({"modes": ["free", "free"]}, "modes", "'free' is listed twice"),
        ({"seed": -1}, "seed", "greater than or equal to 0"),
        ({"budget_usd": 0}, "budget_usd", "greater than 0"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
        (
            {"variants": [{"id": "A B", "topic": {"title": "x"}}]},
            "variants[0].id",
            "should match pattern",
        ),
        (
            {
                "variants": [
                    {"id": "a", "topic": {"title": "x"}},
                    {"id": "a", "topic": {"title": "y"}},
                ]
            },
            "variants",
            "'a' is listed twice",
        ),
        ({"variants": [{"id": "a", "topic": {}}]}, "variants[0].topic.title", "Field required"),
        (
            {"panels": [{"id": "p", "panel": [{"template": "farmer"}]}]},
            "panels[0].panel",
            "at least 2 items",
        ),
        ({"panels": [{"id": "p"}]}, "panels[0]", "give either 'panel'"),
        ({"discussion": {"mode": "free"}}, "discussion", "'mode' come from the matrix"),
        ({"discussion": {"seed": 3, "mode": "free"}}, "discussion", "'mode' and 'seed'"),
        ({"discussion": {"max_rounds": 0}}, "discussion.max_rounds", "greater than or equal"),
    ],
)
def test_schema_errors_name_file_and_field(
    tmp_path: Path, templates: TemplateLibrary, change: dict[str, Any], field: str, words: str
) -> None:
    path = write(tmp_path, raw_batch(**change))
    message = problems_of(path, templates)
    assert f"{path}: {field}: " in message
    assert words in message


def test_panel_problems_are_all_named(tmp_path: Path, templates: TemplateLibrary) -> None:
    panels = [
        {"id": "a", "panel": [{"template": "farmer"}, {"template": "astronaut"}]},
        {
            "id": "b",
            "panel": [
                {"template": "farmer", "overrides": {"personality": {"optimism": 99}}},
                {"template": "pensioner"},
            ],
        },
        {"id": "c", "panel": [{"template": "farmer"}, {"template": "farmer"}]},
    ]
    path = write(tmp_path, raw_batch(panels=panels))
    with pytest.raises(BatchInvalid) as info:
        load_batch(path, templates)
    lines = info.value.message.splitlines()
    assert lines[0].startswith(f"{path}: panels[0].panel[1].template: unknown template 'astronaut'")
    assert lines[1].startswith(f"{path}: panels[1].panel[0].overrides.personality.optimism: ")
    assert lines[2].startswith(f"{path}: panels[2].panel: two panelists share the name")
    assert info.value.field == "panels[0].panel[1].template"
    assert isinstance(info.value, ValidationFailed) and info.value.status == 422


def test_file_level_errors(tmp_path: Path, templates: TemplateLibrary) -> None:
    assert "no such file" in problems_of(tmp_path / "missing.yaml", templates)
    assert "not valid YAML" in problems_of(write(tmp_path, "variants: [\n"), templates)
    assert "a batch file is a YAML mapping" in problems_of(write(tmp_path, "- 1\n"), templates)


# ----- panels from study files ---------------------------------------------------------


STUDY = """
    topic: {title: Something else}
    panel:
      - template: retired_teacher
      - character: {name: Ana Ruiz, age: 31, profession: pharmacist}
"""


def test_a_panel_can_come_from_a_study_file(tmp_path: Path, templates: TemplateLibrary) -> None:
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "s.yaml").write_text(textwrap.dedent(STUDY))
    panels = [{"id": "from_study", "study": "studies/s.yaml"}]
    batch = load_batch(write(tmp_path, raw_batch(panels=panels)), templates)
    # Inlined: the loaded batch no longer depends on the study file.
    assert batch.panels[0].study is None and batch.panels[0].panel is not None
    (tmp_path / "studies" / "s.yaml").unlink()
    groups = expand(batch, templates)
    assert [c.name for c in groups[0].study.panel][1] == "Ana Ruiz"
    assert groups[0].study.topic.title == "Alpha box"  # the variant's topic, not the study's


def test_study_panel_errors_are_named(tmp_path: Path, templates: TemplateLibrary) -> None:
    panels = [{"id": "s", "study": "nope.yaml"}]
    message = problems_of(write(tmp_path, raw_batch(panels=panels)), templates)
    assert f"{tmp_path / 'batch.yaml'}: panels[0].study: " in message and "no such file" in message

    (tmp_path / "bad.yaml").write_text(
        "topic: {title: t}\npanel: [{template: astronaut}, {template: farmer}]\n"
    )
    message = problems_of(
        write(tmp_path, raw_batch(panels=[{"id": "s", "study": "bad.yaml"}])), templates
    )
    assert "panels[0].study: " in message and "unknown template 'astronaut'" in message

    both = [
        {"id": "s", "study": "x.yaml", "panel": [{"template": "farmer"}, {"template": "pensioner"}]}
    ]
    assert "give either 'panel'" in problems_of(write(tmp_path, raw_batch(panels=both)), templates)


def test_data_without_a_directory_cannot_reference_files(templates: TemplateLibrary) -> None:
    raw = raw_batch(panels=[{"id": "s", "study": "../../etc/passwd"}])
    with pytest.raises(BatchInvalid, match=r"upload: panels\[0\]\.study: a study reference needs"):
        parse_batch(raw, templates, source="upload")
    # A batch built directly with an unresolved study panel cannot be expanded either.
    with pytest.raises(BatchInvalid, match=r"panels\[0\]\.study"):
        expand(BatchFile.model_validate(raw), templates)
