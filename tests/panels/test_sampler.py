"""Sampling panels: reproducible, within the spec, unique names, quotas exact; and the CLI."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from simfocus.characters.schemas import CharacterConfig, Gender, Stance
from simfocus.cli.panels import panel_command
from simfocus.kit.errors import ValidationFailed
from simfocus.panels.names import FEMALE_FIRST, LAST, MALE_FIRST, NEUTRAL_FIRST
from simfocus.panels.sampler import (
    background,
    describe,
    load_panel_spec,
    quota_counts,
    sample_panel,
)
from simfocus.panels.schemas import PanelSpec
from simfocus.settings import REPO_CONFIGS
from simfocus.studies.schemas import PanelEntry

UK = REPO_CONFIGS / "panels" / "uk_commuters.yaml"

SPEC: dict[str, Any] = {
    "name": "Test panel",
    "seed": 42,
    "age": {"min": 18, "max": 75},
    "gender": {"female": 0.5, "male": 0.45, "non_binary": 0.05},
    "professions": [
        {"name": "nurse", "weight": 2, "fields": ["healthcare"], "views": ["Patients first."]},
        {"name": "software engineer", "weight": 1, "fields": ["software"]},
        {"name": "delivery driver", "weight": 1},
    ],
    "stance": {"support": 0.3, "oppose": 0.3, "neutral": 0.2, "critical_exploration": 0.2},
    "personality": {"openness": {"min": 3, "max": 9}, "optimism": {"mean": 5, "sd": 2}},
    "expression_style": {"casual": 0.5, "formal": 0.2, "technical": 0.2, "storytelling": 0.1},
    "behavior_pattern": {"balanced": 0.6, "active": 0.3, "passive": 0.1},
    "experience_years": {"min": 0, "max": 30},
}


def spec(**changes: Any) -> PanelSpec:
    return PanelSpec.model_validate({**SPEC, **changes})


def dumped(panel: list[CharacterConfig]) -> list[str]:
    return [c.model_dump_json() for c in panel]


def test_the_same_spec_n_and_seed_give_the_same_panel_byte_for_byte() -> None:
    s = spec()
    assert dumped(sample_panel(s, 30)) == dumped(sample_panel(s, 30))
    assert dumped(sample_panel(s, 30, seed=7)) == dumped(sample_panel(spec(), 30, seed=7))
    # The spec's seed is the default.
    assert dumped(sample_panel(s, 30)) == dumped(sample_panel(s, 30, seed=42))


def test_a_different_seed_gives_a_different_panel() -> None:
    s = spec()
    assert dumped(sample_panel(s, 12, seed=1)) != dumped(sample_panel(s, 12, seed=2))
    assert dumped(sample_panel(s, 12)) != dumped(sample_panel(spec(seed=43), 12))


def test_the_global_random_is_left_alone() -> None:
    import random

    random.seed(5)
    expected = random.random()
    random.seed(5)
    sample_panel(spec(), 50)
    assert random.random() == expected


@pytest.mark.parametrize("seed", range(5))
def test_every_value_is_within_the_spec(seed: int) -> None:
    s = spec(age={"bands": [{"min": 20, "max": 29, "weight": 1}, {"min": 60, "max": 70}]})
    professions = {p.name: p for p in s.professions}
    for c in sample_panel(s, 200, seed=seed):
        assert 20 <= c.age <= 29 or 60 <= c.age <= 70
        assert c.gender in (Gender.FEMALE, Gender.MALE, Gender.NON_BINARY)
        entry = professions[c.profession]
        assert c.knowledge.fields == entry.fields
        assert c.knowledge.representative_views == entry.views
        assert 3 <= c.personality.openness <= 9
        for value in c.personality.model_dump().values():
            assert 0 <= value <= 10
        assert 0 <= c.knowledge.experience_years <= min(30, c.age - 16)
        assert c.background.startswith(("A ", "An ")) and f"{c.age}-year-old" in c.background
        assert c.profession in c.background


def test_names_are_unique_and_come_from_the_pool() -> None:
    for seed in range(3):
        panel = sample_panel(spec(gender={"non_binary": 1}), 200, seed=seed)
        names = [c.name for c in panel]
        assert len(set(names)) == 200
        for name in names:
            first, last = name.split(" ", 1)
            assert first in NEUTRAL_FIRST and last in LAST
    for c in sample_panel(spec(), 60):
        first = c.name.split(" ", 1)[0]
        pool = {Gender.FEMALE: FEMALE_FIRST, Gender.MALE: MALE_FIRST}.get(c.gender, NEUTRAL_FIRST)
        assert first in pool


def test_the_built_in_pool_is_big_and_diverse() -> None:
    firsts = FEMALE_FIRST + MALE_FIRST + NEUTRAL_FIRST
    assert len(set(firsts)) == len(firsts) >= 60
    assert len(set(LAST)) == len(LAST) >= 60


def test_a_small_panel_uses_distinct_first_and_last_names() -> None:
    panel = sample_panel(spec(), 12)
    assert len({c.name.split()[0] for c in panel}) == 12
    assert len({c.name.split(" ", 1)[1] for c in panel}) == 12


def test_a_names_list_is_drawn_without_repeats() -> None:
    names = [f"Person {i}" for i in range(10)]
    panel = sample_panel(spec(names=names), 10)
    assert sorted(c.name for c in panel) == sorted(names)
    with pytest.raises(ValidationFailed) as info:
        sample_panel(spec(names=names), 11)
    assert info.value.field == "n" and "10 names" in info.value.message


@pytest.mark.parametrize(
    "n,expected",
    [
        (10, {"support": 3, "oppose": 3, "neutral": 2, "critical_exploration": 2}),
        (8, {"support": 2, "oppose": 2, "neutral": 2, "critical_exploration": 2}),
        (7, {"support": 2, "oppose": 2, "neutral": 2, "critical_exploration": 1}),
        (1, {"support": 1}),
        (200, {"support": 60, "oppose": 60, "neutral": 40, "critical_exploration": 40}),
    ],
)
def test_quota_mode_gives_exact_counts(n: int, expected: dict[str, int]) -> None:
    for seed in range(3):
        counts = Counter(c.stance.value for c in sample_panel(spec(), n, seed=seed))
        assert dict(counts) == expected


def test_quota_counts_use_the_largest_remainder() -> None:
    assert quota_counts({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}, 10) == {"a": 4, "b": 3, "c": 3}
    assert quota_counts({"a": 0.7, "b": 0.3, "c": 0.0}, 10) == {"a": 7, "b": 3, "c": 0}
    assert quota_counts({"a": 0.1, "b": 0.2, "c": 0.7}, 3) == {"a": 0, "b": 1, "c": 2}
    for n in range(1, 50):
        assert sum(quota_counts({"a": 0.15, "b": 0.35, "c": 0.5}, n).values()) == n


def test_quota_seats_are_shuffled() -> None:
    stances = [c.stance for c in sample_panel(spec(), 20)]
    assert stances != sorted(stances, key=list(Stance).index)


def test_random_mode_draws_independently_near_the_weights() -> None:
    s = spec(stance_mode="random", stance={"support": 0.7, "oppose": 0.3})
    panels = [sample_panel(s, 10, seed=seed) for seed in range(20)]
    # Independent draws: some panels miss the 7/3 split a quota would force.
    splits = {Counter(c.stance for c in p)[Stance.SUPPORT] for p in panels}
    assert len(splits) > 1
    big = sample_panel(s, 200)
    assert abs(Counter(c.stance for c in big)[Stance.SUPPORT] / 200 - 0.7) <= 0.1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_large_panels_follow_the_distributions(seed: int) -> None:
    panel = sample_panel(spec(stance_mode="random"), 200, seed=seed)
    shares = Counter(c.gender.value for c in panel)
    for gender, weight in SPEC["gender"].items():
        assert abs(shares[gender] / 200 - weight) <= 0.1
    professions = Counter(c.profession for c in panel)
    assert abs(professions["nurse"] / 200 - 0.5) <= 0.1
    styles = Counter(c.expression_style.value for c in panel)
    assert abs(styles["casual"] / 200 - 0.5) <= 0.1
    behaviour = Counter(c.behavior_pattern.value for c in panel)
    assert abs(behaviour["balanced"] / 200 - 0.6) <= 0.1
    stances = Counter(c.stance.value for c in panel)
    assert abs(stances["support"] / 200 - 0.3) <= 0.1
    mean_optimism = sum(c.personality.optimism for c in panel) / 200
    assert abs(mean_optimism - 5) <= 0.5
    bands = spec(
        age={
            "bands": [{"min": 18, "max": 34, "weight": 0.4}, {"min": 35, "max": 85, "weight": 0.6}]
        }
    )
    young = sum(c.age <= 34 for c in sample_panel(bands, 200, seed=seed))
    assert abs(young / 200 - 0.4) <= 0.1


def test_normal_sliders_are_clipped_and_zero_weights_never_drawn() -> None:
    s = spec(
        personality={"rigor": {"mean": 10, "sd": 5}, "optimism": {"mean": 0, "sd": 0}},
        gender={"female": 1, "male": 0},
        stance={"support": 1, "oppose": 0},
        stance_mode="random",
    )
    panel = sample_panel(s, 200)
    assert all(0 <= c.personality.rigor <= 10 for c in panel)
    assert max(c.personality.rigor for c in panel) == 10
    assert {c.personality.optimism for c in panel} == {0}
    assert {c.gender for c in panel} == {Gender.FEMALE}
    assert {c.stance for c in panel} == {Stance.SUPPORT}


def test_experience_is_clipped_to_the_age() -> None:
    s = spec(age={"min": 16, "max": 20}, experience_years={"min": 10, "max": 40})
    for c in sample_panel(s, 100):
        assert c.knowledge.experience_years == min(c.knowledge.experience_years, c.age - 16)
        assert c.knowledge.experience_years <= c.age - 16
    assert any(c.age == 16 and c.knowledge.experience_years == 0 for c in sample_panel(s, 100))


@pytest.mark.parametrize("n", [0, -1, 201])
def test_n_must_be_between_1_and_200(n: int) -> None:
    with pytest.raises(ValidationFailed) as info:
        sample_panel(spec(), n)
    assert info.value.field == "n" and "between 1 and 200" in info.value.message


def test_background_sentences() -> None:
    assert background(42, "nurse", 12) == "A 42-year-old nurse with 12 years of experience."
    assert background(18, "baker", 1) == "An 18-year-old baker with 1 year of experience."
    assert background(83, "farmer", 0) == "An 83-year-old farmer who is new to the job."


def test_describe_summarises_the_panel() -> None:
    panel = sample_panel(spec(), 10)
    summary = describe(panel)
    assert summary["size"] == 10
    assert summary["stance"] == {"oppose": 3, "support": 3, "critical_exploration": 2, "neutral": 2}
    assert sum(summary["profession"].values()) == sum(summary["gender"].values()) == 10
    ages = [c.age for c in panel]
    assert summary["age"] == {
        "min": min(ages),
        "mean": round(sum(ages) / 10, 1),
        "max": max(ages),
    }
    assert describe([])["age"] == {"min": None, "mean": None, "max": None}


def test_the_shipped_specs_sample_valid_panels() -> None:
    for path in sorted((REPO_CONFIGS / "panels").glob("*.yaml")):
        panel = sample_panel(load_panel_spec(path), 200)
        assert len({c.name for c in panel}) == 200


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=160, color_system=None), buffer


def test_the_cli_prints_and_writes_a_study_panel(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "panel.yaml"
    con, buffer = console()
    assert panel_command(UK, 10, 5, out, con) == 0
    text = buffer.getvalue()
    expected = sample_panel(load_panel_spec(UK), 10, seed=5)
    assert "UK commuters" in text and "seed 5" in text
    assert all(c.name in text for c in expected)
    assert "stance: " in text and "aged " in text
    data = yaml.safe_load(out.read_text())
    entries = [PanelEntry.model_validate(e) for e in data["panel"]]
    assert [e.character for e in entries] == expected
    loaded = [CharacterConfig.model_validate(e["character"]) for e in data["panel"]]
    assert loaded == expected
    assert out.read_text().startswith(f"# Sampled from {UK} with n=10, seed=5.")


def test_the_cli_warns_when_a_panel_is_too_big_for_a_study(tmp_path: Path) -> None:
    con, buffer = console()
    assert panel_command(UK, 20, None, tmp_path / "p.yaml", con) == 0
    assert "A study seats 2 to 12" in buffer.getvalue()
    con, buffer = console()
    assert panel_command(UK, 5, None, None, con) == 0
    assert "A study seats" not in buffer.getvalue()


def test_the_cli_explains_what_to_fix(tmp_path: Path) -> None:
    con, buffer = console()
    assert panel_command(tmp_path / "missing.yaml", 5, None, None, con) == 2
    assert "missing.yaml: no such file" in buffer.getvalue()
    assert "configs/panels/" in buffer.getvalue()

    bad = tmp_path / "bad.yaml"
    bad.write_text("professions: [{name: nurse}]\nstance: {maybe: 1}\n")
    con, buffer = console()
    assert panel_command(bad, 5, None, None, con) == 2
    assert "bad.yaml: stance: " in buffer.getvalue() and "allowed: support" in buffer.getvalue()

    con, buffer = console()
    assert panel_command(UK, 0, None, None, con) == 2
    assert "n must be between 1 and 200" in buffer.getvalue()

    blocker = tmp_path / "file"
    blocker.write_text("")
    con, buffer = console()
    assert panel_command(UK, 3, None, blocker / "panel.yaml", con) == 2
    assert "cannot write" in buffer.getvalue()


def test_panels_do_not_depend_on_the_process_hash_seed() -> None:
    import os
    import subprocess
    import sys

    code = (
        "from simfocus.panels.sampler import load_panel_spec, sample_panel;"
        f"from pathlib import Path; p = sample_panel(load_panel_spec(Path({str(UK)!r})), 40);"
        "print(''.join(c.model_dump_json() for c in p))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert outputs == {
        "".join(c.model_dump_json() for c in sample_panel(load_panel_spec(UK), 40)) + "\n"
    }
