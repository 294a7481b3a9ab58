"""Hostile and unlucky clients: foreign WebSocket origins, message floods, a Serve
replica killed under watching clients, and settings that refuse default secrets."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import psutil
import pytest
from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from simfocus.settings import Settings
from tests.serve.conftest import Account, Api
from tests.serve.test_api_journey import data, make_discussion

pytestmark = [pytest.mark.ray]


def watch_url(api: Api, who: Account, discussion_id: str) -> str:
    return f"{api.ws_url}/v1/ws/discussions/{discussion_id}?token={who.token}"


def test_websockets_from_foreign_origins_are_refused(api: Api, alice: Account) -> None:
    discussion_id = make_discussion(api, alice, rounds=1)
    with pytest.raises(InvalidStatus) as refused:
        connect(watch_url(api, alice, discussion_id), origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    # The API's own origin (public_url), and clients that send no Origin, are welcome.
    origin = api.settings.public_url.rstrip("/")
    with connect(watch_url(api, alice, discussion_id), origin=origin) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"action": "ping"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"


def test_a_flooding_client_is_told_and_its_extra_messages_ignored(api: Api, alice: Account) -> None:
    discussion_id = make_discussion(api, alice, rounds=1)
    burst = api.settings.ws_message_burst
    with connect(watch_url(api, alice, discussion_id)) as ws:
        for _ in range(burst + 20):
            ws.send(json.dumps({"action": "ping"}))
        replies = [json.loads(ws.recv(timeout=10)) for _ in range(burst + 20)]
        kinds = [r["type"] for r in replies]
        assert kinds.count("pong") >= burst and "error" in kinds
        errors = [r["data"]["code"] for r in replies if r["type"] == "error"]
        assert set(errors) == {"RATE_LIMIT_EXCEEDED"}
        time.sleep(1.0)  # the bucket refills: the connection is still there and served
        ws.send(json.dumps({"action": "ping"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "pong"


def _replica_pids() -> list[int]:
    return [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if "ServeReplica:simfocus" in " ".join(p.info["cmdline"] or [])
    ]


def _messages(ws: Any, into: list[dict[str, Any]], until_seq: int | None = None) -> None:
    while True:
        event = json.loads(ws.recv(timeout=60))
        if event["type"] == "message":
            into.append(event)
            if until_seq is not None and event["seq"] >= until_seq:
                return


def test_a_killed_serve_replica_costs_watchers_nothing(api: Api, alice: Account) -> None:
    discussion_id = make_discussion(api, alice, rounds=3, pacing=0.3)
    with api.client(alice.token) as c:
        data(c.post(f"/v1/discussions/{discussion_id}/start"))
    seen: list[dict[str, Any]] = []
    with connect(watch_url(api, alice, discussion_id)) as ws:
        ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
        _messages(ws, seen, until_seq=3)
        for pid in _replica_pids():
            os.kill(pid, signal.SIGKILL)  # the replica dies under its watchers
        with pytest.raises((ConnectionClosed, TimeoutError)):
            _messages(ws, seen)
    # The client reconnects (Serve restarts the replica) and asks for what it missed.
    deadline = time.monotonic() + 90
    while True:
        try:
            ws = connect(watch_url(api, alice, discussion_id), open_timeout=5)
            break
        except (OSError, InvalidStatus):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    with ws:
        ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": seen[-1]["seq"]}}))
        try:
            _messages(ws, seen)
        except ConnectionClosed:
            pass  # closed at the end of the discussion
    seqs = [e["seq"] for e in seen]
    assert seqs == list(range(1, len(seqs) + 1)), "exactly what was missed, once, in order"
    with api.client(alice.token) as c:
        final = data(c.get(f"/v1/discussions/{discussion_id}"))
        stored = data(c.get(f"/v1/discussions/{discussion_id}/messages", params={"per_page": 100}))
    assert final["status"] == "completed"
    assert [m["seq"] for m in stored] == seqs


def test_settings_refuse_default_secrets_outside_development() -> None:
    with pytest.raises(ValidationError, match="SIMFOCUS_JWT_SECRET"):
        Settings(environment="production")
    Settings(environment="production", jwt_secret="a-real-secret-of-some-length-0123456789")
