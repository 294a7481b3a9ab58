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
from simfocus.studies.schemas import Study

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


StudyArg = Annotated[
    Path, typer.Argument(help="A study file, e.g. configs/studies/meal_kit_free.yaml")
]
ModeOpt = Annotated[Mode | None, typer.Option(help="Override the study's mode.")]
RoundsOpt = Annotated[int | None, typer.Option(help="Override max_rounds (1-100).")]
ProviderOpt = Annotated[str | None, typer.Option(help="simulated (default), openai or anthropic.")]
ModelOpt = Annotated[str | None, typer.Option(help="The model name for the provider.")]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        help="Endpoint, as the provider's SDK has it: OpenAI-style ends in /v1 "
        "(http://localhost:8000/v1); Anthropic's does not (https://api.anthropic.com)."
    ),
]
KeyEnvOpt = Annotated[
    str | None,
    typer.Option(
        help="Environment variable with the API key (default OPENAI_API_KEY / ANTHROPIC_API_KEY)."
    ),
]
SeedOpt = Annotated[int | None, typer.Option(help="Seed for turn order and simulated replies.")]
BudgetOpt = Annotated[
    float | None, typer.Option(help="Budget in USD; the run stops before it would overspend.")
]


def _overrides(
    study: Path,
    *,
    mode: Mode | None,
    rounds: int | None,
    provider: str | None,
    model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    seed: int | None,
    budget: float | None,
    provider_extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The command line's changes to a study's ``discussion`` section."""
    overrides: dict[str, Any] = {}
    for key, value in (
        ("mode", mode.value if mode else None),
        ("max_rounds", rounds),
        ("seed", seed),
        ("budget_usd", budget),
    ):
        if value is not None:
            overrides[key] = value
    changes = {
        "model": model,
        "base_url": base_url,
        "api_key_env": api_key_env,
        **(provider_extra or {}),
    }
    if provider is not None or any(v is not None for v in changes.values()):
        current = _study_provider(study)
        if provider is not None and provider != current.get("name"):
            current = {"name": provider}  # another provider: its own defaults
        current.update({k: v for k, v in changes.items() if v is not None})
        overrides["provider"] = current
    return overrides


def _study_provider(path: Path) -> dict[str, Any]:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text())
        provider = raw["discussion"]["provider"]
        return dict(provider) if isinstance(provider, dict) else {}
    except Exception:
        return {}  # the loader reports the file's problems


def _load(study: Path, settings: Settings, overrides: dict[str, Any]) -> Study:
    try:
        return load_study(study, TemplateLibrary.load(settings.characters_dir), overrides)
    except SimfocusError as e:
        raise _fail(
            e.message, "Fix the study file (see configs/studies/ for examples) and run again."
        ) from None


@app.command()
def run(
    study: StudyArg,
    mode: ModeOpt = None,
    rounds: RoundsOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    api_key_env: KeyEnvOpt = None,
    seed: SeedOpt = None,
    budget: BudgetOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: a new folder under ./runs/).")
    ] = None,
    record: Annotated[
        bool,
        typer.Option("--record", help="Keep every LLM request and answer in OUT/recording.jsonl."),
    ] = False,
    replay: Annotated[
        Path | None,
        typer.Option(help="Re-run from a recorded run folder: no network, the same transcript."),
    ] = None,
) -> None:
    """Run a focus group from a study file, printing each message live.

    Ctrl-C stops the discussion cleanly and keeps the transcript.
    """
    from simfocus.cli.runs import default_out_dir, run_discussion
    from simfocus.llm.recording import recording_path

    settings = Settings()
    out_dir = (out or default_out_dir(study.stem)).resolve()
    extra: dict[str, Any] = {}
    if record and replay:
        raise _fail("--record and --replay exclude each other")
    if record:
        extra["record_path"] = str(recording_path(out_dir))
    if replay is not None:
        source = recording_path(replay.resolve())
        if not source.is_file():
            raise _fail(
                f"{replay}: no recording here (expected {source})",
                "Record a run first: simfocus run STUDY --record --out DIR",
            )
        extra["replay_path"] = str(source)
    loaded = _load(
        study,
        settings,
        _overrides(
            study,
            mode=mode,
            rounds=rounds,
            provider=provider,
            model=model,
            base_url=base_url,
            api_key_env=api_key_env,
            seed=seed,
            budget=budget,
            provider_extra=extra,
        ),
    )
    raise typer.Exit(run_discussion(settings, loaded, out_dir, console))


@app.command()
def estimate(
    study: StudyArg,
    mode: ModeOpt = None,
    rounds: RoundsOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    budget: BudgetOpt = None,
) -> None:
    """Print a study's expected and worst-case cost before anything is spent."""
    from simfocus.llm.estimate import estimate_study
    from simfocus.llm.pricing import PriceTable

    settings = Settings()
    loaded = _load(
        study,
        settings,
        _overrides(
            study,
            mode=mode,
            rounds=rounds,
            provider=provider,
            model=model,
            base_url=None,
            api_key_env=None,
            seed=None,
            budget=budget,
        ),
    )
    pricing = PriceTable.load(settings.pricing_file)
    e = estimate_study(
        loaded,
        pricing,
        window_tokens=settings.context_window_tokens,
        summary_tokens=settings.summary_tokens,
        report_share=settings.report_budget_share,
    )
    p = loaded.discussion.provider
    table = Table(
        title=f"{loaded.name} · {p.label} · {e.turns} turns (prices of {pricing.prices_as_of})"
    )
    for column in ("", "prompt tokens", "completion tokens", "cost"):
        table.add_column(column, justify="right")
    table.add_row(
        "expected",
        f"{e.expected_prompt_tokens:,}",
        f"{e.expected_completion_tokens:,}",
        f"${e.expected_micro_usd / 1e6:.4f}",
    )
    table.add_row(
        "worst case",
        f"{e.worst_prompt_tokens:,}",
        f"{e.worst_completion_tokens:,}",
        f"${e.worst_micro_usd / 1e6:.4f}",
    )
    console.print(table)
    if e.budget_micro_usd is None:
        console.print("No budget set: add budget_usd to the study (or --budget) to cap spending.")
    elif e.fits_budget:
        console.print(f"Budget ${e.budget_micro_usd / 1e6:.2f}: the worst case fits.")
    else:
        console.print(
            f"[yellow]Budget ${e.budget_micro_usd / 1e6:.2f}: the worst case does not fit the "
            f"${(e.turn_budget_micro_usd or 0) / 1e6:.4f} left for turns after the report's share; "
            f"the run will stop when the budget runs out.[/]"
        )
    if p.name == "simulated":
        console.print(
            "[dim]Simulated replies cost nothing real; prices are those of a small hosted model.[/]"
        )


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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: start one).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Serve config file (default configs/serve.yaml).")
    ] = None,
) -> None:
    """Serve the HTTP and WebSocket API (Ray Serve + FastAPI) until Ctrl-C."""
    import time

    from ray import serve as ray_serve

    from serve.deployment import api_application, deployment_options, migrate
    from simfocus.cli.local_ray import init_ray

    settings = Settings(ray_address=address) if address else Settings()
    asyncio.run(migrate(settings))
    init_ray(settings)
    ray_serve.start(http_options={"host": host, "port": port})
    options = deployment_options(config or settings.configs_dir / "serve.yaml")
    ray_serve.run(api_application(settings, options), name="simfocus", route_prefix="/")
    resumed = asyncio.run(_resume_orphans(settings))
    if resumed:
        console.print(f"resumed {len(resumed)} discussion(s) left running: {', '.join(resumed)}")
    console.print(
        f"simFocus API on http://{host}:{port}; OpenAPI at http://{host}:{port}/docs (Ctrl-C stops)"
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("stopping…")
        ray_serve.shutdown()


async def _resume_orphans(settings: Settings) -> list[str]:
    from serve.context import ApiContext
    from serve.runtime import resume_orphans

    ctx = ApiContext.create(settings)
    try:
        return await resume_orphans(ctx)
    finally:
        await ctx.aclose()


@app.command()
def resume(
    discussion_id: Annotated[
        str, typer.Argument(help="The id of a discussion left running or paused.")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: a new folder under ./runs/).")
    ] = None,
) -> None:
    """Resume a discussion whose run was interrupted, from what the store kept."""
    from simfocus.cli.runs import default_out_dir, resume_discussion

    settings = Settings()
    raise typer.Exit(
        resume_discussion(
            settings, discussion_id, (out or default_out_dir(discussion_id[:8])).resolve(), console
        )
    )


@app.command()
def batch(
    batch_file: Annotated[
        Path, typer.Argument(help="A batch file, e.g. configs/batches/meal_kit_variants.yaml")
    ],
    parallel: Annotated[
        int | None,
        typer.Option(min=1, help="At most this many groups at once (default: what fits)."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Batch worker processes (default: one per CPU).")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the batch in OUT: skip finished groups.")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: a new folder under ./runs/).")
    ] = None,
) -> None:
    """Run a batch of focus groups (variants x panels x modes x repeats) in parallel."""
    from simfocus.cli.batches import batch_command

    if resume and out is None:
        raise _fail("--resume needs --out: the folder of the batch to continue")
    raise typer.Exit(batch_command(Settings(), batch_file, out, parallel, workers, resume, console))


@app.command()
def panel(
    spec: Annotated[
        Path, typer.Argument(help="A panel spec, e.g. configs/panels/uk_commuters.yaml")
    ],
    n: Annotated[int, typer.Option("--n", "-n", help="How many personas (1-200).")] = 8,
    seed: Annotated[
        int | None, typer.Option(help="Seed for the draw (default: the spec's seed).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the personas as YAML for a study's 'panel:'.")
    ] = None,
) -> None:
    """Sample a panel of personas from a demographic spec and print it."""
    from simfocus.cli.panels import panel_command

    raise typer.Exit(panel_command(spec, n, seed, out, console))


@app.command()
def report(
    discussion_id: Annotated[str, typer.Argument(help="The id of an ended discussion.")],
    format: Annotated[
        str, typer.Option("--format", "-f", help="md, html (self-contained), pdf or json.")
    ] = "md",
    out: Annotated[
        Path | None,
        typer.Option(help="The file to write (default: ./simfocus-report-<title>-<id>.<format>)."),
    ] = None,
    regenerate: Annotated[
        bool, typer.Option("--regenerate", help="Write the report again with the model first.")
    ] = False,
) -> None:
    """Export a discussion's report (written first if it has none yet)."""
    from simfocus.cli.reports import export_command

    if format not in ("md", "html", "pdf", "json"):
        raise _fail(f"unknown format {format!r}", "Use one of: md, html, pdf, json.")
    settings = Settings()
    try:
        code = export_command(settings, discussion_id, format, out, regenerate, console)  # type: ignore[arg-type]
    except SimfocusError as e:
        raise _fail(
            e.message, "List discussions with the API (GET /v1/discussions) or see runs/."
        ) from None
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the schema migrations."""
    from simfocus.store.engine import store_engine
    from simfocus.store.migrate import current_revision, upgrade

    settings = Settings()

    async def go() -> str | None:
        async with store_engine(settings) as engine:
            await upgrade(engine, revision)
            return await current_revision(engine)

    try:
        now = asyncio.run(go())
    except Exception as e:
        raise _fail(
            f"cannot migrate {_safe_url(settings)}: {e}",
            "Check SIMFOCUS_DATABASE_URL and that the database is running.",
        ) from None
    console.print(f"store at {_safe_url(settings)} is at revision {now}")


@db_app.command("purge")
def db_purge(
    days: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Purge what ended or expired more than DAYS days ago "
            "(default: SIMFOCUS_RETENTION_DAYS, 90).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only count what would be deleted.")
    ] = False,
) -> None:
    """Delete ended discussions, spent tokens, sent mail and LLM call logs past retention."""
    from simfocus.cli.retention import purge_command

    raise typer.Exit(purge_command(Settings(), days, dry_run, console))


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


def main() -> None:
    app()
