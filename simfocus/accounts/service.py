"""The accounts use cases. Each takes the caller's session and never commits.

Errors that follow staged writes — a failed login's audit row, the revocation of a
refresh-token family on reuse — are raised *after* staging them: the caller must commit
on InvalidCredentials and TokenInvalid too, or the evidence and the revocation are lost.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.accounts.errors import (
    CurrentPasswordInvalid,
    EmailTaken,
    InvalidCredentials,
    TokenExpired,
    TokenInvalid,
)
from simfocus.accounts.lifecycle import ErasureCounts, erase_user_data
from simfocus.accounts.mail import RESET_PASSWORD_PATH, VERIFY_EMAIL_PATH, link, queue_mail
from simfocus.accounts.passwords import (
    check_strength,
    dummy_verify,
    hash_password,
    verify_password,
)
from simfocus.accounts.repository import AccountRepository, as_utc
from simfocus.accounts.schemas import LoginIn, RegisterIn, TokenPair, UserPatch
from simfocus.accounts.tokens import (
    decode_access_token,
    floor_ms,
    hash_token,
    issue_access_token,
    new_opaque_token,
)
from simfocus.kit.audit import ClientInfo, audit
from simfocus.settings import Settings
from simfocus.store.models import OneTimeToken, RefreshToken, User, new_id, utcnow

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"
BAD_CREDENTIALS = "Invalid email or password."
DELETED_DOMAIN = "deleted.invalid"
DELETED_NAME = "Deleted user"
# Not an argon2 hash: verification of any password against it fails.
NO_PASSWORD = "!disabled"


def normalise_email(email: str) -> str:
    """Emails are stored and compared lower-case (one account per mailbox in practice)."""
    return email.strip().lower()


def is_usable(user: User | None) -> bool:
    """Whether ``user`` may sign in and act: exists, active, not soft-deleted."""
    return user is not None and user.is_active and user.deleted_at is None


# --- registration and sign-in ------------------------------------------------------------


async def register(
    session: AsyncSession, settings: Settings, data: RegisterIn, client: ClientInfo | None = None
) -> User:
    """Create an unverified account and queue its verification mail."""
    repo = AccountRepository(session)
    email = normalise_email(data.email)
    if await repo.user_by_email(email) is not None:
        raise EmailTaken("An account with this email already exists.")
    check_strength(data.password, email, data.name)
    user = User(
        id=new_id(),
        email=email,
        name=data.name,
        password_hash=await asyncio.to_thread(hash_password, data.password),
        is_active=True,
        email_verified=False,
    )
    try:
        # A savepoint: losing a race for the email leaves the caller's session usable.
        async with session.begin_nested():
            repo.add(user)
    except IntegrityError as exc:
        raise EmailTaken("An account with this email already exists.") from exc
    _send_verification(repo, settings, user, utcnow())
    audit(
        session,
        "user.register",
        user_id=user.id,
        client=client,
        resource_type="user",
        resource_id=user.id,
    )
    await repo.flush()
    return user


async def login(
    session: AsyncSession, settings: Settings, data: LoginIn, client: ClientInfo | None = None
) -> TokenPair:
    """Check the credentials and open a new session (a new refresh-token family).

    Every failure is the same InvalidCredentials; its audit row is staged (commit it).
    """
    repo = AccountRepository(session)
    email = normalise_email(data.email)
    user = await repo.user_by_email(email)
    if user is None:
        # As slow as a real check: response time must not tell which emails exist.
        await asyncio.to_thread(dummy_verify, data.password)
        _login_failed(session, client, email, None, "unknown_email")
        raise InvalidCredentials(BAD_CREDENTIALS)
    check = await asyncio.to_thread(verify_password, user.password_hash, data.password)
    if not check.ok:
        _login_failed(session, client, email, user.id, "bad_password")
        raise InvalidCredentials(BAD_CREDENTIALS)
    if not is_usable(user):
        _login_failed(session, client, email, user.id, "inactive")
        raise InvalidCredentials(BAD_CREDENTIALS)
    if check.new_hash is not None:  # stored with outdated argon2 parameters
        user.password_hash = check.new_hash
    pair = _open_session(repo, settings, user.id, new_id(), utcnow())
    audit(session, "auth.login", user_id=user.id, client=client)
    await repo.flush()
    return pair


async def refresh(
    session: AsyncSession, settings: Settings, refresh_token: str, client: ClientInfo | None = None
) -> TokenPair:
    """Rotate ``refresh_token``: spend it and return a new pair in the same family.

    A token presented twice (used or revoked) means it was copied: the whole family is
    revoked — the thief's and the owner's sessions alike — and TokenInvalid raised (the
    revocation is staged: commit it). An expired token raises TokenExpired.
    """
    repo = AccountRepository(session)
    now = utcnow()
    row = await repo.refresh_token(hash_token(refresh_token))
    if row is None:
        raise TokenInvalid("The refresh token is invalid.")
    if row.used_at is not None or row.revoked_at is not None:
        await _refresh_reused(repo, row, client, now)
    if as_utc(row.expires_at) <= now:
        raise TokenExpired("The refresh token has expired.")
    if not await repo.mark_refresh_used(row.id, now):  # a concurrent rotation won
        await _refresh_reused(repo, row, client, now)
    user = await repo.user(row.user_id)
    if not is_usable(user):
        await repo.revoke_family(row.family_id, now)
        raise TokenInvalid("The refresh token is invalid.")
    pair = _open_session(repo, settings, row.user_id, row.family_id, now)
    await repo.flush()
    return pair


async def logout(
    session: AsyncSession, refresh_token: str, client: ClientInfo | None = None
) -> None:
    """End the session of ``refresh_token`` (its whole family). Unknown tokens are ignored.

    The current access token stays valid until it expires (minutes): clients drop it.
    """
    repo = AccountRepository(session)
    row = await repo.refresh_token(hash_token(refresh_token))
    if row is None:
        return
    await repo.revoke_family(row.family_id, utcnow())
    audit(session, "auth.logout", user_id=row.user_id, client=client)
    await repo.flush()


async def authenticate(
    session: AsyncSession, settings: Settings, access_token: str, now: datetime | None = None
) -> User:
    """The user of a bearer token: decode_access_token + get_active_user."""
    claims = decode_access_token(settings, access_token, now)
    return await get_active_user(session, claims.user_id, claims.issued_at)


async def get_active_user(session: AsyncSession, user_id: str, issued_at: datetime) -> User:
    """The user an access token speaks for, or TokenInvalid.

    Refused: a missing, inactive or deleted user, and tokens issued before the user's
    ``tokens_valid_after`` (set by password changes, resets and deletion).
    """
    user = await AccountRepository(session).user(user_id)
    if user is None or not is_usable(user):
        raise TokenInvalid("The access token is invalid.")
    if user.tokens_valid_after is not None and as_utc(issued_at) < as_utc(user.tokens_valid_after):
        raise TokenInvalid("The access token has been revoked.")
    return user


# --- email verification and password reset -----------------------------------------------


async def verify_email(session: AsyncSession, token: str, client: ClientInfo | None = None) -> User:
    """Spend a verification token and mark the user's email verified."""
    repo = AccountRepository(session)
    now = utcnow()
    row, user = await _valid_one_time(repo, token, VERIFY_EMAIL, now)
    await _spend(repo, row, now)
    user.email_verified = True
    audit(session, "user.verify_email", user_id=user.id, client=client)
    await repo.flush()
    return user


async def resend_verification(session: AsyncSession, settings: Settings, user: User) -> None:
    """Queue a new verification mail (no-op when already verified)."""
    if user.email_verified:
        return
    repo = AccountRepository(session)
    _send_verification(repo, settings, user, utcnow())
    await repo.flush()


async def forgot_password(
    session: AsyncSession, settings: Settings, email: str, client: ClientInfo | None = None
) -> None:
    """Queue a reset mail when ``email`` belongs to a usable account; silently nothing
    otherwise (the answer must not reveal which emails have accounts)."""
    repo = AccountRepository(session)
    user = await repo.user_by_email(normalise_email(email))
    if user is None or not is_usable(user):
        return
    now = utcnow()
    token = _new_one_time(repo, user.id, RESET_PASSWORD, settings.reset_token_ttl_s, now)
    minutes = settings.reset_token_ttl_s // 60
    queue_mail(
        repo.session,
        user.email,
        "Reset your simFocus password",
        f"Hello {user.name},\n\n"
        "someone (hopefully you) asked to reset the password of your simFocus account. "
        "To choose a new one, open:\n\n"
        f"{link(settings, RESET_PASSWORD_PATH, token)}\n\n"
        f"The link works once, for {minutes} minutes. If you did not ask for it, ignore "
        "this mail: your password stays as it is.\n",
        RESET_PASSWORD,
    )
    audit(session, "user.password_reset_requested", user_id=user.id, client=client)
    await repo.flush()


async def reset_password(
    session: AsyncSession,
    settings: Settings,
    token: str,
    new_password: str,
    client: ClientInfo | None = None,
) -> User:
    """Set a new password with a reset token and end every session of the user.

    The token is checked, then the password's strength, and only then spent: a weak
    password does not burn the link. Completing a reset proves the mailbox: the email
    counts as verified.
    """
    repo = AccountRepository(session)
    now = utcnow()
    row, user = await _valid_one_time(repo, token, RESET_PASSWORD, now)
    check_strength(new_password, user.email, user.name)
    password_hash = await asyncio.to_thread(hash_password, new_password)
    await _spend(repo, row, now)
    user.password_hash = password_hash
    user.email_verified = True
    await _end_all_sessions(repo, user, now)
    await repo.spend_all_one_time(user.id, RESET_PASSWORD, now)  # other pending links
    audit(session, "user.password_reset", user_id=user.id, client=client)
    await repo.flush()
    return user


# --- the account itself ------------------------------------------------------------------


async def update_me(
    session: AsyncSession,
    settings: Settings,
    user: User,
    patch: UserPatch,
    client: ClientInfo | None = None,
) -> User:
    """Change the name and/or the password (which needs ``current_password``).

    A password change ends every session, the caller's included: answer it with a new
    pair from ``open_session`` if the client should stay signed in.
    """
    repo = AccountRepository(session)
    changed: list[str] = []
    if patch.name is not None and patch.name != user.name:
        user.name = patch.name
        changed.append("name")
    if patch.password is not None:
        current = patch.current_password or ""
        check = await asyncio.to_thread(verify_password, user.password_hash, current)
        if not check.ok:
            raise CurrentPasswordInvalid("The current password is not correct.")
        check_strength(patch.password, user.email, user.name)
        user.password_hash = await asyncio.to_thread(hash_password, patch.password)
        await _end_all_sessions(repo, user, utcnow())
        changed.append("password")
    if changed:
        audit(
            session,
            "user.update",
            user_id=user.id,
            client=client,
            resource_type="user",
            resource_id=user.id,
            details={"fields": changed},
        )
    await repo.flush()
    return user


async def open_session(session: AsyncSession, settings: Settings, user: User) -> TokenPair:
    """A fresh token pair (new family) for an already authenticated user."""
    repo = AccountRepository(session)
    pair = _open_session(repo, settings, user.id, new_id(), utcnow())
    await repo.flush()
    return pair


async def delete_me(
    session: AsyncSession, user: User, client: ClientInfo | None = None
) -> ErasureCounts:
    """Delete the account: erase the user's data, anonymise the row, end every session.

    ``erase_user_data`` deletes the discussions (messages, reports, share links, call
    logs), topics, characters, stored API keys, tokens and mail, and de-identifies the
    audit rows. The anonymised user row stays so ids in the audit trail still resolve; the
    email is freed for a new registration. The caller stops the user's running
    discussions first (this touches only the store) and commits.

    The ``user.delete`` audit row carries the counts but no IP or user agent: the
    account's audit trail is de-identified, this row included (``client`` is unused).
    """
    del client  # kept in the signature for callers; deliberately not recorded
    repo = AccountRepository(session)
    now = utcnow()
    # Erase first: it finds the user's mail by the real email, replaced just below.
    counts = await erase_user_data(session, user.id)
    user.deleted_at = now
    user.is_active = False
    user.email = f"deleted-{user.id}@{DELETED_DOMAIN}"
    user.name = DELETED_NAME
    user.password_hash = NO_PASSWORD
    await _end_all_sessions(repo, user, now)  # access tokens die via tokens_valid_after
    audit(
        session,
        "user.delete",
        user_id=user.id,
        resource_type="user",
        resource_id=user.id,
        details={"erased": counts.as_dict()},
    )
    await repo.flush()
    return counts


# --- helpers -----------------------------------------------------------------------------


def _open_session(
    repo: AccountRepository, settings: Settings, user_id: str, family_id: str, now: datetime
) -> TokenPair:
    access, expires_in = issue_access_token(settings, user_id, now)
    refresh_token = new_opaque_token()
    repo.add(
        RefreshToken(
            id=new_id(),
            user_id=user_id,
            family_id=family_id,
            token_hash=hash_token(refresh_token),
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
        )
    )
    return TokenPair(access_token=access, refresh_token=refresh_token, expires_in=expires_in)


async def _refresh_reused(
    repo: AccountRepository, row: RefreshToken, client: ClientInfo | None, now: datetime
) -> None:
    await repo.revoke_family(row.family_id, now)
    audit(
        repo.session,
        "auth.refresh_reuse",
        user_id=row.user_id,
        client=client,
        details={"family_id": row.family_id},
    )
    await repo.flush()
    raise TokenInvalid("The refresh token is invalid.")


async def _end_all_sessions(repo: AccountRepository, user: User, now: datetime) -> None:
    # Refresh tokens are revoked; access tokens cannot be, so all issued until now die
    # through tokens_valid_after (at the millisecond precision of their iat).
    await repo.revoke_all_refresh(user.id, now)
    user.tokens_valid_after = floor_ms(now)


def _login_failed(
    session: AsyncSession,
    client: ClientInfo | None,
    email: str,
    user_id: str | None,
    reason: str,
) -> None:
    audit(
        session,
        "auth.login_failed",
        user_id=user_id,
        client=client,
        details={"email": email, "reason": reason},
    )


def _new_one_time(
    repo: AccountRepository, user_id: str, kind: str, ttl_s: int, now: datetime
) -> str:
    token = new_opaque_token()
    repo.add(
        OneTimeToken(
            id=new_id(),
            user_id=user_id,
            kind=kind,
            token_hash=hash_token(token),
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    return token


def _send_verification(
    repo: AccountRepository, settings: Settings, user: User, now: datetime
) -> None:
    token = _new_one_time(repo, user.id, VERIFY_EMAIL, settings.verify_token_ttl_s, now)
    hours = settings.verify_token_ttl_s // 3600
    queue_mail(
        repo.session,
        user.email,
        "Confirm your email address for simFocus",
        f"Hello {user.name},\n\n"
        "please confirm your email address for simFocus by opening:\n\n"
        f"{link(settings, VERIFY_EMAIL_PATH, token)}\n\n"
        f"The link works once, for {hours} hours. If you did not sign up, ignore this mail.\n",
        VERIFY_EMAIL,
    )


async def _valid_one_time(
    repo: AccountRepository, token: str, kind: str, now: datetime
) -> tuple[OneTimeToken, User]:
    row = await repo.one_time_token(hash_token(token))
    if row is None or row.kind != kind or row.used_at is not None:
        raise TokenInvalid("The link is invalid or has already been used.")
    if as_utc(row.expires_at) <= now:
        raise TokenExpired("The link has expired; ask for a new one.")
    user = await repo.user(row.user_id)
    if user is None or not is_usable(user):
        raise TokenInvalid("The link is invalid or has already been used.")
    return row, user


async def _spend(repo: AccountRepository, row: OneTimeToken, now: datetime) -> None:
    if not await repo.mark_one_time_used(row.id, now):  # a concurrent request spent it
        raise TokenInvalid("The link is invalid or has already been used.")
