"""Loading a study file and resolving its panel against the persona templates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from simfocus.characters.schemas import CharacterConfig
from simfocus.characters.templates import TemplateLibrary
from simfocus.kit.errors import ValidationFailed
from simfocus.kit.validation import describe, field_path
from simfocus.panels.sampler import load_panel_spec, sample_panel
from simfocus.studies.errors import StudyInvalid
from simfocus.studies.schemas import PanelEntry, PanelSpecRef, Study, StudyFile

Problems = list[tuple[str, str]]


def load_study(
    path: Path, templates: TemplateLibrary, overrides: dict[str, Any] | None = None
) -> Study:
    """Read, validate and resolve ``path``; ``overrides`` patch its ``discussion`` section.

    A ``panel_spec`` (its path relative to ``path``) is sampled into the panel.
    Raises ``StudyInvalid`` with every problem, each as ``file: field: message``.
    """
    raw = _read_yaml(path)
    if overrides:
        raw["discussion"] = {**(raw.get("discussion") or {}), **overrides}
    try:
        study = StudyFile.model_validate(raw)
    except ValidationError as e:
        raise _invalid(path, describe(e)) from None
    panel: list[CharacterConfig] = []
    problems: list[tuple[str, str]] = []
    if study.panel_spec is not None:
        panel = _sampled_panel(path, study.panel_spec)
    panel += resolve_panel(study.panel, templates, ("panel",), problems)
    if problems:
        raise _invalid(path, problems)
    return Study(
        name=study.name or study.topic.title,
        topic=study.topic,
        panel=panel,
        discussion=study.discussion,
    )


def _sampled_panel(path: Path, ref: PanelSpecRef) -> list[CharacterConfig]:
    # normpath, not resolve: messages keep the user's relative path, minus the "x/../".
    spec_path = Path(os.path.normpath(path.parent / ref.path))
    try:
        return sample_panel(load_panel_spec(spec_path), ref.n, ref.seed)
    except ValidationFailed as e:
        # The spec's own lines name its file and field; each gets the study's in front.
        field = "panel_spec.n" if e.field == "n" else "panel_spec.path"
        raise _invalid(path, [(field, line) for line in e.message.splitlines()]) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyInvalid(f"{path}: no such file", field="study") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StudyInvalid(f"{path}: cannot read: {e}", field="study") from None
    except yaml.YAMLError as e:
        raise StudyInvalid(f"{path}: not valid YAML: {e}", field="study") from None
    if not isinstance(raw, dict):
        raise StudyInvalid(
            f"{path}: a study file is a YAML mapping with topic, panel and discussion",
            field="study",
        )
    return raw


def _invalid(path: Path, problems: list[tuple[str, str]]) -> StudyInvalid:
    lines = [f"{path}: {field}: {msg}" for field, msg in problems]
    return StudyInvalid("\n".join(lines), field=problems[0][0])


def deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``patch`` laid over it, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_panel(
    entries: list[PanelEntry],
    templates: TemplateLibrary,
    prefix: tuple[int | str, ...],
    problems: Problems,
) -> list[CharacterConfig]:
    """Seats → persona configs (templates with overrides, or inline personas); problems
    are appended (named under ``prefix``) rather than raised, so one error lists them
    all. Also used for batch panels."""
    panel: list[CharacterConfig] = []
    where = field_path(prefix)
    before = len(problems)
    for i, entry in enumerate(entries):
        if entry.character is not None:
            panel.append(entry.character)
            continue
        assert entry.template is not None
        base = templates.get(entry.template)
        if base is None:
            known = ", ".join(templates.ids()) or "none"
            problems.append(
                (f"{where}[{i}].template", f"unknown template {entry.template!r} (known: {known})")
            )
            continue
        try:
            panel.append(
                CharacterConfig.model_validate(
                    deep_merge(base.model_dump(mode="json"), entry.overrides)
                )
            )
        except ValidationError as e:
            problems += describe(e, (*prefix, i, "overrides"))
    if len(problems) == before:
        names = [c.name for c in panel]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append((where, f"two panelists share the name {twice[0]!r}; override 'name'"))
    return panel
