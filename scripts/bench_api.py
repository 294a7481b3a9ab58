"""API benchmark: GET latency through Ray Serve vs plain uvicorn, and WebSocket fan-out.

    python scripts/bench_api.py [--rate 50] [--seconds 10] [--observers 100]

Prints one JSON document (issue #4):
(1) p50/p99 of authenticated GET endpoints at a fixed request rate (open loop), through
    Ray Serve and through the same FastAPI app under plain uvicorn, and their ratio;
(2) 100 WebSocket observers of one discussion: the delay from each message's creation
    (it is committed a few ms later) to its receipt by each observer, p50/p99 — target
    p99 ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simfocus.settings import Settings  # noqa: E402

GETS = ["/v1/users/me", "/v1/topics", "/v1/characters", "/v1/discussions"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def open_loop(base: str, token: str, rate: float, seconds: float) -> dict[str, Any]:
    """Requests at a fixed rate, not waiting for answers (latency includes any queueing)."""
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        limits=httpx.Limits(max_connections=200),
    ) as client:

        async def one(path: str) -> None:
            nonlocal errors
            t = time.perf_counter()
            r = await client.get(path)
            latencies.append((time.perf_counter() - t) * 1000)
            errors += r.status_code >= 400

        tasks = []
        start = time.perf_counter()
        n = int(rate * seconds)
        for i in range(n):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(GETS[i % len(GETS)])))
        await asyncio.gather(*tasks)
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(percentile(latencies, 0.5), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
    }


def signup(base: str) -> str:
    with httpx.Client(base_url=base, timeout=30) as c:
        email = f"bench-{time.time_ns()}@example.com"
        c.post(
            "/v1/auth/register",
            json={"email": email, "password": "tiger lantern 4 orchids", "name": "Bench"},
        )
        token = str(
            c.post(
                "/v1/auth/login", json={"email": email, "password": "tiger lantern 4 orchids"}
            ).json()["data"]["access_token"]
        )
        c.headers["Authorization"] = f"Bearer {token}"
        topic = c.post("/v1/topics", json={"title": "Benchmarking"}).json()["data"]["id"]
        for t in ("pensioner", "university_student", "software_engineer"):
            c.post("/v1/characters/from-template", json={"template_id": t})
        c.post(
            "/v1/discussions",
            json={
                "topic_id": topic,
                "character_ids": [ch["id"] for ch in c.get("/v1/characters").json()["data"]],
            },
        )
    return token


async def fan_out(base: str, token: str, observers: int) -> dict[str, Any]:
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as c:
        topic = (await c.get("/v1/topics")).json()["data"][0]["id"]
        chars = [ch["id"] for ch in (await c.get("/v1/characters")).json()["data"]]
        d = (
            await c.post(
                "/v1/discussions",
                json={"topic_id": topic, "character_ids": chars, "max_rounds": 6, "pacing_s": 0.2},
            )
        ).json()["data"]["id"]
        delays: list[float] = []
        ws_base = base.replace("http://", "ws://")
        ready = asyncio.Event()
        connected = 0

        async def observe() -> int:
            nonlocal connected
            got = 0
            async with websockets.connect(
                f"{ws_base}/v1/ws/discussions/{d}?token={token}", max_size=None
            ) as ws:
                await ws.send(json.dumps({"action": "subscribe", "data": {"last_seq": 0}}))
                connected += 1
                if connected == observers:
                    ready.set()
                async for raw in ws:
                    now = time.time()
                    event = json.loads(raw)
                    if event["type"] == "message" and ready.is_set():
                        created = datetime.fromisoformat(event["data"]["created_at"]).timestamp()
                        delays.append((now - created) * 1000)
                        got += 1
            return got

        watchers = [asyncio.create_task(observe()) for _ in range(observers)]
        await asyncio.wait_for(ready.wait(), 60)
        await c.post(f"/v1/discussions/{d}/start")
        counts = await asyncio.gather(*watchers)
    return {
        "observers": observers,
        "messages_received": sum(counts),
        "per_observer": min(counts),
        "p50_ms": round(percentile(delays, 0.5), 2),
        "p99_ms": round(percentile(delays, 0.99), 2),
        "target_p99_ms_max": 100,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--observers", type=int, default=100)
    args = parser.parse_args()
    import ray
    from ray import serve

    from serve.deployment import DEFAULT_OPTIONS, api_application
    from simfocus.store.engine import create_engine
    from simfocus.store.migrate import upgrade

    data_dir = Path(tempfile.mkdtemp())
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        auth_per_minute=10_000,
        mutations_per_minute=10_000,
        discussions_per_hour=10_000,
        websockets_per_user=args.observers + 10,
    )

    async def migrate() -> None:
        engine = create_engine(settings.resolved_database_url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(migrate())
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    ray.init(
        include_dashboard=False, logging_level="ERROR", log_to_driver=False, namespace="bench-api"
    )
    serve_port, plain_port = free_port(), free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": serve_port})
    serve.run(api_application(settings, DEFAULT_OPTIONS), name="simfocus", route_prefix="/")
    serve_base = f"http://127.0.0.1:{serve_port}"
    env = {**os.environ, "SIMFOCUS_DATA_DIR": str(data_dir), "SIMFOCUS_ENVIRONMENT": "test"}
    plain = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "serve.plain:app",
            "--port",
            str(plain_port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        token = signup(serve_base)
        plain_base = f"http://127.0.0.1:{plain_port}"
        for _ in range(100):
            try:
                httpx.get(f"{plain_base}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        through_serve = asyncio.run(open_loop(serve_base, token, args.rate, args.seconds))
        plain_uvicorn = asyncio.run(open_loop(plain_base, token, args.rate, args.seconds))
        out = {
            "gets": {
                "rate_per_s": args.rate,
                "seconds": args.seconds,
                "endpoints": GETS,
                "ray_serve": through_serve,
                "plain_uvicorn": plain_uvicorn,
                "p50_ratio": round(through_serve["p50_ms"] / plain_uvicorn["p50_ms"], 2),
                "p99_ratio": round(through_serve["p99_ms"] / plain_uvicorn["p99_ms"], 2),
            },
            "websocket_fan_out": asyncio.run(fan_out(serve_base, token, args.observers)),
        }
        print(json.dumps(out, indent=2))
    finally:
        plain.terminate()
        serve.shutdown()
        ray.shutdown()


if __name__ == "__main__":
    main()
