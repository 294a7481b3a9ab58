"""What the moderator asks of a persona, and what comes back."""

from __future__ import annotations

from simfocus.characters.schemas import Stance
from simfocus.discussions.schemas import Message, Phase
from simfocus.kit.models import ValueModel


class TurnRequest(ValueModel):
    """One turn: where the discussion stands and what the persona has not seen yet."""

    discussion_id: str
    round: int
    phase: Phase
    new_messages: tuple[Message, ...] = ()
    side: str | None = None
    question: Message | None = None
    addressee: Message | None = None
    closing_statement: bool = False
    batch: bool = False


class TurnDelta(ValueModel):
    """Streamed text of a turn in progress, or a restart (discard what was shown)."""

    participant_id: str
    text: str = ""
    restart: bool = False


class TurnOutcome(ValueModel):
    """A reply that is ready to be committed (the moderator assigns its ``seq``)."""

    participant_id: str
    content: str
    stance: Stance | None
    prompt_tokens: int
    completion_tokens: int
    cost_micro_usd: int
    latency_ms: float
    provider: str
    model: str
    simulated: bool
