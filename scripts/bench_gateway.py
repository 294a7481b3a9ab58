"""Gateway benchmark: rate-limit utilisation without 429s, and per-call overhead.

    python scripts/bench_gateway.py [--seconds 60] [--discussions 20]

Prints one JSON document (issue #3):
(1) 20 concurrent discussions calling for 60 s through one Gateway against a local
    OpenAI-format server that enforces an RPM and a TPM limit in sliding 60 s windows and
    answers 429 past them: how much of the binding limit was used, and how many 429s came
    back (target ≥ 95 % with zero 429s);
(2) the gateway's own overhead per call against a zero-latency server (total time minus
    the time inside the provider), median and p99 (target p99 ≤ 5 ms), and the round trip
    of a call to the gateway actor on Ray with the zero-latency simulated provider.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simfocus.llm.config import GatewayConfig, LimitSpec  # noqa: E402
from simfocus.llm.credentials import Credentials  # noqa: E402
from simfocus.llm.gateway import Gateway  # noqa: E402
from simfocus.llm.pricing import PriceTable  # noqa: E402
from simfocus.llm.registry import ProviderRegistry  # noqa: E402
from simfocus.llm.schemas import (  # noqa: E402
    ChatMessage,
    CompletionRequest,
    LLMRequest,
    ProviderConfig,
)
from simfocus.settings import REPO_CONFIGS  # noqa: E402
from tests.fakes.llm_servers import FakeLLMServer  # noqa: E402

KEY = "sk-bench-key-000000000000"
PRICING = PriceTable.load(REPO_CONFIGS / "pricing.yaml")
PROMPT = "Round 3 of 8. Recent messages: " + "We discussed the price and the taste at length. " * 30


def request(config: ProviderConfig, discussion: str, i: int, max_tokens: int = 100) -> LLMRequest:
    return LLMRequest(
        discussion_id=discussion,
        provider=config,
        completion=CompletionRequest(
            model=config.model,
            system="You are a focus-group persona.",
            messages=(ChatMessage(role="user", content=f"{PROMPT} ({i})"),),
            max_tokens=max_tokens,
        ),
    )


async def utilisation(seconds: float, discussions: int, rpm: int, tpm: int) -> dict[str, Any]:
    with FakeLLMServer("openai", api_key=KEY, rpm=rpm, tpm=tpm) as server:
        config = ProviderConfig(
            name="openai", model="bench", base_url=server.base_url, api_key_env="BENCH_KEY"
        )
        limits = GatewayConfig(
            models={
                "openai/bench": LimitSpec(
                    requests_per_minute=rpm, tokens_per_minute=tpm, max_concurrency=discussions
                )
            }
        )
        gateway = Gateway(PRICING, ProviderRegistry(Credentials({"BENCH_KEY": KEY})), config=limits)
        deadline = time.monotonic() + seconds
        waits: list[float] = []

        async def discussion(d: int) -> int:
            done = 0
            while time.monotonic() < deadline:
                started = time.monotonic()
                await gateway.complete(request(config, f"d{d}", done))
                waits.append(time.monotonic() - started)
                done += 1
            return done

        started = time.monotonic()
        calls = sum(await asyncio.gather(*(discussion(d) for d in range(discussions))))
        elapsed = time.monotonic() - started
        await gateway.aclose()
        stats = dict(server.stats)
    tokens = stats["input_tokens"] + 100 * stats["requests"]  # as the server counts: input + max
    minutes = elapsed / 60  # calls in flight at the deadline still finish
    request_share = stats["requests"] / (rpm * minutes)
    token_share = tokens / (tpm * minutes)
    return {
        "seconds": seconds,
        "elapsed_s": round(elapsed, 1),
        "discussions": discussions,
        "limits": {"rpm": rpm, "tpm": tpm},
        "calls_completed": calls,
        "server_accepted": stats["requests"],
        "tokens_counted_by_server": tokens,
        "requests_share_of_rpm": round(request_share, 3),
        "tokens_share_of_tpm": round(token_share, 3),
        "binding_limit_used": round(max(request_share, token_share), 3),
        "target_min": 0.95,
        "http_429_received": stats["rate_limited"],
        "median_call_s_incl_queue": round(statistics.median(waits), 3),
    }


class TimedProvider:
    """Wraps a provider to time what happens inside it."""

    def __init__(self, inner: Any, spent: list[float]) -> None:
        self.inner, self.spent = inner, spent
        self.name, self.simulated = inner.name, inner.simulated

    async def complete(self, req: CompletionRequest) -> Any:
        t = time.perf_counter()
        try:
            return await self.inner.complete(req)
        finally:
            self.spent.append(time.perf_counter() - t)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def overhead(calls: int) -> dict[str, Any]:
    with FakeLLMServer("openai", api_key=KEY) as server:
        config = ProviderConfig(
            name="openai", model="bench", base_url=server.base_url, api_key_env="BENCH_KEY"
        )
        registry = ProviderRegistry(Credentials({"BENCH_KEY": KEY}))
        inside: list[float] = []
        registry._providers[registry.resolve(config)] = TimedProvider(registry.get(config), inside)  # type: ignore[assignment]
        gateway = Gateway(PRICING, registry)
        gateway.open_budget("b", 10**9, 0.1)
        totals: list[float] = []
        for i in range(calls):
            t = time.perf_counter()
            await gateway.complete(request(config, "b", i))
            totals.append(time.perf_counter() - t)
        await gateway.aclose()
    over = sorted((a - b) * 1000 for a, b in zip(totals[20:], inside[20:], strict=True))  # warm
    return {
        "calls": len(over),
        "median_ms": round(statistics.median(over), 3),
        "p99_ms": round(over[int(len(over) * 0.99) - 1], 3),
        "target_p99_ms_max": 5.0,
        "median_provider_ms": round(statistics.median(inside[20:]) * 1000, 3),
    }


def actor_round_trip(calls: int) -> dict[str, Any]:
    import tempfile

    import ray

    from actors.builders import gateway_actor
    from simfocus.settings import Settings

    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
    ray.init(
        include_dashboard=False, logging_level="ERROR", log_to_driver=False, namespace="bench-gw"
    )
    try:
        settings = Settings(data_dir=Path(tempfile.mkdtemp()))
        gateway = gateway_actor(settings)
        config = ProviderConfig()
        times = []
        for i in range(calls):
            t = time.perf_counter()
            ray.get(gateway.complete.remote(request(config, "b", i)))
            times.append((time.perf_counter() - t) * 1000)
        times = sorted(times[20:])
        return {
            "calls": len(times),
            "median_ms": round(statistics.median(times), 3),
            "p99_ms": round(times[int(len(times) * 0.99) - 1], 3),
        }
    finally:
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--discussions", type=int, default=20)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--tpm", type=int, default=150_000)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    out = {
        "rate_limits": asyncio.run(utilisation(args.seconds, args.discussions, args.rpm, args.tpm)),
        "overhead_in_process": asyncio.run(overhead(args.calls)),
        "actor_round_trip_simulated": actor_round_trip(args.calls),
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
