"""All SQL of the accounts domain. Repositories never commit: their caller does."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.store.models import OneTimeToken, RefreshToken, User, UserApiKey


def as_utc(moment: datetime) -> datetime:
    """SQLite keeps no time zone; everything we write is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, *rows: User | RefreshToken | OneTimeToken) -> None:
        self.session.add_all(rows)

    async def flush(self) -> None:
        await self.session.flush()

    # --- users ---------------------------------------------------------------------------
    async def user(self, user_id: str) -> User | None:
        return await self.session.get(User, user_id)

    async def user_by_email(self, email: str) -> User | None:
        """The user with this (already lower-cased) email, soft-deleted ones included."""
        return await self.session.scalar(select(User).where(User.email == email))

    # --- refresh tokens --------------------------------------------------------------------
    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        return await self.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )

    async def mark_refresh_used(self, token_id: str, now: datetime) -> bool:
        """Rotate a token exactly once: False when a concurrent request got there first."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.id == token_id,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session="fetch")
        )
        return _rowcount(result) == 1

    async def revoke_family(self, family_id: str, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session="fetch")
        )

    async def revoke_all_refresh(self, user_id: str, now: datetime) -> None:
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session="fetch")
        )

    # --- one-time tokens -------------------------------------------------------------------
    async def one_time_token(self, token_hash: str) -> OneTimeToken | None:
        return await self.session.scalar(
            select(OneTimeToken).where(OneTimeToken.token_hash == token_hash)
        )

    async def mark_one_time_used(self, token_id: str, now: datetime) -> bool:
        """Spend a token exactly once: False when a concurrent request got there first."""
        result = await self.session.execute(
            update(OneTimeToken)
            .where(OneTimeToken.id == token_id, OneTimeToken.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session="fetch")
        )
        return _rowcount(result) == 1

    async def spend_all_one_time(self, user_id: str, kind: str | None, now: datetime) -> None:
        """Mark a user's outstanding tokens (of one kind, or all) used."""
        query = update(OneTimeToken).where(
            OneTimeToken.user_id == user_id, OneTimeToken.used_at.is_(None)
        )
        if kind is not None:
            query = query.where(OneTimeToken.kind == kind)
        await self.session.execute(
            query.values(used_at=now).execution_options(synchronize_session="fetch")
        )

    # --- other domains' rows of a deleted user ---------------------------------------------
    async def delete_api_keys(self, user_id: str) -> None:
        # Stored provider keys are live credentials: a deleted account keeps none of them.
        await self.session.execute(
            delete(UserApiKey)
            .where(UserApiKey.user_id == user_id)
            .execution_options(synchronize_session="fetch")
        )


def _rowcount(result: object) -> int:
    return result.rowcount if isinstance(result, CursorResult) else 0
