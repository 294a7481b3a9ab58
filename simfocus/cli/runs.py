"""``simfocus run``: one discussion on Ray, printed live, written to a run folder."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ray
from rich.console import Console
from rich.markup import escape

from simfocus.cli.reports import (
    RUN_FORMATS,
    report_summary,
    wait_for_report,
    write_report_files,
)
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import DiscussionSnapshot, DiscussionStatus
from simfocus.discussions.service import DiscussionSetup, create_discussion, load_discussion
from simfocus.kit.errors import SimfocusError
from simfocus.settings import Settings
from simfocus.store.engine import session_factory, store_engine
from simfocus.studies.schemas import Study
from simfocus.transcripts.schemas import Transcript
from simfocus.transcripts.service import load_transcript, write_transcript

STANCE_COLOURS = {
    "support": "green",
    "oppose": "red",
    "neutral": "yellow",
    "critical_exploration": "cyan",
}
SPEAKER_COLOURS = ["magenta", "blue", "green", "cyan", "yellow", "bright_red", "bright_blue"]


async def prepare_store(settings: Settings, study: Study) -> DiscussionSetup:
    """Migrate the store and commit the new discussion with its panel (one transaction)."""
    async with store_engine(settings, migrated=True) as engine:
        async with session_factory(engine)() as session, session.begin():
            return await create_discussion(DiscussionRepository(session), study)


async def read_transcript(settings: Settings, discussion_id: str) -> Transcript:
    async with store_engine(settings) as engine, session_factory(engine)() as session:
        return await load_transcript(DiscussionRepository(session), discussion_id)


def default_out_dir(study_name: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "-", study_name.lower()).strip("-")[:40] or "study"
    return Path("runs") / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{slug}"


class LivePrinter:
    """Prints each message as it is committed: speaker, round, phase, stance."""

    def __init__(self, console: Console, setup: DiscussionSetup) -> None:
        self.console = console
        self.colours = {
            p.character.name: SPEAKER_COLOURS[p.position % len(SPEAKER_COLOURS)]
            for p in setup.participants
        }
        self.phase: str | None = None

    def message(self, event: dict[str, Any]) -> None:
        m = event["message"]
        if m["phase"] != self.phase:
            self.phase = m["phase"]
            self.console.rule(f"[bold]{self.phase}[/]")
        head = f"[dim]#{m['seq']} r{m['round']}[/] "
        if m["role"] == "moderator":
            label = "Moderator asks" if m["kind"] == "question" else "Moderator"
            self.console.print(f"{head}[bold white]{label}:[/] [italic]{escape(m['content'])}[/]")
            return
        colour = self.colours.get(m["speaker_name"], "white")
        stance = m.get("stance")
        tag = f" [{STANCE_COLOURS.get(stance, 'white')}]({stance})[/]" if stance else ""
        self.console.print(
            f"{head}[bold {colour}]{escape(m['speaker_name'])}[/]{tag}: {escape(m['content'])}"
        )


def follow(moderator: Any, printer: LivePrinter, console: Console) -> DiscussionSnapshot:
    """Print events until the discussion ends. Ctrl-C stops it cleanly; twice aborts."""
    last_seq = 0
    stopping = False
    while True:
        try:
            batch = ray.get(moderator.events_since.remote(last_seq, None, 1.0))
            for event in batch.events:
                printer.message(event)
                last_seq = event["seq"]
            if batch.snapshot.status.is_terminal and last_seq >= batch.snapshot.last_seq:
                return batch.snapshot
        except KeyboardInterrupt:
            if stopping:
                raise
            stopping = True
            console.print(
                "\n[yellow]Stopping: finishing up and keeping the transcript "
                "(Ctrl-C again to abort)…[/]"
            )
            ray.get(moderator.stop.remote("stopped from the command line (Ctrl-C)"))


def summary_line(snapshot: DiscussionSnapshot) -> str:
    colour = {DiscussionStatus.COMPLETED: "green", DiscussionStatus.STOPPED: "yellow"}.get(
        snapshot.status, "red"
    )
    reason = f" — {escape(snapshot.status_reason)}" if snapshot.status_reason else ""
    return (
        f"[bold {colour}]{snapshot.status.value}[/]{reason}: {snapshot.last_seq} messages, "
        f"{snapshot.prompt_tokens} prompt + {snapshot.completion_tokens} completion tokens, "
        f"${snapshot.cost_micro_usd / 1e6:.4f}"
    )


async def load_setup(settings: Settings, discussion_id: str) -> DiscussionSetup:
    async with store_engine(settings, migrated=True) as engine:
        async with session_factory(engine)() as session:
            return await load_discussion(DiscussionRepository(session), discussion_id)


def resume_discussion(
    settings: Settings, discussion_id: str, out_dir: Path, console: Console
) -> int:
    """Continue an interrupted discussion: the same seq, nothing said twice."""
    try:
        setup = asyncio.run(load_setup(settings, discussion_id))
    except SimfocusError as e:
        console.print(f"[red]error:[/] {escape(e.message)}")
        return 2
    if setup.status.is_terminal:
        console.print(
            f"[yellow]discussion {discussion_id} is {setup.status.value}: nothing to resume[/]"
        )
        return 2
    console.print(f"[bold]{escape(setup.name)}[/] · resuming a {setup.status.value} discussion")
    return _drive(settings, setup, out_dir, console)


def run_discussion(settings: Settings, study: Study, out_dir: Path, console: Console) -> int:
    setup = asyncio.run(prepare_store(settings, study))
    provider = study.discussion.provider
    if provider.replay_path:
        console.print(
            f"[dim]Replaying the calls recorded in {provider.replay_path} (no network).[/]"
        )
    console.print(
        f"[bold]{escape(study.name)}[/] · {study.discussion.mode.value} mode · "
        f"{study.discussion.max_rounds} rounds · {len(study.panel)} personas · "
        f"{provider.label}"
    )
    if provider.name == "simulated":
        console.print("[dim]Replies are [bold]simulated[/bold] offline (no language model).[/]")
    console.print(f"[dim]discussion {setup.discussion_id}; starting Ray…[/]")
    return _drive(settings, setup, out_dir, console)


def _drive(settings: Settings, setup: DiscussionSetup, out_dir: Path, console: Console) -> int:
    """Start the discussion's moderator, print it live, write the transcript."""
    from actors.builders import gateway_actor, moderator_actor
    from simfocus.cli.local_ray import init_ray

    init_ray(settings)
    gateway = gateway_actor(settings)
    moderator = moderator_actor(settings, setup.discussion_id, gateway)
    report = None
    try:
        ray.get(moderator.start.remote())
        snapshot = follow(moderator, LivePrinter(console, setup), console)
        if snapshot.report_status is not None:
            report = wait_for_report(moderator, console)
    finally:
        try:
            ray.get(moderator.shutdown.remote(), timeout=60)
        finally:
            ray.kill(moderator)
    transcript = asyncio.run(read_transcript(settings, setup.discussion_id))
    json_path, md_path = write_transcript(transcript, out_dir)
    console.print(summary_line(snapshot))
    console.print(f"Transcript: {json_path} and {md_path}")
    if report is not None:
        paths = write_report_files(report, transcript, out_dir, RUN_FORMATS)
        console.print(report_summary(report))
        console.print("Report: " + ", ".join(str(p) for p in paths))
    return 1 if snapshot.status is DiscussionStatus.FAILED else 0
