"""``simfocus panel``: sample personas from a panel spec, show them, and optionally write
them as a study's ``panel:`` section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simfocus.characters.schemas import CharacterConfig
from simfocus.kit.errors import ValidationFailed
from simfocus.panels.sampler import MAX_N, MIN_N, describe, load_panel_spec, sample_panel
from simfocus.panels.schemas import PanelSpec
from simfocus.studies.schemas import MAX_PANEL, MIN_PANEL

EXIT_OK = 0
EXIT_USAGE = 2


def panel_command(
    spec_path: Path, n: int, seed: int | None, out: Path | None, console: Console
) -> int:
    """Load ``spec_path``, sample ``n`` personas, print them and a summary; with ``out``,
    write them as YAML a study file's ``panel:`` accepts. Returns the exit code."""
    try:
        spec = load_panel_spec(spec_path)
    except ValidationFailed as e:
        return _fail(
            console,
            e.message,
            "Fix the panel spec (see configs/panels/ for examples) and run again.",
        )
    try:
        panel = sample_panel(spec, n, seed)
    except ValidationFailed as e:
        return _fail(
            console,
            e.message,
            f"Pass a panel size between {MIN_N} and {MAX_N} (at most as many as the spec's names).",
        )
    used_seed = spec.seed if seed is None else seed
    console.print(_table(spec, panel, used_seed))
    _print_summary(console, describe(panel))
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(panel_yaml(panel, spec_path, used_seed), encoding="utf-8")
        except OSError as e:
            return _fail(console, f"{out}: cannot write: {e}", "Choose a writable path for --out.")
        console.print(f"Wrote the panel to [bold]{escape(str(out))}[/] (a study's 'panel:').")
        if not MIN_PANEL <= len(panel) <= MAX_PANEL:
            console.print(
                f"[yellow]A study seats {MIN_PANEL} to {MAX_PANEL} personas; pick a subset "
                "before pasting this panel into a study.[/]"
            )
    return EXIT_OK


def panel_yaml(panel: list[CharacterConfig], spec_path: Path, seed: int) -> str:
    """The panel as ``panel: [{character: {...}}, ...]``, with a header saying where it came
    from so it can be sampled again."""
    header = (
        f"# Sampled from {spec_path} with n={len(panel)}, seed={seed}.\n"
        "# Paste into a study file, or refer to the spec with 'panel_spec' instead.\n"
    )
    body: dict[str, Any] = {
        "panel": [{"character": c.model_dump(mode="json")} for c in panel],
    }
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=100)


def _table(spec: PanelSpec, panel: list[CharacterConfig], seed: int) -> Table:
    title = f"{spec.name or 'Panel'} · {len(panel)} personas · seed {seed}"
    table = Table(title=escape(title))
    for column in ("#", "name", "age", "gender", "profession", "stance", "style"):
        table.add_column(column, justify="right" if column in ("#", "age") else "left")
    for i, c in enumerate(panel, start=1):
        table.add_row(
            str(i),
            escape(c.name),
            str(c.age),
            c.gender.value,
            escape(c.profession),
            c.stance.value,
            c.expression_style.value,
        )
    return table


def _print_summary(console: Console, summary: dict[str, Any]) -> None:
    age = summary["age"]
    console.print(
        f"[bold]{summary['size']} personas[/], aged {age['min']}-{age['max']} (mean {age['mean']})"
    )
    for key, label in (
        ("stance", "stance"),
        ("gender", "gender"),
        ("profession", "profession"),
        ("expression_style", "style"),
        ("behavior_pattern", "behaviour"),
    ):
        counts = ", ".join(f"{escape(k)} {v}" for k, v in summary[key].items())
        console.print(f"  {label}: {counts}")


def _fail(console: Console, message: str, hint: str) -> int:
    console.print(f"[bold red]error:[/] {escape(message)}")
    console.print(f"[dim]{escape(hint)}[/]")
    return EXIT_USAGE
