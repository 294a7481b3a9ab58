"""``LLMGatewayActor``: the one named actor every LLM call passes through."""

from __future__ import annotations

from simfocus.llm.gateway import BudgetStatus, Gateway
from simfocus.llm.pricing import PriceTable
from simfocus.llm.schemas import LLMRequest, LLMResult
from simfocus.settings import Settings


class LLMGatewayActor:
    """Budgets, prices and sends calls. Async: calls from all discussions interleave on
    one event loop, which is what makes budget reservation atomic."""

    def __init__(self, settings: Settings) -> None:
        self.gateway = Gateway(PriceTable.load(settings.pricing_file))

    def open_budget(
        self, discussion_id: str, budget_micro_usd: int | None, report_share: float, spent: int = 0
    ) -> None:
        """Set a discussion's budget; ``spent`` carries what it spent before (on resume)."""
        self.gateway.open_budget(discussion_id, budget_micro_usd, report_share, spent)

    def close_budget(self, discussion_id: str) -> None:
        self.gateway.ledger.close(discussion_id)

    def budget_status(self, discussion_id: str) -> BudgetStatus:
        return self.gateway.budget_status(discussion_id)

    async def complete(self, request: LLMRequest) -> LLMResult:
        """One budgeted call; raises ``BudgetExhausted`` before sending if it could overspend."""
        return await self.gateway.complete(request)

    def check_health(self) -> bool:
        return True
