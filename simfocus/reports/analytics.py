"""Counts of a discussion: who said how much, what it cost, how long each round took.

Pure arithmetic over the transcript, so the numbers in a report always agree with the
messages it was built from.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from simfocus.reports.schemas import Analytics, PersonaAnalytics, RoundAnalytics
from simfocus.reports.text import words
from simfocus.transcripts.schemas import Transcript, TranscriptMessage


def measure_analytics(t: Transcript) -> Analytics:
    """Per-persona, per-round and total numbers of one transcript."""
    messages = sorted(t.messages, key=lambda m: m.seq)
    persona = [m for m in messages if m.role == "persona"]
    counts = {m.seq: len(words(m.content)) for m in persona}
    all_words = sum(counts.values())

    personas: list[PersonaAnalytics] = []
    for seat in sorted(t.participants, key=lambda p: p.position):
        own = [m for m in persona if m.participant_id == seat.id]
        spoken = sum(counts[m.seq] for m in own)
        personas.append(
            PersonaAnalytics(
                participant_id=seat.id,
                name=seat.name,
                messages=len(own),
                words=spoken,
                prompt_tokens=sum(m.prompt_tokens for m in own),
                completion_tokens=sum(m.completion_tokens for m in own),
                cost_micro_usd=sum(m.cost_micro_usd for m in own),
                talk_share=round(spoken / all_words, 3) if all_words else 0.0,
            )
        )

    times = [_when(m.created_at) for m in messages]
    return Analytics(
        discussion_id=t.discussion_id,
        personas=personas,
        rounds=_rounds(messages),
        messages=len(messages),
        persona_messages=len(persona),
        words=all_words,
        prompt_tokens=sum(m.prompt_tokens for m in messages),
        completion_tokens=sum(m.completion_tokens for m in messages),
        cost_micro_usd=sum(m.cost_micro_usd for m in messages),
        duration_s=_seconds(min(times), max(times)) if times else 0.0,
    )


def _rounds(messages: Sequence[TranscriptMessage]) -> list[RoundAnalytics]:
    """A round lasts from its first message to the next round's first message (the last
    round to its own last message), so waiting before a round counts to the one before."""
    grouped: dict[int, list[TranscriptMessage]] = {}
    for m in messages:  # already in seq order
        grouped.setdefault(m.round, []).append(m)
    numbers = sorted(grouped)
    starts = {n: min(_when(m.created_at) for m in grouped[n]) for n in numbers}
    out: list[RoundAnalytics] = []
    for i, n in enumerate(numbers):
        group = grouped[n]
        if i + 1 < len(numbers):
            end = starts[numbers[i + 1]]
        else:
            end = max(_when(m.created_at) for m in group)
        out.append(
            RoundAnalytics(
                round=n,
                phase=group[0].phase,
                messages=len(group),
                duration_s=_seconds(starts[n], end),
            )
        )
    return out


def _when(stamp: str) -> datetime:
    """An ISO time as an aware datetime (naive stamps are taken as UTC)."""
    value = datetime.fromisoformat(stamp)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _seconds(start: datetime, end: datetime) -> float:
    return round(max(0.0, (end - start).total_seconds()), 3)
