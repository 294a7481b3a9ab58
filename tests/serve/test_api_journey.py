"""The API as a client uses it: real HTTP and WebSocket clients against the Serve app."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.serve.conftest import Account, Api

pytestmark = [pytest.mark.ray]


def data(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errors"] == [] and body["meta"]["request_id"]
    assert response.headers["x-request-id"] == body["meta"]["request_id"]
    return body["data"]


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["data"] is None and body["errors"], body
    assert "Traceback" not in response.text
    return body["errors"][0]


def make_discussion(api: Api, who: Account, rounds: int = 3, pacing: float = 0.0) -> str:
    with api.client(who.token) as c:
        topic = data(
            c.post(
                "/v1/topics",
                json={
                    "title": "A repair café in every library",
                    "description": "Volunteers fix things.",
                },
            ),
            201,
        )
        ids = [
            data(c.post("/v1/characters/from-template", json={"template_id": t}), 201)["id"]
            for t in ("software_engineer", "retired_teacher", "delivery_driver")
        ]
        d = data(
            c.post(
                "/v1/discussions",
                json={
                    "topic_id": topic["id"],
                    "character_ids": ids,
                    "discussion_mode": "creative",
                    "max_rounds": rounds,
                    "pacing_s": pacing,
                    "budget_usd": 1.0,
                },
            ),
            201,
        )
    return str(d["id"])


def test_health_and_openapi(api: Api) -> None:
    with api.client() as c:
        health = data(c.get("/v1/health"))
        assert health["status"] == "ok", health
        spec = c.get("/openapi.json").json()
        assert "/v1/discussions/{discussion_id}/inject-question" in spec["paths"]
        assert c.get("/docs").status_code == 200


def test_the_whole_journey(api: Api, alice: Account) -> None:
    with api.client(alice.token) as c:
        me = data(c.get("/v1/users/me"))
        assert me["email"] == alice.email
        templates = data(c.get("/v1/characters/templates"))
        assert len(templates) >= 12
        key = data(
            c.post(
                "/v1/users/me/api-keys",
                json={
                    "provider": "openai",
                    "key_name": "main",
                    "api_key": "sk-journey-secret-123456789",
                },
            ),
            201,
        )
        assert key["key_hint"].endswith("6789") and "secret" not in json.dumps(key)
        discussion_id = make_discussion(api, alice, rounds=4, pacing=0.3)
        started = data(c.post(f"/v1/discussions/{discussion_id}/start"))
        assert started["status"] == "running"
        events: list[dict[str, Any]] = []
        with connect(f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={alice.token}") as ws:
            ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
            paused = injected = resumed = False
            for raw in ws:
                event = json.loads(raw)
                events.append(event)
                messages = [e for e in events if e["type"] == "message"]
                if len(messages) == 3 and not paused:
                    ws.send(json.dumps({"action": "pause"}))
                    paused = True
                if (
                    paused
                    and not injected
                    and any(
                        e["type"] == "status" and e["data"].get("status") == "paused"
                        for e in events
                    )
                ):
                    ws.send(
                        json.dumps(
                            {"action": "inject", "data": {"question": "Would you volunteer?"}}
                        )
                    )
                    injected = True
                    time.sleep(0.3)
                    ws.send(json.dumps({"action": "resume"}))
                    resumed = True
                if event["type"] == "status" and event["data"].get("status") == "completed":
                    pass
        assert resumed
        kinds = {e["type"] for e in events}
        assert {"subscribed", "message", "status", "progress"} <= kinds
        seqs = [e["seq"] for e in events if e["type"] == "message"]
        assert seqs == list(range(1, len(seqs) + 1))
        final = data(c.get(f"/v1/discussions/{discussion_id}"))
        assert final["status"] == "completed" and len(final["participants"]) == 3
        stored = data(c.get(f"/v1/discussions/{discussion_id}/messages", params={"per_page": 100}))
        assert [m["seq"] for m in stored] == seqs
        question = next(m for m in stored if m["kind"] == "question")
        answers = [m for m in stored if m["responds_to_seq"] == question["seq"]]
        assert len(answers) == 3
        found = data(c.get(f"/v1/discussions/{discussion_id}/messages", params={"q": "volunteer"}))
        assert found and all("volunteer" in m["content"].lower() for m in found)


def test_reconnect_with_last_seq_has_no_gap_and_no_duplicate(api: Api, alice: Account) -> None:
    discussion_id = make_discussion(api, alice, rounds=3, pacing=0.2)
    with api.client(alice.token) as c:
        data(c.post(f"/v1/discussions/{discussion_id}/start"))
    first: list[int] = []
    with connect(f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={alice.token}") as ws:
        ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
        for raw in ws:
            event = json.loads(raw)
            if event["type"] == "message":
                first.append(event["seq"])
                if len(first) == 4:
                    break
    second: list[int] = []
    with connect(f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={alice.token}") as ws:
        ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": first[-1]}}))
        for raw in ws:  # the server closes the socket when the discussion has ended
            event = json.loads(raw)
            if event["type"] == "message":
                second.append(event["seq"])
    assert first + second == list(range(1, len(first) + len(second) + 1))


def test_users_cannot_see_or_touch_each_others_things(
    api: Api, alice: Account, bob: Account
) -> None:
    discussion_id = make_discussion(api, alice)
    with api.client(alice.token) as a:
        topic_id = data(a.get(f"/v1/discussions/{discussion_id}"))["topic_id"]
        character_id = data(a.get("/v1/characters"))[0]["id"]
        key_id = data(
            a.post(
                "/v1/users/me/api-keys",
                json={"provider": "anthropic", "key_name": "k", "api_key": "sk-ant-isolation-9999"},
            ),
            201,
        )["id"]
    with api.client(bob.token) as b:
        for method, path in [
            ("GET", f"/v1/discussions/{discussion_id}"),
            ("DELETE", f"/v1/discussions/{discussion_id}"),
            ("POST", f"/v1/discussions/{discussion_id}/start"),
            ("POST", f"/v1/discussions/{discussion_id}/pause"),
            ("GET", f"/v1/discussions/{discussion_id}/messages"),
            ("GET", f"/v1/topics/{topic_id}"),
            ("PATCH", f"/v1/topics/{topic_id}"),
            ("DELETE", f"/v1/topics/{topic_id}"),
            ("POST", f"/v1/topics/{topic_id}/duplicate"),
            ("GET", f"/v1/characters/{character_id}"),
            ("DELETE", f"/v1/characters/{character_id}"),
            ("PATCH", f"/v1/users/me/api-keys/{key_id}"),
            ("DELETE", f"/v1/users/me/api-keys/{key_id}"),
            ("POST", f"/v1/users/me/api-keys/{key_id}/test"),
        ]:
            body = (
                ({"key_name": "y"} if "api-keys" in path else {"title": "x"})
                if method == "PATCH"
                else None
            )
            r = b.request(method, path, json=body)
            assert r.status_code == 404, (method, path, r.text)
        assert data(b.get("/v1/discussions")) == []
        r = b.post(
            "/v1/discussions",
            json={"topic_id": topic_id, "character_ids": [character_id, character_id]},
        )
        assert r.status_code in (404, 422)
    with connect(f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={bob.token}") as ws:
        event = json.loads(ws.recv())
        assert event["type"] == "error" and event["data"]["code"] == "DISCUSSION_NOT_FOUND"


def test_refresh_rotates_and_reuse_revokes_the_family(api: Api, alice: Account) -> None:
    with api.client() as c:
        second = data(c.post("/v1/auth/refresh", json={"refresh_token": alice.refresh_token}))
        assert second["refresh_token"] != alice.refresh_token
        reused = error(c.post("/v1/auth/refresh", json={"refresh_token": alice.refresh_token}), 401)
        assert reused["code"] == "TOKEN_INVALID"
        error(c.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}), 401)


def test_bad_input_gets_an_envelope_error_never_a_5xx(api: Api, alice: Account) -> None:
    with api.client(alice.token) as c:
        e = error(c.post("/v1/topics", json={"title": "x" * 201}), 422)
        assert e["code"] == "VALIDATION_ERROR" and e["field"] == "title"
        e = error(
            c.post(
                "/v1/discussions",
                json={"topic_id": "nope", "character_ids": ["a", "b"], "max_rounds": 0},
            ),
            422,
        )
        assert e["field"] == "max_rounds"
        error(
            c.post(
                "/v1/discussions",
                content=b"{not json",
                headers={"content-type": "application/json"},
            ),
            422,
        )
        error(c.get("/v1/discussions/does-not-exist"), 404)
        error(c.post("/v1/characters/from-template", json={"template_id": "wizard"}), 404)
        e = error(
            c.post(
                "/v1/auth/register", json={"email": "not-an-email", "password": "x", "name": "n"}
            ),
            422,
        )
        assert e["field"] == "email"
    with api.client() as anonymous:
        e = error(anonymous.get("/v1/users/me"), 401)
        assert e["code"] == "UNAUTHORIZED"
        error(anonymous.get("/v1/discussions", headers={"Authorization": "Bearer not.a.jwt"}), 401)
