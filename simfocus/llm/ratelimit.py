"""Provider rate limits: token buckets with a prioritised, fair waiting queue.

The gateway sends every LLM call of every discussion from one event loop, so one
``RateLimiter`` per (provider, key, model) sees all of them. Each limited dimension
(requests, input tokens, output tokens per minute) is a continuously refilled bucket;
concurrency is a plain slot count. A call that does not fit waits in a queue and is
never rejected: the queue serves REPORT before TURN before BATCH, round-robin across
discussions (``fairness_key``) within a class, FIFO within a discussion.

Dispatching is synchronous and event driven: every arrival, release, cancellation,
``observe`` and ``pause_for`` runs ``_dispatch`` once, which grants as many calls from
the head of the queue as fit. When the head is held back by a bucket or a pause, one
timer sleeps exactly until it would fit; when it is held back by concurrency, only a
release can help, so no timer runs. Nothing polls.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum

__all__ = [
    "Permit",
    "Priority",
    "RateLimitHeaders",
    "RateLimiter",
    "RateLimiterRegistry",
    "RateLimits",
    "parse_rate_limit_headers",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Priority(IntEnum):
    """Who waits least: report/moderator calls, then persona turns, then batch groups."""

    REPORT = 0
    TURN = 1
    BATCH = 2


@dataclass(frozen=True)
class RateLimits:
    """The limits of one (provider, key, model); ``None`` means not limited."""

    requests_per_minute: float | None = None
    input_tokens_per_minute: float | None = None
    output_tokens_per_minute: float | None = None
    max_concurrency: int | None = None
    # None: a classic bucket (holds L, refills L per minute). A share in (0, 0.5]: the
    # bucket holds burst·L and refills at (1 - burst)·L per minute, so no 60-second window
    # ever sees more than L — safe against providers that count in sliding windows, at the
    # price of using at most (1 - burst) of the limit in the long run.
    burst: float | None = None

    def __post_init__(self) -> None:
        if self.burst is not None and not 0 < self.burst <= 0.5:
            raise ValueError(f"burst must be None or in (0, 0.5], not {self.burst!r}")
        # A zero limit would make a bucket that never refills: every call would wait forever.
        for name in ("requests_per_minute", "input_tokens_per_minute", "output_tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number or None, not {value!r}")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError(
                f"max_concurrency must be at least 1 or None, not {self.max_concurrency}"
            )


@dataclass(frozen=True)
class RateLimitHeaders:
    """What one response said about the provider's limits; ``None`` = not said."""

    remaining_requests: float | None = None
    reset_requests_s: float | None = None
    remaining_input_tokens: float | None = None  # OpenAI's x-ratelimit-remaining-tokens counts here
    reset_input_tokens_s: float | None = None
    remaining_output_tokens: float | None = None
    reset_output_tokens_s: float | None = None
    retry_after_s: float | None = None


# --------------------------------------------------------------------------- header parsing

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)")
_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:h|ms|m|s|us|µs|μs|ns))+")
_UNIT_S = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ns": 1e-9,
}


def _parse_number(value: str) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_duration(value: str) -> float | None:
    """Go-style durations as OpenAI sends them: "1s", "6m0s", "20ms", "1h2m3.5s"."""
    text = value.strip()
    if not _DURATION.fullmatch(text):
        return None
    return sum(float(number) * _UNIT_S[unit] for number, unit in _DURATION_PART.findall(text))


def _parse_timestamp(value: str, now: datetime) -> float | None:
    """An RFC 3339 timestamp (Anthropic's resets) as seconds from ``now``."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:  # a timestamp without offset is UTC by every provider we know
        moment = moment.replace(tzinfo=UTC)
    return (moment - now).total_seconds()


def _parse_reset(value: str, now: datetime) -> float | None:
    # Providers disagree on the format, so any of them is accepted for any reset header.
    seconds = _parse_duration(value)
    if seconds is None:
        seconds = _parse_number(value)
    if seconds is None:
        seconds = _parse_timestamp(value, now)
    return None if seconds is None else max(0.0, seconds)


def _parse_retry_after(value: str, now: datetime) -> float | None:
    seconds = _parse_number(value)
    if seconds is None:
        try:
            moment = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - now).total_seconds()
    return max(0.0, seconds)


def _parse_retry_after_ms(value: str) -> float | None:
    millis = _parse_number(value)
    return None if millis is None else max(0.0, millis) / 1000


def _parse_remaining(value: str) -> float | None:
    number = _parse_number(value)
    return None if number is None else max(0.0, number)


def parse_rate_limit_headers(
    headers: Mapping[str, str], *, now: datetime | None = None
) -> RateLimitHeaders:
    """Read OpenAI's and Anthropic's rate-limit headers (names case-insensitive).

    OpenAI: ``x-ratelimit-remaining-requests`` / ``-tokens`` and ``x-ratelimit-reset-requests``
    / ``-tokens`` (durations such as "1s", "6m0s", "20ms"); its token numbers count as input.
    Anthropic: ``anthropic-ratelimit-{requests,input-tokens,output-tokens}-{remaining,reset}``
    (resets are RFC 3339 timestamps, turned into seconds from ``now``), and
    ``anthropic-ratelimit-tokens-*`` as input when the input-specific ones are not sent.
    ``retry-after`` (seconds or an HTTP date) and ``retry-after-ms`` (wins if both).
    Values that do not parse are ignored.
    """
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    lower = {name.lower(): value for name, value in headers.items()}

    def first(parse: Callable[[str], float | None], *names: str) -> float | None:
        # The first header that is present *and* parses wins, so a garbled preferred header
        # still lets a fallback speak.
        for name in names:
            if name in lower and (parsed := parse(lower[name])) is not None:
                return parsed
        return None

    def reset(value: str) -> float | None:
        return _parse_reset(value, now)

    # retry-after-ms is the more precise of the two, so it wins when both are sent.
    retry_after = first(_parse_retry_after_ms, "retry-after-ms")
    if retry_after is None:
        retry_after = first(lambda value: _parse_retry_after(value, now), "retry-after")

    return RateLimitHeaders(
        remaining_requests=first(
            _parse_remaining,
            "x-ratelimit-remaining-requests",
            "anthropic-ratelimit-requests-remaining",
        ),
        reset_requests_s=first(
            reset, "x-ratelimit-reset-requests", "anthropic-ratelimit-requests-reset"
        ),
        remaining_input_tokens=first(
            _parse_remaining,
            "x-ratelimit-remaining-tokens",
            "anthropic-ratelimit-input-tokens-remaining",
            "anthropic-ratelimit-tokens-remaining",
        ),
        reset_input_tokens_s=first(
            reset,
            "x-ratelimit-reset-tokens",
            "anthropic-ratelimit-input-tokens-reset",
            "anthropic-ratelimit-tokens-reset",
        ),
        remaining_output_tokens=first(
            _parse_remaining, "anthropic-ratelimit-output-tokens-remaining"
        ),
        reset_output_tokens_s=first(reset, "anthropic-ratelimit-output-tokens-reset"),
        retry_after_s=retry_after,
    )


# --------------------------------------------------------------------------- buckets


def _shape(per_minute: float, burst: float | None) -> tuple[float, float]:
    """(capacity, refill per second) of a bucket for a per-minute limit."""
    if burst is None:
        return per_minute, per_minute / 60.0
    return per_minute * burst, per_minute * (1 - burst) / 60.0


class _Bucket:
    """A continuously refilled token bucket for a per-minute limit L: it holds burst·L and
    refills at (1 - burst)·L per minute (see ``RateLimits.burst``)."""

    __slots__ = ("capacity", "level", "rate", "stamp")

    def __init__(self, per_minute: float, now: float, burst: float | None) -> None:
        self.capacity, self.rate = _shape(per_minute, burst)
        self.level = self.capacity  # starts full
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def resize(self, per_minute: float, now: float, burst: float | None) -> None:
        self.refill(now)
        self.capacity, self.rate = _shape(per_minute, burst)
        self.level = min(self.level, self.capacity)

    def _need(self, amount: float) -> float:
        # A call bigger than the whole bucket only needs it full (and drives it negative),
        # otherwise it could never be granted.
        return min(amount, self.capacity)

    def wait_s(self, amount: float) -> float:
        """Seconds until ``amount`` fits; 0 if it fits now."""
        deficit = self._need(amount) - self.level
        # Tolerate float noise so that waking at the computed instant really grants.
        if deficit <= 1e-9 * max(1.0, self.capacity):
            return 0.0
        return deficit / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount

    def give(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)

    def cap_at(self, remaining: float) -> None:
        self.level = min(self.level, remaining)


# --------------------------------------------------------------------------- queue


@dataclass(eq=False)
class _Waiter:
    future: asyncio.Future[Permit]
    input_tokens: int
    output_tokens: int
    priority: Priority
    key: str
    enqueued_at: float


@dataclass
class _Class:
    """One priority class: FIFO per fairness key, keys served in rotation."""

    rotation: deque[str] = field(default_factory=deque)
    queues: dict[str, deque[_Waiter]] = field(default_factory=dict)

    def push(self, waiter: _Waiter) -> None:
        queue = self.queues.get(waiter.key)
        if queue is None:
            # A newcomer joins the end of the rotation: it goes after the keys already waiting,
            # but after one grant to each of them at most.
            queue = self.queues[waiter.key] = deque()
            self.rotation.append(waiter.key)
        queue.append(waiter)

    def head(self) -> _Waiter | None:
        return self.queues[self.rotation[0]][0] if self.rotation else None

    def pop_head(self) -> None:
        key = self.rotation.popleft()
        queue = self.queues[key]
        queue.popleft()
        if queue:
            self.rotation.append(key)  # served once: go to the back of the rotation
        else:
            del self.queues[key]

    def remove(self, waiter: _Waiter) -> bool:
        queue = self.queues.get(waiter.key)
        if queue is None or waiter not in queue:
            return False
        queue.remove(waiter)
        if not queue:
            del self.queues[waiter.key]
            self.rotation.remove(waiter.key)
        return True

    def __len__(self) -> int:
        return sum(len(queue) for queue in self.queues.values())


# --------------------------------------------------------------------------- limiter


class Permit:
    """A granted call: holds a concurrency slot until ``release``."""

    __slots__ = ("_limiter", "_released", "input_tokens", "output_tokens", "queued_s")

    def __init__(
        self, limiter: RateLimiter, input_tokens: int, output_tokens: int, queued_s: float
    ) -> None:
        self._limiter = limiter
        self._released = False
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens  # the estimate taken from the bucket (max_tokens)
        self.queued_s = queued_s  # how long the call waited

    @property
    def released(self) -> bool:
        return self._released

    def release(self, *, output_tokens: int | None = None) -> None:
        """Give back the concurrency slot; refund the unused part of the output-token estimate
        (acquired with the call's max_tokens) when the real count is known. Idempotent."""
        if self._released:
            return
        self._released = True
        self._limiter._settle(self, output_tokens)

    def _abandon(self) -> None:
        # Granted but never sent (cancelled in the same instant): give everything back.
        if self._released:
            return
        self._released = True
        self._limiter._settle(self, None, sent=False)


class RateLimiter:
    """The rate limits of one (provider, key, model), with a prioritised, fair waiting queue.

    ``acquire`` waits (never fails) until the call fits every limit; the caller must
    ``release`` the returned ``Permit`` when the call is over. ``observe`` corrects the
    buckets from the provider's headers. ``clock`` and ``sleep`` are injectable so tests
    can run on virtual time.
    """

    def __init__(
        self,
        limits: RateLimits,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limits = RateLimits()
        self._requests: _Bucket | None = None
        self._input: _Bucket | None = None
        self._output: _Bucket | None = None
        self._in_flight = 0
        self._paused_until = -math.inf
        self._classes = {priority: _Class() for priority in Priority}
        self._timer: asyncio.Task[None] | None = None
        self._timer_at = math.inf
        self.set_limits(limits)

    # ----------------------------------------------------------------- public

    @property
    def limits(self) -> RateLimits:
        return self._limits

    @property
    def waiting(self) -> int:
        return sum(len(cls) for cls in self._classes.values())

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def levels(self) -> dict[str, float]:
        """What each limited bucket holds now (for metrics and tests)."""
        now = self._clock()
        levels: dict[str, float] = {}
        for name, bucket in self._buckets():
            bucket.refill(now)
            levels[name] = bucket.level
        return levels

    def set_limits(self, limits: RateLimits) -> None:
        """Change the limits in place; buckets keep their level (clipped to the new capacity)."""
        now = self._clock()
        self._requests = self._rebucket(
            self._requests, limits.requests_per_minute, now, limits.burst
        )
        self._input = self._rebucket(self._input, limits.input_tokens_per_minute, now, limits.burst)
        self._output = self._rebucket(
            self._output, limits.output_tokens_per_minute, now, limits.burst
        )
        self._limits = limits
        self._dispatch()

    async def acquire(
        self,
        *,
        input_tokens: int,
        output_tokens: int,
        priority: Priority = Priority.TURN,
        fairness_key: str = "",
    ) -> Permit:
        """Wait until the call fits every limit and its turn has come; never rejects."""
        if input_tokens < 0 or output_tokens < 0:
            raise ValueError("token counts cannot be negative")
        loop = asyncio.get_running_loop()
        waiter = _Waiter(
            loop.create_future(),
            input_tokens,
            output_tokens,
            Priority(priority),
            fairness_key,
            self._clock(),
        )
        # Always through the queue, even when idle: a newcomer must not overtake waiters.
        self._classes[waiter.priority].push(waiter)
        self._dispatch()
        try:
            return await waiter.future
        except asyncio.CancelledError:
            future = waiter.future
            if future.done() and not future.cancelled():
                # The grant won the race with the cancellation: nothing was sent, undo it.
                future.result()._abandon()
            elif self._classes[waiter.priority].remove(waiter):
                self._dispatch()  # it may have been the head holding others back
            raise

    def observe(self, headers: RateLimitHeaders) -> None:
        """Correct the buckets from what the provider says: a bucket never holds more than the
        provider's `remaining` (lower it; never raise it above our own level);
        `retry_after_s` pauses all grants until then."""
        now = self._clock()
        for bucket, remaining in (
            (self._requests, headers.remaining_requests),
            (self._input, headers.remaining_input_tokens),
            (self._output, headers.remaining_output_tokens),
        ):
            if bucket is not None and remaining is not None:
                bucket.refill(now)
                bucket.cap_at(remaining)
        if headers.retry_after_s is not None:
            self.pause_for(headers.retry_after_s)
        else:
            self._dispatch()

    def pause_for(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` from now (a 429's retry-after); pauses never shorten."""
        if seconds > 0 and math.isfinite(seconds):
            self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._dispatch()

    # ----------------------------------------------------------------- internals

    @staticmethod
    def _rebucket(
        bucket: _Bucket | None, per_minute: float | None, now: float, burst: float | None
    ) -> _Bucket | None:
        if per_minute is None:
            return None
        if bucket is None:
            return _Bucket(per_minute, now, burst)
        bucket.resize(per_minute, now, burst)
        return bucket

    def _buckets(self) -> list[tuple[str, _Bucket]]:
        named = [
            ("requests", self._requests),
            ("input_tokens", self._input),
            ("output_tokens", self._output),
        ]
        return [(name, bucket) for name, bucket in named if bucket is not None]

    def _charges(self, input_tokens: float, output_tokens: float) -> list[tuple[_Bucket, float]]:
        charges = (
            (self._requests, 1.0),
            (self._input, float(input_tokens)),
            (self._output, float(output_tokens)),
        )
        return [(bucket, amount) for bucket, amount in charges if bucket is not None]

    def _head(self) -> _Waiter | None:
        for cls in self._classes.values():  # dicts keep insertion order: REPORT first
            while (waiter := cls.head()) is not None:
                if not waiter.future.done():
                    return waiter
                cls.pop_head()  # cancelled before its task could remove it
        return None

    def _dispatch(self) -> None:
        """Grant every call at the head of the queue that fits; arm a timer for the rest."""
        now = self._clock()
        for _, bucket in self._buckets():
            bucket.refill(now)
        while (waiter := self._head()) is not None:
            limit = self._limits.max_concurrency
            if limit is not None and self._in_flight >= limit:
                break  # only a release can help, and it dispatches again
            wait_s = max(
                (
                    bucket.wait_s(amount)
                    for bucket, amount in self._charges(waiter.input_tokens, waiter.output_tokens)
                ),
                default=0.0,
            )
            wait_s = max(wait_s, self._paused_until - now)
            if wait_s > 0:
                # Head-of-line: later calls do not jump ahead of a head that does not fit yet.
                self._arm(now + wait_s)
                return
            self._grant(waiter, now)
        self._disarm()

    def _grant(self, waiter: _Waiter, now: float) -> None:
        self._classes[waiter.priority].pop_head()
        for bucket, amount in self._charges(waiter.input_tokens, waiter.output_tokens):
            bucket.take(amount)
        self._in_flight += 1
        permit = Permit(self, waiter.input_tokens, waiter.output_tokens, now - waiter.enqueued_at)
        waiter.future.set_result(permit)

    def _settle(self, permit: Permit, output_tokens: int | None, *, sent: bool = True) -> None:
        self._in_flight -= 1
        now = self._clock()
        for _, bucket in self._buckets():
            bucket.refill(now)
        if not sent:
            for bucket, amount in self._charges(permit.input_tokens, permit.output_tokens):
                bucket.give(amount)
        elif output_tokens is not None and self._output is not None:
            unused = permit.output_tokens - output_tokens
            if unused >= 0:
                self._output.give(unused)
            else:
                self._output.take(-unused)  # the estimate was short: charge the provider's count
        self._dispatch()

    def _arm(self, at: float) -> None:
        # One timer at a time. An earlier timer is kept: it wakes, dispatches and re-arms.
        if self._timer is not None and not self._timer.done() and self._timer_at <= at:
            return
        self._disarm()
        self._timer_at = at
        self._timer = asyncio.get_running_loop().create_task(self._wake_at(at))

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = math.inf

    async def _wake_at(self, at: float) -> None:
        await self._sleep(max(0.0, at - self._clock()))
        self._timer = None
        self._timer_at = math.inf
        self._dispatch()


class RateLimiterRegistry:
    """One ``RateLimiter`` per (provider, key, model), created on first use."""

    def __init__(self, clock: Clock = time.monotonic, *, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[Hashable, RateLimiter] = {}

    def get(self, key: Hashable, limits: RateLimits) -> RateLimiter:
        """The limiter for ``key``; if ``limits`` changed since last time, it takes them on."""
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = RateLimiter(
                limits, clock=self._clock, sleep=self._sleep
            )
        elif limiter.limits != limits:
            limiter.set_limits(limits)
        return limiter
