"""The runner's unit of work: each method is one committed transaction.

The store may be briefly unavailable (PostgreSQL restarting, a network blip): writes are
retried with backoff for up to ``retry_s`` instead of failing the discussion. A retried
append whose first try did commit (the connection dropped before the answer) finds its
``(discussion_id, seq)`` taken by the same message and counts as done, so nothing is
stored twice. Past ``retry_s`` the error is raised and the discussion fails with the
reason, keeping what was committed.

``GroupCommitStore`` serves many discussions in one process (a batch worker): appends of
all of them that arrive within a short window are committed in one transaction.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import DiscussionStatus, Message, Phase
from simfocus.store.models import MessageRow

logger = logging.getLogger(__name__)
T = TypeVar("T")
STORE_RETRY_S = 60.0
_CONNECTION_HINTS = ("connection is closed", "shutting down", "starting up", "connection refused")


def _transient(error: BaseException) -> bool:
    """A fault of the connection or the server, worth waiting out (not a bad statement)."""
    if isinstance(error, IntegrityError):
        return False
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        orig = error.orig
        state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
        # 08xxx: connection exceptions; 57P0x: the server is shutting down or starting up.
        if state.startswith(("08", "57P")):
            return True
        return any(hint in str(orig).lower() for hint in _CONNECTION_HINTS)
    return isinstance(error, (ConnectionError, OSError, TimeoutError))


class DiscussionStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, retry_s: float = STORE_RETRY_S
    ) -> None:
        self.sessions = sessions
        self.retry_s = retry_s

    async def _retrying(self, what: str, work: Callable[[], Awaitable[T]]) -> T:
        delay, waited = 0.2, 0.0
        while True:
            try:
                return await work()
            except Exception as e:
                if not _transient(e) or waited >= self.retry_s:
                    raise
                logger.warning(
                    "store unavailable during %s (%s); retrying in %.1f s", what, e, delay
                )
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 5.0)

    async def append(self, discussion_id: str, message: Message) -> None:
        """Commit a message (and its usage totals) before anyone is told of it."""
        await self._retrying("a commit", lambda: self._append(discussion_id, [message]))

    async def _append(self, discussion_id: str, messages: list[Message]) -> None:
        try:
            async with self.sessions() as session, session.begin():
                repo = DiscussionRepository(session)
                for message in messages:
                    await repo.add_message(discussion_id, message)
        except IntegrityError:
            if not await self._already_stored(discussion_id, messages):
                raise

    async def _already_stored(self, discussion_id: str, messages: list[Message]) -> bool:
        """True if an earlier try of this very append committed (same seqs, same text)."""
        async with self.sessions() as session:
            stored = dict(
                (
                    await session.execute(
                        select(MessageRow.seq, MessageRow.content).where(
                            MessageRow.discussion_id == discussion_id,
                            MessageRow.seq.in_([m.seq for m in messages]),
                        )
                    )
                ).all()
            )
        return all(stored.get(m.seq) == m.content for m in messages)

    async def set_status(
        self,
        discussion_id: str,
        status: DiscussionStatus,
        *,
        reason: str | None = None,
        round_no: int | None = None,
        phase: Phase | None = None,
    ) -> None:
        async def work() -> None:
            async with self.sessions() as session, session.begin():
                await DiscussionRepository(session).set_status(
                    discussion_id, status, reason=reason, round_no=round_no, phase=phase
                )

        await self._retrying("a status change", work)

    async def messages(self, discussion_id: str, after_seq: int = 0) -> list[Message]:
        async with self.sessions() as session:
            return await DiscussionRepository(session).messages(discussion_id, after_seq=after_seq)


class GroupCommitStore(DiscussionStore):
    """Appends of many discussions committed together: one transaction per ``window_s``
    (or per ``max_batch`` messages) instead of one per message. Each append still returns
    only once its message is committed."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        window_s: float = 0.05,
        max_batch: int = 500,
        retry_s: float = STORE_RETRY_S,
    ) -> None:
        super().__init__(sessions, retry_s=retry_s)
        self.window_s = window_s
        self.max_batch = max_batch
        self._pending: list[tuple[str, Message, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0  # transactions written (for benchmarks)

    async def append(self, discussion_id: str, message: Message) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((discussion_id, message, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        await done

    async def _write(self) -> None:
        while self._pending:
            if len(self._pending) < self.max_batch:
                await asyncio.sleep(self.window_s)  # let the window fill
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            try:
                await self._retrying("a group commit", functools.partial(self._commit, batch))
                self.commits += 1
            except Exception as e:
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(e)
                continue
            for _, _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _commit(self, batch: list[tuple[str, Message, asyncio.Future[None]]]) -> None:
        try:
            async with self.sessions() as session, session.begin():
                repo = DiscussionRepository(session)
                for discussion_id, message, _ in batch:
                    await repo.add_message(discussion_id, message)
        except IntegrityError:
            by_discussion: dict[str, list[Message]] = {}
            for discussion_id, message, _ in batch:
                by_discussion.setdefault(discussion_id, []).append(message)
            for discussion_id, messages in by_discussion.items():
                if not await self._already_stored(discussion_id, messages):
                    raise
