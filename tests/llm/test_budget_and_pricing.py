from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simfocus.llm.budget import BudgetLedger
from simfocus.llm.errors import BudgetExhausted
from simfocus.llm.gateway import Gateway
from simfocus.llm.pricing import PriceTable
from simfocus.llm.schemas import ChatMessage, CompletionRequest, LLMRequest, ProviderConfig, Purpose
from simfocus.settings import REPO_CONFIGS

PRICING = PriceTable.load(REPO_CONFIGS / "pricing.yaml")


def test_costs_are_exact_integer_micro_usd() -> None:
    # $0.15 and $0.60 per 1M tokens = 0.15 and 0.60 micro-USD per token, rounded up
    assert PRICING.cost_micro_usd("simulated", "simulated-v1", 1000, 100) == 210
    assert PRICING.cost_micro_usd("simulated", "simulated-v1", 1, 0) == 1
    assert PRICING.cost_micro_usd("openai", "gpt-4o-2024-08-06", 1_000_000, 0) == 2_500_000


def test_unknown_model_takes_the_default_price_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert PRICING.price("openai", "brand-new-model") == PRICING.default
    assert "no price for openai/brand-new-model" in caplog.text


def test_ledger_reserves_settles_and_refuses_overspend() -> None:
    ledger = BudgetLedger()
    ledger.open("d", 1000, report_share=0.1)  # 900 for turns, 100 kept for the report
    a = ledger.reserve("d", 500)
    b = ledger.reserve("d", 400)
    with pytest.raises(BudgetExhausted) as info:
        ledger.reserve("d", 1)
    assert info.value.field == "budget_usd" and "budget exhausted" in info.value.message
    ledger.settle(a, 100)
    ledger.settle(a, 100)  # idempotent
    assert ledger.spent("d") == 100 and ledger.remaining("d") == 400
    ledger.settle(b, 50)
    assert ledger.remaining("d") == 750
    report = ledger.reserve("d", 800, Purpose.REPORT)  # the report may use the kept share
    ledger.settle(report, 800)
    assert ledger.spent("d") == 950
    with pytest.raises(BudgetExhausted):
        ledger.reserve("d", 100, Purpose.REPORT)


def test_reopening_carries_earlier_spend() -> None:
    ledger = BudgetLedger()
    ledger.open("d", 1000, 0.0, spent=900)
    with pytest.raises(BudgetExhausted):
        ledger.reserve("d", 101)


def _request(i: int) -> LLMRequest:
    return LLMRequest(
        discussion_id="tight",
        provider=ProviderConfig(latency_ms=5),
        completion=CompletionRequest(
            model="simulated-v1",
            system="You are a test persona.",
            messages=(ChatMessage(role="user", content=f"Say something {i}."),),
            max_tokens=200,
            seed=i,
        ),
    )


async def test_100_concurrent_calls_never_overspend_a_small_budget() -> None:
    gateway = Gateway(PRICING)
    gateway.open_budget("tight", 3_000, report_share=0.0)
    results = await asyncio.gather(
        *(gateway.complete(_request(i)) for i in range(100)), return_exceptions=True
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BudgetExhausted)]
    assert len(ok) + len(refused) == 100
    assert ok and refused
    assert sum(r.cost_micro_usd for r in ok) == gateway.ledger.spent("tight") <= 3_000
    assert gateway.ledger.accounts["tight"].reserved == 0


def test_worst_case_covers_the_real_cost() -> None:
    gateway = Gateway(PRICING)
    request = _request(1)
    result = asyncio.run(gateway.complete(request))
    assert result.cost_micro_usd <= gateway.worst_case_cost(request)
    assert result.simulated and result.provider == "simulated"


def test_pricing_file_has_a_date() -> None:
    assert PriceTable.load(Path(REPO_CONFIGS / "pricing.yaml")).prices_as_of


def test_a_user_budget_caps_all_of_a_users_discussions() -> None:
    ledger = BudgetLedger()
    ledger.open("d1", 1000, 0.0)
    ledger.open("d2", 1000, 0.0)
    ledger.open("user:u", 1500, 0.0)
    ledger.settle(ledger.reserve(["d1", "user:u"], 900), 900)
    with pytest.raises(BudgetExhausted, match="your account's budget"):
        ledger.reserve(["d2", "user:u"], 700)
    assert ledger.accounts["d2"].reserved == 0, "all or nothing"
    ledger.settle(ledger.reserve(["d2", "user:u"], 600), 500)
    assert ledger.spent("user:u") == 1400 and ledger.spent("d2") == 500


async def test_the_gateway_books_user_calls_against_the_user_budget() -> None:
    gateway = Gateway(PRICING)
    gateway.open_budget("tight", None, 0.0)
    gateway.open_user_budget("u1", 500)
    request = _request(1).model_copy(update={"user_id": "u1"})
    with pytest.raises(BudgetExhausted):
        for _ in range(100):
            await gateway.complete(request)
    assert gateway.ledger.spent("user:u1") <= 500
