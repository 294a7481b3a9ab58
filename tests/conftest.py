"""Shared fixtures: settings on a temporary data dir, the stores, one Ray cluster."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from simfocus.characters.templates import TemplateLibrary
from simfocus.settings import REPO_CONFIGS, Settings
from simfocus.store.engine import create_engine
from simfocus.store.migrate import upgrade

PG_URL = os.environ.get("SIMFOCUS_TEST_DATABASE_URL", "")
# A key planted in the environment the gateway reads; tests search every log, the store,
# errors and events for it and must never find it.
PLANTED_KEY_ENV = "SIMFOCUS_TEST_LLM_KEY"
PLANTED_KEY = "sk-planted-" + uuid.uuid4().hex


STARTED = time.time()
RAY_TMP = Path(tempfile.gettempdir()) / "ray"


class _Recorder(logging.Handler):
    """Keeps every log record of the test process, to be searched for the planted key."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot format is not ours to fix here
            self.lines.append(repr(record.msg))


def _files_with(needle: bytes, roots: list[Path], since: float) -> list[str]:
    found = []
    for root in roots:
        if not root.exists():
            continue
        for path in root.rglob("*"):
            try:
                if not path.is_file() or path.stat().st_mtime < since:
                    continue
                if path.stat().st_size > 200 * 2**20:  # object spill files, not logs
                    continue
                if needle in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
    return found


@pytest.fixture(scope="session", autouse=True)
def planted_key_never_leaks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the whole run: the planted key is in no log the suite produced — the test
    process's records, every Ray session's logs (actors, Serve, the two-node cluster),
    and every file the tests wrote (stores, run folders, exports)."""
    recorder = _Recorder()
    logging.getLogger().addHandler(recorder)
    yield
    logging.getLogger().removeHandler(recorder)
    leaks = [line[:120] for line in recorder.lines if PLANTED_KEY in line]
    leaks += _files_with(
        PLANTED_KEY.encode(), [tmp_path_factory.getbasetemp(), RAY_TMP], STARTED - 1
    )
    assert not leaks, f"the planted API key was found in: {leaks[:10]}"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("simfocus-data")


@pytest.fixture(scope="session")
def settings(data_dir: Path) -> Settings:
    """SQLite in a temporary data dir; what the Ray tests' actors get too."""
    return Settings(
        environment="test", data_dir=data_dir, database_url="", configs_dir=REPO_CONFIGS
    )


@pytest.fixture(scope="session")
def templates() -> TemplateLibrary:
    return TemplateLibrary.load(REPO_CONFIGS / "characters")


@pytest.fixture(scope="session")
async def sqlite_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def pg_engine() -> AsyncIterator[AsyncEngine | None]:
    """PostgreSQL in a schema of its own for this run, dropped at the end."""
    if not PG_URL:
        yield None
        return
    schema = f"simfocus_test_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG_URL, pool_pre_ping=True)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_async_engine(
        PG_URL, pool_pre_ping=True, connect_args={"server_settings": {"search_path": schema}}
    )
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


def store_params() -> list[object]:
    params: list[object] = ["sqlite"]
    params.append(
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not PG_URL, reason="SIMFOCUS_TEST_DATABASE_URL not set"),
        )
    )
    return params


@pytest.fixture(params=store_params())
async def engine(
    request: pytest.FixtureRequest, sqlite_engine: AsyncEngine, pg_engine: AsyncEngine | None
) -> AsyncEngine:
    """Each store test runs on SQLite and, when configured, on PostgreSQL."""
    if request.param == "postgresql":
        assert pg_engine is not None
        return pg_engine
    return sqlite_engine


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session in a transaction that is rolled back after the test (on each store)."""
    async with engine.connect() as conn:
        outer = await conn.begin()
        s = AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield s
        finally:
            await s.close()
            await outer.rollback()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """One local Ray cluster for the whole session."""
    import ray

    os.environ[PLANTED_KEY_ENV] = PLANTED_KEY  # before ray.init: the workers inherit it
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        namespace=f"simfocus-test-{uuid.uuid4().hex[:6]}",
        logging_level="ERROR",
        log_to_driver=False,
    )
    yield
    ray.shutdown()
