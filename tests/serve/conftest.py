"""One Serve app for the API tests, on the session's Ray cluster; real HTTP clients."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from simfocus.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Api:
    base_url: str
    settings: Settings

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30)

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://")


@pytest.fixture(scope="session")
def api_settings(settings: Settings) -> Settings:
    # Generous limits here; the rate-limit tests use their own users and IP-less keys.
    return settings.model_copy(
        update={
            "auth_per_minute": 10_000,
            "mutations_per_minute": 10_000,
            "discussions_per_hour": 10_000,
        }
    )


@pytest.fixture(scope="session")
def api(ray_cluster: None, api_settings: Settings, sqlite_engine: Any) -> Iterator[Api]:
    from ray import serve

    from serve.deployment import DEFAULT_OPTIONS, api_application

    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(api_application(api_settings, DEFAULT_OPTIONS), name="simfocus", route_prefix="/")
    yield Api(f"http://127.0.0.1:{port}", api_settings)
    serve.shutdown()


@dataclass
class Account:
    email: str
    password: str
    token: str
    refresh_token: str
    user_id: str


def register(api: Api, name: str = "Ana") -> Account:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery staple 42"
    with api.client() as c:
        r = c.post("/v1/auth/register", json={"email": email, "password": password, "name": name})
        assert r.status_code == 201, r.text
        user_id = r.json()["data"]["id"]
        r = c.post("/v1/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        tokens = r.json()["data"]
    return Account(email, password, tokens["access_token"], tokens["refresh_token"], user_id)


@pytest.fixture
def alice(api: Api) -> Account:
    return register(api, "Alice")


@pytest.fixture
def bob(api: Api) -> Account:
    return register(api, "Bob")
