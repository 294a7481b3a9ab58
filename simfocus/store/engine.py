"""Async engines: SQLite (WAL, busy timeout, foreign keys) by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from simfocus.settings import Settings


def create_engine(url: str, *, busy_timeout_ms: int = 30_000, pool_size: int = 2) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Each process (CLI, moderator actor) keeps a couple of connections: reconnecting
        # per commit costs more than the commit. An idle connection holds no lock in WAL.
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=2,
            connect_args={"timeout": busy_timeout_ms / 1000},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        event.listen(engine.sync_engine, "begin", _begin_immediate)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=4, pool_pre_ping=True)


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # Let SQLAlchemy, not the driver, open transactions (see _begin_immediate).
        dbapi_connection.isolation_level = None

    return on_connect


def _begin_immediate(connection: Any) -> None:
    # A deferred transaction that later writes can fail at once with "database is locked"
    # when another process writes; taking the write lock up front makes it wait instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def store_engine(settings: Settings, *, migrated: bool = False) -> AsyncIterator[AsyncEngine]:
    """An engine on the configured store for one piece of work, disposed afterwards;
    ``migrated`` brings the schema up to date first."""
    from simfocus.store.migrate import upgrade  # migrations import the models; keep lazy

    engine = create_engine(
        settings.resolved_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    try:
        if migrated:
            await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
