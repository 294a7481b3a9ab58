"""All SQL of share links."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.store.models import ShareLink


class ShareRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, link: ShareLink) -> ShareLink:
        self.session.add(link)
        await self.session.flush()
        return link

    async def by_slug(self, slug: str) -> ShareLink | None:
        return await self.session.scalar(select(ShareLink).where(ShareLink.slug == slug))

    async def of_discussion(self, discussion_id: str) -> Sequence[ShareLink]:
        result = await self.session.scalars(
            select(ShareLink)
            .where(ShareLink.discussion_id == discussion_id)
            .order_by(ShareLink.created_at)
        )
        return result.all()

    async def get(self, discussion_id: str, share_id: str) -> ShareLink | None:
        return await self.session.scalar(
            select(ShareLink).where(
                ShareLink.id == share_id, ShareLink.discussion_id == discussion_id
            )
        )

    async def count_access(self, link_id: str) -> None:
        # One UPDATE, so concurrent readers never lose a count.
        await self.session.execute(
            update(ShareLink)
            .where(ShareLink.id == link_id)
            .values(access_count=ShareLink.access_count + 1)
        )
