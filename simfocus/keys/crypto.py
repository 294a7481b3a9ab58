"""AES-256-GCM for stored provider keys, and the master key it uses."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
import stat

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from simfocus.keys.errors import KeyDecryptionFailed, MasterKeyInvalid
from simfocus.settings import Settings

logger = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12  # GCM's standard nonce; random per encryption (2^32 encryptions are safe)
MASTER_KEY_FILE = "master.key"
GENERATE_HINT = 'python -c "import base64,os; print(base64.b64encode(os.urandom(32)).decode())"'


class KeyCipher:
    """Encrypts and decrypts provider keys; blobs are ``nonce || ciphertext+tag``."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise MasterKeyInvalid(f"The master key must be {KEY_BYTES} bytes.")
        self._aead = AESGCM(master_key)

    def __repr__(self) -> str:
        return "KeyCipher(<hidden>)"

    def encrypt(self, plaintext: str, associated_data: bytes) -> bytes:
        """Encrypt ``plaintext`` bound to ``associated_data`` (see ``associated_data()``)."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), associated_data)

    def decrypt(self, blob: bytes, associated_data: bytes) -> str:
        """The plaintext, or KeyDecryptionFailed when the blob or its binding was altered."""
        if len(blob) <= NONCE_BYTES:
            raise KeyDecryptionFailed("The stored API key cannot be decrypted.")
        try:
            plain = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise KeyDecryptionFailed("The stored API key cannot be decrypted.") from None
        return plain.decode()


def associated_data(key_id: str, user_id: str) -> bytes:
    """What a ciphertext is bound to: copied into another row or user, it fails to open."""
    return f"simfocus/user_api_keys/{key_id}/{user_id}".encode()


def load_master_key(settings: Settings) -> bytes:
    """The 32-byte master key: SIMFOCUS_MASTER_KEY, else ``data_dir/master.key``.

    The file is generated on first use (0600) — fine for one machine; a cluster must set
    SIMFOCUS_MASTER_KEY so every replica can decrypt.
    """
    configured = settings.master_key.get_secret_value().strip()
    if configured:
        return _decode(configured, "SIMFOCUS_MASTER_KEY")
    path = settings.data_dir / MASTER_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting at once, one creates and the other reads.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            logger.warning("%s is readable by other users; chmod 600 it", path)
        return _decode(path.read_text().strip(), str(path))
    key = secrets.token_bytes(KEY_BYTES)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    logger.warning(
        "Generated a new master key for stored API keys in %s. Back it up: without it the "
        "stored keys cannot be decrypted. Set SIMFOCUS_MASTER_KEY instead when running "
        "more than one machine.",
        path,
    )
    return key


def _decode(text: str, source: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyInvalid(
            f"{source} is not valid base64; generate a key with: {GENERATE_HINT}"
        ) from None
    if len(key) != KEY_BYTES:
        raise MasterKeyInvalid(
            f"{source} must be base64 of {KEY_BYTES} bytes (got {len(key)}); generate a key "
            f"with: {GENERATE_HINT}"
        )
    return key
