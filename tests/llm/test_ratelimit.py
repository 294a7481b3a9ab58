"""The rate limiter on virtual time: buckets, queue order, cancellation, headers."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime

import pytest

from simfocus.llm.ratelimit import (
    Permit,
    Priority,
    RateLimiter,
    RateLimiterRegistry,
    RateLimitHeaders,
    RateLimits,
    parse_rate_limit_headers,
)


class FakeClock:
    """Virtual time: ``sleep`` parks until a test ``advance``s past its deadline."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []  # every delay the limiter asked to sleep
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + delay, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers in deadline order, and let everything run."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            if future.done():  # the timer was cancelled
                continue
            self.now = max(self.now, deadline)
            future.set_result(None)
            await settle()
        self.now = target
        await settle()


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def limiter_for(limits: RateLimits) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(limits, clock=clock, sleep=clock.sleep), clock


def start(
    limiter: RateLimiter,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    priority: Priority = Priority.TURN,
    key: str = "",
) -> asyncio.Task[Permit]:
    return asyncio.get_running_loop().create_task(
        limiter.acquire(
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            priority=priority,
            fairness_key=key,
        )
    )


async def grant_now(limiter: RateLimiter, input_tokens: int = 0, output_tokens: int = 0) -> Permit:
    """Acquire what must be granted without any waiting."""
    task = start(limiter, input_tokens=input_tokens, output_tokens=output_tokens)
    await settle()
    assert task.done(), "expected an immediate grant"
    return task.result()


# --------------------------------------------------------------------------- limits


async def test_requests_per_minute_make_calls_wait_not_fail() -> None:
    limiter, clock = limiter_for(RateLimits(requests_per_minute=60))  # 1 per second
    for _ in range(60):
        (await grant_now(limiter)).release()
    late = start(limiter)
    await settle()
    assert not late.done() and limiter.waiting == 1
    await clock.advance(0.9)
    assert not late.done()
    await clock.advance(0.1)
    assert late.done()
    assert late.result().queued_s == pytest.approx(1.0)
    assert limiter.waiting == 0
    # No polling: the limiter slept once, exactly as long as the bucket needed.
    assert clock.sleeps == [pytest.approx(1.0)]


async def test_input_tokens_per_minute() -> None:
    limiter, clock = limiter_for(RateLimits(input_tokens_per_minute=600))  # 10 per second
    (await grant_now(limiter, input_tokens=550)).release()
    task = start(limiter, input_tokens=100)  # needs 50 more tokens: 5 s
    await clock.advance(4.99)
    assert not task.done()
    await clock.advance(0.01)
    assert task.done() and task.result().queued_s == pytest.approx(5.0)


async def test_output_tokens_per_minute_and_refund_of_unused_estimate() -> None:
    limiter, clock = limiter_for(RateLimits(output_tokens_per_minute=600))
    permit = await grant_now(limiter, output_tokens=600)  # max_tokens 600: the whole bucket
    blocked = start(limiter, output_tokens=500)
    await settle()
    assert not blocked.done()
    permit.release(output_tokens=100)  # only 100 were written: 500 come back at once
    await settle()
    assert blocked.done() and blocked.result().queued_s == 0
    assert limiter.levels["output_tokens"] == pytest.approx(0)
    permit.release(output_tokens=0)  # idempotent: no second refund
    assert limiter.levels["output_tokens"] == pytest.approx(0)
    await clock.advance(1.0)
    assert limiter.levels["output_tokens"] == pytest.approx(10)


async def test_a_longer_output_than_estimated_is_charged() -> None:
    limiter, _ = limiter_for(RateLimits(output_tokens_per_minute=600))
    (await grant_now(limiter, output_tokens=100)).release(output_tokens=150)
    assert limiter.levels["output_tokens"] == pytest.approx(450)


async def test_concurrency_slots_wait_for_a_release() -> None:
    limiter, clock = limiter_for(RateLimits(max_concurrency=2))
    first = await grant_now(limiter)
    await grant_now(limiter)
    third = start(limiter)
    await clock.advance(3600)
    assert not third.done() and limiter.in_flight == 2
    assert clock.sleeps == []  # concurrency needs no timer: only a release helps
    first.release()
    first.release()  # idempotent: frees one slot, not two
    await settle()
    assert third.done() and limiter.in_flight == 2
    assert third.result().queued_s == pytest.approx(3600)


async def test_unlimited_dimensions_are_not_checked() -> None:
    limiter, _ = limiter_for(RateLimits())
    permits = [await grant_now(limiter, input_tokens=10**9, output_tokens=10**9) for _ in range(50)]
    assert limiter.in_flight == 50 and limiter.levels == {}
    for permit in permits:
        permit.release()
    assert limiter.in_flight == 0


async def test_an_oversize_call_is_granted_when_the_bucket_is_full() -> None:
    limiter, clock = limiter_for(RateLimits(input_tokens_per_minute=600))  # 10 per second
    small = await grant_now(limiter, input_tokens=100)
    big = start(limiter, input_tokens=1000)  # more than the whole bucket
    await clock.advance(9.9)
    assert not big.done()
    await clock.advance(0.1)  # full again after 10 s
    assert big.done()
    assert limiter.levels["input_tokens"] == pytest.approx(-400)
    small.release()
    after = start(limiter, input_tokens=10)  # needs 410 tokens of refill: 41 s
    await clock.advance(40.9)
    assert not after.done()
    await clock.advance(0.1)
    assert after.done()


# --------------------------------------------------------------------------- queue order


async def hold_the_only_slot() -> tuple[RateLimiter, FakeClock, Permit]:
    limiter, clock = limiter_for(RateLimits(max_concurrency=1))
    return limiter, clock, await grant_now(limiter)


async def serve_one_by_one(
    held: Permit, tasks: dict[str, asyncio.Task[Permit]], count: int
) -> list[str]:
    """Release the held slot ``count`` times, one grant at a time; the names in grant order."""
    order: list[str] = []
    current = held
    for _ in range(count):
        current.release()
        await settle()
        done = [name for name, task in tasks.items() if task.done() and name not in order]
        assert len(done) == 1, done
        order.append(done[0])
        current = tasks[done[0]].result()
    return order


async def test_priority_order_report_then_turn_then_batch() -> None:
    limiter, _, held = await hold_the_only_slot()
    tasks = {
        "batch": start(limiter, priority=Priority.BATCH, key="b"),
        "turn": start(limiter, priority=Priority.TURN, key="t"),
        "report": start(limiter, priority=Priority.REPORT, key="r"),
    }
    await settle()
    assert limiter.waiting == 3
    assert await serve_one_by_one(held, tasks, 3) == ["report", "turn", "batch"]


async def test_a_discussion_arriving_later_is_served_within_a_couple_of_grants() -> None:
    limiter, _, held = await hold_the_only_slot()
    tasks = {f"A{i}": start(limiter, key="A") for i in range(50)}
    await settle()
    tasks["B"] = start(limiter, key="B")
    await settle()
    order = await serve_one_by_one(held, tasks, 3)
    assert "B" in order[:2]
    assert [name for name in order if name != "B"] == ["A0", "A1"]  # FIFO within a discussion


async def test_round_robin_across_discussions() -> None:
    limiter, _, held = await hold_the_only_slot()
    tasks = {f"{key}{i}": start(limiter, key=key) for key in "ABC" for i in range(3)}
    await settle()
    order = await serve_one_by_one(held, tasks, 9)
    assert order == ["A0", "B0", "C0", "A1", "B1", "C1", "A2", "B2", "C2"]


async def test_batch_groups_never_starve_an_interactive_turn() -> None:
    limiter, _, held = await hold_the_only_slot()
    tasks = {f"g{i}": start(limiter, priority=Priority.BATCH, key=f"batch-{i}") for i in range(100)}
    await settle()
    tasks["turn"] = start(limiter, priority=Priority.TURN, key="live")
    await settle()
    assert (await serve_one_by_one(held, tasks, 1)) == ["turn"]


async def test_head_of_line_later_small_calls_do_not_jump_a_big_one() -> None:
    limiter, clock = limiter_for(RateLimits(input_tokens_per_minute=600))  # 10 per second
    (await grant_now(limiter, input_tokens=600)).release()
    big = start(limiter, input_tokens=500, key="A")
    await settle()
    small = start(limiter, input_tokens=10, key="B")  # would fit after 1 s, but must queue
    await clock.advance(49)
    assert not big.done() and not small.done()
    await clock.advance(1)
    assert big.done() and not small.done()
    await clock.advance(1)
    assert small.done()


async def test_a_later_higher_priority_call_goes_first() -> None:
    limiter, clock = limiter_for(RateLimits(input_tokens_per_minute=600))
    (await grant_now(limiter, input_tokens=600)).release()
    big = start(limiter, input_tokens=500, priority=Priority.BATCH)
    await settle()
    report = start(limiter, input_tokens=10, priority=Priority.REPORT)
    await clock.advance(1)
    assert report.done() and not big.done()
    await clock.advance(50)
    assert big.done()


# --------------------------------------------------------------------------- cancellation


async def test_cancelling_a_queued_call_leaks_nothing() -> None:
    limiter, _ = limiter_for(RateLimits(requests_per_minute=60, max_concurrency=1))
    held = await grant_now(limiter, input_tokens=5)
    queued = start(limiter, key="A")
    behind = start(limiter, key="A")
    await settle()
    assert limiter.waiting == 2
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    assert limiter.waiting == 1 and limiter.in_flight == 1
    assert limiter.levels["requests"] == pytest.approx(59)  # only the held call was charged
    held.release()
    await settle()
    assert behind.done() and limiter.in_flight == 1 and limiter.waiting == 0


async def test_cancelling_the_blocked_head_lets_the_next_call_through() -> None:
    limiter, clock = limiter_for(RateLimits(input_tokens_per_minute=600))
    (await grant_now(limiter, input_tokens=600)).release()
    big = start(limiter, input_tokens=500, key="A")
    await settle()
    small = start(limiter, input_tokens=10, key="B")
    await clock.advance(1)
    assert not small.done()
    big.cancel()
    await settle()
    assert small.done() and big.cancelled()


async def test_a_cancellation_racing_with_the_grant_gives_everything_back() -> None:
    limiter, _ = limiter_for(
        RateLimits(requests_per_minute=60, output_tokens_per_minute=1000, max_concurrency=1)
    )
    held = await grant_now(limiter, output_tokens=100)
    racer = start(limiter, output_tokens=300)
    await settle()
    held.release(output_tokens=100)
    # The grant was decided synchronously in release(); the task has not resumed yet.
    racer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await racer
    assert limiter.in_flight == 0 and limiter.waiting == 0
    assert limiter.levels["requests"] == pytest.approx(59)
    assert limiter.levels["output_tokens"] == pytest.approx(900)
    await grant_now(limiter)  # the slot is free again


async def test_wait_for_timeouts_use_the_same_clean_path() -> None:
    limiter = RateLimiter(RateLimits(max_concurrency=1))  # real clock and sleep
    held = await limiter.acquire(input_tokens=0, output_tokens=0)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(limiter.acquire(input_tokens=0, output_tokens=0), 0.01)
    assert limiter.waiting == 0 and limiter.in_flight == 1
    held.release()
    assert limiter.in_flight == 0


# --------------------------------------------------------------------------- provider feedback


async def test_observe_lowers_buckets_but_never_raises_them() -> None:
    limiter, clock = limiter_for(
        RateLimits(requests_per_minute=60, input_tokens_per_minute=600, output_tokens_per_minute=60)
    )
    (await grant_now(limiter, input_tokens=100, output_tokens=10)).release()
    limiter.observe(RateLimitHeaders(remaining_requests=1000, remaining_input_tokens=10**6))
    assert limiter.levels == {"requests": 59, "input_tokens": 500, "output_tokens": 50}
    limiter.observe(
        RateLimitHeaders(remaining_requests=0, remaining_input_tokens=20, remaining_output_tokens=5)
    )
    assert limiter.levels == {"requests": 0, "input_tokens": 20, "output_tokens": 5}
    task = start(limiter, input_tokens=10)
    await clock.advance(0.99)
    assert not task.done()
    await clock.advance(0.01)  # one request refills in 1 s
    assert task.done()


async def test_observe_wakes_a_sleeping_head_to_recompute() -> None:
    limiter, clock = limiter_for(RateLimits(requests_per_minute=60))
    for _ in range(60):
        (await grant_now(limiter)).release()
    task = start(limiter)
    await clock.advance(0.5)
    limiter.observe(RateLimitHeaders(remaining_requests=0))  # back to empty at t=0.5
    await clock.advance(0.5)
    assert not task.done()
    await clock.advance(0.5)
    assert task.done()


async def test_retry_after_pauses_all_grants() -> None:
    limiter, clock = limiter_for(RateLimits(requests_per_minute=600))
    limiter.observe(RateLimitHeaders(retry_after_s=5))
    tasks = [start(limiter, priority=Priority.REPORT), start(limiter)]
    await clock.advance(4.9)
    assert not any(task.done() for task in tasks)
    limiter.pause_for(0.05)  # a pause ending sooner never shortens the longer one
    await clock.advance(0.1)
    assert all(task.done() for task in tasks)
    limiter.pause_for(2)
    late = start(limiter)
    await clock.advance(1.9)
    assert not late.done()
    await clock.advance(0.1)
    assert late.done()


async def test_real_clock_and_sleep() -> None:
    limiter = RateLimiter(RateLimits(requests_per_minute=1200))  # 20 per second
    for _ in range(1200):
        (await limiter.acquire(input_tokens=0, output_tokens=0)).release()
    permit = await asyncio.wait_for(limiter.acquire(input_tokens=0, output_tokens=0), 2)
    assert permit.queued_s > 0


# --------------------------------------------------------------------------- headers

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def test_parse_openai_headers() -> None:
    parsed = parse_rate_limit_headers(
        {
            "X-RateLimit-Limit-Requests": "500",
            "X-RateLimit-Remaining-Requests": "499",
            "X-RateLimit-Reset-Requests": "120ms",
            "x-ratelimit-remaining-tokens": "149984",
            "x-ratelimit-reset-tokens": "6m0s",
        },
        now=NOW,
    )
    assert parsed.reset_requests_s == pytest.approx(0.12)
    assert parsed == RateLimitHeaders(
        remaining_requests=499,
        reset_requests_s=parsed.reset_requests_s,
        remaining_input_tokens=149984,
        reset_input_tokens_s=360,
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1), ("6m0s", 360), ("20ms", 0.02), ("1h2m3.5s", 3723.5), ("0.5s", 0.5), ("2", 2)],
)
def test_parse_durations(text: str, seconds: float) -> None:
    parsed = parse_rate_limit_headers({"x-ratelimit-reset-requests": text}, now=NOW)
    assert parsed.reset_requests_s == pytest.approx(seconds)


def test_parse_anthropic_headers() -> None:
    parsed = parse_rate_limit_headers(
        {
            "anthropic-ratelimit-requests-remaining": "49",
            "anthropic-ratelimit-requests-reset": "2024-05-01T12:00:30Z",
            "anthropic-ratelimit-input-tokens-remaining": "39000",
            "anthropic-ratelimit-input-tokens-reset": "2024-05-01T12:00:01.500000+00:00",
            "anthropic-ratelimit-output-tokens-remaining": "7500",
            "anthropic-ratelimit-output-tokens-reset": "2024-05-01T11:59:00Z",  # past: 0
            "anthropic-ratelimit-tokens-remaining": "1",  # ignored: input-tokens-* is sent
            "retry-after": "3",
        },
        now=NOW,
    )
    assert parsed == RateLimitHeaders(
        remaining_requests=49,
        reset_requests_s=30,
        remaining_input_tokens=39000,
        reset_input_tokens_s=1.5,
        remaining_output_tokens=7500,
        reset_output_tokens_s=0,
        retry_after_s=3,
    )


def test_anthropic_combined_tokens_count_as_input_when_alone() -> None:
    parsed = parse_rate_limit_headers(
        {
            "Anthropic-RateLimit-Tokens-Remaining": "800",
            "anthropic-ratelimit-tokens-reset": "2024-05-01T12:01:00Z",
        },
        now=NOW,
    )
    assert parsed.remaining_input_tokens == 800 and parsed.reset_input_tokens_s == 60


def test_retry_after_forms() -> None:
    both = parse_rate_limit_headers({"Retry-After": "2", "retry-after-ms": "1500"}, now=NOW)
    assert both.retry_after_s == pytest.approx(1.5)
    assert parse_rate_limit_headers({"retry-after": "0.25"}).retry_after_s == 0.25
    http_date = parse_rate_limit_headers({"retry-after": "Wed, 01 May 2024 12:00:10 GMT"}, now=NOW)
    assert http_date.retry_after_s == 10
    garbled_ms = parse_rate_limit_headers({"retry-after": "4", "retry-after-ms": "soon"}, now=NOW)
    assert garbled_ms.retry_after_s == 4


def test_unparsable_values_are_ignored() -> None:
    parsed = parse_rate_limit_headers(
        {
            "x-ratelimit-remaining-requests": "lots",
            "x-ratelimit-reset-requests": "in a while",
            "x-ratelimit-remaining-tokens": "nan",
            "anthropic-ratelimit-requests-reset": "yesterday",
            "retry-after": "Someday, never",
            "content-type": "application/json",
        },
        now=NOW,
    )
    assert parsed == RateLimitHeaders()


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        RateLimits(requests_per_minute=0)
    with pytest.raises(ValueError):
        RateLimits(max_concurrency=0)


# --------------------------------------------------------------------------- registry


async def test_registry_reuses_limiters_and_updates_limits() -> None:
    clock = FakeClock()
    registry = RateLimiterRegistry(clock, sleep=clock.sleep)
    key = ("openai", "key-1", "gpt-4o")
    limiter = registry.get(key, RateLimits(requests_per_minute=60))
    (await grant_now(limiter)).release()
    assert registry.get(key, RateLimits(requests_per_minute=60)) is limiter
    assert limiter.levels["requests"] == 59  # same buckets, not a fresh full one
    other = registry.get(("openai", "key-2", "gpt-4o"), RateLimits(requests_per_minute=60))
    assert other is not limiter
    assert registry.get(key, RateLimits(requests_per_minute=30, max_concurrency=1)) is limiter
    assert limiter.limits.max_concurrency == 1
    assert limiter.levels["requests"] == 30  # clipped to the new capacity


async def test_a_burst_share_keeps_every_sliding_minute_under_the_limit() -> None:
    """With burst 0.05, no 60 s window sees more than the limit, and ~95 % of it is used."""
    now = [0.0]

    async def jump(delay: float) -> None:  # time passes exactly as long as asked
        now[0] += delay

    limiter = RateLimiter(
        RateLimits(requests_per_minute=600, burst=0.05), clock=lambda: now[0], sleep=jump
    )
    grants: list[float] = []
    for _ in range(1200):
        await limiter.acquire(input_tokens=0, output_tokens=0)
        grants.append(now[0])
    for i, t in enumerate(grants):
        in_window = sum(1 for u in grants[i:] if u < t + 60)
        assert in_window <= 600
    span = grants[-1] - grants[0]
    assert 1200 / (span / 60) >= 0.95 * 600 * 0.99
