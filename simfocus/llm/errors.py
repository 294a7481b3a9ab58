"""The LLM error tree, mapped once at the provider boundary.

SimfocusError
└── LLMError (LLM_API_ERROR)
    ├── BudgetExhausted (BUDGET_EXCEEDED)
    ├── UnknownProvider (VALIDATION_ERROR)
    └── … provider errors arrive with the gateway issue (rate limits, keys, context)
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
