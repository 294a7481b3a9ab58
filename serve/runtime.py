"""Moderators for the API: find the running one, or resume a discussion whose moderator
was lost (a crash, a restart of the cluster)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from actors.builders import moderator_actor
from actors.errors import live_actor
from actors.moderator import moderator_name
from serve.context import ApiContext
from simfocus.store.models import DiscussionRow

logger = logging.getLogger(__name__)
RETIRE_AFTER_S = 300.0  # a finished moderator keeps serving live watchers this long


async def start_moderator(ctx: ApiContext, discussion_id: str) -> Any:
    """Start (or resume from the store) the discussion's detached moderator."""
    moderator = moderator_actor(ctx.settings, discussion_id, ctx.gateway(), detached=True)
    await moderator.start.remote(RETIRE_AFTER_S)
    return moderator


async def live_moderator(ctx: ApiContext, discussion_id: str, status: str) -> Any | None:
    """The moderator of a running or paused discussion — resumed if it was lost."""
    moderator = await live_actor(moderator_name(discussion_id))
    if moderator is not None:
        return moderator
    if status not in ("running", "paused"):
        return None
    logger.warning("discussion %s was %s without a moderator: resuming it", discussion_id, status)
    return await start_moderator(ctx, discussion_id)


async def resume_orphans(ctx: ApiContext) -> list[str]:
    """At start-up: resume every running or paused discussion that has no moderator."""
    async with ctx.sessions() as session:
        rows = (
            await session.execute(
                select(DiscussionRow.id, DiscussionRow.status).where(
                    DiscussionRow.status.in_(("running", "paused"))
                )
            )
        ).all()
    resumed = []
    for discussion_id, status in rows:
        if await live_actor(moderator_name(discussion_id)) is None:
            await live_moderator(ctx, discussion_id, status)
            resumed.append(discussion_id)
    return resumed
