"""Store faults: PostgreSQL restarted mid-discussion (the discussion waits and goes on,
nothing lost or doubled); a store that stays down fails the discussion with a clear
reason and keeps what was committed; group commits of many discussions."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.schemas import DiscussionStatus, Mode
from simfocus.discussions.store import DiscussionStore, GroupCommitStore
from simfocus.store.engine import session_factory
from tests.discussions.harness import build
from tests.discussions.test_runner import wait_for_seq
from tests.factories import create_study


def _pg_cluster() -> str | None:
    versions = (
        sorted(Path("/etc/postgresql").glob("*/main")) if Path("/etc/postgresql").exists() else []
    )
    if not versions or not shutil.which("pg_ctlcluster"):
        return None
    return versions[-1].parent.name


def _restart_postgres(version: str) -> None:
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=60,
    )


async def test_a_postgres_restart_mid_discussion_loses_and_doubles_nothing(
    pg_engine: AsyncEngine | None, templates: TemplateLibrary
) -> None:
    version = _pg_cluster()
    if pg_engine is None or version is None:
        pytest.skip("needs the local PostgreSQL (SIMFOCUS_TEST_DATABASE_URL and pg_ctlcluster)")
    h = await build(
        pg_engine, create_study(templates, mode=Mode.FREE, personas=3, rounds=6, latency_ms=80)
    )
    run = asyncio.create_task(h.runner.run())
    await wait_for_seq(h.runner, 6)
    await asyncio.to_thread(_restart_postgres, version)  # connections drop; ~1-3 s down
    snapshot = await asyncio.wait_for(run, 180)
    assert snapshot.status is DiscussionStatus.COMPLETED, snapshot.status_reason
    stored = await h.store.messages(h.runner.id)
    assert [m.seq for m in stored] == list(range(1, len(stored) + 1))
    turns = [(m.participant_id, m.round, m.responds_to_seq) for m in stored if m.participant_id]
    assert len(turns) == len(set(turns)) >= 3 * 6 - 3
    assert stored == h.runner.history, "what was said is what was stored, once"


async def test_a_store_that_stays_down_fails_the_discussion_and_keeps_what_was_said(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary, tmp_path: Path
) -> None:
    h = await build(sqlite_engine, create_study(templates, personas=2, rounds=4, latency_ms=30))
    run = asyncio.create_task(h.runner.run())
    await wait_for_seq(h.runner, 4)
    # From now on the store answers nothing: an engine on a path that cannot be opened.
    dead = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db")
    h.runner.store = DiscussionStore(session_factory(dead), retry_s=0.5)
    snapshot = await asyncio.wait_for(run, 60)
    await dead.dispose()
    assert snapshot.status is DiscussionStatus.FAILED
    assert snapshot.status_reason and "store" in snapshot.status_reason
    kept = await DiscussionStore(session_factory(sqlite_engine)).messages(h.runner.id)
    assert len(kept) >= 4 and [m.seq for m in kept] == list(range(1, len(kept) + 1))


async def test_group_commits_store_many_discussions_in_few_transactions(
    engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    store = GroupCommitStore(session_factory(engine), window_s=0.02)
    harnesses = [
        await build(engine, create_study(templates, personas=2, rounds=3, seed=i)) for i in range(8)
    ]
    for h in harnesses:
        h.runner.store = store
    snapshots = await asyncio.gather(*(h.runner.run() for h in harnesses))
    assert all(s.status is DiscussionStatus.COMPLETED for s in snapshots)
    total = 0
    for h in harnesses:
        stored = await store.messages(h.runner.id)
        assert stored == h.runner.history
        total += len(stored)
    assert store.commits < total / 3, (store.commits, total)
