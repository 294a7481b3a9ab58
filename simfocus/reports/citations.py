"""Checking a draft's citations against the transcript, and turning it into sections.

A point is kept only if it cites at least one real message: its citations that name no
message (or, for a persona's arguments, a message by someone else) are removed and listed
in ``flagged_citations``; a point left citing nothing is dropped. The overview and each
persona's position are never dropped (a report needs them) but are flagged the same way.
Stance movement is not taken from the draft: it is measured (``metrics.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simfocus.reports.draft import Draft, DraftPoint, DraftViewpoint
from simfocus.reports.metrics import movement_sentence, stance_changes
from simfocus.reports.schemas import (
    CitationCheck,
    Controversy,
    PersonaStanceTrack,
    Point,
    ReportSections,
    Viewpoint,
)
from simfocus.transcripts.schemas import Transcript

STANCES = ("support", "oppose", "neutral", "critical_exploration")


@dataclass
class _Checker:
    transcript: Transcript
    points: int = 0
    dropped: int = 0
    flagged: int = 0
    seqs: set[int] = field(init=False)
    by_speaker: dict[str, set[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.seqs = {m.seq for m in self.transcript.messages}
        self.by_speaker = {}
        for m in self.transcript.messages:
            if m.participant_id:
                self.by_speaker.setdefault(m.participant_id, set()).add(m.seq)

    def point(
        self, draft: DraftPoint, *, allowed: set[int] | None = None, required: bool = False
    ) -> Point | None:
        self.points += 1
        allowed = self.seqs if allowed is None else allowed
        cited = list(dict.fromkeys(draft.citations))  # de-duplicated, order kept
        good = sorted(s for s in cited if s in allowed)
        bad = [s for s in cited if s not in allowed]
        if not good and not required:
            self.dropped += 1
            return None
        if bad or not good:
            self.flagged += 1
        return Point(text=draft.text.strip(), citations=good, flagged_citations=bad)

    def points_of(self, drafts: list[DraftPoint]) -> list[Point]:
        return [p for d in drafts if (p := self.point(d)) is not None]

    def check(self) -> CitationCheck:
        return CitationCheck(points=self.points, dropped=self.dropped, flagged=self.flagged)


def _match(draft: Draft, transcript: Transcript) -> dict[str, DraftViewpoint]:
    """The draft's viewpoint for each participant, by id or else by name."""
    by_name = {p.name.casefold(): p.id for p in transcript.participants}
    ids = {p.id for p in transcript.participants}
    found: dict[str, DraftViewpoint] = {}
    for v in draft.viewpoints:
        pid = v.participant_id if v.participant_id in ids else None
        pid = pid or by_name.get((v.name or "").strip().casefold())
        if pid and pid not in found:
            found[pid] = v
    return found


def build_sections(
    draft: Draft,
    transcript: Transcript,
    tracks: list[PersonaStanceTrack],
    fallback: Draft,
) -> tuple[ReportSections, CitationCheck]:
    """Validated sections from ``draft``; a persona the draft left out is described from
    ``fallback`` (the extractive draft), so every seated persona has a viewpoint."""
    checker = _Checker(transcript)
    drafted, spare = _match(draft, transcript), _match(fallback, transcript)
    track_of = {t.participant_id: t for t in tracks}
    names = {p.name for p in transcript.participants}
    viewpoints = []
    for p in transcript.participants:
        v = drafted.get(p.id) or spare.get(p.id)
        own = checker.by_speaker.get(p.id, set())
        track = track_of.get(p.id)
        initial = track.initial_stance if track else p.initial_stance
        final = track.final_stance if track else (p.final_stance or p.initial_stance)
        changes = stance_changes(transcript, p.id)
        position = (
            checker.point(v.position, allowed=own, required=True)
            if v
            else Point(text=f"{p.name} did not speak.", citations=[])
        )
        assert position is not None
        viewpoints.append(
            Viewpoint(
                participant_id=p.id,
                name=p.name,
                initial_stance=initial,
                final_stance=final,
                position=position,
                key_arguments=[
                    a
                    for d in (v.key_arguments if v else [])
                    if (a := checker.point(d, allowed=own))
                ],
                stance_changes=changes,
                movement=movement_sentence(changes, initial, final),
            )
        )
    overview = checker.point(draft.overview, required=True)
    assert overview is not None
    controversies = []
    for c in draft.controversies:
        point = checker.point(c)
        if point is None:
            continue
        sides = {
            stance: [n for n in who if n in names]
            for stance, who in c.sides.items()
            if stance in STANCES
        }
        controversies.append(Controversy(point=point, sides={k: v for k, v in sides.items() if v}))
    sections = ReportSections(
        overview=overview,
        viewpoints=viewpoints,
        consensus=checker.points_of(draft.consensus),
        controversies=controversies,
        insights=checker.points_of(draft.insights),
        recommendations=checker.points_of(draft.recommendations),
    )
    return sections, checker.check()
