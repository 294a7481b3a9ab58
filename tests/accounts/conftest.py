"""Fixtures of the accounts tests: a rolled-back session per test, cheap argon2."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from pydantic import SecretStr

from simfocus.accounts import passwords
from simfocus.settings import Settings

JWT_SECRET = "test-secret-for-accounts-" + "0123456789abcdef" * 3


@pytest.fixture
def auth_settings(tmp_path: Path) -> Settings:
    return Settings(environment="test", data_dir=tmp_path, jwt_secret=SecretStr(JWT_SECRET))


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Minimal argon2 parameters: the rules are tested, not the hash's cost."""
    monkeypatch.setattr(
        passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )
