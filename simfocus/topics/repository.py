"""All SQL of the topics domain. Repositories never commit: their caller does."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.store.models import DiscussionRow, TopicRow


class TopicRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: TopicRow) -> None:
        """Stage and flush ``row`` so its defaults (timestamps) are filled in."""
        self.session.add(row)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()

    async def get_owned(self, user_id: str, topic_id: str) -> TopicRow | None:
        """The topic if it exists *and* belongs to ``user_id``; otherwise ``None``."""
        return await self.session.scalar(
            select(TopicRow).where(TopicRow.id == topic_id, TopicRow.user_id == user_id)
        )

    async def list_owned(
        self, user_id: str, *, offset: int, limit: int, q: str | None = None
    ) -> tuple[Sequence[TopicRow], int]:
        """One page of the user's topics, newest first, and the total matching."""
        where = [TopicRow.user_id == user_id]
        if q:
            where.append(_matches(q))
        total = await self.session.scalar(select(func.count()).select_from(TopicRow).where(*where))
        rows = await self.session.scalars(
            select(TopicRow)
            .where(*where)
            # The id breaks ties so pages never overlap when timestamps collide.
            .order_by(TopicRow.created_at.desc(), TopicRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)

    async def in_use(self, topic_id: str) -> bool:
        """Whether any discussion references the topic (its foreign key is RESTRICT)."""
        found = await self.session.scalar(
            select(DiscussionRow.id).where(DiscussionRow.topic_id == topic_id).limit(1)
        )
        return found is not None

    async def delete(self, row: TopicRow) -> None:
        await self.session.delete(row)
        await self.session.flush()


def _matches(q: str) -> ColumnElement[bool]:
    """Case-insensitive substring over title and description.

    ``lower(...) LIKE`` rather than ``ILIKE`` so the same SQL runs on SQLite and PostgreSQL;
    ``autoescape`` makes ``%`` and ``_`` in the query literal characters.
    """
    needle = q.lower()
    return or_(
        func.lower(TopicRow.title).contains(needle, autoescape=True),
        func.lower(TopicRow.description).contains(needle, autoescape=True),
    )
