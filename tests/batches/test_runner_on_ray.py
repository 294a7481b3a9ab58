"""The batch runner on the session's local Ray: a small batch end to end, admission
control, resume, and the shared batch budget."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from simfocus.cli.batches import run_batch
from simfocus.settings import Settings
from simfocus.store.engine import session_factory
from simfocus.store.models import DiscussionRow, LLMCallRow

pytestmark = [pytest.mark.ray, pytest.mark.usefixtures("ray_cluster")]
QUIET = Console(file=open("/dev/null", "w"))


def batch_file(tmp_path: Path, **overrides: Any) -> Path:
    data: dict[str, Any] = {
        "name": "Test batch",
        "variants": [
            {"id": "a", "topic": {"title": "Free buses for under-25s"}},
            {"id": "b", "topic": {"title": "Half-price buses for under-25s"}},
        ],
        "panels": [
            {
                "id": "duo",
                "panel": [{"template": "retired_teacher"}, {"template": "delivery_driver"}],
            }
        ],
        "modes": ["creative"],
        "repeats": 2,
        "seed": 3,
        "discussion": {"max_rounds": 2, "provider": {"name": "simulated", "latency_ms": 20}},
    }
    data.update(overrides)
    path = tmp_path / "batch.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_small_batch_runs_end_to_end_within_its_cap(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    outcome = run_batch(settings, batch_file(tmp_path), out_dir=out, parallel=2, console=QUIET)
    index = json.loads((out / "batch.json").read_text())
    assert {g["status"] for g in index["groups"].values()} == {"completed"}
    assert len(index["groups"]) == 4 and outcome.ran == 4
    for key, group in index["groups"].items():
        transcript = json.loads((out / group["transcript"]).read_text())
        assert transcript["status"] == "completed" and transcript["messages"]
        assert json.loads((out / group["report"]).read_text())["status"] == "ready"
        assert key.startswith(("a.duo.creative.r", "b.duo.creative.r"))
    assert outcome.cap.value == 2 and outcome.cap.reason == "--parallel"
    assert 1 <= outcome.peak <= 2, "admission control never exceeds its cap"
    assert sum(s["peak"] for s in outcome.worker_stats) >= outcome.peak
    assert all(s["peak"] <= 2 for s in outcome.worker_stats)
    agg = json.loads((out / "aggregate.json").read_text())
    assert [v["variant"] for v in agg["variants"]] == ["a", "b"]
    assert agg["completed"] == 4
    assert (out / "aggregate.html").read_text().count("<svg") >= 1
    assert "Preference" in (out / "aggregate.md").read_text()


def test_resume_skips_the_groups_that_finished(
    settings: Settings, tmp_path: Path, sqlite_engine: AsyncEngine
) -> None:
    out = tmp_path / "out"
    first = run_batch(settings, batch_file(tmp_path, repeats=1), out_dir=out, console=QUIET)
    assert first.ran == 2
    before = json.loads((out / "batch.json").read_text())["groups"]
    # The batch grows by a repeat (as if the first run had been cut after two groups).
    second = run_batch(
        settings, batch_file(tmp_path, repeats=2), out_dir=out, resume=True, console=QUIET
    )
    after = json.loads((out / "batch.json").read_text())["groups"]
    assert second.ran == 2, "only the two new groups ran"
    for key, group in before.items():
        assert after[key]["discussion_id"] == group["discussion_id"], "finished groups kept"
    assert {g["status"] for g in after.values()} == {"completed"} and len(after) == 4
    assert len(json.loads((out / "batch.json").read_text())["runs"]) == 2


def test_the_batch_budget_is_shared_and_never_exceeded(
    settings: Settings, tmp_path: Path, sqlite_engine: AsyncEngine
) -> None:
    import asyncio

    budget_usd = 0.004  # about half of what the batch would cost
    out = tmp_path / "out"
    outcome = run_batch(
        settings,
        batch_file(tmp_path, repeats=3, budget_usd=budget_usd),
        out_dir=out,
        console=QUIET,
    )
    groups = outcome.index.groups.values()
    statuses = {g.status for g in groups}
    assert "stopped" in statuses, statuses  # the budget ran out part-way
    spent = sum(g.cost_micro_usd for g in groups)
    assert spent <= budget_usd * 1_000_000

    async def booked() -> tuple[int, int]:
        async with session_factory(sqlite_engine)() as session:
            leases = await session.scalar(
                select(func.coalesce(func.sum(LLMCallRow.cost_micro_usd), 0)).where(
                    LLMCallRow.discussion_id == f"batch:{outcome.index.batch_id}"
                )
            )
            ids = [g.discussion_id for g in groups if g.discussion_id]
            calls = await session.scalar(
                select(func.coalesce(func.sum(LLMCallRow.cost_micro_usd), 0)).where(
                    LLMCallRow.discussion_id.in_(ids)
                )
            )
            assert await session.scalar(
                select(func.count()).where(DiscussionRow.id.in_(ids))
            ) == len(ids)
        return int(leases or 0), int(calls or 0)

    leases, calls = asyncio.run(booked())
    assert calls <= leases <= budget_usd * 1_000_000, (calls, leases)
