"""The gateway core: every LLM call is admitted, budgeted, sent, retried and settled here.

``LLMGatewayActor`` is a thin Ray shell around ``Gateway``; tests build ``Gateway``
directly. One call goes through, per attempt:

1. the endpoint's circuit breaker (fails fast while the endpoint is known to be down);
2. the budget: the attempt's worst case (prompt estimate with a margin + ``max_tokens``)
   is reserved before anything is sent, in one synchronous step on the actor's event loop,
   so concurrent calls can never overshoot together — and, with a journal (the actor's),
   committed to the store before the call is sent, so a restarted gateway still counts it;
3. the rate limiter of (provider, key, model): over the limit the call waits in a fair,
   prioritised queue instead of failing;
4. the provider; then the reservation is settled at the reported usage (at the reserved
   amount when a stream brought no usage — never $0), the limiter is corrected from the
   rate-limit headers and the breaker learns the outcome.

Failed attempts are retried by one tenacity loop (``retry.py``); when the provider keeps
failing, the request's fallbacks are tried in order. A streamed attempt that is cut after
text was shown emits ``restart`` so that watchers discard the partial text.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tenacity import RetryCallState

from simfocus.kit.models import ValueModel
from simfocus.llm.breaker import BreakerState, CircuitBreaker
from simfocus.llm.budget import BudgetLedger, Reservation
from simfocus.llm.config import GatewayConfig
from simfocus.llm.errors import (
    AuthenticationFailed,
    BadRequest,
    BudgetExhausted,
    ContextLengthExceeded,
    LLMError,
    ModelNotFound,
    ProviderError,
    StreamInterrupted,
)
from simfocus.llm.lease import BudgetLease
from simfocus.llm.pricing import PriceTable
from simfocus.llm.ratelimit import (
    Permit,
    Priority,
    RateLimiter,
    RateLimiterRegistry,
    parse_rate_limit_headers,
)
from simfocus.llm.registry import ProviderRegistry
from simfocus.llm.retry import retrying
from simfocus.llm.schemas import Completion, LLMRequest, LLMResult, ProviderConfig, Purpose
from simfocus.llm.tokens import estimate_chat_tokens

logger = logging.getLogger(__name__)

# Our token estimate can undercount a real tokenizer; reserve with a margin.
PROMPT_ESTIMATE_MARGIN = 1.25


class StreamEvent(ValueModel):
    """What ``Gateway.stream`` yields: text deltas, a restart, then the result."""

    kind: Literal["delta", "restart", "result"]
    text: str = ""
    result: LLMResult | None = None


@dataclass(frozen=True)
class BudgetStatus:
    spent_micro_usd: int
    remaining_micro_usd: int | None


@dataclass(frozen=True)
class CallRecord:
    """One row of the call log (``llm_calls``): never a key, never prompt text."""

    discussion_id: str
    participant_id: str | None
    purpose: str
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_micro_usd: int
    latency_ms: float
    ttft_ms: float | None
    attempts: int
    status: str  # ok | failed | cancelled
    error_code: str | None


class Journal(Protocol):
    """Where reservations are made durable before a call is sent (``llm/calls.py``)."""

    async def open_reservation(
        self, reservation_id: str, discussion_id: str, accounts: Iterable[str], amount: int
    ) -> None: ...

    def close_reservations(self, ids: Iterable[str]) -> None: ...


class GatewayObserver(Protocol):
    """Metrics hooks (the Ray actor feeds ``ray.util.metrics``); tags are provider and
    model only — discussion and user ids belong in the call log, not in metrics."""

    def call_finished(self, record: CallRecord) -> None: ...
    def retried(self, provider: str, model: str, code: str) -> None: ...
    def queued(self, provider: str, model: str, wait_s: float) -> None: ...
    def breaker_changed(self, provider: str, endpoint: str, state: str) -> None: ...


class _NoObserver:
    def call_finished(self, record: CallRecord) -> None:
        pass

    def retried(self, provider: str, model: str, code: str) -> None:
        pass

    def queued(self, provider: str, model: str, wait_s: float) -> None:
        pass

    def breaker_changed(self, provider: str, endpoint: str, state: str) -> None:
        pass


PRIORITY = {
    Purpose.REPORT: Priority.REPORT,
    Purpose.MODERATOR: Priority.REPORT,
    Purpose.TURN: Priority.TURN,
}
# Errors that are the request's fault, not the endpoint's: no fallback, no breaker count.
REQUEST_FAULTS = (BadRequest, ContextLengthExceeded)


class _Attempt:
    """Book-keeping of one attempt: what was reserved, acquired and shown."""

    def __init__(self, reservation: Reservation) -> None:
        self.reservation = reservation
        self.permit: Permit | None = None
        self.limiter: RateLimiter | None = None
        self.shown = 0


@dataclass
class _CallState:
    """Book-keeping across the attempts of one call."""

    started: float
    attempts: int = 0
    ttft_s: float | None = None
    failed_cost: int = 0  # what failed attempts may have been billed (a cut stream)
    journaled: list[str] = field(default_factory=list)  # reservation ids in the journal


class Gateway:
    def __init__(
        self,
        pricing: PriceTable,
        registry: ProviderRegistry | None = None,
        *,
        config: GatewayConfig | None = None,
        observer: GatewayObserver | None = None,
        call_log: Callable[[CallRecord], None] | None = None,
        journal: Journal | None = None,
        lease: BudgetLease | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pricing = pricing
        self.registry = registry or ProviderRegistry()
        self.config = config or GatewayConfig()
        self.observer: GatewayObserver = observer or _NoObserver()
        self.call_log = call_log or (lambda record: None)
        self.journal = journal
        self.lease = lease
        self.ledger = BudgetLedger()
        if lease is not None:
            lease.attach(self.ledger)
        self.limiters = RateLimiterRegistry(clock=clock)
        self.breakers: dict[str, CircuitBreaker] = {}
        self.clock = clock
        self.sleep = sleep

    # ----- budgets --------------------------------------------------------------------

    def open_budget(
        self, discussion_id: str, budget_micro_usd: int | None, report_share: float, spent: int = 0
    ) -> None:
        self.ledger.open(discussion_id, budget_micro_usd, report_share, spent)

    def open_user_budget(self, user_id: str, budget_micro_usd: int | None, spent: int = 0) -> None:
        """Cap all of a user's discussions together (``None``: no cap)."""
        self.ledger.open(f"user:{user_id}", budget_micro_usd, 0.0, spent)

    def _accounts(self, request: LLMRequest) -> list[str]:
        accounts = [request.discussion_id]
        user = f"user:{request.user_id}" if request.user_id else None
        if user in self.ledger.accounts:
            accounts.append(user)
        if request.budget_account:
            accounts.append(request.budget_account)
        return accounts

    def budget_status(self, discussion_id: str) -> BudgetStatus:
        return BudgetStatus(self.ledger.spent(discussion_id), self.ledger.remaining(discussion_id))

    def prompt_estimate(self, request: LLMRequest) -> int:
        c = request.completion
        return (
            int(
                estimate_chat_tokens(c.system, [m.content for m in c.messages])
                * PROMPT_ESTIMATE_MARGIN
            )
            + 1
        )

    def worst_case_cost(self, request: LLMRequest, config: ProviderConfig | None = None) -> int:
        config = config or request.provider
        return self.pricing.cost_micro_usd(
            config.name, config.model, self.prompt_estimate(request), request.completion.max_tokens
        )

    # ----- calls ----------------------------------------------------------------------

    async def complete(self, request: LLMRequest) -> LLMResult:
        """One call, answered in one piece."""
        async for event in self._call(request, stream=False):
            if event.result is not None:
                return event.result
        raise AssertionError("a call ends with a result or an error")

    async def stream(self, request: LLMRequest) -> AsyncIterator[StreamEvent]:
        """One call, its text in batches (``stream_batch_ms`` apart) as it is written."""
        batch: list[str] = []
        flushed = self.clock()
        window = self.config.stream_batch_ms / 1000
        async for event in self._call(request, stream=True):
            if event.kind == "delta":
                batch.append(event.text)
                if self.clock() - flushed >= window:
                    yield StreamEvent(kind="delta", text="".join(batch))
                    batch, flushed = [], self.clock()
                continue
            if batch and event.kind == "result":
                yield StreamEvent(kind="delta", text="".join(batch))
            batch = []  # a restart discards what was not sent yet
            yield event

    async def _call(self, request: LLMRequest, *, stream: bool) -> AsyncIterator[StreamEvent]:
        configs = [request.provider, *request.fallbacks]
        for i, config in enumerate(configs):
            try:
                async for event in self._with_retries(request, config, stream):
                    yield event
                return
            except LLMError as e:
                last = i == len(configs) - 1
                if last or isinstance(e, (BudgetExhausted, *REQUEST_FAULTS)):
                    raise
                logger.warning(
                    "falling back from %s to %s: %s", config.label, configs[i + 1].label, e.code
                )

    async def _with_retries(
        self, request: LLMRequest, config: ProviderConfig, stream: bool
    ) -> AsyncIterator[StreamEvent]:
        config = self.registry.resolve(config)
        call = _CallState(started=self.clock())

        def on_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            self.observer.retried(config.name, config.model, getattr(error, "code", "unknown"))

        try:
            async for attempt in retrying(config.max_attempts, on_retry=on_retry, sleep=self.sleep):
                with attempt:
                    call.attempts += 1
                    async for event in self._attempt(request, config, stream, call):
                        if event.result is not None:
                            # Logged before the caller has it: a caller may stop iterating there.
                            self._log(
                                self._record(request, config, call, event.result, "ok", None),
                                call,
                            )
                        yield event
                        if event.result is not None:
                            return
        except asyncio.CancelledError:
            self._log(self._record(request, config, call, None, "cancelled", None), call)
            raise
        except LLMError as e:
            self._log(self._record(request, config, call, None, "failed", e.code), call)
            raise

    async def _attempt(
        self, request: LLMRequest, config: ProviderConfig, stream: bool, call: _CallState
    ) -> AsyncIterator[StreamEvent]:
        endpoint = (
            f"{config.name}:{config.base_url or ''}:{self.registry.credentials.key_ref(config)}"
        )
        breaker = self.breakers.get(endpoint)
        if breaker is None:
            breaker = self.breakers[endpoint] = CircuitBreaker(
                endpoint, self.config.breaker.to_policy(), clock=self.clock
            )
        breaker.before_call()
        provider = self.registry.get(config)  # a missing key fails here, before any booking
        worst = self.worst_case_cost(request, config)
        if self.lease is not None and request.budget_account == self.lease.account:
            await self.lease.ensure(worst)  # a batch worker tops up its share of the budget
        state = _Attempt(self.ledger.reserve(self._accounts(request), worst, request.purpose))
        if self.journal is not None:
            # Durable before it is sent: a gateway that dies now still counts this call.
            reservation_id = str(uuid.uuid4())
            try:
                await self.journal.open_reservation(
                    reservation_id,
                    request.discussion_id,
                    state.reservation.accounts,
                    state.reservation.amount,
                )
            except BaseException:
                self.ledger.settle(state.reservation, 0)  # never sent
                breaker.release_probe()
                raise
            call.journaled.append(reservation_id)
        try:
            await self._admit(request, config, endpoint, state)
            sent = self.clock()
            completion: Completion | None = None
            if stream:
                async for piece in provider.stream(request.completion):
                    if isinstance(piece, Completion):
                        completion = piece
                    elif piece:
                        if call.ttft_s is None:
                            call.ttft_s = self.clock() - sent
                        state.shown += len(piece)
                        yield StreamEvent(kind="delta", text=piece)
            else:
                completion = await provider.complete(request.completion)
                if call.ttft_s is None:
                    call.ttft_s = self.clock() - sent
            assert completion is not None
        except ProviderError as e:
            call.failed_cost += self._failed(e, config, request, state, breaker)
            if state.shown:
                yield StreamEvent(kind="restart", text=e.message)
            raise
        except BaseException:
            # Cancelled (or our own bug): what was sent may be billed, so keep the worst case.
            self.ledger.settle(state.reservation, state.reservation.amount)
            call.failed_cost += state.reservation.amount
            if state.permit:
                state.permit.release()
            breaker.release_probe()
            raise
        cost = self._settle(completion, config, state)
        previous = breaker.state
        breaker.record_success()
        self._breaker_moved(config, breaker, previous)
        yield StreamEvent(
            kind="result",
            result=LLMResult(
                text=completion.text,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                # Everything this call cost, failed attempts included: nothing goes uncounted.
                cost_micro_usd=cost + call.failed_cost,
                latency_ms=(self.clock() - call.started) * 1000,
                ttft_ms=call.ttft_s * 1000 if call.ttft_s is not None else None,
                attempts=call.attempts,
                provider=config.name,
                model=completion.model,
                simulated=config.name == "simulated",
                finish_reason=completion.finish_reason,
                usage_reported=completion.usage_reported,
            ),
        )

    async def _admit(
        self, request: LLMRequest, config: ProviderConfig, endpoint: str, state: _Attempt
    ) -> None:
        spec = self.config.limit_spec(config)
        state.limiter = self.limiters.get((endpoint, config.model), spec.to_limits())
        # Rate limits take the plain estimate (the budget's margin would waste capacity);
        # the provider's headers correct any drift.
        c = request.completion
        prompt = estimate_chat_tokens(c.system, [m.content for m in c.messages])
        out = request.completion.max_tokens
        state.permit = await state.limiter.acquire(
            input_tokens=prompt + out if spec.combined else prompt,
            output_tokens=0 if spec.combined else out,
            priority=Priority.BATCH if request.batch else PRIORITY[request.purpose],
            fairness_key=request.discussion_id,
        )
        if state.permit.queued_s > 0:
            self.observer.queued(config.name, config.model, state.permit.queued_s)

    def _settle(self, completion: Completion, config: ProviderConfig, state: _Attempt) -> int:
        if completion.usage_reported:
            cost = self.pricing.cost_micro_usd(
                config.name,
                config.model,
                completion.prompt_tokens,
                completion.completion_tokens,
                cache_read_tokens=completion.cache_read_tokens,
                cache_write_tokens=completion.cache_write_tokens,
            )
        else:
            cost = state.reservation.amount  # no usage reported: the worst case, never $0
        self.ledger.settle(state.reservation, cost)
        assert state.permit is not None and state.limiter is not None
        state.permit.release(output_tokens=completion.completion_tokens)
        state.limiter.observe(parse_rate_limit_headers(completion.rate_headers))
        return cost

    def _failed(
        self,
        error: ProviderError,
        config: ProviderConfig,
        request: LLMRequest,
        state: _Attempt,
        breaker: CircuitBreaker,
    ) -> int:
        """Settle a failed attempt; returns what it may have been billed."""
        billed = 0
        if isinstance(error, StreamInterrupted):
            # The provider may bill a cut stream: count its prompt and what was shown.
            billed = self.pricing.cost_micro_usd(
                config.name, config.model, self.prompt_estimate(request), error.billed_tokens
            )
        billed = min(billed, state.reservation.amount)
        self.ledger.settle(state.reservation, billed)
        if state.permit is not None and state.limiter is not None:
            state.permit.release(output_tokens=error.billed_tokens)
            state.limiter.observe(parse_rate_limit_headers(error.headers))
        previous = breaker.state
        if isinstance(error, REQUEST_FAULTS):
            breaker.release_probe()
        else:
            breaker.record_failure(
                f"{error.code}: {error.message}"[:200],
                fatal=isinstance(error, (AuthenticationFailed, ModelNotFound)),
            )
        self._breaker_moved(config, breaker, previous)
        return billed

    def _breaker_moved(
        self, config: ProviderConfig, breaker: CircuitBreaker, previous: BreakerState
    ) -> None:
        if breaker.state is not previous:
            logger.warning(
                "circuit %s: %s → %s", breaker.endpoint, previous.value, breaker.state.value
            )
            self.observer.breaker_changed(config.name, breaker.endpoint, breaker.state.value)

    def _record(
        self,
        request: LLMRequest,
        config: ProviderConfig,
        call: _CallState,
        result: LLMResult | None,
        status: str,
        code: str | None,
    ) -> CallRecord:
        return CallRecord(
            discussion_id=request.discussion_id,
            participant_id=request.participant_id,
            purpose=request.purpose.value,
            provider=config.name,
            model=config.model,
            prompt_tokens=result.prompt_tokens if result else 0,
            completion_tokens=result.completion_tokens if result else 0,
            cost_micro_usd=result.cost_micro_usd if result else call.failed_cost,
            latency_ms=(self.clock() - call.started) * 1000,
            ttft_ms=call.ttft_s * 1000 if call.ttft_s is not None else None,
            attempts=call.attempts,
            status=status,
            error_code=code,
        )

    def _log(self, record: CallRecord, call: _CallState) -> None:
        self.call_log(record)
        if self.journal is not None and call.journaled:
            self.journal.close_reservations(call.journaled)
        self.observer.call_finished(record)

    async def aclose(self) -> None:
        await self.registry.aclose()
