"""Report exports: Markdown, HTML (with SVG charts), PDF, JSON (+ published schema), CSV."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pypdf
import pytest

from simfocus.reports.exports import (
    CONTENT_TYPES,
    CSV_COLUMNS,
    FILE_SUFFIXES,
    export_filename,
    export_report,
    report_json_schema,
    transcript_csv,
)
from simfocus.reports.exports import pdf as pdf_module
from simfocus.reports.exports.charts import stance_svg, talk_share_svg
from simfocus.reports.exports.json_export import SCHEMA_ID, report_json_schema_text
from simfocus.reports.exports.markdown import render_markdown_report
from simfocus.reports.schemas import (
    Analytics,
    Controversy,
    PersonaAnalytics,
    PersonaStanceTrack,
    Point,
    QualityScores,
    Report,
    ReportSections,
    ReportStatus,
    RoundAnalytics,
    StanceChange,
    Viewpoint,
)
from simfocus.transcripts.schemas import (
    Transcript,
    TranscriptMessage,
    TranscriptParticipant,
    Usage,
)

REPO = Path(__file__).resolve().parents[2]
HOSTILE = "<script>alert(1)</script>"
NAMES = ("Zoë Ångström", "Marcus Lee", "Priya Patel")
OVERVIEW = "The panel agreed that price matters more than the brand."
SECTION_HEADERS = (
    "Overview",
    "Viewpoints",
    "Consensus",
    "Controversies",
    "Insights",
    "Recommendations",
    "Quality scores",
    "Analytics",
    "Appendix: transcript",
)


def _message(
    seq: int, round_no: int, speaker: str, content: str, **kw: object
) -> TranscriptMessage:
    pid = {name: f"p{i}" for i, name in enumerate(NAMES)}.get(speaker)
    fields: dict[str, object] = {
        "seq": seq,
        "round": round_no,
        "phase": "opening" if round_no == 1 else "debate",
        "role": "persona" if pid else "moderator",
        "kind": "statement" if pid else "announcement",
        "speaker": speaker,
        "participant_id": pid,
        "content": content,
        "stance": "neutral" if pid else None,
        "responds_to_seq": None,
        "prompt_tokens": 100 if pid else 0,
        "completion_tokens": 40 if pid else 0,
        "cost_micro_usd": 1200 if pid else 0,
        "simulated": False,
        "created_at": f"2025-01-01T10:00:{seq:02d}+00:00",
    }
    fields.update(kw)
    return TranscriptMessage.model_validate(fields)


@pytest.fixture
def transcript() -> Transcript:
    zoe, marcus, priya = NAMES
    messages = [
        _message(1, 1, "Moderator", "Welcome. Today: pricing of the new plan."),
        _message(2, 1, zoe, "I think €12 is “too much” — honestly…", stance="oppose"),
        _message(3, 1, marcus, f"Price is fine. {HOSTILE}", stance="support"),
        _message(4, 1, priya, '=HYPERLINK("http://evil","x"), and "quotes"\nsecond line'),
        _message(5, 2, "User", "+what about students?", role="user", kind="question"),
        _message(6, 2, zoe, "Students need a discount.", stance="neutral", responds_to_seq=5),
        _message(7, 2, marcus, "-1 for discounts, @all", stance="support", responds_to_seq=6),
        _message(8, 2, priya, "ok", stance="critical_exploration"),
    ]
    participants = [
        TranscriptParticipant(
            id=f"p{i}",
            position=i,
            name=name,
            profession=("Designer", "Engineer", "Analyst")[i],
            initial_stance=("oppose", "support", "neutral")[i],
            final_stance=("neutral", "support", "critical_exploration")[i],
            message_count=2,
        )
        for i, name in enumerate(NAMES)
    ]
    return Transcript(
        discussion_id="d1",
        name="Pricing panel",
        status="completed",
        status_reason=None,
        topic={"title": "Pricing", "description": "Is €12 right?", "context": ""},
        spec={"mode": "debate", "max_rounds": 2, "provider": {"name": "openai", "model": "x"}},
        simulated=True,
        participants=participants,
        messages=messages,
        usage=Usage(prompt_tokens=600, completion_tokens=240, cost_usd=0.0072, cost_micro_usd=7200),
        started_at="2025-01-01T10:00:00+00:00",
        ended_at="2025-01-01T10:05:00+00:00",
    )


def _scores() -> QualityScores:
    zoe, marcus, priya = NAMES
    return QualityScores(
        participation_balance=0.9,
        responsiveness=0.5,
        novelty=0.7,
        repetition=0.1,
        question_coverage=None,
        depth=0.4,
        diversity=0.6,
        constructiveness=0.8,
        coherence=0.75,
        overall=0.66,
        stance_movement=[
            PersonaStanceTrack(
                participant_id="p0",
                name=zoe,
                initial_stance="oppose",
                final_stance="neutral",
                by_round=["oppose", "neutral"],
                changes=1,
                net_shift=1.0,
            ),
            PersonaStanceTrack(
                participant_id="p1",
                name=marcus,
                initial_stance="support",
                final_stance="support",
                by_round=[None, "support"],  # silent in round 1: a gap
                changes=0,
                net_shift=0.0,
            ),
            PersonaStanceTrack(
                participant_id="p2",
                name=priya,
                initial_stance="neutral",
                final_stance="critical_exploration",
                by_round=["neutral", "critical_exploration"],
                changes=1,
                net_shift=-0.33,
            ),
        ],
    )


def _analytics() -> Analytics:
    return Analytics(
        discussion_id="d1",
        personas=[
            PersonaAnalytics(
                participant_id=f"p{i}",
                name=name,
                messages=2,
                words=(30, 50, 20)[i],
                prompt_tokens=200,
                completion_tokens=80,
                cost_micro_usd=2400,
                talk_share=(0.3, 0.5, 0.2)[i],
            )
            for i, name in enumerate(NAMES)
        ],
        rounds=[
            RoundAnalytics(round=1, phase="opening", messages=4, duration_s=12.5),
            RoundAnalytics(round=2, phase="debate", messages=4, duration_s=75.0),
        ],
        messages=8,
        persona_messages=6,
        words=100,
        prompt_tokens=600,
        completion_tokens=240,
        cost_micro_usd=7200,
        duration_s=87.5,
    )


def _report(**kw: object) -> Report:
    zoe, marcus, _ = NAMES
    fields: dict[str, object] = {
        "id": "r1",
        "discussion_id": "d1",
        "status": ReportStatus.READY,
        "title": "Pricing: what the panel said",
        "topic": "Pricing",
        "mode": "debate",
        "simulated": True,
        "sections": ReportSections(
            overview=Point(text=OVERVIEW, citations=[2, 3]),
            viewpoints=[
                Viewpoint(
                    participant_id="p0",
                    name=zoe,
                    initial_stance="oppose",
                    final_stance="neutral",
                    position=Point(text="Too expensive without a discount.", citations=[2]),
                    key_arguments=[Point(text="Students need a discount.", citations=[6])],
                    stance_changes=[
                        StanceChange(seq=6, round=2, from_stance="oppose", to_stance="neutral")
                    ],
                    movement="moved from oppose to neutral in round 2",
                ),
                Viewpoint(
                    participant_id="p1",
                    name=marcus,
                    initial_stance="support",
                    final_stance="support",
                    position=Point(text=f"The price is fine {HOSTILE}", citations=[3, 7]),
                ),
            ],
            consensus=[Point(text="A student plan is worth testing.", citations=[6, 8])],
            controversies=[
                Controversy(
                    point=Point(text="Whether €12 is fair.", citations=[2, 3]),
                    sides={"oppose": [zoe], "support": [marcus, HOSTILE]},
                )
            ],
            insights=[Point(text="Price anchors on competitors.", citations=[4])],
            recommendations=[Point(text="Test a €9 student tier.", citations=[6])],
        ),
        "quality_scores": _scores(),
        "analytics": _analytics(),
        "llm_calls": 2,
        "cost_micro_usd": 3000,
        "generation_time_ms": 4200,
        "created_at": "2025-01-01T10:06:00+00:00",
        "updated_at": "2025-01-01T10:06:00+00:00",
    }
    fields.update(kw)
    return Report.model_validate(fields)


@pytest.fixture
def report() -> Report:
    return _report()


@pytest.fixture
def partial() -> Report:
    return _report(
        status=ReportStatus.PARTIAL,
        sections=None,
        note="The writer model timed out; scores and analytics are measured.",
    )


# --- Markdown ---------------------------------------------------------------------------


def test_markdown_has_every_section_persona_and_citation(
    report: Report, transcript: Transcript
) -> None:
    md = export_report(report, transcript, "md").decode("utf-8")
    assert md.startswith("# Pricing: what the panel said\n")
    for header in SECTION_HEADERS:
        assert f"## {header}" in md
    for name in NAMES:
        assert name in md
    assert f"{OVERVIEW} [#2, #3]" in md
    assert "[#2]" in md and "[#6]" in md
    assert "Simulated" in md
    assert "oppose → neutral" in md  # the viewpoint's stance movement
    assert "**#4 · Priya Patel**" in md  # an appendix message, so citations can be followed
    assert "| Zoë Ångström | 2 | 30 | 280 | $0.0024 | 30.0% |" in md
    assert "1 - the Gini coefficient" in md or "Participation balance" in md
    assert "<script>" not in md  # raw HTML from user text is neutralised


def test_markdown_partial_report_shows_status_and_note(
    partial: Report, transcript: Transcript
) -> None:
    md = render_markdown_report(partial, transcript)
    assert "Status: partial" in md and "The writer model timed out" in md
    assert "## Overview" not in md
    for header in ("Quality scores", "Analytics", "Appendix: transcript"):
        assert f"## {header}" in md


# --- HTML -------------------------------------------------------------------------------


class _Collector(HTMLParser):
    """Tags, ids and URL-bearing attributes of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.urls: list[str] = []
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            if key == "id" and value:
                self.ids.add(value)
            if key in ("src", "href", "xlink:href", "srcset", "action", "data") and value:
                self.urls.append(value)
            if key == "href" and value and tag == "a":
                self.hrefs.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_self_contained_escaped_and_linked(report: Report, transcript: Transcript) -> None:
    html = export_report(report, transcript, "html").decode("utf-8")
    parser = _Collector()
    parser.feed(html)
    parser.close()

    # The hostile name is text, never markup.
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert parser.tags.count("script") == 0
    assert HOSTILE in "".join(parser.text)
    # Nothing external: no URL in src/href, no <link>, no @import.
    assert not [u for u in parser.urls if re.match(r"(?i)\s*(https?:)?//", u)]
    assert "link" not in parser.tags and "@import" not in html
    assert "@media print" in html and "page-break-before: always" in html
    # Citations link to the messages' anchors, and every anchor they name exists.
    assert '<a href="#m2">#2</a>' in html
    cited = {h[1:] for h in parser.hrefs if h.startswith("#m")}
    assert {"m2", "m3", "m4", "m6", "m7", "m8"} <= cited
    assert cited <= parser.ids
    assert {f"m{m.seq}" for m in transcript.messages} <= parser.ids
    # Two inline charts, each a well-formed SVG document.
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    assert len(svgs) == 2 and html.count("<svg") == 2
    for svg in svgs:
        ET.fromstring(svg)
    for name in NAMES:
        assert name in html
    assert OVERVIEW in html
    for header in SECTION_HEADERS:
        assert header in html


def test_html_partial_report(partial: Report, transcript: Transcript) -> None:
    html = export_report(partial, transcript, "html").decode("utf-8")
    assert "The writer model timed out" in html
    assert 'id="overview"' not in html
    assert html.count("<svg") == 2  # measured parts are still there


def test_html_without_scores_or_analytics(transcript: Transcript) -> None:
    bare = _report(quality_scores=None, analytics=None, simulated=False)
    html = export_report(bare, transcript, "html").decode("utf-8")
    assert "<svg" not in html and "Simulated:" not in html


# --- charts -----------------------------------------------------------------------------


def _svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [el.text or "" for el in root.iter() if el.tag.endswith("text")]


def test_talk_share_chart_labels_and_escapes() -> None:
    analytics = _analytics().model_copy(
        update={
            "personas": [
                *_analytics().personas,
                PersonaAnalytics(
                    participant_id="px",
                    name=HOSTILE,
                    messages=0,
                    words=0,
                    prompt_tokens=0,
                    completion_tokens=0,
                    cost_micro_usd=0,
                    talk_share=0.0,
                ),
            ]
        }
    )
    svg = talk_share_svg(analytics)
    texts = _svg_texts(svg)
    assert "Zoë Ångström" in texts and "50.0%" in texts
    assert any(t.startswith("<script>alert(1)") for t in texts)  # escaped, then parsed back
    assert "<script>" not in svg
    assert len(ET.fromstring(svg).findall("{http://www.w3.org/2000/svg}g")) == 4


def _track(name: str, by_round: list[str | None]) -> PersonaStanceTrack:
    return PersonaStanceTrack(
        participant_id=name,
        name=name,
        initial_stance="neutral",
        final_stance="neutral",
        by_round=by_round,
        changes=0,
        net_shift=0.0,
    )


@pytest.mark.parametrize(
    "tracks",
    [
        [],  # nobody
        [_track("Solo", [])],  # 0 rounds
        [_track("Solo", ["support"])],  # 1 persona, 1 round
        [_track("Silent", [None, None, None])],  # all gaps
        [_track(f"P{i} {HOSTILE}", ["oppose", None, "neutral", "bogus"]) for i in range(10)],
    ],
)
def test_stance_chart_edge_cases(tracks: list[PersonaStanceTrack]) -> None:
    scores = _scores().model_copy(update={"stance_movement": tracks})
    svg = stance_svg(scores)
    root = ET.fromstring(svg)
    assert "<script>" not in svg
    polylines = root.findall(".//{http://www.w3.org/2000/svg}polyline")
    assert polylines == []  # no run of two consecutive known stances in these cases
    if tracks and any(s in ("support", "oppose", "neutral") for t in tracks for s in t.by_round):
        assert root.findall(".//{http://www.w3.org/2000/svg}circle")


def test_stance_chart_draws_lines_with_gaps() -> None:
    svg = stance_svg(_scores())
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    # Zoë and Priya spoke in both rounds (a line each); Marcus only in round 2 (a marker).
    assert len(root.findall(f".//{ns}polyline")) == 2
    texts = _svg_texts(svg)
    for label in ("oppose", "critical exploration", "neutral", "support", "1", "2", *NAMES):
        assert label in texts
    assert stance_svg(None).startswith("<svg") and talk_share_svg(None).startswith("<svg")


# --- PDF --------------------------------------------------------------------------------


def _pdf_text(data: bytes) -> tuple[int, str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_pdf_has_names_overview_and_sections(report: Report, transcript: Transcript) -> None:
    data = export_report(report, transcript, "pdf")
    assert data.startswith(b"%PDF")
    pages, text = _pdf_text(data)
    assert pages >= 2  # the transcript appendix starts on its own page
    flat = _flat(text)
    # This machine has DejaVu Sans: the Unicode name must come through exactly.
    assert pdf_module.find_unicode_font() is not None, "expected DejaVu Sans on this machine"
    for name in NAMES:
        assert name in flat
    assert _flat(OVERVIEW) in flat
    assert "€12" in flat and "“too much”" in flat
    for header in SECTION_HEADERS:
        assert header in flat
    assert "#2" in flat and "Talk share" in flat
    # Citations link to named destinations on the transcript messages, as in the HTML.
    destinations = pypdf.PdfReader(io.BytesIO(data)).named_destinations
    assert {f"m{m.seq}" for m in transcript.messages} <= set(destinations)


def test_pdf_without_unicode_font_falls_back_to_latin1(
    report: Report, transcript: Transcript, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_module, "find_unicode_font", lambda dirs=None: None)
    data = export_report(report, transcript, "pdf")
    _, text = _pdf_text(data)
    flat = _flat(text)
    for name in NAMES:  # Zoë Ångström is Latin-1: it survives the core fonts too
        assert name in flat
    assert _flat(OVERVIEW) in flat
    assert '"too much" - honestly...' in flat  # typographic quotes/dashes made Latin-1
    assert "EUR12" in flat


def test_pdf_partial_report(partial: Report, transcript: Transcript) -> None:
    pages, text = _pdf_text(export_report(partial, transcript, "pdf"))
    flat = _flat(text)
    assert pages >= 2 and "The writer model timed out" in flat
    assert "Overview" not in flat and "Quality scores" in flat


def test_sanitise() -> None:
    curly = "\u201ca\u201d \u2014 b\u2026 \u2019c\u2019 \u2192 \u0142 \u0151\x00\tx"
    assert pdf_module.sanitise(curly) == "\"a\" - b... 'c' -> l o    x"
    assert pdf_module.sanitise("漢") == "?"
    assert pdf_module.sanitise("Zoë Ångström") == "Zoë Ångström"


def test_find_unicode_font(tmp_path: Path) -> None:
    assert pdf_module.find_unicode_font([tmp_path]) is None
    (tmp_path / "DejaVuSans.ttf").write_bytes(b"")
    found = pdf_module.find_unicode_font([tmp_path])
    assert found is not None and found["B"] == tmp_path / "DejaVuSans.ttf"


# --- JSON -------------------------------------------------------------------------------


def test_json_export_validates_against_schema(
    report: Report, partial: Report, transcript: Transcript
) -> None:
    schema = report_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema.Draft202012Validator(schema)
    for r in (report, partial):
        doc = json.loads(export_report(r, transcript, "json"))
        assert doc["schema"] == SCHEMA_ID
        validator.validate(doc)
        assert Report.model_validate(doc["report"]) == r
        assert Transcript.model_validate(doc["transcript"]) == transcript
    broken = json.loads(export_report(report, transcript, "json"))
    broken["report"]["status"] = "nonsense"
    assert not validator.is_valid(broken)


def test_published_schema_is_current() -> None:
    path = REPO / "docs" / "schemas" / "report-v1.json"
    assert path.is_file(), "run: python scripts/write_report_schema.py"
    assert json.loads(path.read_text(encoding="utf-8")) == report_json_schema(), (
        "docs/schemas/report-v1.json is stale: run python scripts/write_report_schema.py"
    )
    assert path.read_text(encoding="utf-8") == report_json_schema_text()


# --- CSV --------------------------------------------------------------------------------


def test_transcript_csv_round_trips_and_guards_formulas(transcript: Transcript) -> None:
    data = transcript_csv(transcript)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(rows) == len(transcript.messages)
    assert tuple(rows[0]) == CSV_COLUMNS
    by_seq = {int(r["seq"]): r for r in rows}
    # Commas, quotes and newlines survive quoting; formulas are defused with a quote.
    assert by_seq[4]["content"] == '\'=HYPERLINK("http://evil","x"), and "quotes"\nsecond line'
    assert by_seq[5]["content"] == "'+what about students?"
    assert by_seq[7]["content"] == "'-1 for discounts, @all"
    assert by_seq[2]["content"] == transcript.messages[1].content  # Unicode intact
    assert by_seq[6]["responds_to_seq"] == "5" and by_seq[1]["responds_to_seq"] == ""
    assert by_seq[2]["cost_usd"] == "0.001200"
    assert by_seq[3]["speaker"] == "Marcus Lee" and by_seq[3]["stance"] == "support"
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@"))


# --- API --------------------------------------------------------------------------------


def test_formats_content_types_and_filenames(report: Report) -> None:
    assert set(CONTENT_TYPES) == set(FILE_SUFFIXES) == {"md", "html", "pdf", "json", "csv"}
    assert export_filename(report, "pdf") == "simfocus-report-pricing-what-the-panel-said-r1.pdf"
    odd = _report(title="Zoë's café / ../../etc", id="../x")
    assert export_filename(odd, "md") == "simfocus-report-zoe-s-cafe-etc-x.md"
    with pytest.raises(ValueError):
        export_report(report, _report_transcript_placeholder(), "docx")  # type: ignore[arg-type]


def _report_transcript_placeholder() -> Transcript:
    return Transcript(
        discussion_id="d",
        name="",
        status="completed",
        status_reason=None,
        topic={},
        spec={},
        simulated=False,
        participants=[],
        messages=[],
        usage=Usage(prompt_tokens=0, completion_tokens=0, cost_usd=0, cost_micro_usd=0),
        started_at=None,
        ended_at=None,
    )


def test_empty_transcript_renders_in_every_format(report: Report) -> None:
    empty = _report_transcript_placeholder()
    bare = _report(sections=None, quality_scores=None, analytics=None)
    for fmt in ("md", "html", "pdf", "json"):
        assert export_report(bare, empty, fmt)  # type: ignore[arg-type]
    assert transcript_csv(empty).decode("utf-8").count("\r\n") == 1
