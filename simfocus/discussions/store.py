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
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import DiscussionStatus, Message, Phase
from simfocus.store.models import MessageRow

logger = logging.getLogger(__name__)
T = TypeVar("T")
STORE_RETRY_S = 60.0
Op = Callable[[AsyncSession], Awaitable[Any]]  # one unit of store work
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

    async def run(self, op: Op, append: tuple[str, Message] | None = None) -> Any:
        """Do ``op`` in a transaction of its own (retried while the store is away); its
        result once committed. ``append`` names the message ``op`` stores, if any."""
        return await self._retrying("a commit", functools.partial(self._commit_one, op, append))

    async def _commit_one(self, op: Op, append: tuple[str, Message] | None) -> Any:
        try:
            async with self.sessions() as session, session.begin():
                return await op(session)
        except IntegrityError:
            if append is None or not await self._already_stored(append[0], [append[1]]):
                raise
            return None  # an earlier try of this very append committed

    async def append(self, discussion_id: str, message: Message) -> None:
        """Commit a message (and its usage totals) before anyone is told of it."""

        async def op(session: AsyncSession) -> None:
            await DiscussionRepository(session).add_message(discussion_id, message)

        await self.run(op, (discussion_id, message))

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
        async def op(session: AsyncSession) -> None:
            await DiscussionRepository(session).set_status(
                discussion_id, status, reason=reason, round_no=round_no, phase=phase
            )

        await self.run(op)

    async def messages(self, discussion_id: str, after_seq: int = 0) -> list[Message]:
        async with self.sessions() as session:
            return await DiscussionRepository(session).messages(discussion_id, after_seq=after_seq)


@dataclass
class _Queued:
    op: Op
    done: asyncio.Future[Any]
    append: tuple[str, Message] | None = None  # to recognise a batch already committed


class GroupCommitStore(DiscussionStore):
    """The writes of many discussions committed together: one transaction per
    ``window_s`` (or per ``max_batch`` writes) instead of one per message or status
    change. Writes keep their order, and each returns only once it is committed.

    With SQLite every transaction takes the write lock, so a batch worker running a
    hundred groups would otherwise queue a hundred transactions for every round.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        window_s: float = 0.05,
        max_batch: int = 1000,
        retry_s: float = STORE_RETRY_S,
    ) -> None:
        super().__init__(sessions, retry_s=retry_s)
        self.window_s = window_s
        self.max_batch = max_batch
        self._pending: list[_Queued] = []
        self._writer: asyncio.Task[None] | None = None
        self.commits = 0  # transactions written (for benchmarks)

    async def run(self, op: Op, append: tuple[str, Message] | None = None) -> Any:
        """Do ``op`` in the next group transaction; its result once committed."""
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append(_Queued(op, done, append))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await done

    async def _write(self) -> None:
        while self._pending:
            if len(self._pending) < self.max_batch:
                await asyncio.sleep(self.window_s)  # let the window fill
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            results: list[Any] = []
            try:
                await self._retrying(
                    "a group commit", functools.partial(self._commit, batch, results)
                )
                self.commits += 1
            except Exception as e:
                if _transient(e):  # the store stayed down: every write of the batch failed
                    for q in batch:
                        if not q.done.done():
                            q.done.set_exception(e)
                else:
                    await self._one_by_one(batch)  # one bad write must not fail the others
                continue
            for q, result in zip(batch, results, strict=True):
                if not q.done.done():
                    q.done.set_result(result)

    async def _one_by_one(self, batch: list[_Queued]) -> None:
        for q in batch:
            results: list[Any] = []
            try:
                await self._retrying("a commit", functools.partial(self._commit, [q], results))
            except Exception as e:
                if not q.done.done():
                    q.done.set_exception(e)
                continue
            if not q.done.done():
                q.done.set_result(results[0])

    async def _commit(self, batch: list[_Queued], results: list[Any]) -> None:
        attempt: list[Any] = []
        try:
            async with self.sessions() as session, session.begin():
                repo = DiscussionRepository(session)
                run: list[tuple[str, Message]] = []  # consecutive appends go in bulk
                for q in batch:
                    if q.append is not None:
                        run.append(q.append)
                        attempt.append(None)
                        continue
                    await repo.add_messages(run)
                    run = []
                    attempt.append(await q.op(session))
                await repo.add_messages(run)
                results[:] = attempt  # kept even if the commit's answer is lost
        except IntegrityError:
            # A retry after a commit whose answer was lost: the batch was one transaction,
            # so if its messages are there, all of it is (results from that first try).
            appends = [q.append for q in batch if q.append is not None]
            if not appends or not results:
                raise
            by_discussion: dict[str, list[Message]] = {}
            for discussion_id, message in appends:
                by_discussion.setdefault(discussion_id, []).append(message)
            for discussion_id, messages in by_discussion.items():
                if not await self._already_stored(discussion_id, messages):
                    raise
