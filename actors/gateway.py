"""``LLMGatewayActor``: the one named actor every LLM call passes through."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator

from ray.util import metrics

from simfocus.keys.crypto import KeyCipher, load_master_key
from simfocus.keys.service import decrypt_stored_key
from simfocus.llm.budget import Reservation
from simfocus.llm.calls import CallLogWriter, lease_record
from simfocus.llm.config import GatewayConfig
from simfocus.llm.credentials import Credentials
from simfocus.llm.errors import MissingApiKey
from simfocus.llm.gateway import BudgetStatus, CallRecord, Gateway, StreamEvent
from simfocus.llm.pricing import PriceTable
from simfocus.llm.registry import ProviderRegistry
from simfocus.llm.schemas import LLMRequest, LLMResult
from simfocus.settings import Settings
from simfocus.store.engine import create_engine, session_factory

logger = logging.getLogger(__name__)
TAGS = ("provider", "model")


class RayMetrics:
    """Gateway metrics for the Ray dashboard / Prometheus; tagged by provider and model."""

    def __init__(self) -> None:
        self.calls = metrics.Counter(
            "simfocus_llm_calls", "LLM calls by outcome", tag_keys=(*TAGS, "status", "code")
        )
        self.tokens = metrics.Counter("simfocus_llm_tokens", "tokens", tag_keys=(*TAGS, "kind"))
        self.cost = metrics.Counter(
            "simfocus_llm_cost_micro_usd", "cost in micro-USD", tag_keys=TAGS
        )
        self.latency = metrics.Histogram(
            "simfocus_llm_latency_s",
            "call latency",
            boundaries=[0.1, 0.5, 1, 2, 5, 10, 30, 60],
            tag_keys=TAGS,
        )
        self.ttft = metrics.Histogram(
            "simfocus_llm_ttft_s",
            "time to first token",
            boundaries=[0.05, 0.2, 0.5, 1, 2, 5, 10],
            tag_keys=TAGS,
        )
        self.retries = metrics.Counter(
            "simfocus_llm_retries", "retried attempts", tag_keys=(*TAGS, "code")
        )
        self.queue_wait = metrics.Histogram(
            "simfocus_llm_queue_wait_s",
            "rate-limit queue wait",
            boundaries=[0.01, 0.1, 0.5, 1, 5, 15, 60],
            tag_keys=TAGS,
        )
        self.breaker = metrics.Gauge(
            "simfocus_llm_breaker_open",
            "1 while an endpoint's circuit is not closed",
            tag_keys=("provider",),
        )

    def call_finished(self, record: CallRecord) -> None:
        tags = {"provider": record.provider, "model": record.model}
        self.calls.inc(1, {**tags, "status": record.status, "code": record.error_code or ""})
        # Ray's counters refuse increments of 0.
        if record.prompt_tokens:
            self.tokens.inc(record.prompt_tokens, {**tags, "kind": "prompt"})
        if record.completion_tokens:
            self.tokens.inc(record.completion_tokens, {**tags, "kind": "completion"})
        if record.cost_micro_usd:
            self.cost.inc(record.cost_micro_usd, tags)
        self.latency.observe(record.latency_ms / 1000, tags)
        if record.ttft_ms is not None:
            self.ttft.observe(record.ttft_ms / 1000, tags)

    def retried(self, provider: str, model: str, code: str) -> None:
        self.retries.inc(1, {"provider": provider, "model": model, "code": code})

    def queued(self, provider: str, model: str, wait_s: float) -> None:
        self.queue_wait.observe(wait_s, {"provider": provider, "model": model})

    def breaker_changed(self, provider: str, endpoint: str, state: str) -> None:
        self.breaker.set(0 if state == "closed" else 1, {"provider": provider})


class LLMGatewayActor:
    """Budgets, rate limits, retries and sends every call. Async: calls from all
    discussions interleave on one event loop, which is what makes budget reservation
    atomic and rate limits global (one gateway, not one per replica)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine = create_engine(
            settings.resolved_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
        self.call_log = CallLogWriter(session_factory(self._engine))
        # The gateway's own environment is where keys are read (see credentials.py);
        # stored per-user keys are decrypted here, on first use, and kept in memory only.
        self._stored_keys: dict[str, str] = {}
        self._cipher: KeyCipher | None = None
        credentials = Credentials(os.environ, stored=self._stored_key)
        self.gateway = Gateway(
            PriceTable.load(settings.pricing_file),
            ProviderRegistry(credentials, base_urls=settings.base_urls),
            config=GatewayConfig.load(settings.gateway_config_file),
            observer=RayMetrics(),
            call_log=self.call_log.record,
            journal=self.call_log,
        )
        self._flusher: asyncio.Task[None] | None = None
        self._rebuilt: asyncio.Task[None] | None = None
        self._leases: dict[tuple[str, str], list[tuple[Reservation, str]]] = {}

    async def _started(self) -> None:
        """Before the first call of this process (a fresh gateway, or one Ray restarted
        after a crash): rebuild the budgets of live discussions from the store."""
        if self._rebuilt is None:
            self._rebuilt = asyncio.get_running_loop().create_task(self._rebuild())
        await asyncio.shield(self._rebuilt)
        self._ensure_flusher()

    async def _rebuild(self) -> None:
        accounts = await self.call_log.rebuild()
        for account in accounts:
            self.gateway.open_budget(
                account.discussion_id,
                account.budget_micro_usd,
                self.settings.report_budget_share,
                account.spent,
            )
        if accounts:
            logger.info("gateway: budgets of %d live discussions rebuilt", len(accounts))

    def _stored_key(self, key_id: str) -> str:
        try:
            return self._stored_keys[key_id]
        except KeyError:
            raise MissingApiKey(
                "that stored API key is not available", field="api_key_id"
            ) from None

    async def _load_keys(self, request: LLMRequest) -> None:
        """Decrypt the stored keys a request names (once per key and gateway)."""
        wanted = [c.api_key_id for c in (request.provider, *request.fallbacks) if c.api_key_id]
        missing = [k for k in wanted if k not in self._stored_keys]
        if not missing:
            return
        if self._cipher is None:
            self._cipher = KeyCipher(load_master_key(self.settings))
        async with session_factory(self._engine)() as session, session.begin():
            for key_id in missing:
                _, self._stored_keys[key_id] = await decrypt_stored_key(
                    session, self._cipher, key_id
                )

    def forget_key(self, key_id: str) -> None:
        """A stored key changed or was deleted: drop the decrypted copy and its client."""
        self._stored_keys.pop(key_id, None)
        self.gateway.registry.forget(lambda config: config.api_key_id == key_id)

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush_forever())

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.call_log_flush_s)
            await self.call_log.flush()

    async def open_budget(
        self, discussion_id: str, budget_micro_usd: int | None, report_share: float, spent: int = 0
    ) -> None:
        """Set a discussion's budget; ``spent`` carries what it spent before (on resume).
        The ledger keeps the larger of that and what it already knows (its own books,
        rebuilt from the call log after a restart)."""
        await self._started()
        self.gateway.open_budget(discussion_id, budget_micro_usd, report_share, spent)

    def close_budget(self, discussion_id: str) -> None:
        self.gateway.ledger.close(discussion_id)

    def budget_status(self, discussion_id: str) -> BudgetStatus:
        return self.gateway.budget_status(discussion_id)

    async def complete(self, request: LLMRequest) -> LLMResult:
        """One budgeted, rate-limited, retried call; raises a typed ``LLMError``."""
        await self._started()
        await self._load_keys(request)
        return await self.gateway.complete(request)

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """The same call, streamed: text batches, ``restart`` on a retried cut, the result."""
        await self._started()
        await self._load_keys(request)
        async for event in self.gateway.stream(request):
            yield event

    # ----- a batch's shared budget, leased to its workers (see llm/lease.py) ------------

    async def lease_budget(
        self, account: str, holder: str, amount: int, budget_micro_usd: int
    ) -> int:
        """Reserve up to ``amount`` of the batch budget for one worker; returns the grant
        (0 when the budget is spent). Durable like any reservation."""
        await self._started()
        ledger = self.gateway.ledger
        if account not in ledger.accounts:
            spent = await self.call_log.spent_by(account)  # earlier leases of this batch
            ledger.open(account, budget_micro_usd, 0.0, spent)
        grant = min(amount, ledger.remaining(account) or 0)
        if grant <= 0:
            return 0
        reservation = ledger.reserve(account, grant)
        reservation_id = str(uuid.uuid4())
        try:
            await self.call_log.open_reservation(reservation_id, account, [account], grant)
        except BaseException:
            ledger.settle(reservation, 0)
            raise
        self._leases.setdefault((account, holder), []).append((reservation, reservation_id))
        return grant

    def settle_lease(self, account: str, holder: str, spent: int | None = None) -> int:
        """A worker is done: book what it spent of its leases (all of them when unknown —
        a worker that died) and release the rest. Returns what was booked."""
        leases = self._leases.pop((account, holder), [])
        leased = sum(r.amount for r, _ in leases)
        booked = leased if spent is None else min(spent, leased)
        left = booked
        for reservation, _ in leases:
            part = min(left, reservation.amount)
            self.gateway.ledger.settle(reservation, part)
            left -= part
        if leases:
            self.call_log.record(lease_record(account, holder, booked))
            self.call_log.close_reservations(rid for _, rid in leases)
        return booked

    def close_batch(self, account: str) -> int:
        """The batch is over: settle what its workers left open (at the full amount)."""
        booked = sum(
            self.settle_lease(account, holder)
            for (acct, holder) in list(self._leases)
            if acct == account
        )
        self.gateway.ledger.close(account)
        return booked

    async def flush_call_log(self) -> int:
        """Write the buffered call log now (tests, shutdown)."""
        return await self.call_log.flush()

    def breaker_states(self) -> dict[str, str]:
        return {endpoint: b.state.value for endpoint, b in self.gateway.breakers.items()}

    async def shutdown(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.call_log.flush()
        await self.gateway.aclose()
        await self._engine.dispose()

    def check_health(self) -> bool:
        return True

    def process_id(self) -> int:
        """This process (the chaos tests kill it)."""
        return os.getpid()
