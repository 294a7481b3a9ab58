"""A circuit breaker per endpoint: stop calling a provider that keeps failing.

Closed: calls pass; outcomes go into a sliding window. It opens when, over the last
``window_s`` seconds, at least ``min_calls`` calls were made and ``failure_rate`` of them
failed — or at once on an authentication or not-found answer, which will not get better
by itself. Open: calls fail fast with ``CircuitOpen``. After ``cooldown_s`` it is
half-open: exactly one probe call is let through; its success closes the circuit, its
failure opens it again for another cooldown.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from simfocus.llm.errors import CircuitOpen


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    window_s: float = 60.0
    min_calls: int = 5
    failure_rate: float = 0.5
    cooldown_s: float = 30.0


class CircuitBreaker:
    def __init__(
        self,
        endpoint: str,
        policy: BreakerPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self.policy = policy or BreakerPolicy()
        self.clock = clock
        self.state = BreakerState.CLOSED
        self.reason = ""
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._opened_at = 0.0
        self._probing = False

    def before_call(self) -> None:
        """Raise ``CircuitOpen`` unless a call may go out now (half-open lets one probe)."""
        if self.state is BreakerState.OPEN:
            if self.clock() - self._opened_at < self.policy.cooldown_s:
                wait = self.policy.cooldown_s - (self.clock() - self._opened_at)
                raise CircuitOpen(
                    f"{self.endpoint} is failing ({self.reason}); not calling it for another "
                    f"{wait:.0f} s",
                    field="provider",
                )
            self.state = BreakerState.HALF_OPEN
            self._probing = False
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                raise CircuitOpen(
                    f"{self.endpoint} is being probed after failures ({self.reason})",
                    field="provider",
                )
            self._probing = True

    def record_success(self) -> None:
        if self.state is BreakerState.HALF_OPEN:
            self.state = BreakerState.CLOSED
            self._outcomes.clear()
            self._probing = False
        self._add(True)

    def record_failure(self, reason: str, *, fatal: bool = False) -> None:
        """A failed call; ``fatal`` (bad key, unknown model) opens the circuit at once."""
        self._add(False)
        if fatal or self.state is BreakerState.HALF_OPEN or self._rate_exceeded():
            self._open(reason)

    def release_probe(self) -> None:
        """The probe ended without a verdict (cancelled): let another one through."""
        self._probing = False

    def _add(self, ok: bool) -> None:
        now = self.clock()
        self._outcomes.append((now, ok))
        while self._outcomes and now - self._outcomes[0][0] > self.policy.window_s:
            self._outcomes.popleft()

    def _rate_exceeded(self) -> bool:
        calls = len(self._outcomes)
        failures = sum(1 for _, ok in self._outcomes if not ok)
        return calls >= self.policy.min_calls and failures / calls >= self.policy.failure_rate

    def _open(self, reason: str) -> None:
        self.state = BreakerState.OPEN
        self.reason = reason
        self._opened_at = self.clock()
        self._probing = False
