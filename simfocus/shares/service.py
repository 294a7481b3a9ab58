"""Creating, listing, revoking and opening share links.

A slug is 128 random bits (unguessable). A password is stored as an argon2id hash only;
password attempts are rate-limited by the caller per link and client (right ones count
too: the limit is checked before the hash, which is what makes guessing slow). Expired
and revoked links answer 410 so the reader knows the link existed but is over.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.accounts.passwords import hash_password, verify_password
from simfocus.reports.errors import (
    ShareLinkGone,
    ShareLinkNotFound,
    SharePasswordRequired,
    SharePasswordWrong,
)
from simfocus.shares.repository import ShareRepository
from simfocus.shares.schemas import ShareIn, ShareOut
from simfocus.store.models import ShareLink, utcnow


def _aware(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes (stored as UTC).
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def share_out(link: ShareLink, public_url: str) -> ShareOut:
    expires = _aware(link.expires_at)
    revoked = _aware(link.revoked_at)
    return ShareOut(
        id=link.id,
        discussion_id=link.discussion_id,
        slug=link.slug,
        url=f"{public_url.rstrip('/')}/s/{link.slug}",
        has_password=link.password_hash is not None,
        expires_at=expires,
        revoked_at=revoked,
        access_count=link.access_count,
        created_at=_aware(link.created_at) or link.created_at,
        active=revoked is None and (expires is None or expires > datetime.now(UTC)),
    )


async def create_share(session: AsyncSession, discussion_id: str, body: ShareIn) -> ShareLink:
    password_hash = await asyncio.to_thread(hash_password, body.password) if body.password else None
    expires = utcnow() + timedelta(seconds=body.expires_in) if body.expires_in else None
    return await ShareRepository(session).add(
        ShareLink(
            discussion_id=discussion_id,
            slug=secrets.token_urlsafe(16),
            password_hash=password_hash,
            expires_at=expires,
            access_count=0,
        )
    )


async def revoke_share(session: AsyncSession, discussion_id: str, share_id: str) -> ShareLink:
    link = await ShareRepository(session).get(discussion_id, share_id)
    if link is None:
        raise ShareLinkNotFound("no such share link", field="share_id")
    if link.revoked_at is None:
        link.revoked_at = utcnow()
    return link


async def find_open_link(session: AsyncSession, slug: str) -> ShareLink:
    """The link behind ``slug`` if it may still be opened (password not checked yet)."""
    link = await ShareRepository(session).by_slug(slug) if len(slug) <= 64 else None
    if link is None:
        raise ShareLinkNotFound("no such share link", field="slug")
    if link.revoked_at is not None:
        raise ShareLinkGone("this share link was revoked by its owner", field="slug")
    expires = _aware(link.expires_at)
    if expires is not None and expires <= datetime.now(UTC):
        raise ShareLinkGone("this share link has expired", field="slug")
    return link


async def check_password(link: ShareLink, password: str | None) -> None:
    if link.password_hash is None:
        return
    if not password:
        raise SharePasswordRequired("this link needs its password", field="password")
    verdict = await asyncio.to_thread(verify_password, link.password_hash, password[:200])
    if not verdict.ok:
        raise SharePasswordWrong("wrong password", field="password")


async def count_access(session: AsyncSession, link: ShareLink) -> None:
    await ShareRepository(session).count_access(link.id)
