"""Erasure, export and retention on SQLite and PostgreSQL, each test rolled back."""

from __future__ import annotations

import base64
import io
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.accounts import service
from simfocus.accounts.errors import InvalidCredentials
from simfocus.accounts.lifecycle import (
    EXPORT_FORMAT,
    PURGE_ACTION,
    ErasureCounts,
    PurgeCounts,
    erase_user_data,
    export_user_data,
    purge_expired,
    purge_if_due,
)
from simfocus.accounts.schemas import LoginIn, RegisterIn
from simfocus.accounts.tokens import hash_token
from simfocus.characters.templates import TemplateLibrary
from simfocus.cli.retention import purge_command
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.service import create_discussion
from simfocus.keys import service as keys
from simfocus.keys.crypto import KeyCipher
from simfocus.keys.schemas import ApiKeyIn
from simfocus.kit.audit import ClientInfo
from simfocus.settings import Settings
from simfocus.shares.schemas import ShareIn
from simfocus.shares.service import create_share
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
from simfocus.topics import service as topics
from simfocus.topics.schemas import TopicIn
from tests.factories import create_study

PASSWORD = "Tr0ub4dor&3-horse"
CLIENT = ClientInfo(ip="203.0.113.7", user_agent="pytest-lifecycle")
SHARE_PASSWORD = "open sesame"


@dataclass
class World:
    """One user's data, as a test builds it."""

    user: User
    email: str
    refresh_token: str
    plain_key: str
    topic_id: str
    discussion_ids: list[str] = field(default_factory=list)
    share_slug: str = ""


@pytest.fixture
def cipher() -> KeyCipher:
    return KeyCipher(secrets.token_bytes(32))


async def add_messages(session: AsyncSession, discussion_id: str, texts: list[str]) -> None:
    seat = await session.scalar(
        select(ParticipantRow).where(ParticipantRow.discussion_id == discussion_id)
    )
    assert seat is not None
    for seq, content in enumerate(texts, start=1):
        session.add(
            MessageRow(
                id=new_id(),
                discussion_id=discussion_id,
                seq=seq,
                round=1,
                phase="opening",
                role="persona",
                kind="statement",
                participant_id=seat.id,
                speaker_name=seat.name,
                content=content,
            )
        )
        session.add(
            LLMCallRow(
                discussion_id=discussion_id,
                participant_id=seat.id,
                purpose="turn",
                provider="simulated",
                model="sim",
                status="ok",
            )
        )
    await session.flush()


async def discussion(
    session: AsyncSession,
    templates: TemplateLibrary,
    user_id: str | None,
    *,
    status: str = "completed",
    ended_days_ago: float | None = None,
    messages: int = 2,
) -> str:
    """A discussion (its own topic and characters) with messages and call logs."""
    setup = await create_discussion(
        DiscussionRepository(session), create_study(templates, personas=2), user_id=user_id
    )
    row = await session.get(DiscussionRow, setup.discussion_id)
    assert row is not None
    row.status = status
    if ended_days_ago is not None:
        row.ended_at = utcnow() - timedelta(days=ended_days_ago)
    else:
        # Not ended; an old run that is still going (or paused) must survive any purge.
        row.started_at = utcnow() - timedelta(days=365)
    row.updated_at = utcnow() - timedelta(days=365)
    await add_messages(session, row.id, [f"message {i} of {row.id}" for i in range(messages)])
    return row.id


async def populate(
    session: AsyncSession,
    settings: Settings,
    templates: TemplateLibrary,
    cipher: KeyCipher,
    name: str,
) -> World:
    """A user with everything: tokens, mail, audit rows, a key, topics, characters, two
    discussions with messages, a report, a share link."""
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    user = await service.register(
        session, settings, RegisterIn(email=email, password=PASSWORD, name=name), CLIENT
    )
    pair = await service.login(session, settings, LoginIn(email=email, password=PASSWORD), CLIENT)
    with pytest.raises(InvalidCredentials):
        await service.login(
            session, settings, LoginIn(email=email, password=PASSWORD + "x"), CLIENT
        )
    # A failed login under this email from before the account existed: no user id.
    session.add(
        AuditLog(
            action="auth.login_failed",
            user_id=None,
            details={"email": email, "reason": "unknown_email"},
            ip_address="198.51.100.9",
            user_agent="curl",
        )
    )
    plain_key = f"sk-{name.lower()}-{uuid.uuid4().hex}"
    await keys.add_key(
        session,
        cipher,
        user.id,
        ApiKeyIn.model_validate({"provider": "openai", "key_name": "main", "api_key": plain_key}),
        CLIENT,
    )
    topic = await topics.create_topic(
        session, user.id, TopicIn(title=f"{name}'s own topic", description="About repairs.")
    )
    await topics.add_attachment(
        session, user.id, topic.id, "notes.txt", "text/plain", f"{name}'s notes".encode()
    )
    world = World(user, email, pair.refresh_token, plain_key, topic.id)
    for _ in range(2):
        world.discussion_ids.append(await discussion(session, templates, user.id, ended_days_ago=1))
    first = world.discussion_ids[0]
    session.add(ReportRow(discussion_id=first, status="ready", overview=f"{name}'s report"))
    link = await create_share(session, first, ShareIn(password=SHARE_PASSWORD))
    world.share_slug = link.slug
    await session.flush()
    return world


async def count(session: AsyncSession, model: type[Base], *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def owned_rows(session: AsyncSession, world: World) -> dict[str, int]:
    """How many rows of each table belong to ``world``'s user."""
    uid, ids = world.user.id, world.discussion_ids
    return {
        "discussions": await count(session, DiscussionRow, DiscussionRow.user_id == uid),
        "participants": await count(session, ParticipantRow, ParticipantRow.discussion_id.in_(ids)),
        "messages": await count(session, MessageRow, MessageRow.discussion_id.in_(ids)),
        "reports": await count(session, ReportRow, ReportRow.discussion_id.in_(ids)),
        "share_links": await count(session, ShareLink, ShareLink.discussion_id.in_(ids)),
        "llm_calls": await count(session, LLMCallRow, LLMCallRow.discussion_id.in_(ids)),
        "topics": await count(session, TopicRow, TopicRow.user_id == uid),
        "characters": await count(session, CharacterRow, CharacterRow.user_id == uid),
        "api_keys": await count(session, UserApiKey, UserApiKey.user_id == uid),
        "refresh_tokens": await count(session, RefreshToken, RefreshToken.user_id == uid),
        "one_time_tokens": await count(session, OneTimeToken, OneTimeToken.user_id == uid),
        "mail_outbox": await count(session, MailOutbox, MailOutbox.to_email == world.email),
    }


# --- erasure -----------------------------------------------------------------------------


async def test_delete_me_erases_the_users_data_and_only_theirs(
    session: AsyncSession,
    auth_settings: Settings,
    templates: TemplateLibrary,
    cipher: KeyCipher,
) -> None:
    ada = await populate(session, auth_settings, templates, cipher, "Ada")
    bob = await populate(session, auth_settings, templates, cipher, "Bob")
    before = await owned_rows(session, ada)
    bob_before = await owned_rows(session, bob)
    assert all(before.values()), before  # every kind of row exists to be erased
    audit_before = await count(session, AuditLog, AuditLog.user_id == ada.user.id)

    counts = await service.delete_me(session, ada.user, CLIENT)

    assert await owned_rows(session, ada) == dict.fromkeys(before, 0)
    assert {k: v for k, v in counts.as_dict().items() if k in before} == before
    assert await owned_rows(session, bob) == bob_before
    # The user row stays, anonymised, so the audit trail's ids still resolve.
    user = await session.get(User, ada.user.id)
    assert user is not None and user.deleted_at is not None and not user.is_active
    assert ada.email not in user.email and "Ada" not in user.name
    # Audit rows are kept (plus user.delete) but carry nothing personal.
    trail = list(await session.scalars(select(AuditLog).where(AuditLog.user_id == ada.user.id)))
    assert len(trail) == audit_before + 1
    assert all(a.ip_address is None and a.user_agent is None for a in trail)
    assert all(a.details == {} for a in trail if a.action != "user.delete")
    deletion = next(a for a in trail if a.action == "user.delete")
    assert deletion.details == {"erased": counts.as_dict()}
    anonymous_failures = list(
        await session.scalars(
            select(AuditLog).where(
                AuditLog.user_id.is_(None), AuditLog.action == "auth.login_failed"
            )
        )
    )
    assert not any(ada.email in json.dumps(a.details) for a in anonymous_failures)
    assert any(bob.email in json.dumps(a.details) for a in anonymous_failures)
    bob_trail = list(await session.scalars(select(AuditLog).where(AuditLog.user_id == bob.user.id)))
    assert bob_trail and all(a.ip_address == CLIENT.ip for a in bob_trail)


async def test_erasure_on_its_own_counts_and_is_idempotent(
    session: AsyncSession,
    auth_settings: Settings,
    templates: TemplateLibrary,
    cipher: KeyCipher,
) -> None:
    ada = await populate(session, auth_settings, templates, cipher, "Ada")
    first = await erase_user_data(session, ada.user.id)
    assert first.discussions == 2 and first.reports == 1 and first.share_links == 1
    assert first.topics == 3  # its own and one per discussion (created from a study)
    assert first.characters == 4 and first.api_keys == 1 and first.messages == 4
    assert first.llm_calls == 4 and first.mail_outbox == 1 and first.audit_logs_deidentified
    again = await erase_user_data(session, ada.user.id)
    assert again == ErasureCounts(audit_logs_deidentified=again.audit_logs_deidentified)


# --- export ------------------------------------------------------------------------------


async def test_export_holds_everything_and_no_secret(
    session: AsyncSession,
    auth_settings: Settings,
    templates: TemplateLibrary,
    cipher: KeyCipher,
) -> None:
    ada = await populate(session, auth_settings, templates, cipher, "Ada")
    bob = await populate(session, auth_settings, templates, cipher, "Bob")

    export = await export_user_data(session, ada.user)
    dumped = json.dumps(export)  # JSON-able as it is

    assert export["format"] == EXPORT_FORMAT and export["exported_at"]
    assert export["user"]["email"] == ada.email and export["user"]["id"] == ada.user.id
    assert {t["title"] for t in export["topics"]} >= {"Ada's own topic"}
    own = next(t for t in export["topics"] if t["id"] == ada.topic_id)
    assert own["attachments"][0]["text"] == "Ada's notes"
    assert len(export["characters"]) == 4
    assert [d["id"] for d in export["discussions"]] == ada.discussion_ids
    first = export["discussions"][0]
    assert [m["content"] for m in first["messages"]] == [
        f"message {i} of {first['id']}" for i in range(2)
    ]
    assert len(first["participants"]) == 2
    assert first["report"]["overview"] == "Ada's report"
    assert first["share_links"][0]["slug"] == ada.share_slug
    assert first["share_links"][0]["has_password"] is True
    assert export["discussions"][1]["report"] is None
    assert export["api_keys"][0]["key_hint"].endswith(ada.plain_key[-4:])
    assert len(export["sessions"]) == 1 and export["sessions"][0]["expires_at"]
    actions = {a["action"] for a in export["audit_log"]}
    assert {"user.register", "auth.login", "auth.login_failed", "api_key.add"} <= actions
    assert export["usage"]["discussions"] == 2 and export["usage"]["messages"] == 4
    assert export["usage"]["llm_calls"] == 4
    assert export["mail"] and all("body" not in m for m in export["mail"])

    # No secret, in any form.
    user = await session.get(User, ada.user.id)
    key = await session.scalar(select(UserApiKey).where(UserApiKey.user_id == ada.user.id))
    link = await session.scalar(select(ShareLink).where(ShareLink.slug == ada.share_slug))
    tokens = await session.scalars(select(OneTimeToken).where(OneTimeToken.user_id == ada.user.id))
    assert user is not None and key is not None and link is not None and link.password_hash
    secrets_ = [
        user.password_hash,
        link.password_hash,
        SHARE_PASSWORD,
        PASSWORD,
        ada.plain_key,
        ada.refresh_token,
        hash_token(ada.refresh_token),
        *(t.token_hash for t in tokens),
        key.encrypted_key.hex(),
        base64.b64encode(key.encrypted_key).decode(),
        "password_hash",
        "token_hash",
        "encrypted_key",
    ]
    for secret in secrets_:
        assert secret not in dumped, secret
    # Nothing of the other user.
    assert bob.email not in dumped and bob.user.id not in dumped
    assert not any(d in dumped for d in bob.discussion_ids)


# --- retention ---------------------------------------------------------------------------


async def test_purge_deletes_only_what_ended_long_ago(
    session: AsyncSession, templates: TemplateLibrary
) -> None:
    owner = User(email=f"old-{uuid.uuid4().hex[:8]}@example.com", password_hash="x", name="Old")
    session.add(owner)
    await session.flush()
    expired = {
        status: await discussion(session, templates, owner.id, status=status, ended_days_ago=100)
        for status in ("completed", "stopped", "failed")
    }
    # Failed before it started: no ended_at, aged by updated_at (a year ago).
    never_ran = await discussion(session, templates, None, status="failed")
    kept = {
        "recent": await discussion(session, templates, owner.id, ended_days_ago=10),
        "running": await discussion(session, templates, owner.id, status="running"),
        "paused": await discussion(session, templates, owner.id, status="paused"),
        "initialized": await discussion(session, templates, None, status="initialized"),
    }
    gone_ids = [*expired.values(), never_ran]
    session.add(ReportRow(discussion_id=expired["completed"], status="ready"))
    session.add(ShareLink(discussion_id=expired["completed"], slug=uuid.uuid4().hex))
    session.add(ReportRow(discussion_id=kept["recent"], status="ready"))
    now = utcnow()
    old, recent = now - timedelta(days=100), now - timedelta(days=1)
    session.add_all(
        [
            OneTimeToken(
                user_id=owner.id, kind="verify_email", token_hash=uuid.uuid4().hex, expires_at=old
            ),
            OneTimeToken(
                user_id=owner.id,
                kind="verify_email",
                token_hash=uuid.uuid4().hex,
                expires_at=now + timedelta(days=1),
            ),
            RefreshToken(
                user_id=owner.id, family_id=new_id(), token_hash=uuid.uuid4().hex, expires_at=old
            ),
            RefreshToken(
                user_id=owner.id,
                family_id=new_id(),
                token_hash=uuid.uuid4().hex,
                expires_at=now + timedelta(days=30),
                revoked_at=old,
            ),
            RefreshToken(
                user_id=owner.id,
                family_id=new_id(),
                token_hash=uuid.uuid4().hex,
                expires_at=now + timedelta(days=30),
                revoked_at=recent,
            ),
        ]
    )
    mails = {
        "sent_old": MailOutbox(created_at=old, sent_at=old),
        "unsent_old": MailOutbox(created_at=old),
        "sent_recent": MailOutbox(created_at=recent, sent_at=recent),
    }
    for mail in mails.values():
        mail.to_email, mail.subject, mail.body, mail.kind = owner.email, "s", "b", "verify_email"
    session.add_all(mails.values())
    calls = [
        LLMCallRow(purpose="turn", provider="simulated", model="m", status="ok", created_at=when)
        for when in (old, recent)
    ]
    session.add_all(calls)
    await session.flush()

    counts = await purge_expired(session, 30, now)

    remaining = set(await session.scalars(select(DiscussionRow.id)))
    assert not remaining & set(gone_ids)
    assert set(kept.values()) <= remaining
    for model in (MessageRow, ParticipantRow, ReportRow, ShareLink, LLMCallRow):
        column = model.__table__.c.discussion_id  # type: ignore[attr-defined]
        assert await count(session, model, column.in_(gone_ids)) == 0
        if model is not ShareLink:
            assert await count(session, model, column.in_(kept.values())) > 0
    assert counts.discussions >= 4 and counts.messages >= 8 and counts.reports >= 1
    assert counts.share_links >= 1 and counts.participants >= 8
    assert counts.llm_calls >= 8 + 1  # the discussions' and the lone old one
    assert await count(session, OneTimeToken, OneTimeToken.user_id == owner.id) == 1
    assert await count(session, RefreshToken, RefreshToken.user_id == owner.id) == 1
    assert counts.one_time_tokens >= 1 and counts.refresh_tokens >= 2
    left = set(await session.scalars(select(MailOutbox.id)))
    assert mails["sent_old"].id not in left
    assert {mails["unsent_old"].id, mails["sent_recent"].id} <= left
    assert counts.mail_outbox >= 1
    left_calls = set(await session.scalars(select(LLMCallRow.id)))
    assert calls[0].id not in left_calls and calls[1].id in left_calls
    assert counts.total == sum(counts.as_dict().values())


async def test_purge_rejects_a_retention_under_a_day(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await purge_expired(session, 0)


async def test_only_one_purge_per_interval(
    session: AsyncSession, templates: TemplateLibrary
) -> None:
    # In the future: purges the API's loop may have committed now are out of the way.
    now = datetime.now(UTC) + timedelta(days=30)
    old = await discussion(session, templates, None, ended_days_ago=0)

    first = await purge_if_due(session, 10, 3600, now)
    assert isinstance(first, PurgeCounts) and first.discussions >= 1
    assert await session.get(DiscussionRow, old) is None
    assert await purge_if_due(session, 10, 3600, now + timedelta(minutes=30)) is None
    later = await purge_if_due(session, 10, 3600, now + timedelta(hours=2))
    assert isinstance(later, PurgeCounts)
    rows = list(
        await session.scalars(
            select(AuditLog).where(AuditLog.action == PURGE_ACTION, AuditLog.created_at >= now)
        )
    )
    assert len(rows) == 2 and rows[0].user_id is None
    assert rows[0].details["source"] == "api" and rows[0].details["older_than_days"] == 10


def test_purge_command_dry_run_then_real(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, database_url="")
    out = io.StringIO()
    console = Console(file=out, width=120)
    assert purge_command(settings, None, True, console) == 0
    assert "Would delete what ended or expired more than 90 days ago" in out.getvalue()
    assert "Dry run: nothing was deleted" in out.getvalue()
    assert purge_command(settings, 7, False, console) == 0
    assert "Deleted what ended or expired more than 7 days ago" in out.getvalue()
    assert purge_command(settings, 0, False, console) == 2
