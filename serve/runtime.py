"""Moderators for the API: find the running one, or resume a discussion whose moderator
was lost (a crash, a restart of the cluster)."""

from __future__ import annotations

import logging
from typing import Any

from ray.exceptions import RayActorError
from sqlalchemy import select

from actors.builders import moderator_actor
from actors.errors import live_actor
from actors.moderator import moderator_name
from serve.context import ApiContext
from simfocus.kit.errors import SimfocusError
from simfocus.store.models import DiscussionRow

logger = logging.getLogger(__name__)
# A finished moderator keeps serving live watchers this long (then they read the store).
RETIRE_AFTER_S = 60.0


class ModeratorUnavailable(SimfocusError):
    code = "MODERATOR_UNAVAILABLE"
    status = 503


async def start_moderator(ctx: ApiContext, discussion_id: str) -> Any:
    """Start (or resume from the store) the discussion's detached moderator. A moderator
    lost while it starts (its process killed) is replaced once."""
    for attempt in range(2):
        moderator = moderator_actor(ctx.settings, discussion_id, ctx.gateway(), detached=True)
        try:
            await moderator.start.remote(RETIRE_AFTER_S)
            return moderator
        except RayActorError as e:
            logger.warning("moderator of %s lost while starting: %s", discussion_id, e)
            await live_actor(moderator_name(discussion_id))  # releases a dead one's name
            if attempt == 1:
                raise ModeratorUnavailable(
                    "the discussion's moderator could not be started (its process was lost "
                    "twice); the discussion is kept: try again",
                    field="discussion_id",
                ) from None
    raise AssertionError("unreachable")


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
