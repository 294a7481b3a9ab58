"""Fixtures of the API-key tests: a rolled-back session per test, a user, a cipher."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.keys.crypto import KeyCipher
from simfocus.store.models import User, new_id


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
