"""The per-discussion event log: gap-free ``seq`` for messages, a version for state.

Messages are durable and replayable by ``seq``. Live events (streamed text of the turn in
progress, "discard the partial text") are transient: numbered by ``live_id`` and kept in
a short ring, since the committed message supersedes them.

Watchers call ``wait`` with the last ``seq``, live id and state ``version`` they know; it
returns as soon as there is something newer (or at the timeout), without polling.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from simfocus.discussions.schemas import Message

LIVE_KEPT = 1000


def message_event(message: Message) -> dict[str, Any]:
    return {"type": "message", "seq": message.seq, "message": message.model_dump(mode="json")}


class EventLog:
    def __init__(self, history: list[Message] | None = None) -> None:
        self._events = [message_event(m) for m in history or []]
        self._live: deque[dict[str, Any]] = deque(maxlen=LIVE_KEPT)
        self.live_id = 0
        self.version = 0
        self._changed = asyncio.Condition()

    @property
    def last_seq(self) -> int:
        return len(self._events)

    def next_seq(self) -> int:
        return len(self._events) + 1

    async def publish(self, message: Message) -> None:
        if message.seq != self.next_seq():
            raise ValueError(f"seq {message.seq} out of order (expected {self.next_seq()})")
        self._events.append(message_event(message))
        await self.notify()

    async def publish_live(self, event: dict[str, Any]) -> None:
        self.live_id += 1
        self._live.append({**event, "live_id": self.live_id})
        await self.notify()

    def live_since(self, after_live: int) -> list[dict[str, Any]]:
        return [e for e in self._live if e["live_id"] > after_live]

    async def bump(self) -> None:
        """Record a state change (status, speed, …) so that waiting watchers wake up."""
        self.version += 1
        await self.notify()

    async def notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def since(self, after_seq: int) -> list[dict[str, Any]]:
        return self._events[max(0, after_seq) :]

    async def wait(
        self,
        after_seq: int,
        known_version: int | None,
        timeout: float,
        after_live: int | None = None,
    ) -> None:
        def fresh() -> bool:
            return (
                self.last_seq > after_seq
                or (known_version is not None and self.version != known_version)
                or (after_live is not None and self.live_id > after_live)
            )

        if fresh() or timeout <= 0:
            return
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(fresh), timeout)
            except TimeoutError:
                pass
