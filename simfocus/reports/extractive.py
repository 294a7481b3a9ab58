"""An extractive draft: the report built from the transcript's own sentences.

The ``simulated`` provider has no model to write a report, so it answers with this draft
(through the gateway, like any call); a real model's report that leaves a persona out is
completed from it. Every point quotes or names what it cites, so it is checkable.
"""

from __future__ import annotations

import re
from collections import Counter

from simfocus.reports.draft import Draft, DraftControversy, DraftPoint, DraftViewpoint, Notes
from simfocus.reports.schemas import PersonaStanceTrack
from simfocus.reports.text import content_words, similar
from simfocus.transcripts.schemas import Transcript, TranscriptMessage

REASONS = re.compile(r"\b(because|since|therefore|for example|which means|so that)\b", re.I)
PROPOSALS = re.compile(
    r"\b(we should|should|could we|what if|i suggest|propose|how about|one option)\b", re.I
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text.strip()) if len(s.split()) >= 4]


def first_sentence(text: str, limit: int = 240) -> str:
    found = sentences(text) or [text.strip()]
    s = found[0]
    return s if len(s) <= limit else s[: limit - 1].rsplit(" ", 1)[0] + "…"


def _said(t: Transcript, participant_id: str | None = None) -> list[TranscriptMessage]:
    return [
        m
        for m in t.messages
        if m.role == "persona" and (participant_id is None or m.participant_id == participant_id)
    ]


def _matching(messages: list[TranscriptMessage], pattern: re.Pattern[str]) -> list[DraftPoint]:
    found = []
    for m in messages:
        for s in sentences(m.content):
            if pattern.search(s):
                found.append(DraftPoint(text=f"{m.speaker}: “{s}”", citations=[m.seq]))
                break
    return found


def _distinct(points: list[DraftPoint], limit: int) -> list[DraftPoint]:
    kept: list[DraftPoint] = []
    for p in points:
        if not any(similar(p.text, k.text) for k in kept):
            kept.append(p)
    return kept[:limit]


def _viewpoint(t: Transcript, participant_id: str, name: str) -> DraftViewpoint | None:
    said = _said(t, participant_id)
    if not said:
        return None
    last = said[-1]
    arguments = _matching(said, REASONS) or [
        DraftPoint(text=f"“{first_sentence(m.content)}”", citations=[m.seq]) for m in said[:2]
    ]
    return DraftViewpoint(
        participant_id=participant_id,
        name=name,
        position=DraftPoint(
            text=f"In closing, {name} said: “{first_sentence(last.content)}”",
            citations=[last.seq],
        ),
        key_arguments=_distinct(arguments, 3),
    )


def _closing_by_stance(
    t: Transcript, tracks: list[PersonaStanceTrack]
) -> dict[str, list[tuple[str, int]]]:
    """Closing stance → (name, seq of that persona's last message)."""
    last_seq = {m.participant_id: m.seq for m in _said(t)}
    sides: dict[str, list[tuple[str, int]]] = {}
    for track in tracks:
        if track.participant_id in last_seq:
            sides.setdefault(track.final_stance, []).append(
                (track.name, last_seq[track.participant_id])
            )
    return sides


def _shared_terms(t: Transcript) -> list[DraftPoint]:
    """Terms most personas used: what the panel kept coming back to."""
    users: dict[str, set[str]] = {}
    cite: dict[str, list[int]] = {}
    for m in _said(t):
        for w in content_words(m.content):
            users.setdefault(w, set()).add(m.participant_id or "")
            cite.setdefault(w, []).append(m.seq)
    panel = max(1, len(t.participants))
    common = [w for w, who in users.items() if len(who) >= max(2, (panel + 1) // 2)]
    common.sort(key=lambda w: (-len(users[w]), -len(cite[w]), w))
    return [
        DraftPoint(
            text=f"“{w}” came up with {len(users[w])} of {panel} personas.",
            citations=cite[w][:4],
        )
        for w in common[:3]
    ]


def extractive_draft(t: Transcript, tracks: list[PersonaStanceTrack]) -> Draft:
    said = _said(t)
    title = t.topic.get("title", "the topic")
    sides = _closing_by_stance(t, tracks)
    rounds = max((m.round for m in t.messages), default=0)
    closing = ", ".join(
        f"{len(who)} {stance.replace('_', ' ')}" for stance, who in sorted(sides.items())
    )
    overview = DraftPoint(
        text=(
            f"{len(t.participants)} personas discussed “{title}” over {rounds} rounds in "
            f"{t.spec.get('mode', 'free')} mode ({len(said)} contributions). "
            f"Closing stances: {closing or 'none stated'}."
        ),
        citations=[m.seq for m in (said[:1] + said[-1:])],
    )
    consensus: list[DraftPoint] = []
    if len(sides) == 1 and said:
        ((stance, who),) = sides.items()
        consensus.append(
            DraftPoint(
                text=f"The whole panel closed {stance.replace('_', ' ')} on “{title}”.",
                citations=[seq for _, seq in who],
            )
        )
    consensus += _shared_terms(t)
    controversies = []
    if "support" in sides and "oppose" in sides:
        controversies.append(
            DraftControversy(
                text=f"The panel split on “{title}”.",
                citations=[seq for who in sides.values() for _, seq in who],
                sides={stance: [n for n, _ in who] for stance, who in sides.items()},
            )
        )
    answered = Counter(m.responds_to_seq for m in said if m.responds_to_seq)
    by_seq = {m.seq: m for m in t.messages}
    insights = [
        DraftPoint(
            text=f"{by_seq[seq].speaker}'s point drew {n} direct replies: "
            f"“{first_sentence(by_seq[seq].content)}”",
            citations=[seq],
        )
        for seq, n in answered.most_common(3)
        if seq in by_seq and by_seq[seq].role == "persona"
    ]
    movers = [tr for tr in tracks if tr.changes]
    if movers:
        moved_seqs = [
            m.seq for m in said if any(m.participant_id == tr.participant_id for tr in movers)
        ]
        insights.append(
            DraftPoint(
                text=f"{len(movers)} of {len(tracks)} personas changed stance as they talked.",
                citations=moved_seqs[-3:],
            )
        )
    closing_said = [m for m in said if m.phase == "closing"] or said[-len(t.participants) :]
    return Draft(
        overview=overview,
        viewpoints=[v for p in t.participants if (v := _viewpoint(t, p.id, p.name)) is not None],
        consensus=_distinct(consensus, 4),
        controversies=controversies,
        insights=_distinct(insights, 4),
        recommendations=_distinct(
            _matching(closing_said, PROPOSALS) or _matching(said, PROPOSALS), 4
        ),
    )


def extractive_notes(messages: list[TranscriptMessage]) -> Notes:
    """Notes of a stretch of transcript: each persona contribution's first sentence."""
    return Notes(
        notes=[
            DraftPoint(
                text=f"{m.speaker} ({m.stance or 'no stance'}): {first_sentence(m.content)}",
                citations=[m.seq],
            )
            for m in messages
            if m.role == "persona" or m.kind == "question"
        ]
    )
