"""Sampling a panel of personas from a ``PanelSpec``, reproducibly.

Every draw comes from one ``random.Random`` seeded by ``stable_rng`` from the seed and the
panel size, in a fixed order, so the same spec, ``n`` and seed give the same panel byte for
byte on any machine and in any process (the global ``random`` is never touched).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from simfocus.characters.schemas import CharacterConfig, Gender, Knowledge, Personality, Stance
from simfocus.kit.errors import ValidationFailed
from simfocus.kit.rand import stable_rng
from simfocus.kit.validation import describe as describe_errors
from simfocus.panels.names import FIRST_BY_GENDER, LAST
from simfocus.panels.schemas import (
    MAX_SLIDER,
    MIN_AGE,
    MIN_SLIDER,
    AgeSpec,
    PanelSpec,
    ProfessionEntry,
    SliderSpec,
)

MIN_N = 1
MAX_N = 200
DEFAULT_MEAN = 5.0
DEFAULT_SD = 2.0

K = TypeVar("K")


def sample_panel(spec: PanelSpec, n: int, seed: int | None = None) -> list[CharacterConfig]:
    """``n`` personas drawn from ``spec``; ``seed`` (default: the spec's) fixes the draw.

    Raises ``ValidationFailed`` (field ``n``) when ``n`` is outside 1..200 or larger than
    the spec's own ``names`` list.
    """
    if isinstance(n, bool) or not MIN_N <= n <= MAX_N:
        raise ValidationFailed(f"n must be between {MIN_N} and {MAX_N}; got {n}", field="n")
    if spec.names is not None and n > len(spec.names):
        raise ValidationFailed(
            f"the spec lists {len(spec.names)} names but n is {n}; add names to the spec's "
            "'names' list or remove it to use the built-in pool",
            field="n",
        )
    rng = stable_rng("simfocus.panel", spec.seed if seed is None else seed, n)
    stances = _stances(spec, n, rng)
    names = _NamePicker(spec.names, n, rng)
    panel: list[CharacterConfig] = []
    for stance in stances:
        gender = _weighted(rng, spec.gender)
        age = _age(rng, spec.age)
        profession = _profession(rng, spec.professions)
        # Nobody has worked longer than they have been of working age.
        experience = min(
            rng.randint(spec.experience_years.min, spec.experience_years.max), age - MIN_AGE
        )
        personality = Personality(
            openness=_slider(rng, spec.personality.openness),
            rigor=_slider(rng, spec.personality.rigor),
            critical_thinking=_slider(rng, spec.personality.critical_thinking),
            optimism=_slider(rng, spec.personality.optimism),
        )
        panel.append(
            CharacterConfig(
                name=names.pick(rng, gender),
                age=age,
                gender=gender,
                profession=profession.name,
                personality=personality,
                knowledge=Knowledge(
                    fields=list(profession.fields),
                    experience_years=experience,
                    representative_views=list(profession.views),
                ),
                stance=stance,
                expression_style=_weighted(rng, spec.expression_style),
                behavior_pattern=_weighted(rng, spec.behavior_pattern),
                background=background(age, profession.name, experience),
            )
        )
    return panel


def quota_counts(weights: dict[K, float], n: int) -> dict[K, int]:
    """Counts summing to ``n`` as close to ``weights`` as integers allow (largest remainder;
    ties go to the key listed first)."""
    exact = {key: w * n for key, w in weights.items()}
    # The epsilon keeps 0.3 * 10 = 2.9999… from losing its seat to float rounding.
    counts = {key: math.floor(q + 1e-9) for key, q in exact.items()}
    left = n - sum(counts.values())
    order = list(weights)
    by_remainder = sorted(order, key=lambda k: (-(exact[k] - counts[k]), order.index(k)))
    for key in by_remainder[:left]:
        counts[key] += 1
    return counts


def background(age: int, profession: str, experience: int) -> str:
    """A one-sentence background, e.g. "A 42-year-old nurse with 12 years of experience."."""
    article = "An" if age == 18 or 80 <= age <= 89 else "A"
    if experience == 0:
        tail = "who is new to the job"
    elif experience == 1:
        tail = "with 1 year of experience"
    else:
        tail = f"with {experience} years of experience"
    return f"{article} {age}-year-old {profession} {tail}."


def describe(panel: list[CharacterConfig]) -> dict[str, Any]:
    """A summary for printing: the size, counts by stance, profession, gender, style and
    behaviour (most common first), and the ages' min, mean and max."""
    ages = [c.age for c in panel]
    return {
        "size": len(panel),
        "stance": _counts(c.stance.value for c in panel),
        "profession": _counts(c.profession for c in panel),
        "gender": _counts(c.gender.value for c in panel),
        "expression_style": _counts(c.expression_style.value for c in panel),
        "behavior_pattern": _counts(c.behavior_pattern.value for c in panel),
        "age": {
            "min": min(ages) if ages else None,
            "mean": round(sum(ages) / len(ages), 1) if ages else None,
            "max": max(ages) if ages else None,
        },
    }


def load_panel_spec(path: Path) -> PanelSpec:
    """Read and validate a panel spec file.

    Raises ``ValidationFailed`` with every problem, each line as ``file: field: message``.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValidationFailed(f"{path}: no such file", field="spec") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValidationFailed(f"{path}: cannot read: {e}", field="spec") from None
    except yaml.YAMLError as e:
        raise ValidationFailed(f"{path}: not valid YAML: {e}", field="spec") from None
    if not isinstance(raw, dict):
        raise ValidationFailed(
            f"{path}: a panel spec is a YAML mapping with professions, age, gender, stance, …"
            " (see configs/panels/)",
            field="spec",
        )
    try:
        return PanelSpec.model_validate(raw)
    except ValidationError as e:
        problems = describe_errors(e)
        lines = [f"{path}: {field}: {msg}" for field, msg in problems]
        raise ValidationFailed("\n".join(lines), field=problems[0][0]) from None


def _stances(spec: PanelSpec, n: int, rng: random.Random) -> list[Stance]:
    if spec.stance_mode == "random":
        return [_weighted(rng, spec.stance) for _ in range(n)]
    stances = [s for s, count in quota_counts(spec.stance, n).items() for _ in range(count)]
    rng.shuffle(stances)  # otherwise seats would be grouped by stance
    return stances


def _weighted(rng: random.Random, weights: dict[K, float]) -> K:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _age(rng: random.Random, age: AgeSpec) -> int:
    bands = age.choices()
    low, high, _ = rng.choices(bands, weights=[w for _, _, w in bands])[0]
    return rng.randint(low, high)


def _profession(rng: random.Random, professions: list[ProfessionEntry]) -> ProfessionEntry:
    return rng.choices(professions, weights=[p.weight for p in professions])[0]


def _slider(rng: random.Random, slider: SliderSpec) -> int:
    if slider.min is not None and slider.max is not None:
        return rng.randint(slider.min, slider.max)
    mean = DEFAULT_MEAN if slider.mean is None else slider.mean
    sd = DEFAULT_SD if slider.sd is None else slider.sd
    return min(MAX_SLIDER, max(MIN_SLIDER, round(rng.gauss(mean, sd))))


def _counts(values: Iterable[str]) -> dict[str, int]:
    counter = Counter(values)
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


class _NamePicker:
    """Unique names: from the spec's list, or first + last from the built-in pool, using
    first and last names not yet seen while any remain so the panel reads as distinct people."""

    def __init__(self, names: list[str] | None, n: int, rng: random.Random) -> None:
        self._given = rng.sample(names, n) if names is not None else None
        self._used: set[str] = set()
        self._used_first: set[str] = set()
        self._used_last: set[str] = set()

    def pick(self, rng: random.Random, gender: Gender) -> str:
        if self._given is not None:
            return self._given.pop()
        firsts = FIRST_BY_GENDER[gender]
        first = rng.choice([f for f in firsts if f not in self._used_first] or firsts)
        # Every first name pairs with ≥ 60 surnames and n ≤ 200, so a free one always exists.
        free = [last for last in LAST if last != first and f"{first} {last}" not in self._used]
        last = rng.choice([s for s in free if s not in self._used_last] or free)
        name = f"{first} {last}"
        self._used.add(name)
        self._used_first.add(first)
        self._used_last.add(last)
        return name
