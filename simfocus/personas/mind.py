"""``PersonaMind``: one persona's memory and prompt state, and how it takes a turn.

The Ray ``PersonaActor`` is a shell around it; a test or a dense batch host can use it
directly. It never talks to a model itself: ``take_turn`` is handed the call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from simfocus.discussions.schemas import DiscussionSpec, Participant
from simfocus.kit.rand import stable_rng
from simfocus.llm.schemas import (
    ChatMessage,
    CompletionRequest,
    LLMRequest,
    LLMResult,
    Purpose,
    SimulationHints,
)
from simfocus.personas.memory import PersonaMemory
from simfocus.personas.replies import key_point, parse_reply
from simfocus.personas.schemas import TurnOutcome, TurnRequest
from simfocus.prompts.render import (
    QuotedMessage,
    TurnPromptInputs,
    render_system_prompt,
    render_turn_prompt,
)
from simfocus.topics.schemas import Topic

CallLLM = Callable[[LLMRequest], Awaitable[LLMResult]]


class PersonaMind:
    def __init__(
        self,
        participant: Participant,
        topic: Topic,
        spec: DiscussionSpec,
        *,
        window_tokens: int,
        summary_tokens: int,
    ) -> None:
        self.participant = participant
        self.character = participant.character
        self.topic = topic
        self.spec = spec
        self.memory = PersonaMemory(
            participant.id,
            participant.character.stance,
            window_tokens=window_tokens,
            summary_tokens=summary_tokens,
        )
        self.system_prompt = render_system_prompt(self.character, topic)  # the stable prefix
        self.turns_taken = 0

    def build_request(self, turn: TurnRequest) -> CompletionRequest:
        """Take in what is new, then render this turn's prompt."""
        self.memory.observe(turn.new_messages)
        inputs = TurnPromptInputs(
            name=self.character.name,
            round=turn.round,
            max_rounds=self.spec.max_rounds,
            phase=turn.phase.value,
            mode=self.spec.mode.value,
            side=turn.side,
            summary=self.memory.summary(),
            own_points=tuple(self.memory.own_points),
            recent=tuple(
                QuotedMessage(seq=m.seq, speaker=m.speaker_name, content=m.content)
                for m in self.memory.recent
            ),
            question=turn.question.content if turn.question else None,
            addressee=turn.addressee.speaker_name if turn.addressee else None,
            closing_statement=turn.closing_statement,
        )
        return CompletionRequest(
            model=self.spec.provider.model,
            system=self.system_prompt,
            messages=(ChatMessage(role="user", content=render_turn_prompt(inputs)),),
            max_tokens=self.spec.max_tokens_per_turn,
            temperature=self.spec.temperature,
            # Positions, not ids: the same study and seed give the same transcript.
            seed=stable_rng(
                self.spec.seed, self.participant.position, turn.round, self.memory.last_seq
            ).randrange(2**31),
            hints=self._hints(turn) if self.spec.provider.name == "simulated" else None,
        )

    def _hints(self, turn: TurnRequest) -> SimulationHints:
        c = self.character
        return SimulationHints(
            persona_name=c.name,
            profession=c.profession,
            stance=self.memory.stance.value,
            expression_style=c.expression_style.value,
            optimism=c.personality.optimism,
            critical_thinking=c.personality.critical_thinking,
            fields=tuple(c.knowledge.fields),
            views=tuple(c.knowledge.representative_views),
            topic_title=self.topic.title,
            phase=turn.phase.value,
            mode=self.spec.mode.value,
            round=turn.round,
            side=turn.side,
            addressee_name=turn.addressee.speaker_name if turn.addressee else None,
            addressee_point=(
                key_point(turn.addressee.content, avoid=self.memory.names())
                if turn.addressee
                else None
            ),
            question=turn.question.content if turn.question else None,
            closing_statement=turn.closing_statement,
        )

    def prepare(self, turn: TurnRequest) -> LLMRequest:
        """The gateway request of this turn."""
        return LLMRequest(
            discussion_id=turn.discussion_id,
            participant_id=self.participant.id,
            purpose=Purpose.TURN,
            batch=turn.batch,
            provider=self.spec.provider,
            fallbacks=tuple(self.spec.fallbacks),
            completion=self.build_request(turn),
        )

    async def take_turn(self, turn: TurnRequest, call_llm: CallLLM) -> TurnOutcome:
        return self.finish(await call_llm(self.prepare(turn)))

    def finish(self, result: LLMResult) -> TurnOutcome:
        """Read the model's reply into a turn outcome."""
        reply = parse_reply(result.text)
        self.turns_taken += 1
        return TurnOutcome(
            participant_id=self.participant.id,
            content=reply.content,
            stance=reply.stance,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cost_micro_usd=result.cost_micro_usd,
            latency_ms=result.latency_ms,
            provider=result.provider,
            model=result.model,
            simulated=result.simulated,
        )
