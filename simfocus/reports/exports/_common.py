"""What every export format shares: labels, number formats, score rows, metadata.

The Markdown, HTML and PDF renderers lay the same content out differently; keeping the
wording and the numbers here means the three never disagree about what a report says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from simfocus.reports.schemas import Point, QualityScores, Report, ReportStatus
from simfocus.transcripts.schemas import Transcript

# Bottom to top on the stance chart: the scale of ``net_shift`` runs oppose -1 ... support +1.
STANCE_ORDER: tuple[str, ...] = ("oppose", "critical_exploration", "neutral", "support")

SECTION_TITLES: dict[str, str] = {
    "overview": "Overview",
    "viewpoints": "Viewpoints",
    "consensus": "Consensus",
    "controversies": "Controversies",
    "insights": "Insights",
    "recommendations": "Recommendations",
    "scores": "Quality scores",
    "analytics": "Analytics",
    "appendix": "Appendix: transcript",
}

# Overall first: it is the one number readers look for; the rest in model order.
SCORE_LABELS: dict[str, str] = {
    "overall": "Overall",
    "participation_balance": "Participation balance",
    "responsiveness": "Responsiveness",
    "novelty": "Novelty",
    "repetition": "Repetition",
    "question_coverage": "Question coverage",
    "depth": "Depth",
    "diversity": "Diversity",
    "constructiveness": "Constructiveness",
    "coherence": "Coherence",
}

# What a table shows for "no value" (an en dash; written as an escape for the linter).
DASH = "\u2013"

SIMULATED_BANNER = (
    "Simulated: the replies in this discussion were written by simFocus's offline "
    "simulated provider, not by a language model. Do not read them as research findings."
)


def stance_label(stance: str | None) -> str:
    """``critical_exploration`` → ``critical exploration``; a missing stance → an en dash."""
    return stance.replace("_", " ") if stance else DASH


def format_cost(micro_usd: int) -> str:
    return f"${micro_usd / 1_000_000:.4f}"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"


def format_share(share: float) -> str:
    return f"{share * 100:.1f}%"


def format_score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def cited(point: Point) -> list[int]:
    """The citations of a point, in order, without repeats."""
    return list(dict.fromkeys(point.citations))


@dataclass(frozen=True, slots=True)
class ScoreRow:
    key: str
    label: str
    value: float | None
    formula: str


def _formulas() -> Mapping[str, str]:
    # Imported lazily and optionally: metrics.py may be absent or broken while reports are
    # exported, and a missing explanation must never cost the reader the report itself.
    try:
        from simfocus.reports.metrics import FORMULAS
    except Exception:
        return {}
    return FORMULAS if isinstance(FORMULAS, Mapping) else {}


def score_rows(scores: QualityScores) -> list[ScoreRow]:
    formulas = _formulas()
    rows = []
    for key, label in SCORE_LABELS.items():
        value = getattr(scores, key)
        formula = str(formulas.get(key, ""))
        if key == "question_coverage" and value is None and not formula:
            formula = "No question was injected into this discussion."
        rows.append(ScoreRow(key, label, value, formula))
    return rows


def stance_formula() -> str:
    """How stance movement is measured, or "" when metrics.py offers no text."""
    return str(_formulas().get("stance_movement", ""))


def status_line(report: Report) -> str | None:
    """Why a report is incomplete, or None when there is nothing to warn about."""
    if report.status is ReportStatus.READY and not report.note:
        return None
    parts = [f"Status: {report.status.value}"]
    if report.status is ReportStatus.PARTIAL:
        parts.append("only the measured parts (scores, analytics) are available")
    elif report.status is ReportStatus.GENERATING:
        parts.append("the report is still being written")
    if report.note:
        parts.append(report.note)
    return " — ".join(parts)


def metadata(report: Report, transcript: Transcript) -> list[tuple[str, str]]:
    """The facts printed under the title, as (label, value) pairs."""
    provider = transcript.spec.get("provider") or {}
    model = "/".join(str(v) for v in (provider.get("name"), provider.get("model")) if v)
    rows: list[tuple[str, str]] = [
        ("Topic", report.topic),
        ("Discussion", transcript.name or report.discussion_id),
        ("Discussion ID", report.discussion_id),
        ("Report ID", report.id),
        ("Mode", report.mode),
        ("Status", report.status.value),
        ("Simulated", "yes" if report.simulated else "no"),
    ]
    if model:
        rows.append(("Model", model))
    rows += [
        ("Participants", ", ".join(p.name for p in transcript.participants) or DASH),
        ("Messages", str(len(transcript.messages))),
        (
            "Discussion usage",
            f"{transcript.usage.prompt_tokens} prompt + {transcript.usage.completion_tokens} "
            f"completion tokens, {format_cost(transcript.usage.cost_micro_usd)}",
        ),
        ("Report cost", f"{format_cost(report.cost_micro_usd)} ({report.llm_calls} LLM calls)"),
    ]
    if report.generation_time_ms is not None:
        rows.append(("Generation time", format_duration(report.generation_time_ms / 1000)))
    rows.append(("Created", report.created_at))
    return rows


def seq_set(transcript: Transcript) -> frozenset[int]:
    """The seqs citations may link to."""
    return frozenset(m.seq for m in transcript.messages)
