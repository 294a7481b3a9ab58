"""What crosses the LLM boundary: requests, completions and results."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from simfocus.kit.models import InputModel, ValueModel


class ProviderConfig(InputModel):
    """Which LLM answers, and how to reach it. Never holds a key in clear."""

    name: Literal["simulated", "openai", "anthropic"] = "simulated"
    model: str = Field(default="simulated-v1", min_length=1, max_length=120)
    base_url: str | None = Field(default=None, max_length=500)
    # Simulated provider only: per-call latency, so tests and benchmarks see real pacing.
    latency_ms: float = Field(default=0.0, ge=0, le=120_000)


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


class Completion(ValueModel):
    """A provider's answer, with the usage it reported."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    finish_reason: str = "stop"


class LLMRequest(ValueModel):
    """A call as the gateway sees it: who asks, for what, through which provider."""

    discussion_id: str
    participant_id: str | None = None
    purpose: Purpose = Purpose.TURN
    provider: ProviderConfig
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
