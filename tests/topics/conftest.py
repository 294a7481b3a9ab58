"""Topic service tests run on each store in a rolled-back transaction, with two users."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.store.models import User


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
