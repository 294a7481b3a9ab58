"""Report files from the command line: ``simfocus report`` and the files ``simfocus run``
writes next to the transcript."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from simfocus.discussions.repository import DiscussionRepository
from simfocus.reports.exports import FILE_SUFFIXES, export_filename, export_report
from simfocus.reports.schemas import ExportFormat, Report
from simfocus.reports.service import read_report
from simfocus.settings import Settings
from simfocus.store.engine import session_factory, store_engine
from simfocus.transcripts.schemas import Transcript
from simfocus.transcripts.service import load_transcript

RUN_FORMATS: tuple[ExportFormat, ...] = ("md", "html", "pdf", "json")


async def read_report_and_transcript(
    settings: Settings, discussion_id: str
) -> tuple[Report | None, Transcript]:
    async with store_engine(settings, migrated=True) as engine:
        async with session_factory(engine)() as session:
            transcript = await load_transcript(DiscussionRepository(session), discussion_id)
            return await read_report(session, discussion_id), transcript


def write_report_files(
    report: Report, transcript: Transcript, out_dir: Path, formats: tuple[ExportFormat, ...]
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = out_dir / f"report{FILE_SUFFIXES[fmt]}"
        path.write_bytes(export_report(report, transcript, fmt))
        paths.append(path)
    return paths


def report_summary(report: Report) -> str:
    colour = {"ready": "green", "partial": "yellow"}.get(report.status.value, "red")
    scores = report.quality_scores
    overall = f", overall quality {scores.overall:.2f}" if scores else ""
    note = f"\n[yellow]{escape(report.note)}[/]" if report.note else ""
    return (
        f"Report [bold {colour}]{report.status.value}[/]{overall} "
        f"({report.llm_calls} model calls, ${report.cost_micro_usd / 1e6:.4f}, "
        f"{report.generation_time_ms} ms){note}"
    )


def regenerate_with_ray(settings: Settings, discussion_id: str) -> Report:
    """Write the report now, through the cluster's gateway (as the API does)."""
    import ray

    from actors.builders import gateway_actor
    from actors.reports import regenerate_task
    from simfocus.cli.local_ray import init_ray

    init_ray(settings)
    report: Report = ray.get(
        regenerate_task.remote(settings, discussion_id, gateway_actor(settings))
    )
    return report


def export_command(
    settings: Settings,
    discussion_id: str,
    fmt: ExportFormat,
    out: Path | None,
    regenerate: bool,
    console: Console,
) -> int:
    report, transcript = asyncio.run(read_report_and_transcript(settings, discussion_id))
    if report is None or regenerate:
        if transcript.status not in ("completed", "stopped", "failed"):
            console.print(
                f"[red]error:[/] the discussion is {transcript.status}; a report is written "
                "once it has ended (simfocus resume ID finishes an interrupted one)"
            )
            return 2
        with console.status("Writing the report…"):
            report = regenerate_with_ray(settings, discussion_id)
    path = out or Path(export_filename(report, fmt))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(export_report(report, transcript, fmt))
    console.print(report_summary(report))
    console.print(f"Written: {path}")
    return 0


def wait_for_report(moderator: Any, console: Console, timeout_s: float = 600) -> Report | None:
    import ray

    with console.status("Writing the report…"):
        report: Report | None = ray.get(moderator.wait_report.remote(timeout_s))
    return report
