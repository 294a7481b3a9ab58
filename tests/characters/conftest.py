"""Character service tests run on each store in a rolled-back transaction, with two users."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from simfocus.store.models import User


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with engine.connect() as conn:
        outer = await conn.begin()
        s = AsyncSession(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield s
        finally:
            await s.close()
            await outer.rollback()


async def make_user(session: AsyncSession, name: str) -> str:
    user = User(email=f"{name}-{uuid.uuid4().hex[:8]}@example.com", password_hash="x", name=name)
    session.add(user)
    await session.flush()
    return user.id


@pytest.fixture
async def alice(session: AsyncSession) -> str:
    return await make_user(session, "alice")


@pytest.fixture
async def bob(session: AsyncSession) -> str:
    return await make_user(session, "bob")
