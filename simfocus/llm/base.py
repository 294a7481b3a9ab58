"""The provider interface every LLM backend implements.

Cross-cutting behaviour (budgets, retries, rate limits, recording) wraps providers in the
gateway; a provider only speaks its wire format.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import ClassVar

from simfocus.llm.schemas import Completion, CompletionRequest


class LLMProvider(ABC):
    """One backend (a wire format at a base URL, with a model)."""

    name: ClassVar[str]
    #: True when the provider writes replies without any model; its output is labelled.
    simulated: ClassVar[bool] = False

    @abstractmethod
    async def complete(self, request: CompletionRequest) -> Completion:
        """Answer ``request`` in one piece, with the usage the backend reported."""

    async def stream(self, request: CompletionRequest) -> AsyncIterator[str | Completion]:
        """Yield text deltas as they are generated, then the final ``Completion``.

        The default streams the whole completion as one delta.
        """
        completion = await self.complete(request)
        yield completion.text
        yield completion

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most providers hold nothing
        """Release connections."""
