"""The ``simulated`` provider: persona-aware replies with no model and no network.

Deterministic under the request's seed; it writes in the persona's style from its
profession, stance, phase and mode rules, refers to the previous speaker by name, answers
an injected question and ends with the stance marker the prompt asks for. Token counts
are estimated the way budgets estimate them. Its output is labelled simulated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from simfocus.kit.rand import stable_rng
from simfocus.llm.base import LLMProvider
from simfocus.llm.schemas import Completion, CompletionRequest, SimulationHints
from simfocus.llm.simulated_phrases import compose_reply
from simfocus.llm.tokens import estimate_chat_tokens, estimate_tokens, truncate_to_tokens


class SimulatedProvider(LLMProvider):
    name = "simulated"
    simulated = True

    def __init__(self, *, latency_ms: float = 0.0, model: str = "simulated-v1") -> None:
        self.latency_ms = latency_ms
        self.model = model

    def _reply(self, request: CompletionRequest) -> str:
        if request.simulated_answer is not None:
            return request.simulated_answer
        rng = stable_rng(request.seed, request.system[:200], request.messages[-1].content[-400:])
        hints = request.hints or _generic_hints()
        text = compose_reply(hints, rng)
        return truncate_to_tokens(text, request.max_tokens)

    def _usage(self, request: CompletionRequest, text: str) -> Completion:
        prompt_tokens = estimate_chat_tokens(request.system, [m.content for m in request.messages])
        return Completion(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=estimate_tokens(text),
            model=request.model,
        )

    async def _delay(self, rng_key: str, fraction: float = 1.0) -> None:
        if self.latency_ms > 0:
            jitter = 0.8 + 0.4 * stable_rng(rng_key).random()
            await asyncio.sleep(self.latency_ms * jitter * fraction / 1000)

    async def complete(self, request: CompletionRequest) -> Completion:
        text = self._reply(request)
        await self._delay(text)
        return self._usage(request, text)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[str | Completion]:
        text = self._reply(request)
        words = text.split(" ")
        chunks = [" ".join(words[i : i + 6]) for i in range(0, len(words), 6)]
        for i, chunk in enumerate(chunks):
            await self._delay(text, 1 / len(chunks))
            yield chunk if i == 0 else " " + chunk
        yield self._usage(request, text)


def _generic_hints() -> SimulationHints:
    return SimulationHints(
        persona_name="Assistant",
        profession="analyst",
        stance="neutral",
        expression_style="formal",
        topic_title="the topic",
        phase="development",
        mode="free",
        round=1,
    )
