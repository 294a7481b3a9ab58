"""One pull from the moderator per discussion per replica, shared by all its watchers.

Without this, every open WebSocket would call the moderator actor for every event: 100
watchers of one discussion, 100 Ray calls per message. A ``DiscussionFeed`` pulls once
and keeps what it pulled (messages by seq, a ring of live events, the latest snapshot);
each watcher then waits on a local condition and reads from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import ray

from actors.moderator import moderator_name
from simfocus.discussions.schemas import DiscussionSnapshot

logger = logging.getLogger(__name__)
PULL_TIMEOUT_S = 20.0
LIVE_KEPT = 500


class DiscussionFeed:
    def __init__(self, discussion_id: str) -> None:
        self.id = discussion_id
        self.messages: list[dict[str, Any]] = []  # message events; index = seq - 1
        self.live: list[dict[str, Any]] = []
        self.snapshot: DiscussionSnapshot | None = None
        self.gone = False  # no moderator (never started, or retired): read the store
        self.users = 0
        self._changed = asyncio.Condition()
        self._task = asyncio.get_running_loop().create_task(self._pull())

    async def _pull(self) -> None:
        version: int | None = None
        after_live = 0
        try:
            moderator = ray.get_actor(moderator_name(self.id))
            while True:
                batch = await moderator.events_since.remote(
                    len(self.messages), version, PULL_TIMEOUT_S, after_live
                )
                self.messages.extend(e for e in batch.events if e["seq"] > len(self.messages))
                self.live = (self.live + batch.live)[-LIVE_KEPT:]
                after_live = batch.snapshot.live_id
                version = batch.snapshot.version
                self.snapshot = batch.snapshot
                await self._notify()
                if (
                    batch.snapshot.status.is_terminal
                    and len(self.messages) >= batch.snapshot.last_seq
                    and batch.snapshot.report_status != "generating"
                ):
                    return  # everything is here; the feed stays readable
        except (ValueError, ray.exceptions.RayActorError):
            self.gone = True
        except Exception:
            logger.exception("feed of discussion %s failed", self.id)
            self.gone = True
        await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @property
    def finished(self) -> bool:
        return self._task.done()

    async def wait(
        self, after_seq: int, version: int | None, after_live: int, timeout: float
    ) -> None:
        """Until there is a message after ``after_seq``, a new state or live event, or the end."""

        def fresh() -> bool:
            snap = self.snapshot
            return (
                self.gone
                or len(self.messages) > after_seq
                or (snap is not None and (snap.version != version or snap.live_id > after_live))
                or (self.finished and snap is not None)
            )

        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(fresh), timeout)

    def close(self) -> None:
        self._task.cancel()


class Feeds:
    """The replica's feeds, counted by watcher."""

    def __init__(self) -> None:
        self._feeds: dict[str, DiscussionFeed] = {}

    def acquire(self, discussion_id: str) -> DiscussionFeed:
        feed = self._feeds.get(discussion_id)
        if feed is None or feed.gone:  # a gone feed is replaced: the discussion may start now
            if feed is not None:
                feed.close()
            feed = self._feeds[discussion_id] = DiscussionFeed(discussion_id)
        feed.users += 1
        return feed

    def release(self, feed: DiscussionFeed) -> None:
        feed.users -= 1
        if feed.users <= 0 and self._feeds.get(feed.id) is feed:
            feed.close()
            del self._feeds[feed.id]
