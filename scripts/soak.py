"""Soak: concurrent discussions driven through the API and WebSocket for a bounded time,
with random pauses, injected questions, speed changes, stops and reconnects, provider
faults (a local OpenAI-format server injecting 500s, 429s, cut streams and slow answers)
and actor processes killed with SIGKILL. Prints JSON; results go in docs/reliability.md.

    .venv/bin/python scripts/soak.py [--minutes 10] [--discussions 30] [--kill-every 20]

Counted at the end, per discussion, against the store: messages lost (stored but never
delivered to its watcher, who reconnects with ``last_seq``), duplicated (delivered twice,
or a gap or repeat in the stored ``seq``), 5xx responses, budget overruns; and the memory
of each kind of process at the start and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.llm_servers import FakeLLMServer, Fault  # noqa: E402

KEY = "sk-soak-" + uuid.uuid4().hex
TEMPLATES = ["night_shift_nurse", "software_engineer", "retired_teacher", "delivery_driver"]
QUESTIONS = ["Who would pay for it?", "What would change your mind?", "Is the price right?"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_kind(cmd: str) -> str | None:
    for marker, kind in (
        ("ServeReplica", "serve_replica"),
        ("ModeratorActor", "moderator"),
        ("PersonaActor", "persona"),
        ("LLMGatewayActor", "gateway"),
        ("ApiLimitsActor", "api_limits"),
        ("ServeController", "serve_controller"),
        ("ProxyActor", "serve_proxy"),
    ):
        if marker in cmd:
            return kind
    return None


def memory_by_kind() -> dict[str, dict[str, float]]:
    """RSS in MB of each kind of process (total, count)."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: {"mb": 0.0, "processes": 0})
    for p in psutil.process_iter(["cmdline", "memory_info"]):
        kind = process_kind(" ".join(p.info["cmdline"] or []))
        if p.pid == os.getpid():
            kind = "driver"
        if kind and p.info["memory_info"]:
            out[kind]["mb"] += p.info["memory_info"].rss / 2**20
            out[kind]["processes"] += 1
    return {k: {"mb": round(v["mb"], 1), "processes": v["processes"]} for k, v in out.items()}


class Soak:
    def __init__(self, base: str, minutes: float, discussions: int) -> None:
        self.base = base
        self.ws_base = base.replace("http://", "ws://")
        self.deadline = time.monotonic() + minutes * 60
        self.concurrency = discussions
        self.status = Counter[int]()
        self.server_errors: list[str] = []
        self.received: dict[str, list[int]] = defaultdict(list)
        self.started: list[tuple[str, str]] = []  # (discussion id, token)
        self.reconnects = 0
        self.actions = Counter[str]()

    async def call(self, c: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
        r = await c.request(method, url, **kw)
        self.status[r.status_code] += 1
        if r.status_code >= 500:
            self.server_errors.append(f"{method} {url} {r.status_code} {r.text[:200]}")
        return r

    async def account(
        self, c: httpx.AsyncClient, fake: FakeLLMServer
    ) -> tuple[str, list[str], str, str]:
        email = f"soak-{uuid.uuid4().hex[:8]}@example.com"
        password = "correct horse battery staple 42"
        await self.call(
            c,
            "POST",
            "/v1/auth/register",
            json={"email": email, "password": password, "name": "Soak"},
        )
        r = await self.call(
            c, "POST", "/v1/auth/login", json={"email": email, "password": password}
        )
        if r.status_code != 200:
            raise RuntimeError(f"login failed: {r.status_code} {r.text[:300]}")
        token = r.json()["data"]["access_token"]
        h = {"Authorization": f"Bearer {token}"}
        key = await self.call(
            c,
            "POST",
            "/v1/users/me/api-keys",
            headers=h,
            json={
                "provider": "openai",
                "key_name": "fake",
                "api_key": KEY,
                "api_base_url": fake.base_url,
                "default_model": "soak-model",
            },
        )
        topic = await self.call(
            c, "POST", "/v1/topics", headers=h, json={"title": "A four-day week for nurses"}
        )
        chars = [
            (
                await self.call(
                    c, "POST", "/v1/characters/from-template", headers=h, json={"template_id": t}
                )
            ).json()["data"]["id"]
            for t in TEMPLATES[:3]
        ]
        return token, chars, topic.json()["data"]["id"], key.json()["data"]["id"]

    async def one(
        self, c: httpx.AsyncClient, fake: FakeLLMServer, setup: tuple[str, list[str], str, str]
    ) -> None:
        token, chars, topic, key = setup
        h = {"Authorization": f"Bearer {token}"}
        body = {
            "topic_id": topic,
            "character_ids": chars,
            "max_rounds": random.randint(2, 4),
            "pacing_s": 0.2,
            "llm_provider": "openai",
            "llm_model": "soak-model",
            "api_key_id": key,
            "budget_usd": 1.0,
        }
        r = await self.call(c, "POST", "/v1/discussions", headers=h, json=body)
        if r.status_code != 201:
            return
        did = r.json()["data"]["id"]
        self.started.append((did, token))
        await self.call(c, "POST", f"/v1/discussions/{did}/start", headers=h)
        got = self.received[did]
        while time.monotonic() < self.deadline + 120:
            try:
                async with websockets.connect(
                    f"{self.ws_base}/v1/ws/discussions/{did}?token={token}"
                ) as ws:
                    await ws.send(
                        json.dumps(
                            {"action": "subscribe", "data": {"last_seq": got[-1] if got else 0}}
                        )
                    )
                    leave_at = time.monotonic() + random.uniform(2, 12)
                    while time.monotonic() < leave_at:  # then a reconnect, on purpose
                        try:
                            raw = await asyncio.wait_for(ws.recv(), 5)
                        except TimeoutError:
                            continue  # paused, or a slow provider: keep listening
                        event = json.loads(raw)
                        if event["type"] == "message":
                            got.append(event["seq"])
                        if random.random() < 0.03:
                            await self.control(c, h, did)
                self.reconnects += 1
            except websockets.exceptions.ConnectionClosedOK:
                return  # closed by the server: the discussion ended
            except (OSError, websockets.exceptions.WebSocketException):
                self.reconnects += 1
                await asyncio.sleep(1)

    async def control(self, c: httpx.AsyncClient, h: dict[str, str], did: str) -> None:
        action = random.choice(["pause", "inject", "speed", "stop", "pause"])
        self.actions[action] += 1
        if action == "pause":
            await self.call(c, "POST", f"/v1/discussions/{did}/pause", headers=h)
            await asyncio.sleep(random.uniform(0.5, 2))
            await self.call(c, "POST", f"/v1/discussions/{did}/resume", headers=h)
        elif action == "inject":
            await self.call(
                c,
                "POST",
                f"/v1/discussions/{did}/inject-question",
                headers=h,
                json={"question": random.choice(QUESTIONS)},
            )
        elif action == "speed":
            await self.call(
                c,
                "POST",
                f"/v1/discussions/{did}/speed",
                headers=h,
                json={"speed": random.choice([0.5, 1, 2, 3])},
            )
        elif random.random() < 0.3:
            await self.call(c, "POST", f"/v1/discussions/{did}/stop", headers=h)

    async def run(self, fake: FakeLLMServer) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as c:
            accounts = [await self.account(c, fake) for _ in range(3)]
            running: set[asyncio.Task[None]] = set()
            while time.monotonic() < self.deadline:
                while len(running) < self.concurrency and time.monotonic() < self.deadline:
                    task = asyncio.create_task(self.one(c, fake, random.choice(accounts)))
                    running.add(task)
                    task.add_done_callback(running.discard)
                await asyncio.sleep(0.5)
            await asyncio.wait(running, timeout=300)

    async def verify(self) -> dict[str, Any]:
        lost = duplicated = completed = overruns = unfinished = 0
        endings: Counter[str] = Counter()
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as c:
            for did, token in self.started:
                h = {"Authorization": f"Bearer {token}"}
                d = (await self.call(c, "GET", f"/v1/discussions/{did}", headers=h)).json()["data"]
                stored: list[int] = []
                page = 1
                while True:
                    r = await self.call(
                        c,
                        "GET",
                        f"/v1/discussions/{did}/messages",
                        headers=h,
                        params={"per_page": 100, "page": page},
                    )
                    items = r.json()["data"]
                    stored += [m["seq"] for m in items]
                    if len(items) < 100:
                        break
                    page += 1
                got = self.received[did]
                duplicated += len(got) - len(set(got)) + (len(stored) - len(set(stored)))
                if stored != list(range(1, len(stored) + 1)):
                    duplicated += 1  # a gap or a repeat in the stored seq
                lost += len(set(stored) - set(got))
                completed += d["status"] == "completed"
                endings[f"{d['status']}: {(d['status_reason'] or '')[:60]}"] += 1
                unfinished += d["status"] in ("running", "paused", "initialized")
                if d["budget_usd"] is not None and d["usage"]["cost_usd"] > d["budget_usd"] + 1e-9:
                    overruns += 1
        return {
            "discussions": len(self.started),
            "completed": completed,
            "unfinished": unfinished,
            "messages_delivered": sum(len(v) for v in self.received.values()),
            "messages_lost": lost,
            "messages_duplicated": duplicated,
            "budget_overruns": overruns,
            "endings": dict(endings.most_common(8)),
        }


async def chaos(deadline: float, every_s: float, kills: Counter[str]) -> None:
    """Kill a random persona, moderator or the gateway now and then (SIGKILL)."""
    while time.monotonic() < deadline:
        await asyncio.sleep(every_s * random.uniform(0.5, 1.5))
        kind = random.choices(["persona", "moderator", "gateway"], weights=[5, 3, 1])[0]
        victims = [
            p
            for p in psutil.process_iter(["cmdline"])
            if process_kind(" ".join(p.info["cmdline"] or [])) == kind
        ]
        if victims:
            with_pid = random.choice(victims)
            try:
                os.kill(with_pid.pid, signal.SIGKILL)
                kills[kind] += 1
            except ProcessLookupError:
                pass


async def faults(
    fake: FakeLLMServer, deadline: float, injected: Counter[str], every_s: float
) -> None:
    """A fault for the next request every ``every_s`` on average: often enough to be
    retried all the time, rarely enough that the provider is not simply down."""
    while time.monotonic() < deadline:
        await asyncio.sleep(every_s * random.uniform(0.5, 1.5))
        fault, name = random.choice(
            [
                (Fault(status=500), "500"),
                (Fault(status=429, retry_after=0.5), "429"),
                (Fault(cut_after_chunks=2), "cut_stream"),
                (Fault(delay_s=3), "slow"),
                (Fault(reset=True), "reset"),
            ]
        )
        fake.add_faults(fault)
        injected[name] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--discussions", type=int, default=30)
    parser.add_argument("--kill-every", type=float, default=20, help="seconds between kills")
    parser.add_argument("--fault-every", type=float, default=4, help="seconds between faults")
    args = parser.parse_args()

    import ray
    from ray import serve

    from serve.deployment import DEFAULT_OPTIONS, api_application
    from simfocus.settings import Settings
    from simfocus.store.engine import store_engine

    data = Path(tempfile.mkdtemp(prefix="simfocus-soak-"))
    settings = Settings(
        environment="test",
        data_dir=data,
        auth_per_minute=100_000,
        mutations_per_minute=100_000,
        discussions_per_hour=100_000,
        websockets_per_user=1000,
    )

    async def migrate() -> None:
        async with store_engine(settings, migrated=True):
            pass

    asyncio.run(migrate())
    ray.init(
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=False,
        namespace="simfocus-soak",
    )
    port = free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(api_application(settings, DEFAULT_OPTIONS), name="simfocus", route_prefix="/")
    with FakeLLMServer("openai", api_key=KEY, chunk_delay_s=0.02) as fake:
        soak = Soak(f"http://127.0.0.1:{port}", args.minutes, args.discussions)
        memory_start = memory_by_kind()
        kills: Counter[str] = Counter()
        injected: Counter[str] = Counter()

        async def everything() -> dict[str, Any]:
            await asyncio.gather(
                soak.run(fake),
                chaos(soak.deadline, args.kill_every, kills),
                faults(fake, soak.deadline, injected, args.fault_every),
            )
            await asyncio.sleep(5)  # let the last reports and moderators settle
            return await soak.verify()

        started = time.monotonic()
        outcome = asyncio.run(asyncio.wait_for(everything(), args.minutes * 60 + 600))
        memory_end = memory_by_kind()
    serve.shutdown()
    ray.shutdown()
    print(
        json.dumps(
            {
                "minutes": args.minutes,
                "concurrent_discussions": args.discussions,
                "wall_s": round(time.monotonic() - started, 1),
                **outcome,
                "responses_5xx": sum(n for code, n in soak.status.items() if code >= 500),
                "responses": dict(sorted(soak.status.items())),
                "server_errors": soak.server_errors[:10],
                "reconnects": soak.reconnects,
                "controls": dict(soak.actions),
                "processes_killed": dict(kills),
                "provider_faults": dict(injected),
                "memory_mb_start": memory_start,
                "memory_mb_end": memory_end,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
