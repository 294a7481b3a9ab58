"""The discussions API's request and response bodies."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from simfocus.discussions.schemas import DiscussionStatus, Mode
from simfocus.kit.models import InputModel, ValueModel
from simfocus.llm.schemas import ProviderName


class DiscussionIn(InputModel):
    topic_id: str = Field(min_length=1, max_length=36)
    character_ids: list[str] = Field(min_length=2, max_length=12)
    discussion_mode: Mode = Mode.FREE
    max_rounds: int = Field(default=6, ge=1, le=100)
    llm_provider: ProviderName = "simulated"
    llm_model: str | None = Field(default=None, max_length=120)
    api_key_id: str | None = Field(default=None, max_length=36)
    budget_usd: float | None = Field(default=None, gt=0, le=10_000)
    pacing_s: float = Field(default=1.0, ge=0, le=60)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    name: str = Field(default="", max_length=200)


class QuestionIn(InputModel):
    question: str = Field(min_length=1, max_length=2000)


class SpeedIn(InputModel):
    speed: float = Field(ge=0.5, le=3.0)


class ParticipantOut(ValueModel):
    id: str
    character_id: str | None
    name: str
    position: int
    profession: str
    initial_stance: str
    current_stance: str | None
    message_count: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class UsageOut(ValueModel):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float


class DiscussionOut(ValueModel):
    id: str
    name: str
    topic_id: str
    status: DiscussionStatus
    status_reason: str | None
    discussion_mode: Mode
    max_rounds: int
    current_round: int
    current_phase: str | None
    llm_provider: str
    llm_model: str
    budget_usd: float | None
    usage: UsageOut
    participants: list[ParticipantOut] = []
    # generating | ready | partial | failed; None until the discussion ends
    report_status: str | None = None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None


class MessageOut(ValueModel):
    seq: int
    round: int
    phase: str
    role: str
    kind: str
    participant_id: str | None
    speaker_name: str
    content: str
    stance: str | None
    responds_to_seq: int | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    simulated: bool
    created_at: datetime
