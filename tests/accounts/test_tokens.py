"""JWT access tokens: algorithm pinned, signature and expiry enforced."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from simfocus.accounts.errors import TokenExpired, TokenInvalid
from simfocus.accounts.tokens import (
    LEEWAY_S,
    decode_access_token,
    hash_token,
    issue_access_token,
    new_opaque_token,
)
from simfocus.settings import Settings

NOW = datetime(2030, 1, 2, 3, 4, 5, 678_900, tzinfo=UTC)


def claims(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "sub": "user-1",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 600,
        "jti": "j",
        "typ": "access",
    }
    return {**base, **extra}


def test_round_trip(auth_settings: Settings) -> None:
    token, expires_in = issue_access_token(auth_settings, "user-1", now=NOW)
    assert expires_in == auth_settings.access_token_ttl_s
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "HS256"
    decoded = decode_access_token(auth_settings, token, now=NOW)
    assert decoded.user_id == "user-1"
    assert decoded.issued_at == NOW.replace(microsecond=678_000)  # millisecond precision
    assert decoded.expires_at == datetime(2030, 1, 2, 3, 19, 5, tzinfo=UTC)
    other, _ = issue_access_token(auth_settings, "user-1", now=NOW)
    assert decode_access_token(auth_settings, other, now=NOW).jti != decoded.jti


def test_expiry_is_enforced(auth_settings: Settings) -> None:
    token, ttl = issue_access_token(auth_settings, "user-1", now=NOW)
    decode_access_token(auth_settings, token, now=NOW + timedelta(seconds=ttl - 1))
    with pytest.raises(TokenExpired) as info:
        decode_access_token(auth_settings, token, now=NOW + timedelta(seconds=ttl + LEEWAY_S))
    assert info.value.code == "TOKEN_EXPIRED" and info.value.status == 401
    stale, _ = issue_access_token(auth_settings, "user-1", now=datetime.now(UTC) - timedelta(1))
    with pytest.raises(TokenExpired):  # the real clock, too
        decode_access_token(auth_settings, stale)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_algorithms_are_refused(auth_settings: Settings, algorithm: str) -> None:
    secret = auth_settings.jwt_secret.get_secret_value()
    token = jwt.encode(claims(), secret, algorithm=algorithm)
    with pytest.raises(TokenInvalid) as info:
        decode_access_token(auth_settings, token, now=NOW)
    assert type(info.value) is TokenInvalid and info.value.code == "TOKEN_INVALID"


def test_alg_none_is_refused(auth_settings: Settings) -> None:
    token = jwt.encode(claims(), key="", algorithm="none")
    with pytest.raises(TokenInvalid):
        decode_access_token(auth_settings, token, now=NOW)
    # Hand-made, with a signature-free header claiming "none" and a stolen real body.
    real, _ = issue_access_token(auth_settings, "user-1", now=NOW)
    header = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    with pytest.raises(TokenInvalid):
        decode_access_token(auth_settings, f"{header}.{real.split('.')[1]}.", now=NOW)


def test_tampering_and_foreign_secrets_are_refused(auth_settings: Settings) -> None:
    token, _ = issue_access_token(auth_settings, "user-1", now=NOW)
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(TokenInvalid):
        decode_access_token(auth_settings, f"{head}.{body}.{flipped}", now=NOW)
    forged_body = base64.urlsafe_b64encode(json.dumps(claims(sub="admin")).encode())
    with pytest.raises(TokenInvalid):
        decode_access_token(
            auth_settings, f"{head}.{forged_body.rstrip(b'=').decode()}.{signature}", now=NOW
        )
    other = jwt.encode(claims(), "another-secret-of-sufficient-length!", algorithm="HS256")
    with pytest.raises(TokenInvalid):
        decode_access_token(auth_settings, other, now=NOW)
    for garbage in ("", "abc", "a.b.c"):
        with pytest.raises(TokenInvalid):
            decode_access_token(auth_settings, garbage, now=NOW)


@pytest.mark.parametrize(
    "bad",
    [claims(typ="refresh"), claims(sub=""), claims(iat="yesterday"), {"sub": "user-1"}],
)
def test_claims_are_checked(auth_settings: Settings, bad: dict[str, object]) -> None:
    token = jwt.encode(bad, auth_settings.jwt_secret.get_secret_value(), algorithm="HS256")
    with pytest.raises(TokenInvalid):
        decode_access_token(auth_settings, token, now=NOW)


def test_opaque_tokens_are_random_and_hashed() -> None:
    first, second = new_opaque_token(), new_opaque_token()
    assert first != second and len(first) == 64
    assert len(hash_token(first)) == 64 and hash_token(first) != first
