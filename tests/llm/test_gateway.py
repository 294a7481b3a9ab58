"""The gateway core over real HTTP: retries, breaker, fallbacks, streaming, budgets, limits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from simfocus.llm import errors
from simfocus.llm.config import GatewayConfig, LimitSpec
from simfocus.llm.credentials import Credentials
from simfocus.llm.gateway import CallRecord, Gateway, StreamEvent
from simfocus.llm.pricing import PriceTable
from simfocus.llm.registry import ProviderRegistry
from simfocus.llm.schemas import ChatMessage, CompletionRequest, LLMRequest, ProviderConfig
from simfocus.settings import REPO_CONFIGS
from tests.fakes.llm_servers import FakeLLMServer, Fault

KEY = "sk-gateway-test-key-0123456789"
PRICING = PriceTable.load(REPO_CONFIGS / "pricing.yaml")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(params=["openai", "anthropic"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    with FakeLLMServer(request.param, api_key=KEY) as s:
        yield s


def config_for(server: FakeLLMServer, **kw: object) -> ProviderConfig:
    return ProviderConfig.model_validate(
        {
            "name": server.flavour,
            "model": "test-model",
            "base_url": server.base_url,
            "api_key_env": "TEST_LLM_KEY",
            "timeout_s": 2,
            **kw,
        }
    )


def gateway(
    records: list[CallRecord] | None = None,
    clock: Clock | None = None,
    config: GatewayConfig | None = None,
) -> Gateway:
    registry = ProviderRegistry(Credentials({"TEST_LLM_KEY": KEY}))
    kwargs: dict[str, object] = {}
    if clock is not None:
        kwargs.update(clock=clock, sleep=clock.sleep)
    return Gateway(
        PRICING,
        registry,
        config=config or GatewayConfig(),
        call_log=(records.append if records is not None else None),
        **kwargs,
    )  # type: ignore[arg-type]


def request(
    provider: ProviderConfig,
    i: int = 0,
    fallbacks: tuple[ProviderConfig, ...] = (),
    discussion: str = "d1",
) -> LLMRequest:
    return LLMRequest(
        discussion_id=discussion,
        participant_id="p1",
        provider=provider,
        fallbacks=fallbacks,
        completion=CompletionRequest(
            model=provider.model,
            system="You are a test persona.",
            messages=(ChatMessage(role="user", content=f"Say something {i}."),),
            max_tokens=100,
            seed=i,
        ),
    )


async def test_retries_honour_retry_after_and_log_one_call(server: FakeLLMServer) -> None:
    records: list[CallRecord] = []
    clock = Clock()
    g = gateway(records, clock)
    server.add_faults(Fault(status=429, retry_after=7), Fault(status=503), Fault(reset=True))
    result = await g.complete(request(config_for(server)))
    await g.aclose()
    assert result.attempts == 4 and result.text.startswith("Simulated reply")
    assert clock.sleeps[0] >= 7, "a 429's Retry-After is a floor on the wait"
    assert len(clock.sleeps) == 3
    assert [r.status for r in records] == ["ok"] and records[0].attempts == 4
    assert g.ledger.spent("d1") == result.cost_micro_usd > 0


async def test_a_bad_key_is_not_retried_and_opens_the_circuit_at_once(
    server: FakeLLMServer,
) -> None:
    records: list[CallRecord] = []
    clock = Clock()
    registry = ProviderRegistry(Credentials({"TEST_LLM_KEY": "sk-wrong-key-000000000000"}))
    g = Gateway(PRICING, registry, call_log=records.append, clock=clock, sleep=clock.sleep)
    with pytest.raises(errors.AuthenticationFailed):
        await g.complete(request(config_for(server)))
    assert clock.sleeps == [] and len(server.requests) == 1
    with pytest.raises(errors.CircuitOpen) as info:
        await g.complete(request(config_for(server)))
    assert len(server.requests) == 1, "an open circuit fails fast without a request"
    assert "API_KEY_INVALID" in info.value.message
    assert [r.status for r in records] == ["failed", "failed"]
    assert g.ledger.spent("d1") == 0, "nothing was billed"
    await g.aclose()


async def test_the_breaker_opens_on_a_failure_rate_and_recovers_with_one_probe(
    server: FakeLLMServer,
) -> None:
    clock = Clock()
    g = gateway(clock=clock)
    provider = config_for(server, max_attempts=1)
    server.add_faults(*[Fault(status=500)] * 5)
    for i in range(5):
        with pytest.raises(errors.ProviderUnavailable):
            await g.complete(request(provider, i))
    with pytest.raises(errors.CircuitOpen):
        await g.complete(request(provider, 9))
    assert len(server.requests) == 5
    clock.now += 31  # the cooldown passes: one probe goes through and closes the circuit
    await g.complete(request(provider, 10))
    assert next(iter(g.breakers.values())).state.value == "closed"
    await g.complete(request(provider, 11))
    await g.aclose()


async def test_fallbacks_take_over_when_a_provider_keeps_failing() -> None:
    with (
        FakeLLMServer("openai", api_key=KEY) as primary,
        FakeLLMServer("anthropic", api_key=KEY) as backup,
    ):
        clock = Clock()
        g = gateway(clock=clock)
        primary.add_faults(*[Fault(status=503)] * 2)
        result = await g.complete(
            request(config_for(primary, max_attempts=2), fallbacks=(config_for(backup),))
        )
        await g.aclose()
    assert (
        result.provider == "anthropic" and len(primary.requests) == 2 and len(backup.requests) == 1
    )


async def test_a_cut_stream_restarts_and_the_cut_attempt_is_counted(server: FakeLLMServer) -> None:
    g = gateway(clock=Clock())
    server.add_faults(Fault(cut_after_chunks=4))
    events: list[StreamEvent] = [e async for e in g.stream(request(config_for(server)))]
    await g.aclose()
    kinds = [e.kind for e in events]
    assert "restart" in kinds and kinds[-1] == "result"
    after_restart = events[kinds.index("restart") + 1 :]
    text = "".join(e.text for e in after_restart if e.kind == "delta")
    result = events[-1].result
    assert result is not None and text == result.text
    clean = PRICING.cost_micro_usd(
        server.flavour, "test-model", result.prompt_tokens, result.completion_tokens
    )
    assert result.cost_micro_usd > clean, "the cut attempt's cost is counted, not dropped"
    assert g.ledger.spent("d1") == result.cost_micro_usd and result.attempts == 2


async def test_a_stream_without_usage_is_settled_at_the_reservation_never_zero() -> None:
    with FakeLLMServer("openai", api_key=KEY) as server:
        g = gateway()
        server.add_faults(Fault(no_usage=True))
        req = request(config_for(server))
        events = [e async for e in g.stream(req)]
        await g.aclose()
    result = events[-1].result
    assert result is not None and result.usage_reported is False
    assert result.cost_micro_usd == g.worst_case_cost(req) > 0


async def test_100_concurrent_calls_over_http_never_overspend(server: FakeLLMServer) -> None:
    g = gateway()
    g.open_budget("tight", 2_000, report_share=0.0)
    provider = config_for(server)
    results = await asyncio.gather(
        *(g.complete(request(provider, i, discussion="tight")) for i in range(100)),
        return_exceptions=True,
    )
    await g.aclose()
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert all(
        isinstance(r, errors.BudgetExhausted) for r in results if isinstance(r, BaseException)
    )
    assert ok and len(ok) < 100
    assert sum(r.cost_micro_usd for r in ok) == g.ledger.spent("tight") <= 2_000
    assert len(server.requests) == len(ok), "refused calls never reached the provider"


async def test_rate_limits_queue_calls_instead_of_hitting_429() -> None:
    with FakeLLMServer("openai", api_key=KEY, rpm=600) as server:
        config = GatewayConfig(
            models={"openai/test-model": LimitSpec(requests_per_minute=600, max_concurrency=4)}
        )
        g = gateway(config=config)
        provider = config_for(server)
        # 600 rpm = 10 per second with a full bucket of 600: 40 calls all fit, but the
        # concurrency limit of 4 queues them.
        await asyncio.gather(*(g.complete(request(provider, i)) for i in range(40)))
        await g.aclose()
    assert server.stats["rate_limited"] == 0 and server.stats["requests"] == 40
