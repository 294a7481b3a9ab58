"""Password hashing and strength rules."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from simfocus.accounts import passwords
from simfocus.accounts.errors import WeakPassword
from simfocus.accounts.passwords import check_strength, hash_password, verify_password

# Taken at import, before the autouse fixture swaps in cheap parameters.
PRODUCTION_HASHER = passwords.HASHER


def test_hashes_are_argon2id_salted_and_verify() -> None:
    first, second = hash_password("Correct-Horse-42"), hash_password("Correct-Horse-42")
    assert first.startswith("$argon2id$") and first != second
    assert verify_password(first, "Correct-Horse-42") == (True, None)
    assert verify_password(first, "correct-horse-42") == (False, None)
    assert verify_password("!disabled", "anything") == (False, None)


def test_the_production_hasher_is_argon2id_with_real_cost() -> None:
    assert PRODUCTION_HASHER.type is Type.ID
    assert PRODUCTION_HASHER.memory_cost >= 19 * 1024 and PRODUCTION_HASHER.time_cost >= 2


def test_outdated_parameters_are_rehashed_on_success() -> None:
    old = PasswordHasher(time_cost=1, memory_cost=32, parallelism=1).hash("Correct-Horse-42")
    result = verify_password(old, "Correct-Horse-42")
    assert result.ok and result.new_hash is not None and result.new_hash != old
    assert verify_password(result.new_hash, "Correct-Horse-42") == (True, None)


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("Sh0rt!pw", "at least 10 characters"),
        ("alllowercaseletters", None),  # 19 characters, one class: a passphrase is fine
        ("onlylower12", "at least 3 of"),  # two classes, under 16 characters
        ("Password123!", "most common"),
        ("qwertyuiop", "at least 3 of"),
        ("Ada-Lovelace-99", "name or email"),
        ("xx-ADA.LOVE-99", "name or email"),  # the email's local part, any case
    ],
)
def test_strength_rules(password: str, fragment: str | None) -> None:
    if fragment is None:
        check_strength(password, "ada.love@example.com", "Ada Lovelace")
        return
    with pytest.raises(WeakPassword, match=fragment) as info:
        check_strength(password, "ada.love@example.com", "Ada Lovelace")
    assert info.value.field == "password" and info.value.code == "WEAK_PASSWORD"
    assert info.value.status == 422


def test_common_passwords_are_refused_even_when_long_and_mixed() -> None:
    with pytest.raises(WeakPassword, match="most common"):
        check_strength("P@ssw0rd123", "someone@example.com", "Someone")


def test_short_name_parts_do_not_forbid_everything() -> None:
    check_strength("Al-was-here-2024", "al@example.com", "Al Bo")
