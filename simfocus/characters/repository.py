"""All SQL of the characters domain. Repositories never commit: their caller does."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.store.models import CharacterRow


class CharacterRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, row: CharacterRow) -> None:
        """Stage and flush ``row`` so its defaults (timestamps) are filled in."""
        self.session.add(row)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()

    async def get_owned(self, user_id: str, character_id: str) -> CharacterRow | None:
        """The character if it exists *and* belongs to ``user_id``; otherwise ``None``."""
        return await self.session.scalar(
            select(CharacterRow).where(
                CharacterRow.id == character_id, CharacterRow.user_id == user_id
            )
        )

    async def get_many_owned(
        self, user_id: str, character_ids: Sequence[str]
    ) -> dict[str, CharacterRow]:
        """Those of ``character_ids`` that exist and belong to ``user_id``, by id."""
        rows = await self.session.scalars(
            select(CharacterRow).where(
                CharacterRow.id.in_(list(character_ids)), CharacterRow.user_id == user_id
            )
        )
        return {row.id: row for row in rows.all()}

    async def list_owned(
        self, user_id: str, *, offset: int, limit: int, q: str | None = None
    ) -> tuple[Sequence[CharacterRow], int]:
        """One page of the user's characters, newest first, and the total matching.

        ``q`` is a case-insensitive substring of the name (``lower(...) LIKE`` runs the
        same on SQLite and PostgreSQL; ``autoescape`` makes ``%`` and ``_`` literal).
        """
        where = [CharacterRow.user_id == user_id]
        if q:
            where.append(func.lower(CharacterRow.name).contains(q.lower(), autoescape=True))
        total = await self.session.scalar(
            select(func.count()).select_from(CharacterRow).where(*where)
        )
        rows = await self.session.scalars(
            select(CharacterRow)
            .where(*where)
            # The id breaks ties so pages never overlap when timestamps collide.
            .order_by(CharacterRow.created_at.desc(), CharacterRow.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)

    async def delete(self, row: CharacterRow) -> None:
        await self.session.delete(row)
        await self.session.flush()
