"""Stored provider keys: encrypted, owner-checked, audited, never shown or logged."""

from __future__ import annotations

import logging
import uuid

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.accounts import service as accounts
from simfocus.keys import service
from simfocus.keys.crypto import KeyCipher
from simfocus.keys.errors import ApiKeyNotFound, KeyDecryptionFailed
from simfocus.keys.schemas import ApiKeyIn, ApiKeyPatch
from simfocus.kit.audit import ClientInfo
from simfocus.kit.errors import NotFound
from simfocus.store.models import AuditLog, User, UserApiKey
from tests.keys.conftest import make_user

PLANTED = "sk-planted-" + uuid.uuid4().hex
CLIENT = ClientInfo(ip="198.51.100.1", user_agent="pytest")


def key_in(secret: str = PLANTED, **extra: object) -> ApiKeyIn:
    return ApiKeyIn.model_validate(
        {"provider": "openai", "key_name": "work", "api_key": secret, **extra}
    )


async def test_add_list_get_masked(session: AsyncSession, user: User, cipher: KeyCipher) -> None:
    added = await service.add_key(
        session, cipher, user.id, key_in(api_base_url="https://llm.example/v1"), CLIENT
    )
    assert added.key_hint == "…" + PLANTED[-4:]
    assert added.api_base_url == "https://llm.example/v1" and added.last_used_at is None
    assert added.created_at.tzinfo is not None
    second = await service.add_key(session, cipher, user.id, key_in("sk-other-12345678"))
    listed = await service.list_keys(session, user.id)
    assert [k.id for k in listed] == [added.id, second.id]
    assert await service.get_key(session, user.id, added.id) == listed[0]

    row = await session.get(UserApiKey, added.id)
    assert row is not None and PLANTED.encode() not in row.encrypted_key
    assert row.key_hint == PLANTED[-4:]


async def test_another_users_key_is_not_found(
    session: AsyncSession, user: User, cipher: KeyCipher
) -> None:
    added = await service.add_key(session, cipher, user.id, key_in())
    eve = await make_user(session, "eve")
    assert await service.list_keys(session, eve.id) == []
    calls = [
        service.get_key(session, eve.id, added.id),
        service.patch_key(session, cipher, eve.id, added.id, ApiKeyPatch(key_name="mine")),
        service.delete_key(session, eve.id, added.id),
        service.decrypt_key(session, cipher, user_id=eve.id, key_id=added.id),
        service.get_key(session, user.id, "no-such-key"),
    ]
    messages = set()
    for call in calls:
        with pytest.raises(ApiKeyNotFound) as info:
            await call
        assert isinstance(info.value, NotFound) and info.value.status == 404
        messages.add(str(info.value))
    assert len(messages) == 1  # a foreign key looks exactly like a missing one


async def test_patch_rotate_and_clear(session: AsyncSession, user: User, cipher: KeyCipher) -> None:
    added = await service.add_key(
        session, cipher, user.id, key_in(api_base_url="https://a.example", default_model="m1")
    )
    patch = ApiKeyPatch.model_validate({"key_name": "renamed", "api_base_url": None})
    changed = await service.patch_key(session, cipher, user.id, added.id, patch, CLIENT)
    assert changed.key_name == "renamed" and changed.api_base_url is None
    assert changed.default_model == "m1"  # absent from the patch: untouched

    rotated = ApiKeyPatch.model_validate({"api_key": "sk-rotated-abcdefgh"})
    out = await service.patch_key(session, cipher, user.id, added.id, rotated)
    assert out.key_hint == "…efgh"
    assert (
        await service.decrypt_key(session, cipher, user_id=user.id, key_id=added.id)
        == "sk-rotated-abcdefgh"
    )


async def test_decrypt_records_use_and_detects_moved_ciphertexts(
    session: AsyncSession, user: User, cipher: KeyCipher
) -> None:
    first = await service.add_key(session, cipher, user.id, key_in())
    second = await service.add_key(session, cipher, user.id, key_in("sk-second-12345678"))
    assert await service.decrypt_key(session, cipher, user_id=user.id, key_id=first.id) == PLANTED
    assert (await service.get_key(session, user.id, first.id)).last_used_at is not None

    rows = {r.id: r for r in (await session.scalars(select(UserApiKey))).all()}
    rows[second.id].encrypted_key = rows[first.id].encrypted_key  # copied to another row
    with pytest.raises(KeyDecryptionFailed):
        await service.decrypt_key(session, cipher, user_id=user.id, key_id=second.id)


async def test_delete_and_audit(session: AsyncSession, user: User, cipher: KeyCipher) -> None:
    added = await service.add_key(session, cipher, user.id, key_in(), CLIENT)
    await service.patch_key(session, cipher, user.id, added.id, ApiKeyPatch(key_name="x"))
    await service.delete_key(session, user.id, added.id, CLIENT)
    assert await service.list_keys(session, user.id) == []
    logged = (
        await session.scalars(
            select(AuditLog).where(AuditLog.user_id == user.id).order_by(AuditLog.created_at)
        )
    ).all()
    assert [a.action for a in logged] == ["api_key.add", "api_key.update", "api_key.delete"]
    assert all(a.resource_type == "api_key" and a.resource_id == added.id for a in logged)
    assert logged[0].ip_address == "198.51.100.1"


async def test_deleting_the_account_drops_its_keys(
    session: AsyncSession, user: User, cipher: KeyCipher
) -> None:
    await service.add_key(session, cipher, user.id, key_in())
    await accounts.delete_me(session, user)
    assert (await session.scalars(select(UserApiKey))).all() == []


async def test_the_planted_key_appears_nowhere(
    session: AsyncSession, user: User, cipher: KeyCipher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    data = key_in()
    assert PLANTED not in repr(data) and PLANTED not in str(data.model_dump())
    added = await service.add_key(session, cipher, user.id, data, CLIENT)
    rotate = ApiKeyPatch.model_validate({"api_key": PLANTED + "x"})
    assert PLANTED not in repr(rotate)
    patched = await service.patch_key(session, cipher, user.id, added.id, rotate, CLIENT)
    listed = await service.list_keys(session, user.id)
    got = await service.get_key(session, user.id, added.id)
    await service.decrypt_key(session, cipher, user_id=user.id, key_id=added.id)
    row = await session.get(UserApiKey, added.id)
    audit_rows = (await session.scalars(select(AuditLog))).all()

    for shown in (added, patched, got, *listed):
        assert PLANTED not in repr(shown) and PLANTED not in shown.model_dump_json()
    assert PLANTED not in repr(row)
    assert all(PLANTED not in f"{a.details}" for a in audit_rows)
    assert PLANTED not in caplog.text

    with pytest.raises(ValidationError) as info:  # a refused key is not echoed back
        ApiKeyIn.model_validate({"provider": "openai", "key_name": "k", "api_key": PLANTED + " x"})
    assert PLANTED not in str(info.value) and PLANTED not in repr(info.value.errors())


@pytest.mark.parametrize(
    "bad",
    [
        {"provider": "mistral"},
        {"key_name": ""},
        {"key_name": "x" * 121},
        {"api_key": "short"},
        {"api_key": "x" * 501},
        {"api_base_url": "ftp://files.example"},
        {"api_base_url": "https://user:pw@llm.example"},
        {"api_base_url": "https://" + "a" * 500 + ".example"},
        {"default_model": "m" * 121},
        {"unknown": 1},
    ],
)
def test_key_input_is_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ApiKeyIn.model_validate({"provider": "openai", "key_name": "k", "api_key": PLANTED, **bad})
