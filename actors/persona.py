"""``PersonaActor``: one persona's memory and prompt state in its own process."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from ray.exceptions import RayActorError

from actors.errors import unwrap
from simfocus.discussions.schemas import DiscussionSpec, Participant
from simfocus.llm.errors import GatewayLost
from simfocus.llm.gateway import StreamEvent
from simfocus.llm.schemas import LLMRequest, LLMResult
from simfocus.personas.mind import PersonaMind
from simfocus.personas.replies import StanceFilter
from simfocus.personas.schemas import TurnDelta, TurnOutcome, TurnRequest
from simfocus.settings import Settings
from simfocus.topics.schemas import Topic


def _gateway_error(error: BaseException) -> BaseException:
    """Our error out of Ray's wrapper; a gateway that died mid-call is ``GatewayLost``."""
    error = unwrap(error)
    if isinstance(error, RayActorError):
        return GatewayLost(f"the LLM gateway was lost during the call: {type(error).__name__}")
    return error


class PersonaActor:
    def __init__(
        self,
        participant: Participant,
        topic: Topic,
        spec: DiscussionSpec,
        settings: Settings,
        gateway: Any,
    ) -> None:
        self.mind = PersonaMind(
            participant,
            topic,
            spec,
            window_tokens=settings.context_window_tokens,
            summary_tokens=settings.summary_tokens,
        )
        self.gateway = gateway

    async def take_turn(self, turn: TurnRequest) -> TurnOutcome:
        """Take in the new messages, render the prompt, ask the gateway, read the reply."""
        return await self.mind.take_turn(turn, self._call_llm)

    async def take_turn_stream(self, turn: TurnRequest) -> AsyncIterator[TurnDelta | TurnOutcome]:
        """The same turn, streamed: text batches as the model writes them (without the
        stance marker), a restart if the call is retried after text was shown, then the
        outcome."""
        request = self.mind.prepare(turn)
        pid = self.mind.participant.id
        visible = StanceFilter()
        try:
            async for ref in self.gateway.stream.remote(request):
                event: StreamEvent = await ref
                if event.kind == "delta":
                    text = visible.feed(event.text)
                    if text:
                        yield TurnDelta(participant_id=pid, text=text)
                elif event.kind == "restart":
                    visible = StanceFilter()
                    yield TurnDelta(participant_id=pid, restart=True, text=event.text)
                elif event.result is not None:
                    yield self.mind.finish(event.result)
        except Exception as e:
            raise _gateway_error(e) from None

    async def _call_llm(self, request: LLMRequest) -> LLMResult:
        try:
            result: LLMResult = await self.gateway.complete.remote(request)
        except Exception as e:
            raise _gateway_error(e) from None
        return result

    def memory_state(self) -> dict[str, Any]:
        """What this persona remembers (for inspection and tests)."""
        memory = self.mind.memory
        return {
            "last_seq": memory.last_seq,
            "stance": memory.stance.value,
            "window": [m.seq for m in memory.recent],
            "summary": memory.summary(),
            "own_points": list(memory.own_points),
            "turns_taken": self.mind.turns_taken,
        }

    def check_health(self) -> bool:
        return True

    def process_id(self) -> int:
        """This process (the chaos tests kill it)."""
        return os.getpid()
