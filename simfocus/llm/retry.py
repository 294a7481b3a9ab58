"""The one retry loop for provider calls (tenacity).

Retried: 408/409/429/5xx/529, timeouts, connection errors, malformed answers and cut
streams. Never retried: 400/401/403/404. The wait is exponential backoff with full jitter
(a random wait between 0 and min(cap, base·2^attempt)), but never shorter than the
provider's ``Retry-After`` (which is itself capped).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from simfocus.llm.errors import ProviderError

BASE_WAIT_S = 0.5
MAX_BACKOFF_S = 20.0
MAX_RETRY_AFTER_S = 60.0


def is_retryable(error: BaseException) -> bool:
    return isinstance(error, ProviderError) and error.retryable


def backoff_wait(rng: Callable[[], float] = random.random) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        attempt = state.attempt_number
        jitter = rng() * min(MAX_BACKOFF_S, BASE_WAIT_S * 2 ** (attempt - 1))
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after_s", None) or 0.0
        return max(jitter, min(retry_after, MAX_RETRY_AFTER_S))

    return wait


def retrying(
    max_attempts: int,
    *,
    on_retry: Callable[[RetryCallState], None] | None = None,
    sleep: Callable[[float], object] | None = None,
) -> AsyncRetrying:
    kwargs: dict[str, object] = {}
    if sleep is not None:
        kwargs["sleep"] = sleep
    return AsyncRetrying(
        stop=stop_after_attempt(max_attempts),
        retry=retry_if_exception(is_retryable),
        wait=backoff_wait(),
        before_sleep=on_retry,
        reraise=True,
        **kwargs,  # type: ignore[arg-type]
    )
