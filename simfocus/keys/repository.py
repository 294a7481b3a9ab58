"""All SQL of the API-key store. Repositories never commit: their caller does."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.store.models import UserApiKey


class ApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: UserApiKey) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    async def owned(self, key_id: str, user_id: str) -> UserApiKey | None:
        """The key when it exists *and* belongs to ``user_id``."""
        return await self.session.scalar(
            select(UserApiKey).where(UserApiKey.id == key_id, UserApiKey.user_id == user_id)
        )

    async def of_user(self, user_id: str) -> Sequence[UserApiKey]:
        result = await self.session.scalars(
            select(UserApiKey)
            .where(UserApiKey.user_id == user_id)
            .order_by(UserApiKey.created_at, UserApiKey.id)
        )
        return result.all()

    async def delete(self, row: UserApiKey) -> None:
        await self.session.delete(row)
