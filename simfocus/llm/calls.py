"""The call log (``llm_calls``) and the reservation journal (``llm_reservations``).

Budgets must hold across a crash of the gateway. So before a call goes to a provider, its
reservation (the worst case it may cost) is written to the journal and committed; when the
call ends, its row in the call log and the removal of its reservations are written in one
transaction. At any moment every call is in the store either as an open reservation (at
its worst case) or as a logged call (at its real cost): a gateway that restarts rebuilds
its ledger from both (``rebuild``) and can never spend past a budget.

Journal writes are group-committed: reservations that arrive while a commit is under way
go together in the next one, so a busy gateway does not queue one transaction per call.
Call log rows are buffered and flushed in batches (they only have to be durable before
their reservations are removed, which the shared transaction guarantees).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import cast

from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from simfocus.llm.errors import LLMError
from simfocus.llm.gateway import CallRecord
from simfocus.store.models import (
    DiscussionRow,
    LLMCallRow,
    ReportRow,
    ReservationRow,
    new_id,
    utcnow,
)

logger = logging.getLogger(__name__)
_INSERT = insert(cast(Table, LLMCallRow.__table__))
_RESERVE = insert(cast(Table, ReservationRow.__table__))
JOURNAL_RETRY_S = 30.0  # how long a call waits for an unavailable store before failing


class StoreUnavailable(LLMError):
    code = "STORE_UNAVAILABLE"
    status = 503


@dataclass(frozen=True)
class RebuiltAccount:
    discussion_id: str
    budget_micro_usd: int | None
    spent: int


def lease_record(account: str, holder: str, cost: int) -> CallRecord:
    """The call log row of a settled lease: what one worker spent of a batch budget."""
    return CallRecord(
        discussion_id=account,
        participant_id=None,
        purpose="lease",
        provider="batch",
        model=holder[:120],
        prompt_tokens=0,
        completion_tokens=0,
        cost_micro_usd=cost,
        latency_ms=0.0,
        ttft_ms=None,
        attempts=1,
        status="ok",
        error_code=None,
    )


class CallLogWriter:
    """Collects call records and journals reservations; ``flush`` writes the records and
    removes the reservations they close, in one transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], max_pending: int = 10_000
    ) -> None:
        self.sessions = sessions
        self.max_pending = max_pending
        self._pending: list[CallRecord] = []
        self._closed: list[str] = []
        self._opening: list[tuple[dict[str, object], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    # ----- the journal ------------------------------------------------------------------

    async def open_reservation(
        self, reservation_id: str, discussion_id: str, accounts: Iterable[str], amount: int
    ) -> None:
        """Returns once the reservation is committed (with others that came meanwhile)."""
        row = {
            "id": reservation_id,
            "discussion_id": discussion_id,
            "accounts": list(accounts),
            "amount": amount,
            "created_at": utcnow(),
        }
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._opening.append((row, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_openings())
        await done

    async def _write_openings(self) -> None:
        while self._opening:
            batch, self._opening = self._opening, []
            error: Exception | None = None
            waited = 0.0
            while True:
                try:
                    async with self.sessions() as session, session.begin():
                        conn = await session.connection()
                        await conn.execute(_RESERVE, [row for row, _ in batch])
                    break
                except Exception as e:  # the store is down: wait for it, up to a point
                    if waited >= JOURNAL_RETRY_S:
                        error = e
                        break
                    logger.warning("reservation journal: store unavailable (%s); retrying", e)
                    await asyncio.sleep(1.0)
                    waited += 1.0
            for _, done in batch:
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(
                        StoreUnavailable(
                            "the store is unavailable, so this call's cost cannot be booked "
                            f"durably; it was not sent ({type(error).__name__})"
                        )
                    )

    def close_reservations(self, ids: Iterable[str]) -> None:
        """Mark reservations settled: removed with the next flush of the call log."""
        self._closed.extend(ids)

    # ----- the call log -----------------------------------------------------------------

    def record(self, record: CallRecord) -> None:
        if len(self._pending) >= self.max_pending:  # the store is down: keep the newest
            self._pending.pop(0)
        self._pending.append(record)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        if not self._pending and not self._closed:
            return 0
        rows, self._pending = self._pending, []
        closed, self._closed = self._closed, []
        now = utcnow()
        try:
            async with self.sessions() as session, session.begin():
                conn = await session.connection()
                if rows:
                    await conn.execute(
                        _INSERT, [{"id": new_id(), "created_at": now, **asdict(r)} for r in rows]
                    )
                if closed:
                    await conn.execute(delete(ReservationRow).where(ReservationRow.id.in_(closed)))
        except Exception:
            logger.exception("could not write %d call log rows; will retry", len(rows))
            self._pending = rows + self._pending
            self._closed = closed + self._closed
            return 0
        return len(rows)

    async def spent_by(self, account: str) -> int:
        """What the call log books against ``account`` (a batch's settled and lost leases)."""
        async with self.sessions() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(LLMCallRow.cost_micro_usd), 0)).where(
                    LLMCallRow.discussion_id == account
                )
            )
        return int(total or 0)

    # ----- after a restart --------------------------------------------------------------

    async def rebuild(self) -> list[RebuiltAccount]:
        """What each live discussion has spent, from the store: its logged calls, plus the
        reservations of calls that were in flight when a gateway died (logged now as
        ``lost`` calls at their worst case, since they may have been billed)."""
        async with self.sessions() as session, session.begin():
            orphans = (await session.scalars(select(ReservationRow))).all()
            if orphans:
                now = utcnow()
                conn = await session.connection()
                await conn.execute(
                    _INSERT,
                    [
                        {
                            "id": new_id(),
                            "created_at": now,
                            "discussion_id": o.discussion_id,
                            "participant_id": None,
                            "purpose": "turn",
                            "provider": "unknown",
                            "model": "unknown",
                            "prompt_tokens": 0,
                            "completion_tokens": 0,
                            "cost_micro_usd": o.amount,
                            "latency_ms": 0.0,
                            "ttft_ms": None,
                            "attempts": 1,
                            "status": "lost",
                            "error_code": "GATEWAY_LOST",
                        }
                        for o in orphans
                    ],
                )
                await conn.execute(
                    delete(ReservationRow).where(ReservationRow.id.in_([o.id for o in orphans]))
                )
                logger.warning(
                    "gateway restarted: %d calls were in flight; booked at their worst case",
                    len(orphans),
                )
            live = select(DiscussionRow.id, DiscussionRow.budget_micro_usd).where(
                DiscussionRow.status.in_(("running", "paused"))
                | DiscussionRow.id.in_(
                    select(ReportRow.discussion_id).where(ReportRow.status == "generating")
                )
            )
            discussions = (await session.execute(live)).all()
            if not discussions:
                return []
            spent: dict[str, int] = defaultdict(int)
            sums = await session.execute(
                select(LLMCallRow.discussion_id, func.sum(LLMCallRow.cost_micro_usd))
                .where(LLMCallRow.discussion_id.in_([d.id for d in discussions]))
                .group_by(LLMCallRow.discussion_id)
            )
            for discussion_id, total in sums.all():
                spent[str(discussion_id)] = int(total or 0)
            return [RebuiltAccount(d.id, d.budget_micro_usd, spent[d.id]) for d in discussions]
