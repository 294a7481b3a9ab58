"""What crosses the LLM boundary: requests, completions and results."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from simfocus.kit.models import InputModel, ValueModel

ProviderName = Literal["simulated", "openai", "anthropic"]

DEFAULT_MODELS: dict[str, str] = {
    "simulated": "simulated-v1",
    "openai": "gpt-4o-mini",
    "anthropic": "claude-3-5-haiku-latest",
}


class ProviderConfig(InputModel):
    """Which LLM answers, and how to reach it. Never holds a key in clear: it names where
    the gateway finds the key (an environment variable of the gateway's process, or a
    stored per-user key by id)."""

    name: ProviderName = "simulated"
    model: str = Field(default="", max_length=120)
    base_url: str | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    api_key_env: str | None = Field(
        default=None, max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"
    )
    api_key_id: str | None = Field(default=None, max_length=36)
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    max_attempts: int = Field(default=4, ge=1, le=10)
    # Simulated provider only: per-call latency, so tests and benchmarks see real pacing.
    latency_ms: float = Field(default=0.0, ge=0, le=120_000)
    # Keep every call in this file (a run folder's recording.jsonl) / answer from one.
    record_path: str | None = Field(default=None, max_length=1000)
    replay_path: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _default_model(self) -> ProviderConfig:
        if not self.model:
            object.__setattr__(self, "model", DEFAULT_MODELS[self.name])
        return self

    @property
    def label(self) -> str:
        return f"{self.name}/{self.model}"


class Purpose(StrEnum):
    """Why a call is made; the report's share of a budget is kept for REPORT calls."""

    TURN = "turn"
    MODERATOR = "moderator"
    REPORT = "report"


class ChatMessage(ValueModel):
    role: Literal["user", "assistant"]
    content: str


class SimulationHints(ValueModel):
    """Structured facts for the ``simulated`` provider; real providers ignore them.

    A real model reads all of this from the prompt. The simulated one gets it spelled out
    so that it can write persona-aware replies without parsing prose.
    """

    persona_name: str
    profession: str
    stance: str
    expression_style: str
    optimism: int = 5
    critical_thinking: int = 5
    fields: tuple[str, ...] = ()
    views: tuple[str, ...] = ()
    topic_title: str
    phase: str
    mode: str
    round: int
    side: str | None = None
    addressee_name: str | None = None
    addressee_point: str | None = None
    question: str | None = None
    closing_statement: bool = False


class CompletionRequest(ValueModel):
    """A provider-neutral chat completion request."""

    model: str
    system: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int = Field(ge=1)
    temperature: float = 0.8
    seed: int | None = None
    hints: SimulationHints | None = None
    # The ``simulated`` provider's answer to a structured task (a report stage), drafted
    # from the transcript by our code; real providers ignore it.
    simulated_answer: str | None = None


class Completion(ValueModel):
    """A provider's answer, with the usage it reported.

    ``prompt_tokens`` counts all input tokens; ``cache_read_tokens`` and
    ``cache_write_tokens`` are the parts of it served from or written to a prompt cache.
    ``usage_reported`` is False when the provider sent no usage (our estimate is used).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    finish_reason: str = "stop"
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    usage_reported: bool = True
    # The provider's rate-limit headers (lower-cased), to correct the gateway's buckets.
    rate_headers: dict[str, str] = Field(default_factory=dict)


class LLMRequest(ValueModel):
    """A call as the gateway sees it: who asks, for what, through which provider."""

    discussion_id: str
    participant_id: str | None = None
    user_id: str | None = None
    purpose: Purpose = Purpose.TURN
    batch: bool = False  # batch groups queue behind interactive discussions
    # A further account the call books against (a batch's shared budget, "batch:<id>").
    budget_account: str | None = Field(default=None, max_length=36)
    provider: ProviderConfig
    fallbacks: tuple[ProviderConfig, ...] = ()
    completion: CompletionRequest


class LLMResult(ValueModel):
    """A settled call: the text, its usage and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    cost_micro_usd: int
    latency_ms: float
    provider: str
    model: str
    simulated: bool
    finish_reason: str = "stop"
    ttft_ms: float | None = None
    attempts: int = 1
    usage_reported: bool = True
