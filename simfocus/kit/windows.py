"""Sliding-window counters for API rate limits (pure; an actor shares them across replicas)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_s: float = 0.0
    remaining: int = 0


class SlidingWindows:
    """At most ``limit`` hits per key in any ``window_s`` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._open: dict[str, int] = defaultdict(int)

    def hit(self, key: str, limit: int, window_s: float) -> Verdict:
        now = self.clock()
        hits = self._hits[key]
        while hits and now - hits[0] >= window_s:
            hits.popleft()
        if len(hits) >= limit:
            return Verdict(False, retry_after_s=window_s - (now - hits[0]))
        hits.append(now)
        return Verdict(True, remaining=limit - len(hits))

    def acquire(self, key: str, limit: int) -> bool:
        """A concurrent slot (open WebSockets): at most ``limit`` at once per key."""
        if self._open[key] >= limit:
            return False
        self._open[key] += 1
        return True

    def release(self, key: str) -> None:
        if self._open.get(key, 0) > 0:
            self._open[key] -= 1
