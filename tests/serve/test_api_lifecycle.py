"""The data lifecycle over HTTP: export everything, delete the account (and its data)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from websockets.sync.client import connect

from actors.moderator import moderator_name
from simfocus.accounts.lifecycle import PurgeCounts
from simfocus.settings import Settings
from simfocus.store.engine import create_engine, session_factory
from simfocus.store.models import (
    AuditLog,
    CharacterRow,
    DiscussionRow,
    MessageRow,
    TopicRow,
    User,
)
from tests.serve.conftest import Account, Api, register
from tests.serve.test_api_journey import data, error, make_discussion

pytestmark = [pytest.mark.ray]
T = TypeVar("T")


def in_store(api: Api, read: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Read the API's store directly (an engine of this event loop, disposed after)."""

    async def go() -> T:
        engine = create_engine(api.settings.resolved_database_url)
        try:
            async with session_factory(engine)() as session:
                return await read(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def finished_discussion(api: Api, who: Account) -> str:
    """A discussion run to its end (report included: the socket closes after it)."""
    discussion_id = make_discussion(api, who, rounds=2)
    with api.client(who.token) as c:
        data(c.post(f"/v1/discussions/{discussion_id}/start"))
    with connect(f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={who.token}") as ws:
        ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
        for _ in ws:
            pass
    return discussion_id


def store_counts(api: Api, user_id: str, discussion_ids: list[str]) -> dict[str, int]:
    async def read(session: AsyncSession) -> dict[str, int]:
        counts = {}
        for name, model, where in (
            ("discussions", DiscussionRow, DiscussionRow.id.in_(discussion_ids)),
            ("messages", MessageRow, MessageRow.discussion_id.in_(discussion_ids)),
            ("topics", TopicRow, TopicRow.user_id == user_id),
            ("characters", CharacterRow, CharacterRow.user_id == user_id),
        ):
            query = select(func.count()).select_from(model).where(where)
            counts[name] = int(await session.scalar(query) or 0)
        return counts

    return in_store(api, read)


async def _trail(session: AsyncSession, user_id: str) -> list[AuditLog]:
    return list(await session.scalars(select(AuditLog).where(AuditLog.user_id == user_id)))


def test_export_is_a_json_file_with_the_users_discussions(api: Api) -> None:
    ana = register(api, "Exporter")
    other = register(api, "Bystander")
    discussion_id = finished_discussion(api, ana)
    make_discussion(api, other)
    with api.client(ana.token) as c:
        response = c.get("/v1/users/me/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == (
        'attachment; filename="simfocus-export.json"'
    )
    assert response.headers["x-request-id"]
    export = response.json()
    assert export["format"] == "simfocus-export-v1" and export["exported_at"]
    assert export["user"]["id"] == ana.user_id and export["user"]["email"] == ana.email
    [exported] = export["discussions"]
    assert exported["id"] == discussion_id and exported["status"] == "completed"
    assert len(exported["participants"]) == 3 and exported["report"]["status"] == "ready"
    with api.client(ana.token) as c:
        messages = data(c.get(f"/v1/discussions/{discussion_id}/messages?per_page=100"))
    assert [m["content"] for m in exported["messages"]] == [m["content"] for m in messages]
    assert export["usage"]["messages"] == len(messages) > 0
    assert len(export["characters"]) == 3 and len(export["topics"]) == 1
    for secret in ("password_hash", "token_hash", "encrypted_key", ana.password, ana.token):
        assert secret not in response.text
    assert other.email not in response.text and other.user_id not in response.text
    with api.client() as anonymous:
        assert error(anonymous.get("/v1/users/me/export"), 401)["code"] == "UNAUTHORIZED"


def test_deleting_the_account_stops_and_erases_everything_of_it(api: Api) -> None:
    import ray

    ana = register(api, "Leaver")
    bob = register(api, "Stayer")
    done = finished_discussion(api, ana)
    running = make_discussion(api, ana, rounds=30, pacing=0.3)
    bobs = finished_discussion(api, bob)
    with api.client(ana.token) as c:
        link = data(c.post(f"/v1/discussions/{done}/share", json={}), 201)
        assert data(c.post(f"/v1/discussions/{running}/start"))["status"] == "running"
        assert c.get("/v1/users/me/export").status_code == 200  # audited
    bob_before = store_counts(api, bob.user_id, [bobs])

    with api.client(ana.token) as c:
        body = data(c.delete("/v1/users/me"))

    assert body["deleted"] is True and body["stopped"] >= 1
    erased = body["erased"]
    assert erased["discussions"] == 2 and erased["topics"] == 2 and erased["characters"] == 6
    assert erased["messages"] > 0 and erased["reports"] >= 1 and erased["share_links"] == 1
    # The moderator of the running discussion is gone, not left writing to the store.
    with pytest.raises(ValueError):
        ray.get_actor(moderator_name(running))
    # The old credentials are dead.
    with api.client(ana.token) as c:
        assert error(c.get("/v1/users/me"), 401)["code"] == "TOKEN_INVALID"
        error(c.get(f"/v1/discussions/{done}"), 401)
    with api.client() as c:
        error(c.post("/v1/auth/login", json={"email": ana.email, "password": ana.password}), 401)
        error(c.post("/v1/auth/refresh", json={"refresh_token": ana.refresh_token}), 401)
        # Gone for everyone: the share link, and the discussion in the store.
        assert c.get(f"/s/{link['slug']}").status_code == 404
    assert store_counts(api, ana.user_id, [done, running]) == {
        "discussions": 0,
        "messages": 0,
        "topics": 0,
        "characters": 0,
    }
    # A late write of the stopped moderator would have brought rows back: give it a moment.
    time.sleep(1)
    assert store_counts(api, ana.user_id, [done, running])["messages"] == 0
    # The audit trail stays, de-identified.
    trail = in_store(api, lambda session: _trail(session, ana.user_id))
    actions = {a.action for a in trail}
    assert {"user.register", "auth.login", "user.export", "user.delete"} <= actions
    assert all(a.ip_address is None and a.user_agent is None for a in trail)
    row = in_store(api, lambda session: session.get(User, ana.user_id))
    assert row is not None and row.deleted_at is not None and ana.email != row.email
    # The other user's data is untouched and still theirs.
    assert store_counts(api, bob.user_id, [bobs]) == bob_before
    with api.client(bob.token) as c:
        assert data(c.get(f"/v1/discussions/{bobs}"))["status"] == "completed"
        assert data(c.get(f"/v1/discussions/{bobs}/messages"))
        error(c.get(f"/v1/discussions/{done}"), 404)
    # The email is free again.
    with api.client() as c:
        again = c.post(
            "/v1/auth/register", json={"email": ana.email, "password": ana.password, "name": "A"}
        )
        assert again.status_code == 201, again.text


async def test_the_retention_loop_purges_once_per_interval(settings: Settings) -> None:
    from fastapi import FastAPI

    from serve.context import ApiContext
    from serve.retention import RetentionLoop, retention_lifespan

    ctx = ApiContext.create(settings.model_copy(update={"retention_interval_s": 0.5}))
    try:
        loop = RetentionLoop(ctx, first_delay_s=0)
        assert isinstance(await loop.run_once(), PurgeCounts)
        assert await loop.run_once() is None  # another purge ran within the interval
        await asyncio.sleep(0.6)
        assert isinstance(await loop.run_once(), PurgeCounts)
        # As the app's lifespan: started with the app, cancelled cleanly with it.
        app = FastAPI()
        app.state.ctx = ctx
        async with retention_lifespan(app):
            await asyncio.sleep(0.05)
    finally:
        await ctx.aclose()
