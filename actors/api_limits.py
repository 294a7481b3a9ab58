"""``ApiLimitsActor``: the API's rate-limit counters, one named actor for all Serve replicas,
so that limits hold however many replicas serve requests."""

from __future__ import annotations

from simfocus.kit.windows import SlidingWindows, Verdict


class ApiLimitsActor:
    def __init__(self) -> None:
        self.windows = SlidingWindows()

    def hit(self, key: str, limit: int, window_s: float) -> Verdict:
        return self.windows.hit(key, limit, window_s)

    def acquire(self, key: str, limit: int) -> bool:
        return self.windows.acquire(key, limit)

    def release(self, key: str) -> None:
        self.windows.release(key)
