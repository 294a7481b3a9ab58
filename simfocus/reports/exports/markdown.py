"""The report as one Markdown document, with the full transcript as an appendix.

Citations are written ``[#12, #15]`` and every transcript message in the appendix starts
with ``#12``, so a reader can follow a claim to the words it rests on. User text (persona
names, messages, topic) is neutralised against raw HTML, since some Markdown viewers pass
HTML through.
"""

from __future__ import annotations

from simfocus.reports.exports._common import (
    DASH,
    SECTION_TITLES,
    SIMULATED_BANNER,
    cited,
    format_cost,
    format_duration,
    format_score,
    format_share,
    metadata,
    score_rows,
    stance_formula,
    stance_label,
    status_line,
)
from simfocus.reports.schemas import Analytics, Point, QualityScores, Report, ReportSections
from simfocus.transcripts.schemas import Transcript


def text(value: str) -> str:
    """User text for running Markdown: ``<`` as an entity keeps any HTML tag inert.

    (A backslash escape would not do: ``\\\\<`` is an escaped backslash and a live ``<``.)
    """
    return value.replace("<", "&lt;")


def cell(value: str) -> str:
    """User text for a table cell: one line, pipes escaped."""
    return text(" ".join(value.split())).replace("|", "\\|")


def citations(point: Point) -> str:
    seqs = cited(point)
    return f" [{', '.join(f'#{s}' for s in seqs)}]" if seqs else ""


def point_line(point: Point) -> str:
    # Points are usually one paragraph; newlines inside would break a list item.
    return " ".join(text(point.text).split()) + citations(point)


def _bullets(points: list[Point]) -> list[str]:
    return [f"- {point_line(p)}" for p in points] or ["_None._"]


def _sections(s: ReportSections) -> list[str]:
    lines = [f"## {SECTION_TITLES['overview']}", "", point_line(s.overview), ""]

    lines += [f"## {SECTION_TITLES['viewpoints']}", ""]
    if not s.viewpoints:
        lines += ["_None._", ""]
    for v in s.viewpoints:
        lines += [
            f"### {cell(v.name)}",
            "",
            f"- **Stance:** {stance_label(v.initial_stance)} → {stance_label(v.final_stance)}",
            f"- **Position:** {point_line(v.position)}",
        ]
        if v.key_arguments:
            lines.append("- **Key arguments:**")
            lines += [f"  - {point_line(a)}" for a in v.key_arguments]
        if v.movement:
            lines.append(f"- **Movement:** {text(v.movement)}")
        for change in v.stance_changes:
            lines.append(
                f"  - round {change.round}: {stance_label(change.from_stance)} → "
                f"{stance_label(change.to_stance)} [#{change.seq}]"
            )
        lines.append("")

    lines += [f"## {SECTION_TITLES['consensus']}", "", *_bullets(s.consensus), ""]

    lines += [f"## {SECTION_TITLES['controversies']}", ""]
    if not s.controversies:
        lines += ["_None._", ""]
    for c in s.controversies:
        lines.append(f"- {point_line(c.point)}")
        for side, names in c.sides.items():
            who = ", ".join(cell(n) for n in names) or DASH
            lines.append(f"  - _{cell(stance_label(side))}:_ {who}")
    if s.controversies:
        lines.append("")

    lines += [f"## {SECTION_TITLES['insights']}", "", *_bullets(s.insights), ""]
    lines += [f"## {SECTION_TITLES['recommendations']}", "", *_bullets(s.recommendations), ""]
    return lines


def _scores(scores: QualityScores) -> list[str]:
    lines = [
        f"## {SECTION_TITLES['scores']}",
        "",
        "Measured from the transcript, not judged by a model; every score is in [0, 1].",
        "",
        "| Score | Value | How it is measured |",
        "|---|---:|---|",
    ]
    lines += [
        f"| {r.label} | {format_score(r.value)} | {cell(r.formula)} |" for r in score_rows(scores)
    ]
    if scores.stance_movement:
        lines += [
            "",
            "### Stance by round",
            "",
            *([f"_{text(stance_formula())}_", ""] if stance_formula() else []),
            "| Persona | " + " | ".join(f"R{i + 1}" for i in range(_rounds(scores))) + " | Net |",
            "|---|" + "---|" * _rounds(scores) + "---:|",
        ]
        for t in scores.stance_movement:
            by_round = [stance_label(s) for s in t.by_round]
            by_round += [DASH] * (_rounds(scores) - len(by_round))
            lines.append(f"| {cell(t.name)} | " + " | ".join(by_round) + f" | {t.net_shift:+.2f} |")
    return [*lines, ""]


def _rounds(scores: QualityScores) -> int:
    return max((len(t.by_round) for t in scores.stance_movement), default=0)


def _analytics(a: Analytics) -> list[str]:
    lines = [
        f"## {SECTION_TITLES['analytics']}",
        "",
        f"{a.messages} messages ({a.persona_messages} by personas), {a.words} words, "
        f"{a.prompt_tokens} prompt + {a.completion_tokens} completion tokens, "
        f"{format_cost(a.cost_micro_usd)}, {format_duration(a.duration_s)}.",
        "",
        "| Persona | Messages | Words | Tokens | Cost | Talk share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {cell(p.name)} | {p.messages} | {p.words} | "
        f"{p.prompt_tokens + p.completion_tokens} | {format_cost(p.cost_micro_usd)} | "
        f"{format_share(p.talk_share)} |"
        for p in a.personas
    ]
    if a.rounds:
        lines += ["", "| Round | Phase | Messages | Duration |", "|---:|---|---:|---:|"]
        lines += [
            f"| {r.round} | {cell(r.phase)} | {r.messages} | {format_duration(r.duration_s)} |"
            for r in a.rounds
        ]
    return [*lines, ""]


def transcript_appendix(t: Transcript) -> list[str]:
    """The full transcript; each message headed by its ``#seq`` so citations resolve."""
    lines = [f"## {SECTION_TITLES['appendix']}", ""]
    if t.participants:
        lines += [
            "| # | Name | Profession | Stance at start | Stance at end | Messages |",
            "|---:|---|---|---|---|---:|",
        ]
        lines += [
            f"| {p.position + 1} | {cell(p.name)} | {cell(p.profession)} | "
            f"{stance_label(p.initial_stance)} | {stance_label(p.final_stance)} | "
            f"{p.message_count} |"
            for p in t.participants
        ]
        lines.append("")
    phase = None
    for m in t.messages:
        if m.phase != phase:
            phase = m.phase
            lines += [f"### {cell(phase.capitalize())}", ""]
        details = [f"round {m.round}"]
        if m.kind == "question":
            details.append("question")
        if m.stance:
            details.append(stance_label(m.stance))
        if m.responds_to_seq is not None:
            details.append(f"in reply to #{m.responds_to_seq}")
        lines += [f"**#{m.seq} · {cell(m.speaker)}** · {' · '.join(details)}", ""]
        # A blockquote keeps a message's own Markdown (headings, rules) inside the message.
        lines += [f"> {line}".rstrip() for line in text(m.content).splitlines() or [""]]
        lines.append("")
    if not t.messages:
        lines += ["_No messages._", ""]
    return lines


def render_markdown_report(report: Report, transcript: Transcript) -> str:
    lines = [f"# {cell(report.title)}", ""]
    if report.simulated:
        lines += [f"> **{SIMULATED_BANNER}**", ""]
    status = status_line(report)
    if status:
        lines += [f"> ⚠ {text(status)}", ""]
    lines += [f"- **{label}:** {cell(value)}" for label, value in metadata(report, transcript)]
    lines.append("")
    if report.sections is not None:
        lines += _sections(report.sections)
    if report.quality_scores is not None:
        lines += _scores(report.quality_scores)
    if report.analytics is not None:
        lines += _analytics(report.analytics)
    lines += transcript_appendix(transcript)
    return "\n".join(lines).rstrip() + "\n"
