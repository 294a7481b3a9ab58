"""Loading a batch file and expanding its matrix into groups (one study each).

Problems are raised as :class:`BatchInvalid` (a ``ValidationFailed``) with one line per
problem, ``file: field: message``, as the study loader does. ``load_batch`` checks
everything a run would trip over later (unknown templates, study files, the matrix
size), so a batch that loads also expands.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simfocus.batches.errors import BatchInvalid
from simfocus.batches.schemas import (
    HARD_MAX_GROUPS,
    SEED_MAX,
    BatchFile,
    BatchGroup,
    BatchPanel,
)
from simfocus.characters.schemas import CharacterConfig
from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import Mode
from simfocus.kit.errors import ValidationFailed
from simfocus.kit.validation import describe
from simfocus.studies.loader import Problems, load_study, resolve_panel
from simfocus.studies.schemas import PanelEntry, Study

NAME_MAX = 200  # a discussion's name limit


def load_batch(path: Path, templates: TemplateLibrary) -> BatchFile:
    """Read, validate and check ``path``; study panels (``study:``) are inlined.

    Raises ``BatchInvalid`` with every problem found, each as ``file: field: message``.
    """
    return parse_batch(_read_yaml(path), templates, source=str(path), base_dir=path.parent)


def parse_batch(
    raw: dict[str, Any],
    templates: TemplateLibrary,
    *,
    source: str = "batch",
    base_dir: Path | None = None,
) -> BatchFile:
    """Validate a batch given as data (e.g. uploaded YAML); ``source`` names it in errors.

    ``study:`` panels are read relative to ``base_dir``; without one they are refused, so
    a batch that came over the network can never make the server read its files.
    """
    try:
        batch = BatchFile.model_validate(raw)
    except ValidationError as e:
        raise _invalid(source, describe(e)) from None
    problems: Problems = []
    panels: list[BatchPanel] = []
    for i, panel in enumerate(batch.panels):
        if panel.study is not None:
            inlined = _inline_study(panel, i, templates, base_dir, problems)
            panels.append(inlined or panel)
            if inlined is None:
                continue
        else:
            panels.append(panel)
        resolve_panel(panels[-1].panel or [], templates, ("panels", i, "panel"), problems)
    if problems:
        raise _invalid(source, problems)
    batch = batch.model_copy(update={"panels": panels})
    check_size(batch, source=source)
    return batch


def expand(
    batch: BatchFile, templates: TemplateLibrary, *, source: str = "batch"
) -> list[BatchGroup]:
    """Every group of the batch, ordered variant, panel, mode, repeat (the file's order).

    ``len(result) == variants x panels x modes x repeats``, refused above ``max_groups``.
    Each group's seed depends only on the base seed and its key (see :func:`group_seed`).
    """
    check_size(batch, source=source)
    problems: Problems = []
    resolved: list[list[CharacterConfig]] = []
    for i, panel in enumerate(batch.panels):
        if panel.panel is None:
            problems.append(
                (f"panels[{i}].study", "study panels are read by load_batch; load the file")
            )
            resolved.append([])
            continue
        resolved.append(resolve_panel(panel.panel, templates, ("panels", i, "panel"), problems))
    if problems:
        raise _invalid(source, problems)
    groups: list[BatchGroup] = []
    for variant in batch.variants:
        for panel, characters in zip(batch.panels, resolved, strict=True):
            for mode in batch.modes:
                for repeat in range(1, batch.repeats + 1):
                    key = group_key(variant.id, panel.id, mode, repeat)
                    seed = group_seed(batch.seed, key)
                    study = Study(
                        name=_group_name(batch.title, key),
                        topic=variant.topic,
                        panel=characters,
                        discussion=batch.discussion.model_copy(update={"mode": mode, "seed": seed}),
                    )
                    groups.append(
                        BatchGroup(
                            key=key,
                            variant=variant.id,
                            panel=panel.id,
                            mode=mode,
                            repeat=repeat,
                            seed=seed,
                            study=study,
                        )
                    )
    return groups


def group_key(variant: str, panel: str, mode: Mode | str, repeat: int) -> str:
    """``shiftplate.mixed.free.r1``: ids cannot hold dots, so keys never collide."""
    return f"{variant}.{panel}.{Mode(mode).value}.r{repeat}"


def group_seed(base_seed: int, key: str) -> int:
    """A group's seed: SHA-256 of ``"{base_seed}:{key}"``, reduced to a valid seed.

    Derived from the key, not the group's position, so adding a variant, panel, mode or
    repeat leaves every existing group's seed (and so its simulated run) unchanged. Seeds
    of different groups are unrelated, which keeps groups independent samples (what the
    aggregate's Welch test assumes).
    """
    digest = hashlib.sha256(f"{base_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (SEED_MAX + 1)


def check_size(batch: BatchFile, *, source: str = "batch") -> None:
    """Refuse a matrix larger than ``max_groups``: a typo must not launch 50 000 runs."""
    n = batch.group_count
    if n <= batch.max_groups:
        return
    shape = (
        f"{len(batch.variants)} variants x {len(batch.panels)} panels x "
        f"{len(batch.modes)} modes x {batch.repeats} repeats"
    )
    if n > HARD_MAX_GROUPS:
        advice = f"that is over the hard limit of {HARD_MAX_GROUPS}; split it into several batches"
    else:
        advice = f"set 'max_groups: {n}' (at most {HARD_MAX_GROUPS}) if you mean it"
    raise _invalid(
        source,
        [
            (
                "max_groups",
                f"the batch expands to {n} groups ({shape}), more than max_groups = "
                f"{batch.max_groups}; {advice}",
            )
        ],
    )


def _inline_study(
    panel: BatchPanel,
    index: int,
    templates: TemplateLibrary,
    base_dir: Path | None,
    problems: Problems,
) -> BatchPanel | None:
    """The panel with its study's resolved personas listed inline, or None on a problem."""
    field = f"panels[{index}].study"
    if base_dir is None:
        problems.append((field, "a study reference needs a batch file on disk; list the seats"))
        return None
    assert panel.study is not None
    try:
        study = load_study(base_dir / panel.study, templates)
    except ValidationFailed as e:
        # The study loader's message already names its file and field.
        problems.append((field, e.message.replace("\n", "; ")))
        return None
    seats = [PanelEntry(character=c) for c in study.panel]
    return panel.model_copy(update={"panel": seats, "study": None})


def _group_name(title: str, key: str) -> str:
    suffix = f" · {key}"
    return title[: max(0, NAME_MAX - len(suffix))].rstrip() + suffix


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BatchInvalid(f"{path}: no such file", field="batch") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BatchInvalid(f"{path}: cannot read: {e}", field="batch") from None
    except yaml.YAMLError as e:
        raise BatchInvalid(f"{path}: not valid YAML: {e}", field="batch") from None
    if not isinstance(raw, dict):
        raise BatchInvalid(
            f"{path}: a batch file is a YAML mapping with variants, panels and discussion",
            field="batch",
        )
    return raw


def _invalid(source: str, problems: Problems) -> BatchInvalid:
    lines = [f"{source}: {field}: {msg}" for field, msg in problems]
    return BatchInvalid("\n".join(lines), field=problems[0][0])
