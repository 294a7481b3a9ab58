"""Admission control: how many of a batch's groups may run at once, and the gate that
holds the rest back.

The cap is the smallest of (documented in docs/batches.md):

- ``--parallel``, when given;
- memory: what the cluster's memory holds at ``GROUP_MEMORY_BYTES`` per running group
  (a group in a batch worker is its runner, its personas' minds and its buffers — measured
  by ``scripts/bench_batch.py``), using at most ``MEMORY_SHARE`` of the cluster's memory;
- the provider's rate limits: each running group has at most one call in flight, so more
  groups than the gateway's ``max_concurrency`` (times ``QUEUE_DEPTH``, to keep its queue
  fed) only wait; and with a requests-per-minute limit, ``rpm / 60 * expected call time *
  QUEUE_DEPTH`` groups already keep it busy;
- the number of groups.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from simfocus.llm.config import LimitSpec
from simfocus.llm.schemas import ProviderConfig

GROUP_MEMORY_BYTES = 8 * 1024 * 1024
MEMORY_SHARE = 0.5
QUEUE_DEPTH = 2
REAL_CALL_S = 3.0  # a real model's call takes seconds; the simulated one says its latency


@dataclass(frozen=True)
class Cap:
    value: int
    reason: str  # which bound decided it, for the progress line and the index


def admission_cap(
    groups: int,
    *,
    memory_bytes: float,
    limits: LimitSpec,
    provider: ProviderConfig,
    parallel: int | None = None,
) -> Cap:
    bounds: list[tuple[int, str]] = [(groups, "all groups")]
    if parallel is not None:
        bounds.append((parallel, "--parallel"))
    bounds.append(
        (max(1, int(memory_bytes * MEMORY_SHARE // GROUP_MEMORY_BYTES)), "cluster memory")
    )
    if limits.max_concurrency is not None:
        bounds.append((limits.max_concurrency * QUEUE_DEPTH, "provider concurrency limit"))
    if limits.requests_per_minute is not None:
        call_s = provider.latency_ms / 1000 if provider.name == "simulated" else REAL_CALL_S
        busy = math.ceil(limits.requests_per_minute / 60 * max(call_s, 0.05) * QUEUE_DEPTH)
        bounds.append((max(1, busy), "provider requests per minute"))
    value, reason = min(bounds, key=lambda b: b[0])
    return Cap(max(1, value), reason)


class Gate:
    """At most ``cap`` holders at once; remembers the most it ever let in."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.running = 0
        self.peak = 0
        self._slots = asyncio.Semaphore(cap)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            self.running += 1
            self.peak = max(self.peak, self.running)
            try:
                yield
            finally:
                self.running -= 1
