"""The call log (``llm_calls``): rows buffered by the gateway and written in batches."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from simfocus.llm.gateway import CallRecord
from simfocus.store.models import LLMCallRow, new_id, utcnow

logger = logging.getLogger(__name__)
_INSERT = insert(cast(Table, LLMCallRow.__table__))


class CallLogWriter:
    """Collects call records; ``flush`` writes what has gathered in one transaction."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], max_pending: int = 10_000
    ) -> None:
        self.sessions = sessions
        self.max_pending = max_pending
        self._pending: list[CallRecord] = []

    def record(self, record: CallRecord) -> None:
        if len(self._pending) >= self.max_pending:  # the store is down: keep the newest
            self._pending.pop(0)
        self._pending.append(record)

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> int:
        if not self._pending:
            return 0
        rows, self._pending = self._pending, []
        now = utcnow()
        try:
            async with self.sessions() as session, session.begin():
                conn = await session.connection()
                await conn.execute(
                    _INSERT, [{"id": new_id(), "created_at": now, **asdict(r)} for r in rows]
                )
        except Exception:
            logger.exception("could not write %d call log rows; will retry", len(rows))
            self._pending = rows + self._pending
            return 0
        return len(rows)
