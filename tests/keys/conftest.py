"""Fixtures of the API-key tests: a rolled-back session per test, a user, a cipher."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from simfocus.keys.crypto import KeyCipher
from simfocus.store.models import User, new_id


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


async def make_user(session: AsyncSession, name: str) -> User:
    user = User(id=new_id(), email=f"{name}-{new_id()[:8]}@example.com", name=name)
    user.password_hash = "!test"
    session.add(user)
    await session.flush()
    return user


@pytest.fixture
async def user(session: AsyncSession) -> User:
    return await make_user(session, "ada")


@pytest.fixture
def cipher() -> KeyCipher:
    return KeyCipher(secrets.token_bytes(32))
