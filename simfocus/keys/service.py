"""Users' provider keys: add, list, change, delete — and decrypt, for the LLM gateway.

Everything returned to callers is an ``ApiKeyOut`` (masked); only ``decrypt_key`` yields
the key, and nothing here logs it or puts it into an error or audit row.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.keys.crypto import KeyCipher, associated_data
from simfocus.keys.errors import ApiKeyNotFound
from simfocus.keys.repository import ApiKeyRepository
from simfocus.keys.schemas import HINT_CHARS, ApiKeyIn, ApiKeyOut, ApiKeyPatch
from simfocus.kit.audit import ClientInfo, audit
from simfocus.store.models import UserApiKey, new_id, utcnow

RESOURCE = "api_key"


def to_out(row: UserApiKey) -> ApiKeyOut:
    """The masked view of a stored key."""
    return ApiKeyOut(
        id=row.id,
        provider=row.provider,
        key_name=row.key_name,
        key_hint="…" + row.key_hint,
        api_base_url=row.api_base_url,
        default_model=row.default_model,
        created_at=as_utc(row.created_at),
        last_used_at=as_utc(row.last_used_at) if row.last_used_at else None,
    )


async def add_key(
    session: AsyncSession,
    cipher: KeyCipher,
    user_id: str,
    data: ApiKeyIn,
    client: ClientInfo | None = None,
) -> ApiKeyOut:
    """Store a new key for ``user_id``, encrypted and bound to its row and owner."""
    repo = ApiKeyRepository(session)
    key_id = new_id()  # needed before insert: the ciphertext is bound to it
    row = UserApiKey(
        id=key_id,
        user_id=user_id,
        provider=data.provider,
        key_name=data.key_name,
        api_base_url=data.api_base_url,
        default_model=data.default_model,
    )
    _set_secret(row, cipher, data.api_key.get_secret_value())
    repo.add(row)
    _audit(session, "api_key.add", row, client, {"provider": row.provider})
    await repo.flush()
    return to_out(row)


async def list_keys(session: AsyncSession, user_id: str) -> list[ApiKeyOut]:
    """The user's keys, oldest first, masked."""
    return [to_out(row) for row in await ApiKeyRepository(session).of_user(user_id)]


async def get_key(session: AsyncSession, user_id: str, key_id: str) -> ApiKeyOut:
    """One of the user's keys, masked; ApiKeyNotFound for a missing or foreign id."""
    return to_out(await _owned(ApiKeyRepository(session), key_id, user_id))


async def patch_key(
    session: AsyncSession,
    cipher: KeyCipher,
    user_id: str,
    key_id: str,
    patch: ApiKeyPatch,
    client: ClientInfo | None = None,
) -> ApiKeyOut:
    """Apply the fields present in ``patch``; ``api_key`` rotates the stored secret."""
    repo = ApiKeyRepository(session)
    row = await _owned(repo, key_id, user_id)
    fields = patch.model_fields_set
    changed: list[str] = []
    if "key_name" in fields and patch.key_name is not None:
        row.key_name = patch.key_name
        changed.append("key_name")
    if "api_base_url" in fields:
        row.api_base_url = patch.api_base_url
        changed.append("api_base_url")
    if "default_model" in fields:
        row.default_model = patch.default_model
        changed.append("default_model")
    if "api_key" in fields and patch.api_key is not None:
        _set_secret(row, cipher, patch.api_key.get_secret_value())
        changed.append("api_key")
    _audit(session, "api_key.update", row, client, {"fields": changed})
    await repo.flush()
    return to_out(row)


async def delete_key(
    session: AsyncSession, user_id: str, key_id: str, client: ClientInfo | None = None
) -> None:
    """Delete one of the user's keys (discussions that used it keep running without it:
    their ``api_key_id`` becomes NULL)."""
    repo = ApiKeyRepository(session)
    row = await _owned(repo, key_id, user_id)
    _audit(session, "api_key.delete", row, client, {"provider": row.provider})
    await repo.delete(row)
    await repo.flush()


async def decrypt_key(
    session: AsyncSession, cipher: KeyCipher, *, user_id: str, key_id: str
) -> str:
    """The plain key, for the LLM gateway only; records ``last_used_at``.

    The ids are keyword-only: two positional strings are too easy to swap.

    Raises ApiKeyNotFound, or KeyDecryptionFailed for a tampered row or another master key.
    """
    repo = ApiKeyRepository(session)
    row = await _owned(repo, key_id, user_id)
    plain = cipher.decrypt(row.encrypted_key, associated_data(row.id, row.user_id))
    row.last_used_at = utcnow()
    await repo.flush()
    return plain


async def decrypt_stored_key(
    session: AsyncSession, cipher: KeyCipher, key_id: str
) -> tuple[str, str]:
    """(provider, plain key) of a stored key, for the gateway, which gets only the key id.

    Whose key it is was checked when the discussion was created; the ciphertext is bound
    to its row and owner (associated data), so a row cannot be swapped in.
    """
    row = await session.get(UserApiKey, key_id)
    if row is None:
        raise ApiKeyNotFound("no such API key", field="api_key_id")
    plain = cipher.decrypt(row.encrypted_key, associated_data(row.id, row.user_id))
    row.last_used_at = utcnow()
    await session.flush()
    return row.provider, plain


def as_utc(moment: datetime) -> datetime:
    """SQLite keeps no time zone; everything we write is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _set_secret(row: UserApiKey, cipher: KeyCipher, plain: str) -> None:
    row.encrypted_key = cipher.encrypt(plain, associated_data(row.id, row.user_id))
    row.key_hint = plain[-HINT_CHARS:]


async def _owned(repo: ApiKeyRepository, key_id: str, user_id: str) -> UserApiKey:
    row = await repo.owned(key_id, user_id)
    if row is None:
        raise ApiKeyNotFound("No such API key.")
    return row


def _audit(
    session: AsyncSession,
    action: str,
    row: UserApiKey,
    client: ClientInfo | None,
    details: dict[str, object],
) -> None:
    audit(
        session,
        action,
        user_id=row.user_id,
        client=client,
        resource_type=RESOURCE,
        resource_id=row.id,
        details={"key_name": row.key_name, **details},
    )
