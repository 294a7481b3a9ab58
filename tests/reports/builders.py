"""Hand-made transcripts with known answers for the measured report parts.

``transcript(participants=["Ann", ("Bob", "oppose")], messages=[(1, "Ann", "Hello")])``:
a participant is a name or (name, initial stance); a message is a tuple
``(round, speaker, content, stance, kind, responds_to_seq)`` (the last three optional) or
a dict with those keys plus any other ``TranscriptMessage`` field. Speakers that are not
participants are the moderator. Messages get seq 1, 2, … and are 10 s apart by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from simfocus.transcripts.schemas import (
    Transcript,
    TranscriptMessage,
    TranscriptParticipant,
    Usage,
)

START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
_FIELDS = ("round", "speaker", "content", "stance", "kind", "responds_to_seq")


def transcript(
    participants: Sequence[str | tuple[str, str]],
    messages: Sequence[tuple[Any, ...] | dict[str, Any]],
    *,
    discussion_id: str = "d1",
    topic: str = "Remote work",
    description: str = "Should the company keep remote work?",
    mode: str = "free",
    step_s: float = 10.0,
    usage: tuple[int, int, int] = (0, 0, 0),
) -> Transcript:
    seats = [
        TranscriptParticipant(
            id=f"p{i + 1}",
            position=i,
            name=p if isinstance(p, str) else p[0],
            profession="tester",
            initial_stance="neutral" if isinstance(p, str) else p[1],
            final_stance=None,
            message_count=0,
        )
        for i, p in enumerate(participants)
    ]
    ids = {s.name: s.id for s in seats}
    built: list[TranscriptMessage] = []
    for i, raw in enumerate(messages):
        given = raw if isinstance(raw, dict) else dict(zip(_FIELDS, raw, strict=False))
        speaker = given["speaker"]
        persona = speaker in ids
        fields: dict[str, Any] = {
            "seq": i + 1,
            "phase": "opening",
            "role": "persona" if persona else "moderator",
            "kind": "statement" if persona else "announcement",
            "participant_id": ids.get(speaker),
            "stance": None,
            "responds_to_seq": None,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost_micro_usd": 0,
            "simulated": True,
            "created_at": (START + timedelta(seconds=i * step_s)).isoformat(),
        }
        fields.update({k: v for k, v in given.items() if v is not None})
        built.append(TranscriptMessage(**fields))
    prompt, completion, cost = usage
    return Transcript(
        discussion_id=discussion_id,
        name=f"Discussion {discussion_id}",
        status="completed",
        status_reason=None,
        topic={"title": topic, "description": description, "context": ""},
        spec={"mode": mode, "max_rounds": max((m.round for m in built), default=0)},
        simulated=True,
        participants=seats,
        messages=built,
        usage=Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost_usd=cost / 1_000_000,
            cost_micro_usd=cost,
        ),
        started_at=None,
        ended_at=None,
    )
