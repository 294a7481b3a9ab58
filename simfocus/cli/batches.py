"""``simfocus batch``: a batch file's groups, run in parallel on the Ray cluster.

The driver expands the matrix, starts the batch workers (one per CPU of the cluster by
default, spread over its nodes), admits groups up to the admission cap, shows progress,
writes each finished group's transcript and the index as it goes, and at the end the
aggregate report. ``scripts/run_batch.py`` and the benchmark call ``run_batch`` too.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy import update

from simfocus.batches.admission import Cap, Gate, admission_cap
from simfocus.batches.aggregate import BatchAggregate, GroupResult, aggregate
from simfocus.batches.aggregate_exports import aggregate_html, aggregate_json, aggregate_markdown
from simfocus.batches.group import GroupRun
from simfocus.batches.index import (
    BatchIndex,
    GroupEntry,
    new_index,
    read_index,
    write_index,
)
from simfocus.batches.loader import expand, load_batch
from simfocus.batches.schemas import BatchFile, BatchGroup
from simfocus.characters.templates import TemplateLibrary
from simfocus.llm.config import GatewayConfig
from simfocus.reports.schemas import Report
from simfocus.settings import Settings
from simfocus.store.engine import session_factory, store_engine
from simfocus.store.models import DiscussionRow
from simfocus.transcripts.schemas import Transcript


@dataclass
class BatchOutcome:
    out_dir: Path
    index: BatchIndex
    aggregate: BatchAggregate | None
    cap: Cap
    workers: int
    peak: int  # most groups running at once (the driver's gate)
    worker_stats: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    startup_seconds: float = 0.0  # Ray and the workers, before the first group
    run_seconds: float = 0.0  # from the first group admitted to the last one finished
    ran: int = 0  # groups run by this invocation (not skipped by --resume)


INDEX_EVERY_S = 1.0  # the index is rewritten at most this often while groups finish


def default_out_dir(batch: BatchFile) -> Path:
    import re

    slug = re.sub(r"[^a-z0-9]+", "-", batch.title.lower()).strip("-")[:40] or "batch"
    return Path("runs") / f"{datetime.now(UTC):%Y%m%d-%H%M%S}-batch-{slug}"


async def _mark_interrupted(settings: Settings, groups: list[BatchGroup]) -> None:
    """Discussions of this batch's groups that an interrupted run left running: failed
    (their groups run again from scratch)."""
    names = [g.study.name for g in groups]
    async with store_engine(settings) as engine, session_factory(engine)() as s, s.begin():
        await s.execute(
            update(DiscussionRow)
            .where(DiscussionRow.name.in_(names), DiscussionRow.status.in_(("running", "paused")))
            .values(status="failed", status_reason="the batch was interrupted; rerun with --resume")
        )


def _result_of(group: BatchGroup, out_dir: Path, entry: GroupEntry) -> GroupResult:
    transcript = (
        Transcript.model_validate_json((out_dir / entry.transcript).read_text())
        if entry.transcript
        else None
    )
    report = (
        Report.model_validate_json((out_dir / entry.report).read_text())
        if entry.report and (out_dir / entry.report).is_file()
        else None
    )
    return GroupResult.of(group, entry.status, transcript, report)


class _Progress:
    """The progress line: done / running / failed, cost so far, ETA."""

    def __init__(self, console: Console, total: int, skipped: int) -> None:
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.done, self.failed, self.running, self.cost = skipped, 0, 0, 0
        self.task = self.bar.add_task("groups", total=total, completed=skipped, state="")

    def show(self) -> None:
        state = (
            f"[green]{self.done} done[/] · [cyan]{self.running} running[/] · "
            f"[red]{self.failed} failed[/] · ${self.cost / 1e6:.4f}"
        )
        self.bar.update(self.task, completed=self.done + self.failed, state=state)


async def _drive(
    settings: Settings,
    batch: BatchFile,
    groups: list[BatchGroup],
    index: BatchIndex,
    out_dir: Path,
    cap: Cap,
    workers: list[Any],
    progress: _Progress,
    user_id: str | None,
) -> tuple[BatchIndex, int]:
    gate = Gate(cap.value)
    written = [time.monotonic()]
    load = [0] * len(workers)
    lock = asyncio.Lock()

    dead: set[int] = set()

    async def one(group: BatchGroup) -> None:
        nonlocal index
        from ray.exceptions import RayActorError

        from actors.errors import unwrap

        async with gate.slot():
            alive = [i for i in range(len(workers)) if i not in dead] or list(range(len(workers)))
            w = min(alive, key=load.__getitem__)  # the least busy live worker
            load[w] += 1
            progress.running += 1
            progress.show()
            try:
                run: GroupRun = await workers[w].run_group.remote(group, user_id, batch.reports)
                entry = _stored(out_dir, run)
            except Exception as e:  # a worker lost, a bug: the group failed, the batch goes on
                if isinstance(e, RayActorError):
                    dead.add(w)  # a dead worker answers at once: it must not draw the rest
                entry = GroupEntry(
                    key=group.key, status="failed", status_reason=repr(unwrap(e))[:500]
                )
            finally:
                load[w] -= 1
                progress.running -= 1
            async with lock:
                index = index.with_group(entry)
                if time.monotonic() - written[0] >= INDEX_EVERY_S:  # and at the end
                    write_index(out_dir, index)
                    written[0] = time.monotonic()
            if entry.status in ("completed", "stopped"):
                progress.done += 1
            else:
                progress.failed += 1
            progress.cost += entry.cost_micro_usd
            progress.show()

    try:
        await asyncio.gather(*(one(g) for g in groups))
    finally:
        write_index(out_dir, index)
    return index, gate.peak


def _stored(out_dir: Path, run: GroupRun) -> GroupEntry:
    folder = Path("groups") / run.key
    (out_dir / folder).mkdir(parents=True, exist_ok=True)
    (out_dir / folder / "transcript.json").write_bytes(run.transcript_json)
    report = None
    if run.report_json is not None:
        report = folder / "report.json"
        (out_dir / report).write_bytes(run.report_json)
    return GroupEntry(
        key=run.key,
        status=run.status,
        discussion_id=run.discussion_id,
        status_reason=run.status_reason,
        seconds=round(run.seconds, 3),
        cost_micro_usd=run.cost_micro_usd,
        transcript=str(folder / "transcript.json"),
        report=str(report) if report else None,
    )


@functools.cache
def _finisher() -> Any:
    import ray

    @ray.remote(num_cpus=0, max_retries=0)
    def finish(worker: Any) -> dict[str, Any] | None:
        """A worker's final flush and stats; None if the worker died."""
        try:
            return ray.get(worker.finish.remote())  # type: ignore[no-any-return]
        except ray.exceptions.RayActorError:
            return None

    return finish


def _finished(worker: Any) -> Any:
    return _finisher().remote(worker)


def start_workers(
    settings: Settings, batch_id: str, count: int, budget: int | None
) -> tuple[list[Any], Any]:
    import ray

    from actors.batch_worker import BatchWorkerActor
    from actors.builders import gateway_actor

    central = gateway_actor(settings) if budget is not None else None
    cls = ray.remote(num_cpus=1)(BatchWorkerActor)
    workers: list[Any] = [
        cls.options(
            name=f"batch:{batch_id}:worker:{i}",
            scheduling_strategy="SPREAD",
            max_concurrency=100_000,
        ).remote(settings, batch_id, f"w{i}", count, central, budget)
        for i in range(count)
    ]
    ray.get([w.check_health.remote() for w in workers])
    return workers, central


def run_batch(
    settings: Settings,
    batch_path: Path,
    *,
    out_dir: Path | None = None,
    parallel: int | None = None,
    workers: int | None = None,
    resume: bool = False,
    console: Console | None = None,
    user_id: str | None = None,
) -> BatchOutcome:
    """Run (or resume) a batch; returns where its results are and how it went."""
    import ray

    from simfocus.cli.local_ray import init_ray

    console = console or Console()
    started = time.perf_counter()
    batch = load_batch(batch_path, TemplateLibrary.load(settings.characters_dir))
    groups = expand(batch, TemplateLibrary.load(settings.characters_dir), source=str(batch_path))
    out_dir = out_dir or default_out_dir(batch)
    index = read_index(out_dir) if resume else None
    if resume and index is None:
        raise FileNotFoundError(f"{out_dir}: no batch.json to resume from; run without --resume")
    if index is None:
        index = new_index(
            uuid.uuid4().hex[:12], batch.title, str(batch_path), [g.key for g in groups]
        )
    else:  # groups added to the file since are run too
        for g in groups:
            if g.key not in index.groups:
                index = index.with_group(GroupEntry(key=g.key))
    asyncio.run(_prepare_store(settings, groups if resume else []))
    todo = [g for g in groups if not index.ended(g.key)]
    init_ray(settings)
    resources = ray.cluster_resources()
    provider = batch.discussion.provider
    limits = GatewayConfig.load(settings.gateway_config_file).limit_spec(provider)
    cap = admission_cap(
        max(1, len(todo)),
        memory_bytes=resources.get("memory", 8e9),
        limits=limits,
        provider=provider,
        parallel=parallel,
    )
    # Each worker takes a whole CPU: never ask for more than the cluster has.
    cpus = max(1, int(resources.get("CPU", 1)))
    count = max(1, min(workers or cpus, cpus, cap.value, max(1, len(todo))))
    budget = None if batch.budget_usd is None else round(batch.budget_usd * 1_000_000)
    write_index(out_dir, index)
    console.print(
        f"[bold]{escape(batch.title)}[/] · {len(groups)} groups "
        f"({len(groups) - len(todo)} done before) · up to {cap.value} at once ({cap.reason}) · "
        f"{count} workers · {provider.label} · results in {out_dir}"
        + (f" · budget ${batch.budget_usd:.2f}" if batch.budget_usd else "")
    )
    peak, stats, run_s, startup_s = 0, [], 0.0, 0.0
    if todo:
        pool, central = start_workers(settings, index.batch_id, count, budget)
        startup_s = time.perf_counter() - started
        progress = _Progress(console, len(groups), len(groups) - len(todo))
        try:
            with progress.bar:
                progress.show()
                index, peak = asyncio.run(
                    _drive(settings, batch, todo, index, out_dir, cap, pool, progress, user_id)
                )
                run_s = time.perf_counter() - started - startup_s
        finally:
            stats = [s for s in ray.get([_finished(w) for w in pool]) if s is not None]
            if central is not None:
                ray.get(central.close_batch.remote(f"batch:{index.batch_id}"))
                ray.get(central.flush_call_log.remote())
            for w in pool:
                ray.kill(w)
    index = index.model_copy(
        update={
            "runs": [
                *index.runs,
                {
                    "at": datetime.now(UTC).isoformat(),
                    "ran": len(todo),
                    "cap": cap.value,
                    "workers": count,
                    "peak": peak,
                },
            ]
        }
    )
    write_index(out_dir, index)
    results = [
        _result_of(g, out_dir, index.groups[g.key])
        for g in groups
        if index.groups[g.key].status != "pending"
    ]
    agg = aggregate(results, batch, name=batch.title) if results else None
    if agg is not None:
        (out_dir / "aggregate.json").write_text(aggregate_json(agg))
        (out_dir / "aggregate.md").write_text(aggregate_markdown(agg))
        (out_dir / "aggregate.html").write_text(aggregate_html(agg))
    return BatchOutcome(
        out_dir=out_dir,
        index=index,
        aggregate=agg,
        cap=cap,
        workers=count,
        peak=peak,
        worker_stats=stats,
        seconds=time.perf_counter() - started,
        startup_seconds=startup_s,
        run_seconds=run_s,
        ran=len(todo),
    )


async def _prepare_store(settings: Settings, resumed: list[BatchGroup]) -> None:
    async with store_engine(settings, migrated=True):
        pass
    if resumed:
        await _mark_interrupted(settings, resumed)


def batch_command(
    settings: Settings,
    batch_path: Path,
    out: Path | None,
    parallel: int | None,
    workers: int | None,
    resume: bool,
    console: Console,
) -> int:
    """The CLI's face of ``run_batch``: errors say what to do, the end says where to look."""
    from simfocus.kit.errors import SimfocusError

    try:
        outcome = run_batch(
            settings,
            batch_path,
            out_dir=out.resolve() if out else None,
            parallel=parallel,
            workers=workers,
            resume=resume,
            console=console,
        )
    except SimfocusError as e:
        console.print(f"[red]error:[/] {escape(e.message)}")
        return 2
    except FileNotFoundError as e:
        console.print(f"[red]error:[/] {escape(str(e))}")
        return 2
    except KeyboardInterrupt:
        console.print(
            "[yellow]Interrupted. Finished groups are kept; continue with "
            f"simfocus batch {batch_path} --resume --out {out or '<the output folder>'}[/]"
        )
        return 130
    groups = outcome.index.groups.values()
    failed = sum(1 for g in groups if g.status not in ("completed", "stopped"))
    console.print(
        f"{outcome.ran} groups run in {outcome.seconds:.1f} s (at most {outcome.peak} at once, "
        f"{outcome.workers} workers); {failed} failed or not run"
    )
    if outcome.aggregate is not None:
        pref = outcome.aggregate.preference
        console.print(f"Preference: [bold]{escape(pref.verdict)}[/]")
    console.print(f"Results: {outcome.out_dir} (batch.json, groups/, aggregate.md|html|json)")
    return 1 if failed else 0
