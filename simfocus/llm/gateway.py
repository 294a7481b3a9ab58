"""The gateway core: every LLM call is budgeted, sent, priced and settled here.

``LLMGatewayActor`` is a thin Ray shell around ``Gateway``; tests build ``Gateway``
directly. Reserve → call → settle happens with no await between the budget check and the
booking, so concurrent calls on the actor's event loop cannot overshoot a budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from simfocus.llm.budget import BudgetLedger
from simfocus.llm.pricing import PriceTable
from simfocus.llm.registry import ProviderRegistry
from simfocus.llm.schemas import LLMRequest, LLMResult
from simfocus.llm.tokens import estimate_chat_tokens

# Our token estimate can undercount a real tokenizer; reserve with a margin.
PROMPT_ESTIMATE_MARGIN = 1.25


@dataclass(frozen=True)
class BudgetStatus:
    spent_micro_usd: int
    remaining_micro_usd: int | None


class Gateway:
    def __init__(self, pricing: PriceTable, registry: ProviderRegistry | None = None) -> None:
        self.pricing = pricing
        self.registry = registry or ProviderRegistry()
        self.ledger = BudgetLedger()

    def open_budget(
        self, discussion_id: str, budget_micro_usd: int | None, report_share: float, spent: int = 0
    ) -> None:
        self.ledger.open(discussion_id, budget_micro_usd, report_share, spent)

    def budget_status(self, discussion_id: str) -> BudgetStatus:
        return BudgetStatus(self.ledger.spent(discussion_id), self.ledger.remaining(discussion_id))

    def worst_case_cost(self, request: LLMRequest) -> int:
        c = request.completion
        prompt = estimate_chat_tokens(c.system, [m.content for m in c.messages])
        prompt = int(prompt * PROMPT_ESTIMATE_MARGIN) + 1
        return self.pricing.cost_micro_usd(
            request.provider.name, request.provider.model, prompt, c.max_tokens
        )

    async def complete(self, request: LLMRequest) -> LLMResult:
        """Send one call within the discussion's budget; raises ``BudgetExhausted``."""
        reservation = self.ledger.reserve(
            request.discussion_id, self.worst_case_cost(request), request.purpose
        )
        cost = reservation.amount  # a call that dies mid-way is booked at its worst case
        provider = self.registry.get(request.provider)
        started = time.perf_counter()
        try:
            completion = await provider.complete(request.completion)
            cost = self.pricing.cost_micro_usd(
                request.provider.name,
                request.provider.model,
                completion.prompt_tokens,
                completion.completion_tokens,
            )
        finally:
            self.ledger.settle(reservation, cost)
        return LLMResult(
            text=completion.text,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cost_micro_usd=cost,
            latency_ms=(time.perf_counter() - started) * 1000,
            provider=provider.name,
            model=completion.model,
            simulated=provider.simulated,
            finish_reason=completion.finish_reason,
        )

    async def aclose(self) -> None:
        await self.registry.aclose()
