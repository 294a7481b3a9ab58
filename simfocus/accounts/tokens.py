"""Access tokens (JWT, HS256 pinned) and opaque random tokens (stored only as hashes)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from simfocus.accounts.errors import TokenExpired, TokenInvalid
from simfocus.settings import Settings

# Pinned on both sides: decoding never trusts the token's own "alg" header, so "none" or
# an RS/HS confusion cannot get a forged token accepted.
ALGORITHM = "HS256"
# Tolerated clock skew between API replicas, in seconds.
LEEWAY_S = 5
ACCESS_TYPE = "access"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    issued_at: datetime
    expires_at: datetime
    jti: str


def issue_access_token(
    settings: Settings, user_id: str, now: datetime | None = None
) -> tuple[str, int]:
    """A signed access token for ``user_id`` and its lifetime in seconds."""
    now = now or datetime.now(UTC)
    ttl = settings.access_token_ttl_s
    # iat keeps milliseconds (NumericDate may be fractional, RFC 7519 §2): whole seconds
    # would make a token issued just after a password reset look older than the reset.
    # Integer arithmetic, so it agrees exactly with floor_ms() of tokens_valid_after.
    millis = (now - _EPOCH) // _MS
    claims = {
        "sub": user_id,
        "iat": millis / 1000,
        "exp": millis // 1000 + ttl,
        "jti": uuid.uuid4().hex,
        "typ": ACCESS_TYPE,
    }
    token = jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=ALGORITHM)
    return token, ttl


def decode_access_token(
    settings: Settings, token: str, now: datetime | None = None
) -> AccessClaims:
    """Verify signature, algorithm, type and expiry; raise TokenInvalid or TokenExpired."""
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[ALGORITHM],
            # Expiry is checked below against ``now`` (injectable for tests), the same way.
            options={
                "require": ["sub", "iat", "exp", "jti", "typ"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError as exc:
        raise TokenInvalid("The access token is invalid.") from exc
    sub, iat, exp = claims["sub"], claims["iat"], claims["exp"]
    if (
        claims["typ"] != ACCESS_TYPE
        or not isinstance(sub, str)
        or not sub
        or not _is_number(iat)
        or not _is_number(exp)
    ):
        raise TokenInvalid("The access token is invalid.")
    now_ts = (now or datetime.now(UTC)).timestamp()
    if now_ts >= exp + LEEWAY_S:
        raise TokenExpired("The access token has expired.")
    return AccessClaims(
        user_id=sub,
        issued_at=datetime.fromtimestamp(iat, UTC),
        expires_at=datetime.fromtimestamp(exp, UTC),
        jti=str(claims["jti"]),
    )


def floor_ms(moment: datetime) -> datetime:
    """``moment`` truncated to milliseconds, the precision of an access token's iat."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def new_opaque_token() -> str:
    """A random token for refresh, verification and reset links (384 bits)."""
    return secrets.token_urlsafe(48)


def hash_token(token: str) -> str:
    """What the store keeps of an opaque token: a leaked table reveals no usable token.

    Plain sha256 suffices (no salt, no stretching): the tokens carry 384 random bits.
    """
    return hashlib.sha256(token.encode()).hexdigest()
