"""``simfocus``: run focus groups, list personas, manage the store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import Mode
from simfocus.kit.errors import SimfocusError
from simfocus.settings import Settings
from simfocus.studies.loader import load_study

app = typer.Typer(
    name="simfocus",
    help="AI virtual focus groups: moderated discussions between LLM personas on Ray.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Manage the store (SQLite by default, PostgreSQL by URL).", no_args_is_help=True
)
app.add_typer(db_app, name="db")

console = Console()
err = Console(stderr=True)

EXIT_USAGE = 2


def _fail(message: str, hint: str | None = None) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}")
    if hint:
        err.print(f"[dim]{escape(hint)}[/]")
    return typer.Exit(EXIT_USAGE)


@app.command()
def run(
    study: Annotated[
        Path, typer.Argument(help="A study file, e.g. configs/studies/meal_kit_free.yaml")
    ],
    mode: Annotated[Mode | None, typer.Option(help="Override the study's mode.")] = None,
    rounds: Annotated[int | None, typer.Option(help="Override max_rounds (1-100).")] = None,
    provider: Annotated[
        str | None, typer.Option(help="simulated (default), openai or anthropic.")
    ] = None,
    model: Annotated[str | None, typer.Option(help="The model name for the provider.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed for turn order and simulated replies.")
    ] = None,
    budget: Annotated[
        float | None, typer.Option(help="Budget in USD; the run stops before it would overspend.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: a new folder under ./runs/).")
    ] = None,
) -> None:
    """Run a focus group from a study file, printing each message live.

    Ctrl-C stops the discussion cleanly and keeps the transcript.
    """
    from simfocus.cli.runs import run_discussion

    settings = Settings()
    overrides: dict[str, Any] = {}
    if mode is not None:
        overrides["mode"] = mode.value
    if rounds is not None:
        overrides["max_rounds"] = rounds
    if seed is not None:
        overrides["seed"] = seed
    if budget is not None:
        overrides["budget_usd"] = budget
    if provider is not None or model is not None:
        current = _study_provider(study)
        if provider is not None and provider != current.get("name"):
            current = {"name": provider}  # another provider: its own defaults
        if model is not None:
            current["model"] = model
        overrides["provider"] = current
    try:
        loaded = load_study(study, TemplateLibrary.load(settings.characters_dir), overrides)
    except SimfocusError as e:
        raise _fail(
            e.message, "Fix the study file (see configs/studies/ for examples) and run again."
        ) from None
    raise typer.Exit(run_discussion(settings, loaded, out, console))


def _study_provider(path: Path) -> dict[str, Any]:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text())
        provider = raw["discussion"]["provider"]
        return dict(provider) if isinstance(provider, dict) else {}
    except Exception:
        return {}  # the loader reports the file's problems


@app.command()
def templates() -> None:
    """List the persona templates a study can use."""
    settings = Settings()
    try:
        library = TemplateLibrary.load(settings.characters_dir)
    except SimfocusError as e:
        raise _fail(e.message) from None
    table = Table(title=f"Persona templates ({settings.characters_dir})")
    for column in ("template", "name", "age", "profession", "stance", "style", "behaviour"):
        table.add_column(column)
    for template_id, c in library.items():
        table.add_row(
            template_id,
            c.name,
            str(c.age),
            c.profession,
            c.stance.value,
            c.expression_style.value,
            c.behavior_pattern.value,
        )
    console.print(table)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the schema migrations."""
    from simfocus.store.engine import create_engine
    from simfocus.store.migrate import current_revision, upgrade

    settings = Settings()

    async def go() -> str | None:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine, revision)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    try:
        now = asyncio.run(go())
    except Exception as e:
        raise _fail(
            f"cannot migrate {_safe_url(settings)}: {e}",
            "Check SIMFOCUS_DATABASE_URL and that the database is running.",
        ) from None
    console.print(f"store at {_safe_url(settings)} is at revision {now}")


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


def main() -> None:
    app()
