"""The report as one self-contained, print-ready HTML file.

Everything is inline (style, SVG charts): the file opens offline, can be mailed, and
prints to PDF from any browser. Jinja2 autoescapes all user text; the charts are built
already escaped and are the only markup passed through as ``Markup``.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from simfocus.reports.exports._common import (
    SECTION_TITLES,
    SIMULATED_BANNER,
    STANCE_ORDER,
    format_cost,
    format_duration,
    format_score,
    format_share,
    metadata,
    score_rows,
    seq_set,
    stance_formula,
    stance_label,
    status_line,
)
from simfocus.reports.exports.charts import stance_svg, talk_share_svg
from simfocus.reports.schemas import Report
from simfocus.transcripts.schemas import Transcript


def stance_class(stance: str | None) -> str:
    """A CSS class for a stance badge: known stances only, so model text never reaches CSS."""
    return f"stance-{stance.replace('_', '-')}" if stance in STANCE_ORDER else "stance-other"


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("simfocus.reports.exports", "templates"),
        autoescape=True,  # every template here is HTML
        undefined=StrictUndefined,  # a typo in the template fails loudly, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        stance=stance_label,
        stance_class=stance_class,
        cost=format_cost,
        duration=format_duration,
        score=format_score,
        share=format_share,
    )
    return env


def render_html(report: Report, transcript: Transcript) -> str:
    scores = report.quality_scores
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            report=report,
            transcript=transcript,
            titles=SECTION_TITLES,
            simulated_banner=SIMULATED_BANNER,
            status=status_line(report),
            meta=metadata(report, transcript),
            seqs=seq_set(transcript),
            score_rows=score_rows(scores) if scores else [],
            stance_formula=stance_formula(),
            stance_rounds=max((len(t.by_round) for t in scores.stance_movement), default=0)
            if scores
            else 0,
            # Built by charts.py with every user string XML-escaped: safe to pass through.
            stance_chart=Markup(stance_svg(scores)) if scores else None,
            talk_chart=Markup(talk_share_svg(report.analytics)) if report.analytics else None,
        )
    )
