"""AES-256-GCM for stored keys and the master key's sources."""

from __future__ import annotations

import base64
import logging
import secrets
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from simfocus.keys.crypto import KeyCipher, associated_data, load_master_key
from simfocus.keys.errors import KeyDecryptionFailed, MasterKeyInvalid
from simfocus.settings import Settings


def test_round_trip_with_random_nonces(cipher: KeyCipher) -> None:
    ad = associated_data("key-1", "user-1")
    first, second = cipher.encrypt("sk-secret-1234", ad), cipher.encrypt("sk-secret-1234", ad)
    assert first != second and first[:12] != second[:12]
    assert b"sk-secret" not in first
    assert cipher.decrypt(first, ad) == "sk-secret-1234"
    assert "sk-" not in repr(cipher)


def test_a_ciphertext_is_bound_to_its_row_and_owner(cipher: KeyCipher) -> None:
    blob = cipher.encrypt("sk-secret-1234", associated_data("key-1", "user-1"))
    for ad in (associated_data("key-2", "user-1"), associated_data("key-1", "user-2")):
        with pytest.raises(KeyDecryptionFailed):
            cipher.decrypt(blob, ad)


def test_tampering_and_other_master_keys_fail(cipher: KeyCipher) -> None:
    ad = associated_data("key-1", "user-1")
    blob = cipher.encrypt("sk-secret-1234", ad)
    for index in (0, 12, len(blob) - 1):  # nonce, ciphertext, tag
        tampered = bytearray(blob)
        tampered[index] ^= 1
        with pytest.raises(KeyDecryptionFailed) as info:
            cipher.decrypt(bytes(tampered), ad)
        assert "sk-" not in str(info.value)
    with pytest.raises(KeyDecryptionFailed):
        cipher.decrypt(blob[:10], ad)
    with pytest.raises(KeyDecryptionFailed):
        KeyCipher(secrets.token_bytes(32)).decrypt(blob, ad)


def test_the_master_key_must_have_32_bytes() -> None:
    with pytest.raises(MasterKeyInvalid):
        KeyCipher(b"short")


def test_master_key_from_settings(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    settings = Settings(
        environment="test", data_dir=tmp_path, master_key=SecretStr(base64.b64encode(key).decode())
    )
    assert load_master_key(settings) == key
    assert not (tmp_path / "master.key").exists()
    for bad in (base64.b64encode(b"x" * 16).decode(), "not base64 !!"):
        wrong = Settings(environment="test", data_dir=tmp_path, master_key=SecretStr(bad))
        with pytest.raises(MasterKeyInvalid, match="SIMFOCUS_MASTER_KEY") as info:
            load_master_key(wrong)
        assert bad not in str(info.value)


def test_master_key_file_is_generated_once_and_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    settings = Settings(environment="test", data_dir=tmp_path / "data")
    key = load_master_key(settings)
    path = tmp_path / "data" / "master.key"
    assert len(key) == 32 and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "Generated a new master key" in caplog.text and "SIMFOCUS_MASTER_KEY" in caplog.text
    assert base64.b64encode(key).decode() not in caplog.text
    caplog.clear()
    assert load_master_key(settings) == key  # reused, not regenerated
    assert "Generated" not in caplog.text


def test_a_corrupt_master_key_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "master.key").write_text("dG9vIHNob3J0\n")
    path = tmp_path / "master.key"
    path.chmod(0o600)
    with pytest.raises(MasterKeyInvalid, match=r"master\.key"):
        load_master_key(Settings(environment="test", data_dir=tmp_path))
