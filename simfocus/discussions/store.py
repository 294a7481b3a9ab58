"""The runner's unit of work: each method is one committed transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import DiscussionStatus, Message, Phase


class DiscussionStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def append(self, discussion_id: str, message: Message) -> None:
        """Commit a message (and its usage totals) before anyone is told of it."""
        async with self.sessions() as session, session.begin():
            await DiscussionRepository(session).add_message(discussion_id, message)

    async def set_status(
        self,
        discussion_id: str,
        status: DiscussionStatus,
        *,
        reason: str | None = None,
        round_no: int | None = None,
        phase: Phase | None = None,
    ) -> None:
        async with self.sessions() as session, session.begin():
            await DiscussionRepository(session).set_status(
                discussion_id, status, reason=reason, round_no=round_no, phase=phase
            )

    async def messages(self, discussion_id: str, after_seq: int = 0) -> list[Message]:
        async with self.sessions() as session:
            return await DiscussionRepository(session).messages(discussion_id, after_seq=after_seq)
