"""The report's two charts as inline SVG, plus the data both SVG and PDF charts draw from.

No plotting library: the charts are small, and hand-written SVG keeps the HTML export a
single self-contained file. Every piece of user text (persona names) is XML-escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from simfocus.reports.exports._common import STANCE_ORDER, format_share, stance_label
from simfocus.reports.schemas import Analytics, QualityScores

# Tableau 10: distinguishable for up to ten personas, and for most colour-blind readers.
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
)

FONT = "-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
WIDTH = 640


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def hex_rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _x(text: str) -> str:
    """Escape text for an SVG text node or a double-quoted attribute."""
    return escape(text, {'"': "&quot;"})


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- data -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShareBar:
    name: str
    share: float  # 0..1
    colour: str


def talk_share_bars(analytics: Analytics | None) -> list[ShareBar]:
    if analytics is None:
        return []
    return [
        ShareBar(p.name, min(max(p.talk_share, 0.0), 1.0), colour(i))
        for i, p in enumerate(analytics.personas)
    ]


@dataclass(frozen=True, slots=True)
class StanceSeries:
    name: str
    colour: str
    levels: list[int | None]  # index into STANCE_ORDER per round; None where silent
    offset: float  # -0.5 ... 0.5: spreads personas holding the same stance apart


def stance_series(scores: QualityScores | None) -> tuple[list[StanceSeries], int]:
    """One series per persona and the number of rounds (x axis: round 1 … n)."""
    if scores is None or not scores.stance_movement:
        return [], 0
    tracks = scores.stance_movement
    rounds = max(len(t.by_round) for t in tracks)
    n = len(tracks)
    series = []
    for i, t in enumerate(tracks):
        # Unknown stance names become gaps rather than a guess at where they belong.
        levels = [STANCE_ORDER.index(s) if s in STANCE_ORDER else None for s in t.by_round]
        offset = 0.0 if n == 1 else (i / (n - 1)) - 0.5
        series.append(StanceSeries(t.name, colour(i), levels, offset))
    return series, rounds


def segments(levels: list[int | None]) -> list[list[tuple[int, int]]]:
    """Runs of consecutive rounds with a stance: a None round breaks the line."""
    runs: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for index, level in enumerate(levels):
        if level is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, level))
    if current:
        runs.append(current)
    return runs


# --- SVG --------------------------------------------------------------------------------


def _svg_open(height: float, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-label="{_x(label)}" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" font-family="{_x(FONT)}" font-size="12">'
        f"<title>{_x(label)}</title>"
    )


def _empty(label: str, message: str) -> str:
    return (
        _svg_open(60, label)
        + f'<text x="{WIDTH / 2:.0f}" y="34" text-anchor="middle" fill="#666">{_x(message)}</text>'
        + "</svg>"
    )


def talk_share_svg(analytics: Analytics | None) -> str:
    """Horizontal bars: each persona's share of the words personas said."""
    label = "Talk share per persona"
    bars = talk_share_bars(analytics)
    if not bars:
        return _empty(label, "No persona spoke.")
    bar_h, gap, top, left, right = 22, 8, 12, 170, 60
    height = top * 2 + len(bars) * (bar_h + gap) - gap
    span = WIDTH - left - right
    parts = [_svg_open(height, label)]
    for i, bar in enumerate(bars):
        y = top + i * (bar_h + gap)
        width = span * bar.share
        parts.append(
            f"<g><title>{_x(bar.name)}: {format_share(bar.share)}</title>"
            f'<text x="{left - 8}" y="{y + bar_h / 2 + 4:.1f}" text-anchor="end" '
            f'fill="#222">{_x(shorten(bar.name, 24))}</text>'
            f'<rect x="{left}" y="{y}" width="{span}" height="{bar_h}" fill="#eee"/>'
            f'<rect x="{left}" y="{y}" width="{width:.1f}" height="{bar_h}" '
            f'fill="{bar.colour}"/>'
            f'<text x="{left + span + 6}" y="{y + bar_h / 2 + 4:.1f}" '
            f'fill="#222">{format_share(bar.share)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def stance_svg(scores: QualityScores | None) -> str:
    """Each persona's stance by round: a coloured line with markers, gaps where silent."""
    label = "Stance per persona by round"
    series, rounds = stance_series(scores)
    if not series or rounds == 0:
        return _empty(label, "No stances were recorded.")
    left, right, top, plot_h = 150, 20, 16, 180
    legend_cols, legend_row_h = 3, 20
    legend_rows = -(-len(series) // legend_cols)
    x_axis_h = 48
    height = top + plot_h + x_axis_h + legend_rows * legend_row_h + 8
    plot_w = WIDTH - left - right
    step_y = plot_h / (len(STANCE_ORDER) - 1)
    step_x = plot_w / rounds
    # Personas sharing a stance would hide each other: 3 px apart each, at most 30 % of a step.
    spread = min(step_y * 0.3, 3.0 * (len(series) - 1))

    def px(index: int) -> float:  # the middle of the round's column
        return left + step_x * (index + 0.5)

    def py(level: int, offset: float) -> float:
        return top + plot_h - level * step_y + offset * spread

    parts = [_svg_open(height, label)]
    for level, stance in enumerate(STANCE_ORDER):
        y = py(level, 0)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" '
            f'fill="#444">{_x(stance_label(stance))}</text>'
        )
    axis_y = top + plot_h + 24  # below the lowest markers, however spread
    for index in range(rounds):
        parts.append(
            f'<text x="{px(index):.1f}" y="{axis_y:.1f}" text-anchor="middle" '
            f'fill="#444">{index + 1}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{axis_y + 16:.1f}" text-anchor="middle" '
        f'fill="#666">Round</text>'
    )
    for s in series:
        group = [f"<g><title>{_x(s.name)}</title>"]
        for run in segments(s.levels):
            points = " ".join(f"{px(i):.1f},{py(lv, s.offset):.1f}" for i, lv in run)
            if len(run) > 1:
                group.append(
                    f'<polyline points="{points}" fill="none" stroke="{s.colour}" '
                    f'stroke-width="2.5" stroke-linejoin="round"/>'
                )
            for i, lv in run:
                group.append(
                    f'<circle cx="{px(i):.1f}" cy="{py(lv, s.offset):.1f}" r="4" '
                    f'fill="{s.colour}" stroke="#fff" stroke-width="1"/>'
                )
        group.append("</g>")
        parts.append("".join(group))
    legend_top = top + plot_h + x_axis_h
    col_w = (WIDTH - 20) / legend_cols
    for i, s in enumerate(series):
        x = 10 + (i % legend_cols) * col_w
        y = legend_top + (i // legend_cols) * legend_row_h
        parts.append(
            f"<g><title>{_x(s.name)}</title>"
            f'<line x1="{x:.1f}" y1="{y + 6}" x2="{x + 18:.1f}" y2="{y + 6}" '
            f'stroke="{s.colour}" stroke-width="2.5"/>'
            f'<circle cx="{x + 9:.1f}" cy="{y + 6}" r="4" fill="{s.colour}"/>'
            f'<text x="{x + 24:.1f}" y="{y + 10}" fill="#222">{_x(shorten(s.name, 26))}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return "".join(parts)
