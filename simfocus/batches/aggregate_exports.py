"""A batch aggregate as Markdown, one self-contained HTML file, or JSON.

The HTML has everything inline (CSS, an SVG chart of mean support per variant with 95 %
interval whiskers): it opens offline and can be mailed. Jinja2 autoescapes every piece of
user text (variant labels, topics, point texts); the chart is built here with every
string XML-escaped and is the only markup passed through as ``Markup``. The template is
a string in this module, so nothing needs shipping as package data.
"""

from __future__ import annotations

from functools import lru_cache
from xml.sax.saxutils import escape

from jinja2 import BaseLoader, Environment, StrictUndefined, Template
from markupsafe import Markup

from simfocus.batches.aggregate import (
    STANCE_DISPLAY_ORDER,
    BatchAggregate,
    Preference,
    RecurringPoint,
    ScoreStats,
    SupportStats,
    VariantStats,
)

POINTS_SHOWN = 10  # recurring points listed per variant and kind; the JSON has them all
DASH = "\u2013"
SIMULATED_BANNER = (
    "Simulated: these discussions were written by simFocus's offline simulated provider, "
    "not by a language model. The statistics show how the pipeline works, not what people "
    "think."
)
SCORE_LABELS: dict[str, str] = {
    "overall": "Overall",
    "participation_balance": "Participation balance",
    "responsiveness": "Responsiveness",
    "novelty": "Novelty",
    "repetition": "Repetition (lower is better)",
    "question_coverage": "Question coverage",
    "depth": "Depth",
    "diversity": "Diversity",
    "constructiveness": "Constructiveness",
    "coherence": "Coherence",
}
METHOD_SUMMARY: tuple[str, ...] = (
    "Each completed discussion (group) is one observation. Its support score is the mean "
    "over its personas of their closing stance on the scale support +1, neutral 0, "
    "critical exploration -0.5, oppose -1.",
    "Per variant: mean support score over its completed groups, sample standard deviation, "
    "and a 95% t-interval for the mean (clipped to -1 ... 1).",
    "Preference: the two variants with the highest mean support are compared with Welch's "
    "t-test on their per-group scores (two-sided). p < 0.05: clearly preferred; p < 0.2: "
    "leaning; otherwise no clear preference. Probability of superiority: the share of "
    "pairs of groups where the preferred variant scored higher (ties half).",
    "Recurring points: report points of a variant's groups clustered by word overlap "
    "(content-word Jaccard >= 0.5); stability = share of the variant's completed groups "
    "in which the point came up.",
    "Failed or stopped groups count as run but add no statistics; their cost still counts.",
)


# ----- formatting ---------------------------------------------------------------------


def num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def signed(value: float | None) -> str:
    return DASH if value is None else f"{value:+.2f}"


def pct(share: float | None) -> str:
    return DASH if share is None else f"{share * 100:.0f}%"


def p_text(p: float | None) -> str:
    if p is None:
        return DASH
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def ci_text(s: SupportStats) -> str:
    if s.ci_low is None or s.ci_high is None:
        return DASH
    return f"{s.ci_low:+.2f} … {s.ci_high:+.2f}"


def mean_sd(s: ScoreStats) -> str:
    if s.mean is None:
        return DASH
    return f"{s.mean:.2f}" if s.sd is None else f"{s.mean:.2f} ± {s.sd:.2f}"


def stance_label(stance: str) -> str:
    return stance.replace("_", " ")


def verdict_sentence(pref: Preference, labels: dict[str, str]) -> str:
    """The preference in one plain sentence; ``labels`` (variant id → label) must come
    escaped for the target format, one for every variant the preference names."""
    top = labels.get(pref.preferred or "", pref.preferred or "")
    second = labels.get(pref.runner_up or "", pref.runner_up or "")
    if pref.preferred is None:
        return "No completed groups yet: nothing to compare."
    if pref.runner_up is None:
        return f"Only {top} has completed groups: nothing to compare."
    return f"Highest mean support: {top} (runner-up: {second}). Verdict: {pref.verdict}."


def ranking_text(pref: Preference, labels: dict[str, str]) -> str:
    return ", ".join(labels.get(v, v) for v in pref.ranking)


def _labels(agg: BatchAggregate) -> dict[str, str]:
    return {v.variant: v.label for v in agg.variants}


def _quality_rows(agg: BatchAggregate) -> list[tuple[str, list[str]]]:
    """One row per score: its label and ``mean ± sd`` per variant."""
    rows = []
    for key, label in SCORE_LABELS.items():
        cells = []
        for v in agg.variants:
            found = next((q for q in v.quality if q.score == key), None)
            cells.append(mean_sd(found) if found else DASH)
        rows.append((label, cells))
    return rows


def _shown(points: list[RecurringPoint]) -> list[RecurringPoint]:
    return points[:POINTS_SHOWN]


# ----- JSON ---------------------------------------------------------------------------


def aggregate_json(agg: BatchAggregate) -> str:
    """The aggregate as JSON (``BatchAggregate.model_validate_json`` reads it back)."""
    return agg.model_dump_json(indent=2)


# ----- Markdown -----------------------------------------------------------------------


def md_text(value: str) -> str:
    """User text for running Markdown: ``<`` as an entity keeps any HTML tag inert."""
    return " ".join(value.split()).replace("<", "&lt;")


def md_cell(value: str) -> str:
    """User text for a table cell: one line, ``<`` inert, pipes escaped."""
    return md_text(value).replace("|", "\\|")


def aggregate_markdown(agg: BatchAggregate) -> str:
    labels = _labels(agg)
    out: list[str] = [f"# {md_text(agg.name or 'Batch')}: aggregate", ""]
    if agg.simulated:
        out += [f"> **{SIMULATED_BANNER}**", ""]
    planned = f" of {agg.planned} planned" if agg.planned is not None else ""
    out += [
        f"{agg.groups} groups run{planned}: {agg.completed} completed, {agg.failed} failed, "
        f"{agg.other} ended otherwise. Cost ${agg.usage.cost_usd:.4f} "
        f"({agg.usage.tokens} tokens).",
        "",
        "## Preference",
        "",
    ]
    out += _md_preference(agg.preference, labels)
    for pref in agg.preference_by_mode:
        out += [f"### Mode: {md_text(pref.mode or '')}", "", *_md_preference(pref, labels)]

    out += [
        "## Support score by variant",
        "",
        "Mean over completed groups of each group's mean closing stance "
        "(support +1, neutral 0, critical exploration -0.5, oppose -1).",
        "",
        "| Variant | Completed / run | Mean | SD | 95% CI |",
        "|---|---:|---:|---:|---:|",
    ]
    for v in agg.variants:
        out.append(_md_support_row(md_cell(v.label), v.completed, v.groups, v.support))
    if any(len(v.by_mode) > 1 for v in agg.variants):
        out += ["", "### By mode", "", "| Variant | Mode | Completed / run | Mean | SD | 95% CI |"]
        out.append("|---|---|---:|---:|---:|---:|")
        for v in agg.variants:
            for m in v.by_mode:
                label = f"{md_cell(v.label)} | {md_cell(m.mode)}"
                out.append(_md_support_row(label, m.completed, m.groups, m.support))

    out += ["", "## Closing stances", ""]
    header = " | ".join(stance_label(s) for s in STANCE_DISPLAY_ORDER)
    out += [
        f"| Variant | {header} | Personas |",
        "|---|" + "---:|" * len(STANCE_DISPLAY_ORDER) + "---:|",
    ]
    for v in agg.variants:
        cells = [
            f"{s.count} ({pct(s.share)})" for s in v.stances if s.stance in STANCE_DISPLAY_ORDER
        ]
        out.append(f"| {md_cell(v.label)} | {' | '.join(cells)} | {v.personas} |")

    out += ["", "## Recurring points", ""]
    for v in agg.variants:
        out += [f"### {md_text(v.label)}", ""]
        out += _md_points("Consensus", v.consensus, v)
        out += _md_points("Controversies", v.controversies, v)

    out += ["## Quality scores", "", "Mean ± SD over completed groups.", ""]
    out.append("| Score | " + " | ".join(md_cell(v.label) for v in agg.variants) + " |")
    out.append("|---|" + "---:|" * len(agg.variants))
    for label, cells in _quality_rows(agg):
        out.append(f"| {label} | " + " | ".join(cells) + " |")

    out += ["", "## Cost and tokens", ""]
    out += ["| Variant | Groups | Tokens | Tokens / group | Cost | Cost / group |"]
    out.append("|---|---:|---:|---:|---:|---:|")
    for v in agg.variants:
        u = v.usage
        out.append(
            f"| {md_cell(v.label)} | {u.groups} | {u.tokens} | {u.tokens_per_group:.0f} | "
            f"${u.cost_usd:.4f} | ${u.cost_usd_per_group:.4f} |"
        )
    out += ["", "## Method", ""] + [f"- {line}" for line in METHOD_SUMMARY]
    return "\n".join(out) + "\n"


def _md_preference(pref: Preference, labels: dict[str, str]) -> list[str]:
    # Only the labels are user text; the verdict's own "<" must stay readable.
    lines = [verdict_sentence(pref, {k: md_text(v) for k, v in labels.items()}), ""]
    if pref.runner_up is not None:
        lines += [
            f"- Difference in mean support: {signed(pref.difference)}",
            f"- Welch t = {num(pref.t)}, df = {num(pref.df, 1)}, p = {p_text(pref.p_value)}",
            f"- Probability of superiority: {pct(pref.probability_of_superiority)}",
            f"- Ranking: {md_text(ranking_text(pref, labels))}",
            "",
        ]
    return lines


def _md_support_row(label: str, completed: int, run: int, s: SupportStats) -> str:
    sd = DASH if s.sd is None else f"{s.sd:.2f}"
    return f"| {label} | {completed} / {run} | {signed(s.mean)} | {sd} | {ci_text(s)} |"


def _md_points(title: str, points: list[RecurringPoint], v: VariantStats) -> list[str]:
    if not points:
        return [f"**{title}:** none.", ""]
    lines = [f"**{title}** (stability = share of {v.completed} completed groups):", ""]
    for p in _shown(points):
        lines.append(f"- {pct(p.share)} ({p.count}/{v.completed}): {md_text(p.text)}")
    if len(points) > POINTS_SHOWN:
        lines.append(f"- … and {len(points) - POINTS_SHOWN} more (see the JSON)")
    return [*lines, ""]


# ----- SVG ----------------------------------------------------------------------------

CHART_WIDTH = 640
ROW = 30
LEFT = 170  # room for the variant labels
RIGHT = 90  # room for the values
TOP = 28
BOTTOM = 30
FONT = "-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"


def _x(text: str) -> str:
    """Escape text for an SVG text node or a double-quoted attribute."""
    return escape(text, {'"': "&quot;"})


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def support_svg(agg: BatchAggregate) -> str:
    """Mean support per variant as bars from 0 on a -1 … +1 axis, 95 % CI as whiskers."""
    rows = agg.variants
    height = TOP + BOTTOM + ROW * max(1, len(rows))
    span = CHART_WIDTH - LEFT - RIGHT

    def x(value: float) -> float:
        return LEFT + (max(-1.0, min(1.0, value)) + 1.0) / 2.0 * span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_WIDTH} {height}" '
        f'width="{CHART_WIDTH}" height="{height}" role="img" '
        f'aria-label="Mean support score per variant with 95% confidence intervals" '
        f'font-family="{_x(FONT)}" font-size="12">',
        "<title>Mean support score per variant (95% CI)</title>",
    ]
    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{height - BOTTOM}" '
            f'stroke="{"#8a939c" if tick == 0 else "#e3e7eb"}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{tx:.1f}" y="{height - BOTTOM + 16}" text-anchor="middle" '
            f'fill="#5b6570">{tick:+.1f}</text>'
        )
    parts.append(
        f'<text x="{x(-1.0):.1f}" y="{TOP - 12}" fill="#5b6570">oppose</text>'
        f'<text x="{x(1.0):.1f}" y="{TOP - 12}" text-anchor="end" fill="#5b6570">support</text>'
    )
    for i, v in enumerate(rows):
        mid = TOP + ROW * i + ROW / 2
        parts.append(
            f'<text x="{LEFT - 8}" y="{mid + 4:.1f}" text-anchor="end" fill="#1d232a">'
            f"{_x(_short(v.label, 26))}</text>"
        )
        s = v.support
        if s.mean is None:
            parts.append(
                f'<text x="{x(0.0) + 6:.1f}" y="{mid + 4:.1f}" fill="#5b6570">no results</text>'
            )
            continue
        x0, x1 = sorted((x(0.0), x(s.mean)))
        colour = "#59a14f" if s.mean >= 0 else "#e15759"
        parts.append(
            f'<rect x="{x0:.1f}" y="{mid - 8:.1f}" width="{max(x1 - x0, 1.0):.1f}" height="16" '
            f'fill="{colour}" fill-opacity="0.8"><title>{_x(v.label)}: {s.mean:+.2f}</title></rect>'
        )
        if s.ci_low is not None and s.ci_high is not None:
            lo, hi = x(s.ci_low), x(s.ci_high)
            parts.append(
                f'<path d="M{lo:.1f},{mid:.1f}H{hi:.1f}M{lo:.1f},{mid - 6:.1f}V{mid + 6:.1f}'
                f'M{hi:.1f},{mid - 6:.1f}V{mid + 6:.1f}" stroke="#1d232a" stroke-width="1.5" '
                f'fill="none"/>'
            )
        parts.append(
            f'<text x="{CHART_WIDTH - RIGHT + 8}" y="{mid + 4:.1f}" fill="#1d232a">'
            f"{s.mean:+.2f} (n={s.n})</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# ----- HTML ---------------------------------------------------------------------------

_TEMPLATE = """<!DOCTYPE html>
{#- Self-contained on purpose: no external CSS, scripts, fonts or images. -#}
{% macro pref_block(pref) -%}
<p class="verdict">{{ verdict_sentence(pref, labels) }}</p>
{% if pref.runner_up is not none %}
<table class="facts">
  <tr><th>Difference in mean support</th><td class="num">{{ signed(pref.difference) }}</td></tr>
  <tr><th>Welch t (df)</th><td class="num">{{ num(pref.t) }} ({{ num(pref.df, 1) }})</td></tr>
  <tr><th>p (two-sided)</th><td class="num">{{ p_text(pref.p_value) }}</td></tr>
  <tr><th>Probability of superiority</th>
      <td class="num">{{ pct(pref.probability_of_superiority) }}</td></tr>
  <tr><th>Ranking</th><td>{{ ranking(pref) }}</td></tr>
</table>
{% endif %}
{%- endmacro %}
{% macro points(title, items, v) -%}
<h4>{{ title }}</h4>
{% if items %}
<table>
  <tr><th class="num">Stability</th><th class="num">Groups</th><th>Point</th>
      <th>Other wordings</th></tr>
{% for p in items[:shown] %}
  <tr><td class="num">{{ pct(p.share) }}</td><td class="num">{{ p.count }} / {{ v.completed }}</td>
      <td>{{ p.text }}</td>
      <td class="muted">{% for e in p.examples[1:] %}<div>{{ e }}</div>{% endfor %}</td></tr>
{% endfor %}
</table>
{% if items|length > shown %}
<p class="muted">… and {{ items|length - shown }} more (see the JSON export).</p>
{% endif %}
{% else %}
<p class="none">None.</p>
{% endif %}
{%- endmacro %}
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="simFocus">
<title>{{ agg.name or "Batch" }}: aggregate</title>
<style>
  :root { --ink: #1d232a; --muted: #5b6570; --rule: #d9dee3; --soft: #f4f6f8; }
  * { box-sizing: border-box; }
  body { margin: 0 auto; max-width: 60rem; padding: 2.5rem 1.5rem 4rem; color: var(--ink);
         font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
  h1 { font-size: 2rem; line-height: 1.2; margin: 0 0 .5rem; }
  h2 { font-size: 1.35rem; margin: 2.25rem 0 .75rem; padding-bottom: .25rem;
       border-bottom: 2px solid var(--rule); }
  h3 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
  h4 { font-size: 1rem; margin: 1rem 0 .25rem; }
  .banner { padding: .75rem 1rem; border-radius: 6px; margin: 1rem 0;
            background: #fff4d6; border: 1px solid #e8c35a; }
  .verdict { font-size: 1.15rem; font-weight: 600; }
  .muted, .none { color: var(--muted); }
  .none { font-style: italic; }
  table { border-collapse: collapse; width: 100%; margin: .75rem 0; font-size: .9rem; }
  th, td { border-bottom: 1px solid var(--rule); padding: .35rem .5rem; text-align: left;
           vertical-align: top; overflow-wrap: anywhere; }
  th { background: var(--soft); }
  table.facts { width: auto; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
  figure { margin: 1rem 0; overflow-x: auto; }
  figcaption { color: var(--muted); font-size: .85rem; }
  @media print { body { max-width: none; padding: 0; } h2 { break-after: avoid; } }
</style>
</head>
<body>
<h1>{{ agg.name or "Batch" }}: aggregate</h1>
{% if agg.simulated %}<div class="banner">{{ simulated_banner }}</div>{% endif %}
<p class="muted">{{ agg.groups }} groups run
  {%- if agg.planned is not none %} of {{ agg.planned }} planned{% endif %}:
  {{ agg.completed }} completed, {{ agg.failed }} failed, {{ agg.other }} ended otherwise.
  Cost ${{ "%.4f"|format(agg.usage.cost_usd) }} ({{ agg.usage.tokens }} tokens).</p>

<h2>Preference</h2>
{{ pref_block(agg.preference) }}
{% for pref in agg.preference_by_mode %}
<h3>Mode: {{ pref.mode }}</h3>
{{ pref_block(pref) }}
{% endfor %}

<h2>Support score by variant</h2>
<figure>
{{ chart }}
<figcaption>Bars: mean over completed groups of each group's mean closing stance
(support +1, neutral 0, critical exploration -0.5, oppose -1).
Whiskers: 95% t-interval.</figcaption>
</figure>
<table>
  <tr><th>Variant</th><th>Topic</th><th class="num">Completed / run</th><th class="num">Mean</th>
      <th class="num">SD</th><th class="num">95% CI</th></tr>
{% for v in agg.variants %}
  <tr><td>{{ v.label }}</td><td>{{ v.topic }}</td>
      <td class="num">{{ v.completed }} / {{ v.groups }}</td>
      <td class="num">{{ signed(v.support.mean) }}</td><td class="num">{{ num(v.support.sd) }}</td>
      <td class="num">{{ ci_text(v.support) }}</td></tr>
{% endfor %}
</table>
{% if by_mode %}
<h3>By mode</h3>
<table>
  <tr><th>Variant</th><th>Mode</th><th class="num">Completed / run</th><th class="num">Mean</th>
      <th class="num">SD</th><th class="num">95% CI</th></tr>
{% for v in agg.variants %}{% for m in v.by_mode %}
  <tr><td>{{ v.label }}</td><td>{{ m.mode }}</td>
      <td class="num">{{ m.completed }} / {{ m.groups }}</td>
      <td class="num">{{ signed(m.support.mean) }}</td><td class="num">{{ num(m.support.sd) }}</td>
      <td class="num">{{ ci_text(m.support) }}</td></tr>
{% endfor %}{% endfor %}
</table>
{% endif %}

<h2>Closing stances</h2>
<table>
  <tr><th>Variant</th>
{% for s in stances %}
      <th class="num">{{ stance_label(s) }}</th>
{% endfor %}
      <th class="num">Personas</th></tr>
{% for v in agg.variants %}
  <tr><td>{{ v.label }}</td>
{% for s in v.stances if s.stance in stances %}
      <td class="num">{{ s.count }} ({{ pct(s.share) }})</td>
{% endfor %}
      <td class="num">{{ v.personas }}</td></tr>
{% endfor %}
</table>

<h2>Recurring points</h2>
<p class="muted">Stability: the share of a variant's completed groups in which a point came up.</p>
{% for v in agg.variants %}
<h3>{{ v.label }}</h3>
{{ points("Consensus", v.consensus, v) }}
{{ points("Controversies", v.controversies, v) }}
{% endfor %}

<h2>Quality scores</h2>
<p class="muted">Mean ± SD over completed groups.</p>
<table>
  <tr><th>Score</th>{% for v in agg.variants %}<th class="num">{{ v.label }}</th>{% endfor %}</tr>
{% for label, cells in quality_rows %}
  <tr><td>{{ label }}</td>{% for c in cells %}<td class="num">{{ c }}</td>{% endfor %}</tr>
{% endfor %}
</table>

<h2>Cost and tokens</h2>
<table>
  <tr><th>Variant</th><th class="num">Groups</th><th class="num">Tokens</th>
      <th class="num">Tokens / group</th>
      <th class="num">Cost</th><th class="num">Cost / group</th></tr>
{% for v in agg.variants %}
  <tr><td>{{ v.label }}</td><td class="num">{{ v.usage.groups }}</td>
      <td class="num">{{ v.usage.tokens }}</td>
      <td class="num">{{ "%.0f"|format(v.usage.tokens_per_group) }}</td>
      <td class="num">${{ "%.4f"|format(v.usage.cost_usd) }}</td>
      <td class="num">${{ "%.4f"|format(v.usage.cost_usd_per_group) }}</td></tr>
{% endfor %}
</table>

<h2>Method</h2>
<ul>
{% for line in method %}  <li>{{ line }}</li>
{% endfor %}
</ul>
</body>
</html>
"""


@lru_cache(maxsize=1)
def _template() -> Template:
    env = Environment(
        loader=BaseLoader(),
        autoescape=True,  # the template is HTML: every value is escaped unless Markup
        undefined=StrictUndefined,  # a typo fails loudly instead of printing nothing
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.from_string(_TEMPLATE)


def aggregate_html(agg: BatchAggregate) -> str:
    labels = _labels(agg)
    return _template().render(
        agg=agg,
        labels=labels,
        ranking=lambda pref: ranking_text(pref, labels),
        simulated_banner=SIMULATED_BANNER,
        # Built above with every user string XML-escaped: safe to pass through.
        chart=Markup(support_svg(agg)),
        by_mode=any(len(v.by_mode) > 1 for v in agg.variants),
        stances=STANCE_DISPLAY_ORDER,
        quality_rows=_quality_rows(agg),
        method=METHOD_SUMMARY,
        shown=POINTS_SHOWN,
        verdict_sentence=verdict_sentence,
        signed=signed,
        num=num,
        pct=pct,
        p_text=p_text,
        ci_text=ci_text,
        stance_label=stance_label,
    )
