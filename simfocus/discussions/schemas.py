"""Discussion value objects: spec, status, phases, messages, events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from simfocus.characters.schemas import CharacterConfig, Stance
from simfocus.kit.models import InputModel, ValueModel
from simfocus.llm.schemas import ProviderConfig


class Mode(StrEnum):
    FREE = "free"
    STRUCTURED = "structured"
    CREATIVE = "creative"
    CONSENSUS = "consensus"


class Phase(StrEnum):
    OPENING = "opening"
    DEVELOPMENT = "development"
    DEBATE = "debate"
    CLOSING = "closing"


PHASE_ORDER: tuple[Phase, ...] = (Phase.OPENING, Phase.DEVELOPMENT, Phase.DEBATE, Phase.CLOSING)


class DiscussionStatus(StrEnum):
    INITIALIZED = "initialized"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {DiscussionStatus.COMPLETED, DiscussionStatus.STOPPED, DiscussionStatus.FAILED}
)


class DiscussionSpec(InputModel):
    """How a discussion runs: mode, length, model, money and pacing."""

    mode: Mode = Mode.FREE
    max_rounds: int = Field(default=6, ge=1, le=100)
    provider: ProviderConfig = Field(default_factory=ProviderConfig)
    # Tried in order when the provider's circuit is open or it keeps failing.
    fallbacks: list[ProviderConfig] = Field(default_factory=list, max_length=3)
    stream: bool = Field(default=True, description="show replies live as they are written")
    budget_usd: float | None = Field(default=None, gt=0, le=100_000)
    pacing_s: float = Field(default=0.0, ge=0, le=60, description="pause between turns")
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    max_tokens_per_turn: int = Field(default=350, ge=16, le=8192)
    temperature: float = Field(default=0.8, ge=0, le=2)

    @property
    def budget_micro_usd(self) -> int | None:
        return None if self.budget_usd is None else round(self.budget_usd * 1_000_000)


class Participant(ValueModel):
    """A persona seated in one discussion."""

    id: str
    position: int
    character: CharacterConfig


MessageRole = Literal["persona", "moderator"]
MessageKind = Literal["statement", "question", "announcement"]


class Message(ValueModel):
    """One committed contribution to a discussion; ``seq`` is gap-free per discussion."""

    seq: int = Field(ge=1)
    round: int = Field(ge=0)
    phase: Phase
    role: MessageRole
    kind: MessageKind = "statement"
    participant_id: str | None = None
    speaker_name: str
    content: str
    stance: Stance | None = None
    responds_to_seq: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_micro_usd: int = 0
    provider: str | None = None
    model: str | None = None
    simulated: bool = False
    created_at: datetime


class DiscussionSnapshot(ValueModel):
    """Where a running discussion stands right now."""

    discussion_id: str
    status: DiscussionStatus
    status_reason: str | None = None
    round: int = 0
    phase: Phase | None = None
    last_seq: int = 0
    speed: float = 1.0
    pending_questions: int = 0
    version: int = 0
    live_id: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_micro_usd: int = 0
    # The report of a completed or stopped discussion: generating → ready | partial | failed.
    report_status: str | None = None


class EventBatch(ValueModel):
    """What a watcher gets back: message events after its ``last_seq``, live events after
    its ``live_id`` (when it asked for them) and the state."""

    events: list[dict[str, Any]]
    live: list[dict[str, Any]] = []
    snapshot: DiscussionSnapshot
