"""The retention loop of an API replica: ``purge_if_due`` every ``retention_interval_s``.

Every replica runs the loop; the store decides which one purges (``purge_if_due``: the
newest ``retention.purge`` audit row, taken under SQLite's write lock or a PostgreSQL
advisory lock), so a purge happens about once per interval whatever the replica count.
Started and stopped by the app's lifespan (``retention_lifespan``), which Ray Serve runs
on each replica's start and shutdown (plain uvicorn too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi import FastAPI

from simfocus.accounts.lifecycle import PurgeCounts, purge_if_due

if TYPE_CHECKING:
    from serve.context import ApiContext

logger = logging.getLogger(__name__)
# The first check comes this long (at most) after start-up, spread at random: a fresh
# deployment's replicas neither slow their start nor all knock at once.
FIRST_DELAY_S = 60.0


class RetentionLoop:
    def __init__(self, ctx: ApiContext, first_delay_s: float | None = None) -> None:
        self.ctx = ctx
        interval = ctx.settings.retention_interval_s
        self.first_delay_s = (
            random.uniform(0, min(interval, FIRST_DELAY_S))
            if first_delay_s is None
            else first_delay_s
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="simfocus-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> PurgeCounts | None:
        """One check: the purge's counts, or None when another purge ran recently."""
        settings = self.ctx.settings
        async with self.ctx.sessions() as session:
            counts = await purge_if_due(
                session, settings.retention_days, settings.retention_interval_s
            )
            await session.commit()  # also when skipped: ends the transaction (and lock)
        if counts is not None and counts.total:
            logger.info("retention purge: %s", counts.as_dict())
        return counts

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                await self.run_once()
            except Exception:  # a store hiccup must not end the loop
                logger.exception("retention purge failed; retrying next interval")
            await asyncio.sleep(self.ctx.settings.retention_interval_s)


@contextlib.asynccontextmanager
async def retention_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """FastAPI lifespan: the retention loop runs while the app serves."""
    loop = RetentionLoop(app.state.ctx)
    loop.start()
    try:
        yield
    finally:
        await loop.stop()
