"""The report as a PDF, drawn with fpdf2: same content as the HTML export.

Fonts: fpdf2's built-in fonts cover Latin-1 only. When DejaVu Sans is installed at a known
place it is embedded and any text it has glyphs for prints as written; otherwise (or for
characters the font lacks) text is mapped to close Latin-1 look-alikes (curly quotes become
straight ones, dashes hyphens, "…" three dots) and anything left becomes ``?``: the PDF is
always produced, never refused for one character.

Charts are drawn with fpdf2's own lines and shapes from the same data as the SVG charts:
their labels stay real, searchable text, and no SVG support is needed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from simfocus.reports.exports._common import (
    DASH,
    SECTION_TITLES,
    SIMULATED_BANNER,
    STANCE_ORDER,
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
from simfocus.reports.exports.charts import (
    hex_rgb,
    segments,
    stance_series,
    talk_share_bars,
)
from simfocus.reports.schemas import Analytics, Point, QualityScores, Report, ReportSections
from simfocus.transcripts.schemas import Transcript


def _font_dirs() -> list[Path]:
    dirs = [
        Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
        Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora, RHEL
        Path("/usr/share/fonts/dejavu"),  # Alpine, openSUSE
        Path("/usr/share/fonts/TTF"),  # Arch
        Path("/usr/local/share/fonts"),
        Path("/Library/Fonts"),  # macOS
    ]
    try:
        home = Path.home()
    except RuntimeError:  # no HOME: only the system places
        return dirs
    return [*dirs, home / ".local/share/fonts", home / ".fonts", home / "Library/Fonts"]


FONT_FILES: dict[str, str] = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}


def find_unicode_font(dirs: Iterable[Path] | None = None) -> dict[str, Path] | None:
    """DejaVu Sans by style ("", "B", "I", "BI"), or None when the regular face is missing.

    A missing bold or oblique face falls back to the regular one, so styles never fail.
    """
    for folder in _font_dirs() if dirs is None else dirs:
        regular = folder / FONT_FILES[""]
        if regular.is_file():
            found = {}
            for style, name in FONT_FILES.items():
                path = folder / name
                found[style] = path if path.is_file() else regular
            return found
    return None


# Close Latin-1 stand-ins for characters the chosen font cannot print.
_REPLACEMENTS: dict[str, str] = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\u2023": "-",
    "\u2043": "-",
    "\u2192": "->",
    "\u21d2": "=>",
    "\u2190": "<-",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u2248": "~",
    "\u20ac": "EUR",
    "\u2122": "(TM)",
    "\u0141": "L",  # L/D with stroke, oe, dotless i: NFKD does not split these
    "\u0142": "l",
    "\u0110": "D",
    "\u0111": "d",
    "\u0152": "OE",
    "\u0153": "oe",
    "\u0131": "i",
    "\u26a0": "!",
    "\u2713": "v",
    "\u2714": "v",
    "\u2009": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u200b": "",
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
    "\ufe0f": "",
}


def _stand_in(char: str, printable: Callable[[str], bool]) -> str:
    replacement = _REPLACEMENTS.get(char)
    if replacement is not None:
        return replacement
    # "ł" or "ő": the base letter without its accent is better than a question mark.
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if base and all(printable(c) for c in base):
        return base
    return "?"


def _latin1(char: str) -> bool:
    return ord(char) < 256


def sanitise(text: str, printable: Callable[[str], bool] = _latin1) -> str:
    """Text the font can print: control characters dropped, the rest mapped or ``?``."""
    out = []
    for char in text:
        if char == "\n":
            out.append(char)
        elif char == "\t":
            out.append("    ")
        elif unicodedata.category(char) in ("Cc", "Cs"):
            continue  # NUL, escape codes, lone surrogates: nothing to print
        elif printable(char):
            out.append(char)
        else:
            out.append(_stand_in(char, printable))
    return "".join(out)


# seq → named destination "#m12", the same name as the HTML anchor (report.pdf#m12 works).
Links = dict[int, str]

ACCENT = (47, 93, 138)
MUTED = (91, 101, 112)
INK = (29, 35, 42)
RULE = (217, 222, 227)


class ReportPDF(FPDF):
    """A4 pages with a footer; every string passes :func:`sanitise` for the current font."""

    def __init__(self, footer: str, fonts: dict[str, Path] | None) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer
        self.set_margins(18, 16, 18)
        self.set_auto_page_break(auto=True, margin=18)
        if fonts:
            for style, path in fonts.items():
                self.add_font("DejaVu", style, str(path))
            self.base_family = "DejaVu"
        else:
            self.base_family = "Helvetica"
        self.has_unicode_font = fonts is not None
        self.set_font(self.base_family, size=10)

    def normalize_text(self, text: str) -> str:
        # fpdf2 passes every string it prints (cells, tables, write) through here: the one
        # place to make text printable, whatever path it came by.
        if self.is_ttf_font and self.current_font is not None:
            cmap = self.current_font.cmap  # type: ignore[union-attr]
            text = sanitise(text, lambda c: ord(c) in cmap)
        else:
            text = sanitise(text)
        return super().normalize_text(text)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.base_family, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.footer_text} · page {self.page_no()}/{{nb}}", align="C")
        self.set_text_color(*INK)


# --- building blocks --------------------------------------------------------------------


def _heading(pdf: ReportPDF, text: str, level: int = 2) -> None:
    size = {1: 20, 2: 14, 3: 11.5}[level]
    space = {1: 0, 2: 6, 3: 3}[level]
    # Keep a heading with the first lines under it.
    if pdf.will_page_break(space + size * 0.5 + 18):
        pdf.add_page()
    else:
        pdf.ln(space)
    pdf.set_font(pdf.base_family, "B", size)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if level == 2:
        pdf.set_draw_color(*RULE)
        pdf.set_line_width(0.5)
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.w - pdf.r_margin, pdf.get_y() + 1)
        pdf.ln(3)
    else:
        pdf.ln(1)
    pdf.set_font(pdf.base_family, "", 10)


def _para(
    pdf: ReportPDF,
    text: str,
    *,
    size: float = 10,
    style: str = "",
    colour: tuple[int, int, int] = INK,
) -> None:
    pdf.set_font(pdf.base_family, style, size)
    pdf.set_text_color(*colour)
    pdf.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*INK)
    pdf.set_font(pdf.base_family, "", 10)


def _banner(pdf: ReportPDF, text: str, fill: tuple[int, int, int]) -> None:
    pdf.ln(2)
    pdf.set_fill_color(*fill)
    pdf.set_font(pdf.base_family, "B", 9.5)
    pdf.multi_cell(0, 5, text, fill=True, padding=2, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.base_family, "", 10)
    pdf.ln(2)


def _citations(pdf: ReportPDF, seqs: Sequence[int], links: Links, h: float) -> None:
    if not seqs:
        return
    pdf.set_text_color(*MUTED)
    pdf.write(h, " [")
    for i, seq in enumerate(seqs):
        if i:
            pdf.write(h, ", ")
        pdf.set_text_color(*ACCENT)
        pdf.write(h, f"#{seq}", link=links.get(seq, ""))  # no link to a seq not in the transcript
        pdf.set_text_color(*MUTED)
    pdf.write(h, "]")
    pdf.set_text_color(*INK)


def _point(
    pdf: ReportPDF,
    point: Point,
    links: Links,
    *,
    bullet: str | None = "•",
    indent: float = 0,
    lead: str = "",
) -> None:
    """A point as flowing text with linked citations; bullets hang."""
    h = 5.0
    base = pdf.l_margin
    pdf.set_left_margin(base + indent)
    pdf.set_x(base + indent)
    if bullet:
        pdf.cell(4, h, bullet)
        pdf.set_left_margin(base + indent + 4)
    if lead:
        pdf.set_font(pdf.base_family, "B", 10)
        pdf.write(h, lead + " ")
        pdf.set_font(pdf.base_family, "", 10)
    pdf.write(h, " ".join(point.text.split()))
    _citations(pdf, cited(point), links, h)
    pdf.ln(h + 1)
    pdf.set_left_margin(base)
    pdf.set_x(base)


def _points(pdf: ReportPDF, points: list[Point], links: Links) -> None:
    if not points:
        _para(pdf, "None.", style="I", colour=MUTED)
    for p in points:
        _point(pdf, p, links)


def _table(
    pdf: ReportPDF,
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    align: Sequence[str],
    *,
    headings: bool = True,
    size: float = 9,
) -> None:
    # A short table is kept whole rather than split a row or two over a page break.
    if len(rows) <= 6 and pdf.will_page_break(len(rows) * (size * 0.5 + 2.4) + 2):
        pdf.add_page()
    pdf.set_font(pdf.base_family, "", size)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    # Cells would otherwise be filled with whatever fill colour was set last (a banner's).
    pdf.set_fill_color(255, 255, 255)
    with pdf.table(
        col_widths=tuple(widths),
        text_align=tuple(align),
        first_row_as_headings=headings,
        headings_style=FontFace(emphasis="BOLD", fill_color=(236, 240, 244)),
        cell_fill_color=(248, 249, 250),
        cell_fill_mode="ROWS",  # zebra stripes: easier to follow a row across
        line_height=size * 0.5,
        padding=1.2,
        borders_layout="HORIZONTAL_LINES",
        width=pdf.epw,
    ) as table:
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(value)
    pdf.set_font(pdf.base_family, "", 10)
    pdf.ln(2)


def _fit(pdf: ReportPDF, text: str, width: float) -> str:
    """Shorten a label with "..." until it fits ``width`` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "...") > width:
        text = text[:-1]
    return text.rstrip() + "..."


# --- charts -----------------------------------------------------------------------------


def _talk_share_chart(pdf: ReportPDF, analytics: Analytics) -> None:
    bars = talk_share_bars(analytics)
    if not bars:
        return
    bar_h, gap, label_w, value_w = 5.0, 2.0, 45.0, 16.0
    height = len(bars) * (bar_h + gap)
    if pdf.will_page_break(height + 4):
        pdf.add_page()
    x0, y = pdf.l_margin, pdf.get_y() + 2
    span = pdf.epw - label_w - value_w
    pdf.set_font(pdf.base_family, "", 8.5)
    for bar in bars:
        pdf.set_xy(x0, y)
        pdf.cell(label_w - 2, bar_h, _fit(pdf, bar.name, label_w - 3), align="R")
        pdf.set_fill_color(238, 238, 238)
        pdf.rect(x0 + label_w, y, span, bar_h, style="F")
        pdf.set_fill_color(*hex_rgb(bar.colour))
        if bar.share > 0:
            pdf.rect(x0 + label_w, y, span * bar.share, bar_h, style="F")
        pdf.set_xy(x0 + label_w + span + 1, y)
        pdf.cell(value_w - 1, bar_h, format_share(bar.share))
        y += bar_h + gap
    pdf.set_xy(x0, y + 2)
    pdf.set_font(pdf.base_family, "", 10)


def _stance_chart(pdf: ReportPDF, scores: QualityScores) -> None:
    series, rounds = stance_series(scores)
    if not series or rounds == 0:
        return
    label_w, plot_h, axis_h, row_h, cols = 32.0, 48.0, 10.0, 5.0, 3
    legend_h = -(-len(series) // cols) * row_h
    total = plot_h + axis_h + legend_h + 8
    if pdf.will_page_break(total):
        pdf.add_page()
    x0, top = pdf.l_margin, pdf.get_y() + 4
    plot_w = pdf.epw - label_w - 2
    step_y = plot_h / (len(STANCE_ORDER) - 1)
    step_x = plot_w / rounds
    spread = min(step_y * 0.3, 1.0 * (len(series) - 1))

    def px(index: int) -> float:
        return x0 + label_w + step_x * (index + 0.5)

    def py(level: int, offset: float = 0.0) -> float:
        return top + plot_h - level * step_y + offset * spread

    pdf.set_font(pdf.base_family, "", 8)
    pdf.set_text_color(*MUTED)
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.2)
    for level, stance in enumerate(STANCE_ORDER):
        y = py(level)
        pdf.line(x0 + label_w, y, x0 + label_w + plot_w, y)
        pdf.set_xy(x0, y - 2)
        pdf.cell(label_w - 2, 4, stance_label(stance), align="R")
    for index in range(rounds):
        pdf.set_xy(px(index) - 5, top + plot_h + 1.5)
        pdf.cell(10, 4, str(index + 1), align="C")
    pdf.set_xy(x0 + label_w, top + plot_h + 5.5)
    pdf.cell(plot_w, 4, "Round", align="C")
    pdf.set_line_width(0.6)
    for s in series:
        rgb = hex_rgb(s.colour)
        pdf.set_draw_color(*rgb)
        pdf.set_fill_color(*rgb)
        for run in segments(s.levels):
            points = [(px(i), py(lv, s.offset)) for i, lv in run]
            if len(points) > 1:
                pdf.polyline(points, style="D")
            for x, y in points:
                pdf.circle(x - 1.0, y - 1.0, 1.0, style="F")  # x, y: top-left of the box
    pdf.set_text_color(*INK)
    legend_top = top + plot_h + axis_h + 2
    col_w = pdf.epw / cols
    for i, s in enumerate(series):
        x = x0 + (i % cols) * col_w
        y = legend_top + (i // cols) * row_h
        pdf.set_draw_color(*hex_rgb(s.colour))
        pdf.set_fill_color(*hex_rgb(s.colour))
        pdf.line(x, y + 2.5, x + 6, y + 2.5)
        pdf.circle(x + 2.0, y + 1.5, 1.0, style="F")
        pdf.set_xy(x + 7, y)
        pdf.cell(col_w - 8, 5, _fit(pdf, s.name, col_w - 9))
    pdf.set_line_width(0.2)
    pdf.set_xy(x0, legend_top + legend_h + 3)
    pdf.set_font(pdf.base_family, "", 10)


# --- sections ---------------------------------------------------------------------------


def _sections(pdf: ReportPDF, s: ReportSections, links: Links) -> None:
    _heading(pdf, SECTION_TITLES["overview"])
    _point(pdf, s.overview, links, bullet=None)

    _heading(pdf, SECTION_TITLES["viewpoints"])
    if not s.viewpoints:
        _para(pdf, "None.", style="I", colour=MUTED)
    for v in s.viewpoints:
        _heading(
            pdf,
            f"{v.name} — {stance_label(v.initial_stance)} → {stance_label(v.final_stance)}",
            level=3,
        )
        _point(pdf, v.position, links, bullet=None, lead="Position:")
        if v.key_arguments:
            _para(pdf, "Key arguments:", style="B")
            for arg in v.key_arguments:
                _point(pdf, arg, links, indent=2)
        if v.movement:
            _para(pdf, f"Movement: {v.movement}", style="I", colour=MUTED)
        for sc in v.stance_changes:
            change = Point(
                text=f"round {sc.round}: {stance_label(sc.from_stance)} → "
                f"{stance_label(sc.to_stance)}",
                citations=[sc.seq],
            )
            _point(pdf, change, links, indent=2, bullet="-")

    _heading(pdf, SECTION_TITLES["consensus"])
    _points(pdf, s.consensus, links)

    _heading(pdf, SECTION_TITLES["controversies"])
    if not s.controversies:
        _para(pdf, "None.", style="I", colour=MUTED)
    for c in s.controversies:
        _point(pdf, c.point, links)
        for side, names in c.sides.items():
            pdf.set_x(pdf.l_margin + 6)
            pdf.set_font(pdf.base_family, "I", 9.5)
            pdf.multi_cell(
                0,
                4.8,
                f"{stance_label(side)}: {', '.join(names) or DASH}",
                align="L",
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )
            pdf.set_font(pdf.base_family, "", 10)
        pdf.ln(1)

    _heading(pdf, SECTION_TITLES["insights"])
    _points(pdf, s.insights, links)
    _heading(pdf, SECTION_TITLES["recommendations"])
    _points(pdf, s.recommendations, links)


def _scores(pdf: ReportPDF, scores: QualityScores) -> None:
    _heading(pdf, SECTION_TITLES["scores"])
    _para(
        pdf,
        "Measured from the transcript, not judged by a model; every score is in [0, 1].",
        size=9,
        colour=MUTED,
    )
    rows: list[tuple[str, ...]] = [("Score", "Value", "How it is measured")]
    rows += [(r.label, format_score(r.value), r.formula) for r in score_rows(scores)]
    _table(pdf, rows, (40, 16, 118), ("LEFT", "RIGHT", "LEFT"))
    if scores.stance_movement:
        _heading(pdf, "Stance by round", level=3)
        if stance_formula():
            _para(pdf, stance_formula(), size=8.5, colour=MUTED)
        _stance_chart(pdf, scores)
        rows = [("Persona", "Start", "End", "Changes", "Net shift")]
        rows += [
            (
                t.name,
                stance_label(t.initial_stance),
                stance_label(t.final_stance),
                str(t.changes),
                f"{t.net_shift:+.2f}",
            )
            for t in scores.stance_movement
        ]
        _table(pdf, rows, (58, 36, 36, 20, 24), ("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT"))


def _analytics(pdf: ReportPDF, a: Analytics) -> None:
    _heading(pdf, SECTION_TITLES["analytics"])
    _para(
        pdf,
        f"{a.messages} messages ({a.persona_messages} by personas), {a.words} words, "
        f"{a.prompt_tokens} prompt + {a.completion_tokens} completion tokens, "
        f"{format_cost(a.cost_micro_usd)}, {format_duration(a.duration_s)}.",
        size=9.5,
    )
    _heading(pdf, "Talk share", level=3)
    _talk_share_chart(pdf, a)
    rows: list[tuple[str, ...]] = [("Persona", "Messages", "Words", "Tokens", "Cost", "Talk share")]
    rows += [
        (
            p.name,
            str(p.messages),
            str(p.words),
            str(p.prompt_tokens + p.completion_tokens),
            format_cost(p.cost_micro_usd),
            format_share(p.talk_share),
        )
        for p in a.personas
    ]
    _table(pdf, rows, (54, 22, 22, 24, 26, 26), ("LEFT", *["RIGHT"] * 5))
    if a.rounds:
        rows = [("Round", "Phase", "Messages", "Duration")]
        rows += [
            (str(r.round), r.phase, str(r.messages), format_duration(r.duration_s))
            for r in a.rounds
        ]
        _table(pdf, rows, (20, 70, 40, 44), ("RIGHT", "LEFT", "RIGHT", "RIGHT"))


def _appendix(pdf: ReportPDF, t: Transcript) -> None:
    pdf.add_page()
    _heading(pdf, SECTION_TITLES["appendix"])
    if t.participants:
        rows: list[tuple[str, ...]] = [("#", "Name", "Profession", "Start", "End", "Msgs")]
        rows += [
            (
                str(p.position + 1),
                p.name,
                p.profession,
                stance_label(p.initial_stance),
                stance_label(p.final_stance),
                str(p.message_count),
            )
            for p in t.participants
        ]
        _table(
            pdf,
            rows,
            (8, 46, 50, 28, 28, 14),
            ("RIGHT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT"),
        )
    phase = None
    for m in t.messages:
        if m.phase != phase:
            phase = m.phase
            _heading(pdf, phase.capitalize(), level=3)
        if pdf.will_page_break(14):
            pdf.add_page()
        pdf.set_link(name=f"m{m.seq}", y=pdf.get_y(), page=pdf.page)
        details = [f"round {m.round}"]
        if m.kind == "question":
            details.append("question")
        if m.stance:
            details.append(stance_label(m.stance))
        if m.responds_to_seq is not None:
            details.append(f"in reply to #{m.responds_to_seq}")
        pdf.set_font(pdf.base_family, "B", 9.5)
        pdf.set_text_color(*ACCENT)
        pdf.write(5, f"#{m.seq} ")
        pdf.set_text_color(*INK)
        pdf.write(5, m.speaker)
        pdf.set_font(pdf.base_family, "", 8.5)
        pdf.set_text_color(*MUTED)
        pdf.write(5, " · " + " · ".join(details))
        pdf.ln(5)
        italic = "I" if m.role == "moderator" else ""
        _para(pdf, m.content.strip() or "(empty)", size=9.5, style=italic)
        pdf.ln(2)
    if not t.messages:
        _para(pdf, "No messages.", style="I", colour=MUTED)


def render_pdf(report: Report, transcript: Transcript) -> bytes:
    fonts = find_unicode_font()
    pdf = ReportPDF(footer=f"simFocus report · {report.title[:60]}", fonts=fonts)
    pdf.set_title(report.title)
    pdf.set_subject(report.topic)
    pdf.set_author("simFocus")
    pdf.set_creator("simFocus")
    pdf.set_lang("en")
    # Named destinations can be linked to before they exist: the appendix places them.
    links: Links = {m.seq: f"#m{m.seq}" for m in transcript.messages}
    pdf.add_page()

    _heading(pdf, report.title, level=1)
    _para(pdf, report.topic, size=12, colour=MUTED)
    if report.simulated:
        _banner(pdf, SIMULATED_BANNER, (255, 244, 214))
    status = status_line(report)
    if status:
        _banner(pdf, status, (253, 232, 232))
    pdf.ln(2)
    _table(pdf, metadata(report, transcript), (38, 136), ("LEFT", "LEFT"), headings=False)

    if report.sections is not None:
        _sections(pdf, report.sections, links)
    if report.quality_scores is not None:
        _scores(pdf, report.quality_scores)
    if report.analytics is not None:
        _analytics(pdf, report.analytics)
    _appendix(pdf, transcript)
    return bytes(pdf.output())
