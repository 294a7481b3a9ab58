"""The transcript document (``transcript.json``)."""

from __future__ import annotations

from typing import Any

from simfocus.kit.models import ValueModel


class TranscriptMessage(ValueModel):
    seq: int
    round: int
    phase: str
    role: str
    kind: str
    speaker: str
    participant_id: str | None
    content: str
    stance: str | None
    responds_to_seq: int | None
    prompt_tokens: int
    completion_tokens: int
    cost_micro_usd: int
    simulated: bool
    created_at: str


class TranscriptParticipant(ValueModel):
    id: str
    position: int
    name: str
    profession: str
    initial_stance: str
    final_stance: str | None
    message_count: int


class Usage(ValueModel):
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cost_micro_usd: int


class Transcript(ValueModel):
    discussion_id: str
    name: str
    status: str
    status_reason: str | None
    topic: dict[str, Any]
    spec: dict[str, Any]
    simulated: bool
    participants: list[TranscriptParticipant]
    messages: list[TranscriptMessage]
    usage: Usage
    started_at: str | None
    ended_at: str | None
