"""The report document: written sections with citations, measured scores, analytics.

Every written point carries ``citations``: the ``seq`` of the messages it rests on. They
are checked against the transcript before a report is stored (see ``citations.py``).
Scores and analytics are measured from the transcript (``metrics.py``, ``analytics.py``),
never asked of the model.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from simfocus.kit.models import ValueModel


class ReportStatus(StrEnum):
    GENERATING = "generating"
    READY = "ready"
    PARTIAL = "partial"  # measured parts only: the written part failed (see ``note``)
    FAILED = "failed"  # nothing could be stored beyond the note


class Point(ValueModel):
    """One claim of the report and the messages that back it."""

    text: str
    citations: list[int] = Field(default_factory=list)
    # Citations that named no message of the transcript (kept only for the record).
    flagged_citations: list[int] = Field(default_factory=list)


class StanceChange(ValueModel):
    seq: int
    round: int
    from_stance: str
    to_stance: str


class Viewpoint(ValueModel):
    """One persona's position, arguments and how its stance moved."""

    participant_id: str
    name: str
    initial_stance: str
    final_stance: str
    position: Point
    key_arguments: list[Point] = Field(default_factory=list)
    stance_changes: list[StanceChange] = Field(default_factory=list)  # measured
    movement: str = ""  # measured, in words: "moved from oppose to neutral in round 4"


class Controversy(ValueModel):
    """A point of disagreement and who stands where (persona names by side)."""

    point: Point
    sides: dict[str, list[str]] = Field(default_factory=dict)


class ReportSections(ValueModel):
    """The written part of a report."""

    overview: Point
    viewpoints: list[Viewpoint] = Field(default_factory=list)
    consensus: list[Point] = Field(default_factory=list)
    controversies: list[Controversy] = Field(default_factory=list)
    insights: list[Point] = Field(default_factory=list)
    recommendations: list[Point] = Field(default_factory=list)


class CitationCheck(ValueModel):
    """What validation did to the written part."""

    points: int = 0  # points checked
    dropped: int = 0  # points removed: none of their citations named a real message
    flagged: int = 0  # points kept with some citations removed


class PersonaStanceTrack(ValueModel):
    """A persona's stance by round (None where it did not speak) and its measured movement."""

    participant_id: str
    name: str
    initial_stance: str
    final_stance: str
    by_round: list[str | None]  # [0] is round 1; None where it stated no stance
    changes: int
    net_shift: float  # final - initial on the scale oppose -1 … support +1


class QualityScores(ValueModel):
    """Measured from the transcript; every score is in [0, 1] (see ``FORMULAS``)."""

    participation_balance: float
    responsiveness: float
    novelty: float
    repetition: float
    question_coverage: float | None  # None when no question was injected
    depth: float
    diversity: float
    constructiveness: float
    coherence: float
    overall: float
    stance_movement: list[PersonaStanceTrack] = Field(default_factory=list)


class PersonaAnalytics(ValueModel):
    participant_id: str
    name: str
    messages: int
    words: int
    prompt_tokens: int
    completion_tokens: int
    cost_micro_usd: int
    talk_share: float  # this persona's words / all persona words


class RoundAnalytics(ValueModel):
    round: int
    phase: str
    messages: int
    duration_s: float  # first to last message of the round (plus the gap to the next)


class Analytics(ValueModel):
    discussion_id: str
    personas: list[PersonaAnalytics]
    rounds: list[RoundAnalytics]
    messages: int
    persona_messages: int
    words: int
    prompt_tokens: int
    completion_tokens: int
    cost_micro_usd: int
    duration_s: float


class Report(ValueModel):
    """A stored report as readers get it (API, exports, share links)."""

    id: str
    discussion_id: str
    status: ReportStatus
    title: str
    topic: str
    mode: str
    simulated: bool
    sections: ReportSections | None = None  # None when the written part failed
    quality_scores: QualityScores | None = None
    analytics: Analytics | None = None
    citation_check: CitationCheck = Field(default_factory=CitationCheck)
    note: str | None = None
    generation_time_ms: int | None = None
    processing_time_ms: int | None = None  # our own work, LLM calls excluded
    llm_calls: int = 0
    cost_micro_usd: int = 0
    created_at: str
    updated_at: str


ExportFormat = Literal["md", "html", "pdf", "json"]
