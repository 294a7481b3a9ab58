"""The LLM error tree, mapped once at the provider boundary.

    SimfocusError
    └── LLMError                      LLM_API_ERROR        502
        ├── BudgetExhausted           BUDGET_EXCEEDED      402
        ├── UnknownProvider           VALIDATION_ERROR     422
        ├── MissingApiKey             API_KEY_INVALID      401
        ├── CircuitOpen               LLM_UNAVAILABLE      503  (fails fast, no request sent)
        ├── GatewayLost               GATEWAY_LOST         503  the gateway died mid-call
        ├── StoreUnavailable          STORE_UNAVAILABLE    503  (llm/calls.py) not sent
        └── ProviderError             LLM_API_ERROR        502  (the provider answered badly)
            ├── AuthenticationFailed  API_KEY_INVALID      401  401/403 — never retried
            ├── ModelNotFound         MODEL_NOT_FOUND      404  404 — never retried
            ├── BadRequest            LLM_BAD_REQUEST      400  other 4xx — never retried
            ├── ContextLengthExceeded CONTEXT_LENGTH_EXCEEDED 400 — never retried
            ├── RateLimited           RATE_LIMIT_EXCEEDED  429  retried after Retry-After
            ├── ProviderUnavailable   LLM_API_ERROR        503  408/409/5xx/529 — retried
            ├── ProviderTimeout       LLM_TIMEOUT          504  retried
            ├── ConnectionFailed      LLM_CONNECTION_ERROR 503  retried
            ├── MalformedResponse     LLM_BAD_RESPONSE     502  retried
            └── StreamInterrupted     LLM_STREAM_INTERRUPTED 502 retried (turn restarts)

Every error pickles (Ray carries it between actors) and never holds an API key: messages
are built from status codes and the provider's error text, which is scrubbed of keys.
"""

from __future__ import annotations

from simfocus.kit.errors import SimfocusError


class LLMError(SimfocusError):
    code = "LLM_API_ERROR"
    status = 502


class BudgetExhausted(LLMError):
    code = "BUDGET_EXCEEDED"
    status = 402


class UnknownProvider(LLMError):
    code = "VALIDATION_ERROR"
    status = 422


class MissingApiKey(LLMError):
    code = "API_KEY_INVALID"
    status = 401


class CircuitOpen(LLMError):
    code = "LLM_UNAVAILABLE"
    status = 503


class GatewayLost(LLMError):
    """The gateway's process died during the call (it is restarted with its budgets
    rebuilt from the store); the turn may be retried once."""

    code = "GATEWAY_LOST"
    status = 503


class ProviderError(LLMError):
    """The provider answered with an error (or not at all)."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        retry_after_s: float | None = None,
        billed_tokens: int = 0,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, field=field, code=code)
        self.headers = headers or {}  # the provider's rate-limit headers
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        # Completion tokens the provider may have billed before failing (a cut stream).
        self.billed_tokens = billed_tokens


class AuthenticationFailed(ProviderError):
    code = "API_KEY_INVALID"
    status = 401


class ModelNotFound(ProviderError):
    code = "MODEL_NOT_FOUND"
    status = 404


class BadRequest(ProviderError):
    code = "LLM_BAD_REQUEST"
    status = 400


class ContextLengthExceeded(ProviderError):
    code = "CONTEXT_LENGTH_EXCEEDED"
    status = 400


class RateLimited(ProviderError):
    code = "RATE_LIMIT_EXCEEDED"
    status = 429
    retryable = True


class ProviderUnavailable(ProviderError):
    code = "LLM_API_ERROR"
    status = 503
    retryable = True


class ProviderTimeout(ProviderError):
    code = "LLM_TIMEOUT"
    status = 504
    retryable = True


class ConnectionFailed(ProviderError):
    code = "LLM_CONNECTION_ERROR"
    status = 503
    retryable = True


class MalformedResponse(ProviderError):
    code = "LLM_BAD_RESPONSE"
    status = 502
    retryable = True


class StreamInterrupted(ProviderError):
    code = "LLM_STREAM_INTERRUPTED"
    status = 502
    retryable = True
