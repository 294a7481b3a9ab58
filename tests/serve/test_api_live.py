"""Stored keys through the gateway, the WebSocket protocol's edges, audit rows, rate limits."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.sync.client import connect

from simfocus.store.engine import session_factory
from simfocus.store.models import AuditLog
from tests.fakes.llm_servers import FakeLLMServer, Fault
from tests.serve.conftest import Account, Api, free_port, register
from tests.serve.test_api_journey import data, error, make_discussion

pytestmark = [pytest.mark.ray]
STORED_KEY = "sk-stored-user-key-0123456789abcdef"


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer("openai", api_key=STORED_KEY) as server:
        yield server


def test_a_stored_key_runs_a_discussion_and_can_be_tested(
    api: Api, alice: Account, llm_server: FakeLLMServer
) -> None:
    with api.client(alice.token) as c:
        key = data(
            c.post(
                "/v1/users/me/api-keys",
                json={
                    "provider": "openai",
                    "key_name": "local",
                    "api_key": STORED_KEY,
                    "api_base_url": llm_server.base_url,
                    "default_model": "local-model",
                },
            ),
            201,
        )
        assert data(c.post(f"/v1/users/me/api-keys/{key['id']}/test"))["valid"] is True
        topic = data(c.post("/v1/topics", json={"title": "Night buses"}), 201)
        ids = [
            data(c.post("/v1/characters/from-template", json={"template_id": t}), 201)["id"]
            for t in ("pensioner", "university_student")
        ]
        # The discussion goes to the key's own endpoint (its api_base_url).
        body = {
            "topic_id": topic["id"],
            "character_ids": ids,
            "max_rounds": 1,
            "pacing_s": 0,
            "llm_provider": "openai",
            "llm_model": "local-model",
            "api_key_id": key["id"],
        }
        discussion = data(c.post("/v1/discussions", json=body), 201)
        data(c.post(f"/v1/discussions/{discussion['id']}/start"))
        with connect(
            f"{api.ws_url}/v1/ws/discussions/{discussion['id']}?token={alice.token}"
        ) as ws:
            ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
            statuses = [json.loads(raw) for raw in ws]
        final = data(c.get(f"/v1/discussions/{discussion['id']}"))
        assert final["status"] == "completed", (final["status_reason"], statuses[-3:])
        assert final["usage"]["cost_usd"] > 0
        messages = data(c.get(f"/v1/discussions/{discussion['id']}/messages"))
        assert any(m["content"].startswith("Simulated reply") for m in messages)  # the fake's text
        assert all(
            r["headers"]["authorization"] == f"Bearer {STORED_KEY}" for r in llm_server.requests
        )
        listed = data(c.get("/v1/users/me/api-keys"))
        assert STORED_KEY not in json.dumps(listed)
        llm_server.add_faults(Fault(status=401))
        verdict = data(c.post(f"/v1/users/me/api-keys/{key['id']}/test"))
        assert verdict["valid"] is False and verdict["code"] in (
            "API_KEY_INVALID",
            "LLM_UNAVAILABLE",
        )


def test_websocket_protocol_edges(api: Api, alice: Account) -> None:
    discussion_id = make_discussion(api, alice, rounds=6, pacing=0.5)
    with api.client(alice.token) as c:
        data(c.post(f"/v1/discussions/{discussion_id}/start"))
    with connect(f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={alice.token}") as ws:

        def next_of(kind: str) -> dict[str, Any]:
            while True:
                event = json.loads(ws.recv(timeout=30))
                if event["type"] == kind:
                    return event

        ws.send("this is not json")
        assert next_of("error")["data"]["code"] == "BAD_MESSAGE"
        ws.send(json.dumps({"action": "dance"}))
        assert next_of("error")["data"]["code"] == "UNKNOWN_ACTION"
        ws.send(json.dumps({"action": "ping"}))
        next_of("pong")
        ws.send(json.dumps({"action": "speed", "data": {"speed": 9}}))
        assert next_of("error")["data"]["field"] == "speed"
        ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
        next_of("subscribed")
        assert next_of("message")["seq"] == 1
        ws.send(json.dumps({"action": "speed", "data": {"speed": 3}}))
        ws.send(json.dumps({"action": "stop"}))
        events = []
        for raw in ws:  # the server sends the final status and closes cleanly
            events.append(json.loads(raw))
        assert ws.close_code == 1000
    statuses = [e["data"]["status"] for e in events if e["type"] == "status"]
    assert statuses[-1] == "stopped", [
        (e["type"], e["seq"], e["data"].get("status")) for e in events
    ]


def test_audit_rows_for_logins_keys_and_lifecycle(api: Api, sqlite_engine: AsyncEngine) -> None:
    import asyncio

    carol = register(api, "Carol")
    with api.client() as c:
        error(
            c.post(
                "/v1/auth/login", json={"email": carol.email, "password": "wrong password here"}
            ),
            401,
        )
    with api.client(carol.token) as c:
        key = data(
            c.post(
                "/v1/users/me/api-keys",
                json={"provider": "openai", "key_name": "k", "api_key": "sk-audit-000011112222"},
            ),
            201,
        )
        data(c.delete(f"/v1/users/me/api-keys/{key['id']}"))
    discussion_id = make_discussion(api, carol, rounds=1)
    with api.client(carol.token) as c:
        data(c.post(f"/v1/discussions/{discussion_id}/start"))

    async def actions() -> list[tuple[str, str | None, str | None]]:
        async with session_factory(sqlite_engine)() as session:
            rows = await session.scalars(select(AuditLog).order_by(AuditLog.created_at))
            return [
                (r.action, r.ip_address, r.user_agent)
                for r in rows
                if r.user_id == carol.user_id or (r.details or {}).get("email") == carol.email
            ]

    rows = asyncio.run(actions())
    names = [a for a, _, _ in rows]
    for expected in (
        "auth.login",
        "auth.login_failed",
        "api_key.add",
        "api_key.delete",
        "discussion.create",
        "discussion.start",
    ):
        assert expected in names, names
    assert all(ip == "127.0.0.1" and agent for _, ip, agent in rows)


def test_rate_limits_hold_across_two_replicas(api: Api) -> None:
    """A second app with the seed's limits and two replicas, sharing one counter actor."""
    from ray import serve

    from serve.deployment import DEFAULT_OPTIONS, api_application

    limited = api.settings.model_copy(
        update={
            "auth_per_minute": 5,
            "rate_limit_scope": "limited",
            "mutations_per_minute": 60,
            "discussions_per_hour": 10,
        }
    )
    serve.run(
        api_application(limited, {**DEFAULT_OPTIONS, "num_replicas": 2}),
        name="limited",
        route_prefix="/limited",
    )
    base = f"{api.base_url}/limited"
    try:
        with httpx.Client(base_url=base, timeout=30) as c:
            codes = [
                c.post(
                    "/v1/auth/login", json={"email": "x@example.com", "password": "nope nope"}
                ).status_code
                for _ in range(8)
            ]
        assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3
        with httpx.Client(base_url=base, timeout=30) as c:
            r = c.post("/v1/auth/login", json={"email": "x@example.com", "password": "nope nope"})
            e = error(r, 429)
            assert e["code"] == "RATE_LIMIT_EXCEEDED" and int(r.headers["retry-after"]) >= 1
    finally:
        serve.delete("limited")


def test_request_bodies_are_size_limited(api: Api, alice: Account) -> None:
    with api.client(alice.token) as c:
        e = error(
            c.post(
                "/v1/topics",
                content=b"{" + b" " * 2_000_000 + b"}",
                headers={"content-type": "application/json"},
            ),
            413,
        )
        assert e["code"] == "PAYLOAD_TOO_LARGE"


__all__ = ["free_port"]


def test_open_websockets_per_user_are_limited(api: Api) -> None:
    dave = register(api, "Dave")
    discussion_id = make_discussion(api, dave, rounds=1)  # not started: sockets stay open
    url = f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={dave.token}"
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(connect(url)) for _ in range(api.settings.websockets_per_user)
        ]
        for ws in sockets:
            ws.send(json.dumps({"action": "ping"}))
            assert json.loads(ws.recv(timeout=10))["type"] == "pong"
        with connect(url) as extra:
            event = json.loads(extra.recv(timeout=10))
            assert event["data"]["code"] == "RATE_LIMIT_EXCEEDED"
        sockets[-1].close()
        time.sleep(0.5)  # the server releases the slot when it sees the close
        with connect(url) as again:
            again.send(json.dumps({"action": "ping"}))
            assert json.loads(again.recv(timeout=10))["type"] == "pong"


def test_several_observers_each_get_every_message_once_in_order(api: Api, alice: Account) -> None:
    import threading

    discussion_id = make_discussion(api, alice, rounds=3, pacing=0.1)
    url = f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={alice.token}"
    seen: dict[int, list[int]] = {}

    def watch(i: int) -> None:
        with connect(url) as ws:
            ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
            seen[i] = [e["seq"] for e in map(json.loads, ws) if e["type"] == "message"]

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    with api.client(alice.token) as c:
        data(c.post(f"/v1/discussions/{discussion_id}/start"))
    for t in threads:
        t.join(60)
    assert len(seen) == 3
    first = seen[0]
    assert first == list(range(1, len(first) + 1)) and len(first) > 9
    assert seen[1] == first and seen[2] == first


def test_a_lost_moderator_is_resumed_on_the_next_api_access(api: Api, alice: Account) -> None:
    import ray

    from actors.moderator import moderator_name

    discussion_id = make_discussion(api, alice, rounds=3, pacing=0.3)
    with api.client(alice.token) as c:
        data(c.post(f"/v1/discussions/{discussion_id}/start"))
        time.sleep(1.0)
        ray.kill(ray.get_actor(moderator_name(discussion_id)))
        time.sleep(0.5)
        said = len(
            data(c.get(f"/v1/discussions/{discussion_id}/messages", params={"per_page": 100}))
        )
        paused = data(c.post(f"/v1/discussions/{discussion_id}/pause"))  # resumes, then pauses
        assert paused["status"] == "paused" and paused["last_seq"] >= said
        data(c.post(f"/v1/discussions/{discussion_id}/resume"))
    with connect(f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={alice.token}") as ws:
        ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
        seqs = [e["seq"] for e in map(json.loads, ws) if e["type"] == "message"]
    assert seqs == list(range(1, len(seqs) + 1))
    with api.client(alice.token) as c:
        final = data(c.get(f"/v1/discussions/{discussion_id}"))
    assert final["status"] == "completed"
    assert sum(p["message_count"] for p in final["participants"]) == 3 * 3
