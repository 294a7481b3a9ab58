"""Errors of the API-key store. Messages never contain a key, plain or encrypted."""

from __future__ import annotations

from simfocus.kit.errors import NotFound, SimfocusError


class ApiKeyNotFound(NotFound):
    """A missing key or another user's key: the same answer, so ids reveal nothing."""

    code = "API_KEY_NOT_FOUND"


class MasterKeyInvalid(SimfocusError):
    code = "MASTER_KEY_INVALID"


class KeyDecryptionFailed(SimfocusError):
    """The stored ciphertext does not open: another master key, or a tampered row."""

    code = "KEY_DECRYPTION_FAILED"
