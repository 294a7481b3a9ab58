"""Launching discussions on the shared Ray cluster, and cleaning up after them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import ray
from sqlalchemy.ext.asyncio import AsyncEngine

from actors.builders import gateway_actor, moderator_actor
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import Message
from simfocus.discussions.service import DiscussionSetup, create_discussion
from simfocus.settings import Settings
from simfocus.store.engine import session_factory
from simfocus.studies.schemas import Study


class Running:
    def __init__(self, setup: DiscussionSetup, moderator: Any, engine: AsyncEngine) -> None:
        self.setup = setup
        self.moderator = moderator
        self.engine = engine

    async def messages(self) -> list[Message]:
        async with session_factory(self.engine)() as session:
            return await DiscussionRepository(session).messages(self.setup.discussion_id)

    async def wait_for_seq(self, seq: int, timeout: float = 30) -> None:
        async def until() -> None:
            last = 0
            while last < seq:
                batch = await self.moderator.events_since.remote(last, None, 2.0)
                last = batch.snapshot.last_seq

        await asyncio.wait_for(until(), timeout)


@pytest.fixture
async def launch(
    settings: Settings, sqlite_engine: AsyncEngine
) -> AsyncIterator[Callable[[Study], Any]]:
    started: list[Any] = []
    gateway = gateway_actor(settings)

    async def go(study: Study) -> Running:
        async with session_factory(sqlite_engine)() as session, session.begin():
            setup = await create_discussion(DiscussionRepository(session), study)
        moderator = moderator_actor(settings, setup.discussion_id, gateway)
        started.append(moderator)
        await moderator.start.remote()
        return Running(setup, moderator, sqlite_engine)

    yield go
    for moderator in started:  # kill what the test started
        try:
            await asyncio.wait_for(moderator.shutdown.remote(), 30)
        except ray.exceptions.RayActorError:
            pass  # the test killed it already
        finally:
            ray.kill(moderator)
