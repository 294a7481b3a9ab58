"""The data lifecycle: erase a user's data, export all of it, purge what outlived retention.

Pure store code (no Ray, no HTTP). Like the rest of ``accounts`` it never commits: the
caller owns the transaction, so an erasure or a purge is all-or-nothing.

Deletes are explicit, children first, instead of trusting ``ON DELETE CASCADE``: SQLite
only cascades when ``PRAGMA foreign_keys=ON`` was set on the connection (our engines do,
an ad-hoc ``sqlite3`` session does not), and explicit deletes give per-table counts.
``llm_calls`` has no foreign keys at all (a log outlives what it logs), so nothing would
cascade there anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, and_, delete, func, inspect, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from simfocus.accounts.repository import as_utc
from simfocus.keys.service import to_out as api_key_out
from simfocus.store.models import (
    AuditLog,
    Base,
    CharacterRow,
    DiscussionRow,
    LLMCallRow,
    MailOutbox,
    MessageRow,
    OneTimeToken,
    ParticipantRow,
    RefreshToken,
    ReportRow,
    ShareLink,
    TopicRow,
    User,
    UserApiKey,
    new_id,
    utcnow,
)

EXPORT_FORMAT = "simfocus-export-v1"
PURGE_ACTION = "retention.purge"
ENDED_STATUSES = ("completed", "stopped", "failed")
# Never exported, whatever table they turn up in.
SECRET_COLUMNS = frozenset({"password_hash", "token_hash", "encrypted_key"})
# Bound on the ids in one IN (...): SQLite and asyncpg cap bound parameters (~32k).
CHUNK = 500
# Any constant; it names the purge's transaction-level advisory lock on PostgreSQL.
PURGE_LOCK_KEY = 0x51_F0_C0_5E


@dataclass(frozen=True)
class DiscussionCounts:
    """Rows deleted with a set of discussions."""

    discussions: int = 0
    participants: int = 0
    messages: int = 0
    reports: int = 0
    share_links: int = 0
    llm_calls: int = 0


@dataclass(frozen=True)
class ErasureCounts:
    """Rows deleted (or, for the audit log, de-identified) by ``erase_user_data``."""

    discussions: int = 0
    participants: int = 0
    messages: int = 0
    reports: int = 0
    share_links: int = 0
    llm_calls: int = 0
    topics: int = 0
    characters: int = 0
    api_keys: int = 0
    refresh_tokens: int = 0
    one_time_tokens: int = 0
    mail_outbox: int = 0
    audit_logs_deidentified: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class PurgeCounts:
    """Rows deleted by ``purge_expired``."""

    discussions: int = 0
    participants: int = 0
    messages: int = 0
    reports: int = 0
    share_links: int = 0
    llm_calls: int = 0
    one_time_tokens: int = 0
    refresh_tokens: int = 0
    mail_outbox: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(asdict(self).values())


# --- erasure -----------------------------------------------------------------------------


async def erase_user_data(session: AsyncSession, user_id: str) -> ErasureCounts:
    """Delete everything ``user_id`` owns and de-identify their audit trail.

    Gone: discussions (participants, messages, reports, share links, LLM call logs),
    topics (attachments live in the row), characters, stored API keys, refresh and
    one-time tokens, and the mail addressed to the user's current email. Kept: the user
    row (the caller anonymises it, so audit ids still resolve) and the audit rows, minus
    IP address, user agent and details (these may hold an email, a key name…). Failed
    logins recorded under the user's email but no user id are de-identified too.

    Call it while the user row still has its real email. Moderators of the user's running
    discussions must be stopped first: this only touches the store.
    """
    user = await session.get(User, user_id)
    email = user.email if user is not None else None
    discussion_ids = list(
        await session.scalars(select(DiscussionRow.id).where(DiscussionRow.user_id == user_id))
    )
    gone = await _delete_discussions(session, discussion_ids)
    # Topics after discussions: discussions.topic_id is ON DELETE RESTRICT.
    topics = await _count(session, delete(TopicRow).where(TopicRow.user_id == user_id))
    characters = await _count(session, delete(CharacterRow).where(CharacterRow.user_id == user_id))
    api_keys = await _count(session, delete(UserApiKey).where(UserApiKey.user_id == user_id))
    refresh = await _count(session, delete(RefreshToken).where(RefreshToken.user_id == user_id))
    one_time = await _count(session, delete(OneTimeToken).where(OneTimeToken.user_id == user_id))
    mail = 0
    about_user = AuditLog.user_id == user_id
    if email is not None:
        mail = await _count(session, delete(MailOutbox).where(MailOutbox.to_email == email))
        # login() records the (normalised) email of failed attempts in details.
        failed_logins = and_(
            AuditLog.action == "auth.login_failed",
            AuditLog.details["email"].as_string() == email,
        )
        about_user = or_(about_user, failed_logins)
    audit_rows = await _count(
        session,
        update(AuditLog).where(about_user).values(ip_address=None, user_agent=None, details={}),
    )
    await session.flush()
    return ErasureCounts(
        **asdict(gone),
        topics=topics,
        characters=characters,
        api_keys=api_keys,
        refresh_tokens=refresh,
        one_time_tokens=one_time,
        mail_outbox=mail,
        audit_logs_deidentified=audit_rows,
    )


# --- export ------------------------------------------------------------------------------


async def export_user_data(session: AsyncSession, user: User) -> dict[str, Any]:
    """Everything stored about ``user`` as JSON-able data (``simfocus-export-v1``).

    Secrets never leave: no password or token hashes, no key ciphertext (API keys appear
    as their masked metadata), no share-link password hashes, and no mail bodies (they
    carry live verification/reset tokens). Datetimes are ISO 8601 in UTC.
    """
    uid = user.id
    topics = await session.scalars(
        select(TopicRow).where(TopicRow.user_id == uid).order_by(TopicRow.created_at)
    )
    characters = await session.scalars(
        select(CharacterRow).where(CharacterRow.user_id == uid).order_by(CharacterRow.created_at)
    )
    keys = await session.scalars(
        select(UserApiKey).where(UserApiKey.user_id == uid).order_by(UserApiKey.created_at)
    )
    sessions = await session.scalars(
        select(RefreshToken).where(RefreshToken.user_id == uid).order_by(RefreshToken.created_at)
    )
    mails = await session.scalars(
        select(MailOutbox).where(MailOutbox.to_email == user.email).order_by(MailOutbox.created_at)
    )
    audit_rows = await session.scalars(
        select(AuditLog).where(AuditLog.user_id == uid).order_by(AuditLog.created_at)
    )
    rows = (
        await session.scalars(
            select(DiscussionRow)
            .where(DiscussionRow.user_id == uid)
            .order_by(DiscussionRow.created_at)
        )
    ).all()
    discussions = [await _discussion_export(session, row) for row in rows]
    owned = select(DiscussionRow.id).where(DiscussionRow.user_id == uid)
    llm_calls = await session.scalar(
        select(func.count()).select_from(LLMCallRow).where(LLMCallRow.discussion_id.in_(owned))
    )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow().isoformat(),
        "user": {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "email_verified": user.email_verified,
            "is_active": user.is_active,
            "created_at": _json(user.created_at),
            "updated_at": _json(user.updated_at),
            "budget_micro_usd": user.budget_micro_usd,
        },
        "api_keys": [api_key_out(k).model_dump(mode="json") for k in keys],
        # Sign-in sessions: the refresh tokens' dates (their hashes are never exported).
        "sessions": [_columns(t, omit={"user_id"}) for t in sessions],
        "topics": [_columns(t) for t in topics],
        "characters": [_columns(c) for c in characters],
        "discussions": discussions,
        "mail": [_columns(m, omit={"body"}) for m in mails],
        "audit_log": [_columns(a) for a in audit_rows],
        "usage": {
            "discussions": len(rows),
            "messages": sum(len(d["messages"]) for d in discussions),
            "llm_calls": int(llm_calls or 0),
            "prompt_tokens": sum(r.prompt_tokens for r in rows),
            "completion_tokens": sum(r.completion_tokens for r in rows),
            "cost_micro_usd": sum(r.cost_micro_usd for r in rows),
        },
    }


async def _discussion_export(session: AsyncSession, row: DiscussionRow) -> dict[str, Any]:
    participants = await session.scalars(
        select(ParticipantRow)
        .where(ParticipantRow.discussion_id == row.id)
        .order_by(ParticipantRow.position)
    )
    messages = await session.scalars(
        select(MessageRow).where(MessageRow.discussion_id == row.id).order_by(MessageRow.seq)
    )
    report = await session.scalar(select(ReportRow).where(ReportRow.discussion_id == row.id))
    links = await session.scalars(
        select(ShareLink).where(ShareLink.discussion_id == row.id).order_by(ShareLink.created_at)
    )
    data = _columns(row)
    data["participants"] = [_columns(p, omit={"discussion_id"}) for p in participants]
    data["messages"] = [_columns(m, omit={"discussion_id"}) for m in messages]
    data["report"] = _columns(report, omit={"discussion_id"}) if report is not None else None
    data["share_links"] = [
        {**_columns(s, omit={"discussion_id"}), "has_password": s.password_hash is not None}
        for s in links
    ]
    return data


def _columns(row: Base, omit: set[str] | None = None) -> dict[str, Any]:
    """A row's mapped columns as JSON values, secrets and ``omit`` left out."""
    skip = SECRET_COLUMNS | (omit or set())
    return {
        attr.key: _json(getattr(row, attr.key))
        for attr in inspect(type(row)).column_attrs
        if attr.key not in skip
    }


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, bytes):  # no bytes column is meant to leave; fail closed
        return None
    return value


# --- retention ---------------------------------------------------------------------------


async def purge_expired(
    session: AsyncSession, older_than_days: int, now: datetime | None = None
) -> PurgeCounts:
    """Delete what outlived retention, for every user:

    - discussions that ended (completed, stopped, failed) more than ``older_than_days``
      ago, with their participants, messages, report, share links and call logs —
      never initialized, running or paused ones, however old;
    - one-time tokens that expired, and refresh tokens that expired or were revoked,
      more than that long ago (a recently expired link still answers "expired");
    - mail sent more than that long ago (unsent mail waits for delivery);
    - LLM call logs older than that (key tests included, which have no discussion).

    Idempotent: two purges running at once delete nothing twice.
    """
    if older_than_days < 1:
        raise ValueError("older_than_days must be at least 1")
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    # An ended discussion without ended_at (failed before it started) ages by updated_at.
    ended_at = func.coalesce(DiscussionRow.ended_at, DiscussionRow.updated_at)
    discussion_ids = list(
        await session.scalars(
            select(DiscussionRow.id).where(
                DiscussionRow.status.in_(ENDED_STATUSES), ended_at < cutoff
            )
        )
    )
    gone = await _delete_discussions(session, discussion_ids)
    one_time = await _count(session, delete(OneTimeToken).where(OneTimeToken.expires_at < cutoff))
    refresh = await _count(
        session,
        delete(RefreshToken).where(
            or_(RefreshToken.expires_at < cutoff, RefreshToken.revoked_at < cutoff)
        ),
    )
    mail = await _count(
        session,
        delete(MailOutbox).where(MailOutbox.sent_at.is_not(None), MailOutbox.created_at < cutoff),
    )
    calls = await _count(session, delete(LLMCallRow).where(LLMCallRow.created_at < cutoff))
    await session.flush()
    return PurgeCounts(
        **{**asdict(gone), "llm_calls": gone.llm_calls + calls},
        one_time_tokens=one_time,
        refresh_tokens=refresh,
        mail_outbox=mail,
    )


async def purge_if_due(
    session: AsyncSession, older_than_days: int, interval_s: float, now: datetime | None = None
) -> PurgeCounts | None:
    """``purge_expired`` unless a purge ran in the last ``interval_s`` (None then).

    For API replicas that each run a retention loop: the last purge is the newest
    ``retention.purge`` audit row, written in the purge's transaction. The check is
    exclusive — on SQLite the transaction holds the write lock from its start (BEGIN
    IMMEDIATE, see ``store/engine.py``); on PostgreSQL a transaction-level advisory lock
    is taken first, and a replica that cannot get it skips — so at most one replica
    purges per interval. (Were two to purge anyway, the purge is idempotent.)
    """
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        locked = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": PURGE_LOCK_KEY}
        )
        if not locked:
            return None
    last = await session.scalar(
        select(func.max(AuditLog.created_at)).where(AuditLog.action == PURGE_ACTION)
    )
    if last is not None and as_utc(last) > now - timedelta(seconds=interval_s):
        return None
    counts = await purge_expired(session, older_than_days, now)
    record_purge(session, older_than_days, counts, now, source="api")
    await session.flush()
    return counts


def record_purge(
    session: AsyncSession, older_than_days: int, counts: PurgeCounts, now: datetime, source: str
) -> None:
    """Stage the ``retention.purge`` audit row (also the guard ``purge_if_due`` reads)."""
    session.add(
        AuditLog(
            id=new_id(),
            user_id=None,
            action=PURGE_ACTION,
            details={"older_than_days": older_than_days, "source": source, **counts.as_dict()},
            created_at=now,
        )
    )


# --- helpers -----------------------------------------------------------------------------


async def _delete_discussions(session: AsyncSession, ids: Sequence[str]) -> DiscussionCounts:
    """Delete these discussions and everything hanging off them, children first."""
    totals = dict.fromkeys(asdict(DiscussionCounts()), 0)
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        # Messages before participants (messages.participant_id), all before discussions.
        for key, model in (
            ("llm_calls", LLMCallRow),
            ("messages", MessageRow),
            ("participants", ParticipantRow),
            ("reports", ReportRow),
            ("share_links", ShareLink),
        ):
            column = model.__table__.c.discussion_id  # type: ignore[attr-defined]
            totals[key] += await _count(session, delete(model).where(column.in_(chunk)))
        totals["discussions"] += await _count(
            session, delete(DiscussionRow).where(DiscussionRow.id.in_(chunk))
        )
    return DiscussionCounts(**totals)


async def _count(session: AsyncSession, statement: Executable) -> int:
    result = await session.execute(statement)
    return result.rowcount if isinstance(result, CursorResult) else 0
