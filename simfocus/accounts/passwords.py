"""Password hashing (argon2id) and the strength rules for new passwords."""

from __future__ import annotations

import secrets
import string
from functools import cache
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from simfocus.accounts.errors import WeakPassword

# argon2id (the library's default type) with OWASP's first recommended profile: 19 MiB,
# 2 passes, 1 lane (~20-40 ms). Tests may monkeypatch HASHER with cheaper parameters;
# hashes record their parameters, so verify works across profiles and needs_rehash
# upgrades old ones on the next login.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

MIN_LENGTH = 10
# From this length a password needs no mix of character classes (a passphrase).
PASSPHRASE_LENGTH = 16
MIN_CLASSES = 3

# The most common leaked passwords of at least MIN_LENGTH characters (shorter ones fail
# the length rule anyway). Compared case-insensitively.
COMMON_PASSWORDS = frozenset(
    {
        "1234567890",
        "12345678910",
        "123456789a",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "abcd123456",
        "abc1234567",
        "qwertyuiop",
        "qwerty12345",
        "qwerty123456",
        "password12",
        "password123",
        "password1234",
        "password1!",
        "password123!",
        "passw0rd123",
        "p@ssw0rd123",
        "p@ssword123",
        "iloveyou123",
        "welcome123",
        "welcome123!",
        "letmein123",
        "letmein123!",
        "admin12345",
        "admin123456",
        "administrator",
        "changeme123",
        "sunshine123",
        "football123",
        "baseball123",
        "princess123",
        "superman123",
        "trustno1234",
        "monkey12345",
        "dragon12345",
        "zaq12wsxcde",
        "asdfghjkl1",
        "q1w2e3r4t5",
        "1234qwerasdf",
        "computer123",
        "starwars123",
        "whatever123",
        "simfocus123",
        "simfocus123!",
    }
)


class Verification(NamedTuple):
    ok: bool
    new_hash: str | None  # set when the stored hash should be replaced (old parameters)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted; parameters encoded in the string).

    CPU- and memory-heavy on purpose: async callers run it in a thread.
    """
    return HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> Verification:
    """Check ``password`` against ``password_hash`` in constant time.

    A malformed hash counts as a mismatch (a disabled account may store a placeholder).
    On success, ``new_hash`` is a fresh hash when the stored one uses outdated parameters.
    """
    try:
        HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return Verification(False, None)
    if HASHER.check_needs_rehash(password_hash):
        return Verification(True, HASHER.hash(password))
    return Verification(True, None)


@cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_urlsafe(16))


def dummy_verify(password: str) -> None:
    """Spend the time of a real verification, so an unknown email answers no faster."""
    verify_password(_dummy_hash(), password)


def check_strength(password: str, email: str, name: str) -> None:
    """Raise WeakPassword with a message saying what to change, or return."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"The password needs at least {MIN_LENGTH} characters.")
    if len(password) < PASSPHRASE_LENGTH and _classes(password) < MIN_CLASSES:
        raise WeakPassword(
            f"Use at least {MIN_CLASSES} of: lower-case letters, upper-case letters, digits, "
            f"symbols — or a passphrase of at least {PASSPHRASE_LENGTH} characters."
        )
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS:
        raise WeakPassword("This password is among the most common ones; choose another.")
    if any(part in lowered for part in _personal_parts(email, name)):
        raise WeakPassword("The password must not contain your name or email address.")


def _classes(password: str) -> int:
    groups = (
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    )
    return sum(groups)


def _personal_parts(email: str, name: str) -> set[str]:
    # Parts shorter than 3 characters ("Al", "jo@...") would forbid too much to be useful.
    local = email.split("@", 1)[0].lower()
    words = {w for w in name.lower().split() if w}
    joined = "".join(c for c in name.lower() if c not in string.whitespace)
    return {p for p in {local, joined, *words} if len(p) >= 3}
