"""The accounts use cases on SQLite and PostgreSQL, each test in a rolled-back transaction."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.accounts import service
from simfocus.accounts.errors import (
    CurrentPasswordInvalid,
    EmailTaken,
    InvalidCredentials,
    TokenExpired,
    TokenInvalid,
    WeakPassword,
)
from simfocus.accounts.schemas import LoginIn, RegisterIn, TokenPair, UserPatch
from simfocus.accounts.tokens import decode_access_token, hash_token, issue_access_token
from simfocus.kit.audit import ClientInfo
from simfocus.settings import Settings
from simfocus.store.models import AuditLog, MailOutbox, OneTimeToken, RefreshToken, User

PASSWORD = "Tr0ub4dor&3-horse"
CLIENT = ClientInfo(ip="203.0.113.7", user_agent="pytest")


async def register(
    session: AsyncSession, settings: Settings, email: str = "Ada@Example.com"
) -> User:
    data = RegisterIn(email=email, password=PASSWORD, name="Ada Lovelace")
    return await service.register(session, settings, data, CLIENT)


async def login(
    session: AsyncSession, settings: Settings, email: str = "ada@example.com"
) -> TokenPair:
    return await service.login(session, settings, LoginIn(email=email, password=PASSWORD), CLIENT)


async def actions(session: AsyncSession, user_id: str | None = None) -> list[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.created_at)
    if user_id is not None:
        query = query.where(AuditLog.user_id == user_id)
    return list((await session.scalars(query)).all())


async def mail_token(session: AsyncSession, to: str, kind: str) -> str:
    row = await session.scalar(
        select(MailOutbox)
        .where(MailOutbox.to_email == to, MailOutbox.kind == kind)
        .order_by(MailOutbox.created_at.desc())
    )
    assert row is not None
    match = re.search(r"token=([\w-]+)", row.body)
    assert match is not None
    return match.group(1)


async def expire_one_time(session: AsyncSession, token: str) -> None:
    await session.execute(
        update(OneTimeToken)
        .where(OneTimeToken.token_hash == hash_token(token))
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        .execution_options(synchronize_session="fetch")
    )


# --- registration and login --------------------------------------------------------------


async def test_register_then_login(session: AsyncSession, auth_settings: Settings) -> None:
    user = await register(session, auth_settings)
    assert user.email == "ada@example.com"  # normalised
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert user.is_active and not user.email_verified and user.created_at is not None

    pair = await login(session, auth_settings, "ADA@example.COM")
    assert pair.token_type == "bearer"
    assert pair.expires_in == auth_settings.access_token_ttl_s
    claims = decode_access_token(auth_settings, pair.access_token)
    assert claims.user_id == user.id
    assert (await service.get_active_user(session, user.id, claims.issued_at)).id == user.id
    assert (await service.authenticate(session, auth_settings, pair.access_token)).id == user.id

    stored = (await session.scalars(select(RefreshToken))).all()
    assert [r.token_hash for r in stored] == [hash_token(pair.refresh_token)]
    logged = await actions(session, user.id)
    assert [a.action for a in logged] == ["user.register", "auth.login"]
    assert logged[1].ip_address == "203.0.113.7" and logged[1].user_agent == "pytest"


async def test_registration_queues_the_verification_link(
    session: AsyncSession, auth_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    await register(session, auth_settings)
    mail = await session.scalar(select(MailOutbox))
    assert mail is not None and mail.to_email == "ada@example.com" and mail.sent_at is None
    assert mail.kind == "verify_email"
    assert f"{auth_settings.public_url}/v1/auth/verify-email?token=" in mail.body
    token = await mail_token(session, "ada@example.com", "verify_email")
    assert "mail queued to ada@example.com" in caplog.text
    assert token not in caplog.text  # the log points to the outbox, never to the token


async def test_duplicate_email_is_refused_in_any_case(
    session: AsyncSession, auth_settings: Settings
) -> None:
    await register(session, auth_settings)
    with pytest.raises(EmailTaken) as info:
        await register(session, auth_settings, "ADA@example.com")
    assert info.value.code == "EMAIL_ALREADY_EXISTS" and info.value.status == 409
    assert info.value.field == "email"


async def test_weak_password_is_refused_at_registration(
    session: AsyncSession, auth_settings: Settings
) -> None:
    data = RegisterIn(email="bob@example.com", password="bob-is-great-1", name="Bob")
    with pytest.raises(WeakPassword, match="name or email"):
        await service.register(session, auth_settings, data, CLIENT)
    assert await session.scalar(select(User)) is None


async def test_wrong_password_and_unknown_email_look_the_same(
    session: AsyncSession, auth_settings: Settings
) -> None:
    user = await register(session, auth_settings)
    errors = []
    for email, password in (("ada@example.com", "Wrong-Pass-123"), ("eve@example.com", PASSWORD)):
        with pytest.raises(InvalidCredentials) as info:
            await service.login(session, auth_settings, LoginIn(email=email, password=password))
        errors.append(info.value.to_dict())
    assert errors[0] == errors[1]
    assert errors[0]["code"] == "INVALID_CREDENTIALS"
    failures = [a for a in await actions(session) if a.action == "auth.login_failed"]
    assert [(a.user_id, a.details["email"]) for a in failures] == [
        (user.id, "ada@example.com"),
        (None, "eve@example.com"),
    ]
    assert all("Wrong-Pass-123" not in str(a.details) for a in failures)


async def test_inactive_users_cannot_log_in(session: AsyncSession, auth_settings: Settings) -> None:
    user = await register(session, auth_settings)
    user.is_active = False
    with pytest.raises(InvalidCredentials):
        await login(session, auth_settings)


async def test_outdated_hashes_are_upgraded_at_login(
    session: AsyncSession, auth_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    from simfocus.accounts import passwords

    user = await register(session, auth_settings)
    old = user.password_hash
    monkeypatch.setattr(
        passwords, "HASHER", PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
    )
    await login(session, auth_settings)
    assert user.password_hash != old and "t=2" in user.password_hash


# --- refresh rotation --------------------------------------------------------------------


async def test_refresh_rotates_and_reuse_revokes_the_family(
    session: AsyncSession, auth_settings: Settings
) -> None:
    user = await register(session, auth_settings)
    first = await login(session, auth_settings)
    second = await service.refresh(session, auth_settings, first.refresh_token, CLIENT)
    assert second.refresh_token != first.refresh_token
    assert decode_access_token(auth_settings, second.access_token).user_id == user.id
    other_session = await login(session, auth_settings)  # another device: its own family

    with pytest.raises(TokenInvalid) as info:  # the old token again: stolen
        await service.refresh(session, auth_settings, first.refresh_token, CLIENT)
    assert type(info.value) is TokenInvalid
    with pytest.raises(TokenInvalid):  # the family is gone, the new token too
        await service.refresh(session, auth_settings, second.refresh_token, CLIENT)
    assert "auth.refresh_reuse" in [a.action for a in await actions(session, user.id)]

    rows = (await session.scalars(select(RefreshToken))).all()
    family = {r.family_id for r in rows if r.token_hash == hash_token(first.refresh_token)}
    assert all(r.revoked_at is not None for r in rows if r.family_id in family)
    # The other device is untouched.
    third = await service.refresh(session, auth_settings, other_session.refresh_token)
    assert third.refresh_token


async def test_unknown_and_expired_refresh_tokens(
    session: AsyncSession, auth_settings: Settings
) -> None:
    await register(session, auth_settings)
    with pytest.raises(TokenInvalid):
        await service.refresh(session, auth_settings, "not-a-token")
    pair = await login(session, auth_settings)
    await session.execute(
        update(RefreshToken)
        .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        .execution_options(synchronize_session="fetch")
    )
    with pytest.raises(TokenExpired):
        await service.refresh(session, auth_settings, pair.refresh_token)


async def test_logout_revokes_the_family_and_is_idempotent(
    session: AsyncSession, auth_settings: Settings
) -> None:
    await register(session, auth_settings)
    first = await login(session, auth_settings)
    second = await service.refresh(session, auth_settings, first.refresh_token)
    await service.logout(session, second.refresh_token, CLIENT)
    await service.logout(session, second.refresh_token)
    await service.logout(session, "never-issued")
    with pytest.raises(TokenInvalid):
        await service.refresh(session, auth_settings, second.refresh_token)


async def test_deactivated_users_cannot_refresh(
    session: AsyncSession, auth_settings: Settings
) -> None:
    user = await register(session, auth_settings)
    pair = await login(session, auth_settings)
    user.is_active = False
    with pytest.raises(TokenInvalid):
        await service.refresh(session, auth_settings, pair.refresh_token)


# --- email verification ------------------------------------------------------------------


async def test_verification_tokens_are_single_use(
    session: AsyncSession, auth_settings: Settings
) -> None:
    user = await register(session, auth_settings)
    token = await mail_token(session, user.email, "verify_email")
    stored = await session.scalar(select(OneTimeToken))
    assert stored is not None and stored.token_hash == hash_token(token) != token
    verified = await service.verify_email(session, token, CLIENT)
    assert verified.id == user.id and user.email_verified
    with pytest.raises(TokenInvalid):
        await service.verify_email(session, token)
    assert "user.verify_email" in [a.action for a in await actions(session, user.id)]


async def test_verification_tokens_expire_and_have_a_kind(
    session: AsyncSession, auth_settings: Settings
) -> None:
    user = await register(session, auth_settings)
    token = await mail_token(session, user.email, "verify_email")
    with pytest.raises(TokenInvalid):  # a verification token is no reset token
        await service.reset_password(session, auth_settings, token, "N3w-Secret-Pass")
    await expire_one_time(session, token)
    with pytest.raises(TokenExpired):
        await service.verify_email(session, token)
    assert not user.email_verified
    await service.resend_verification(session, auth_settings, user)
    await service.verify_email(session, await mail_token(session, user.email, "verify_email"))
    assert user.email_verified


# --- password reset ----------------------------------------------------------------------


async def test_forgot_password_for_unknown_email_is_silent(
    session: AsyncSession, auth_settings: Settings
) -> None:
    await service.forgot_password(session, auth_settings, "nobody@example.com", CLIENT)
    assert await session.scalar(select(MailOutbox)) is None
    assert await actions(session) == []


async def test_reset_sets_the_password_and_ends_every_session(
    session: AsyncSession, auth_settings: Settings
) -> None:
    user = await register(session, auth_settings)
    pair = await login(session, auth_settings)
    old_claims = decode_access_token(auth_settings, pair.access_token)

    await service.forgot_password(session, auth_settings, " ADA@example.com ", CLIENT)
    token = await mail_token(session, user.email, "reset_password")
    mail = await session.scalar(select(MailOutbox).where(MailOutbox.kind == "reset_password"))
    assert mail is not None and "/v1/auth/reset-password?token=" in mail.body

    with pytest.raises(WeakPassword):  # a weak password does not burn the link
        await service.reset_password(session, auth_settings, token, "short")
    new_password = "Brand-New-Secret-7"
    await service.reset_password(session, auth_settings, token, new_password, CLIENT)

    with pytest.raises(TokenInvalid):  # single use
        await service.reset_password(session, auth_settings, token, "Another-Secret-8")
    with pytest.raises(TokenInvalid):  # the refresh token is revoked
        await service.refresh(session, auth_settings, pair.refresh_token)
    assert user.tokens_valid_after is not None
    with pytest.raises(TokenInvalid):  # the old access token: issued before the reset
        await service.get_active_user(session, user.id, old_claims.issued_at)
    with pytest.raises(InvalidCredentials):
        await login(session, auth_settings)

    fresh = await service.login(
        session, auth_settings, LoginIn(email=user.email, password=new_password)
    )
    assert (await service.authenticate(session, auth_settings, fresh.access_token)).id == user.id
    assert {"user.password_reset_requested", "user.password_reset"} <= {
        a.action for a in await actions(session, user.id)
    }


async def test_reset_tokens_expire(session: AsyncSession, auth_settings: Settings) -> None:
    user = await register(session, auth_settings)
    await service.forgot_password(session, auth_settings, user.email)
    token = await mail_token(session, user.email, "reset_password")
    await expire_one_time(session, token)
    with pytest.raises(TokenExpired):
        await service.reset_password(session, auth_settings, token, "Brand-New-Secret-7")


async def test_access_tokens_before_tokens_valid_after_are_refused(
    session: AsyncSession, auth_settings: Settings
) -> None:
    user = await register(session, auth_settings)
    cutoff = datetime(2030, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    user.tokens_valid_after = cutoff
    await session.flush()
    for issued, ok in ((cutoff - timedelta(milliseconds=1), False), (cutoff, True)):
        token, _ = issue_access_token(auth_settings, user.id, now=issued)
        claims = decode_access_token(auth_settings, token, now=issued)
        if ok:
            await service.get_active_user(session, user.id, claims.issued_at)
        else:
            with pytest.raises(TokenInvalid):
                await service.get_active_user(session, user.id, claims.issued_at)
    with pytest.raises(TokenInvalid):
        await service.get_active_user(session, "no-such-user", cutoff)


# --- the account -------------------------------------------------------------------------


async def test_update_name_and_password(session: AsyncSession, auth_settings: Settings) -> None:
    user = await register(session, auth_settings)
    pair = await login(session, auth_settings)
    await service.update_me(session, auth_settings, user, UserPatch(name=" Ada K. "), CLIENT)
    assert user.name == "Ada K."

    wrong = UserPatch(password="Another-Secret-8", current_password="not-it-at-all")
    with pytest.raises(CurrentPasswordInvalid) as info:
        await service.update_me(session, auth_settings, user, wrong)
    assert info.value.field == "current_password" and info.value.status == 422
    with pytest.raises(WeakPassword):
        weak = UserPatch(password="weak", current_password=PASSWORD)
        await service.update_me(session, auth_settings, user, weak)

    good = UserPatch(password="Another-Secret-8", current_password=PASSWORD)
    await service.update_me(session, auth_settings, user, good, CLIENT)
    with pytest.raises(TokenInvalid):
        await service.refresh(session, auth_settings, pair.refresh_token)
    again = await service.open_session(session, auth_settings, user)
    assert (await service.authenticate(session, auth_settings, again.access_token)).id == user.id
    updates = [a for a in await actions(session, user.id) if a.action == "user.update"]
    assert [a.details["fields"] for a in updates] == [["name"], ["password"]]


def test_a_new_password_needs_the_current_one() -> None:
    with pytest.raises(ValueError, match="current_password"):
        UserPatch(password="Another-Secret-8")


async def test_delete_me_anonymises_and_revokes(
    session: AsyncSession, auth_settings: Settings
) -> None:
    user = await register(session, auth_settings)
    pair = await login(session, auth_settings)
    claims = decode_access_token(auth_settings, pair.access_token)
    await service.delete_me(session, user, CLIENT)

    assert user.deleted_at is not None and not user.is_active
    assert user.email == f"deleted-{user.id}@deleted.invalid" and user.name == "Deleted user"
    assert "Ada" not in user.email + user.name
    with pytest.raises(TokenInvalid):
        await service.get_active_user(session, user.id, claims.issued_at)
    with pytest.raises(TokenInvalid):
        await service.refresh(session, auth_settings, pair.refresh_token)
    with pytest.raises(InvalidCredentials):
        await login(session, auth_settings)
    assert "user.delete" in [a.action for a in await actions(session, user.id)]
    # The email is free again.
    again = await register(session, auth_settings)
    assert again.id != user.id


async def test_losing_the_race_for_an_email_is_email_taken(
    session: AsyncSession, auth_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simfocus.accounts.repository import AccountRepository

    first = await register(session, auth_settings)

    async def not_seen(self: AccountRepository, email: str) -> None:
        return None  # as if the other registration committed after our check

    monkeypatch.setattr(AccountRepository, "user_by_email", not_seen)
    with pytest.raises(EmailTaken):
        await register(session, auth_settings, "ada@example.com")
    # The savepoint kept the caller's transaction usable.
    assert (await session.scalars(select(User))).all() == [first]
