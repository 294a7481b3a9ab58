"""Report exports: Markdown, HTML, PDF and JSON documents, and the transcript as CSV.

Pure functions of a :class:`Report` and its :class:`Transcript` — no database, Ray or web
imports — so the API, the CLI and tests can all call them. The PDF renderer (fpdf2) is
imported only when a PDF is asked for.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from simfocus.reports.exports.csv_export import CSV_COLUMNS, transcript_csv
from simfocus.reports.exports.json_export import SCHEMA_ID, export_json, report_json_schema
from simfocus.reports.schemas import Report
from simfocus.transcripts.schemas import Transcript

ReportFormat = Literal["md", "html", "pdf", "json"]

CONTENT_TYPES: dict[str, str] = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
}

FILE_SUFFIXES: dict[str, str] = {
    "md": ".md",
    "html": ".html",
    "pdf": ".pdf",
    "json": ".json",
    "csv": ".csv",
}

__all__ = [
    "CONTENT_TYPES",
    "CSV_COLUMNS",
    "FILE_SUFFIXES",
    "SCHEMA_ID",
    "ReportFormat",
    "export_filename",
    "export_report",
    "report_json_schema",
    "transcript_csv",
]


def export_report(report: Report, transcript: Transcript, fmt: ReportFormat) -> bytes:
    """The report in ``fmt`` as bytes (text formats are UTF-8)."""
    if fmt == "md":
        from simfocus.reports.exports.markdown import render_markdown_report

        return render_markdown_report(report, transcript).encode("utf-8")
    if fmt == "html":
        from simfocus.reports.exports.html import render_html

        return render_html(report, transcript).encode("utf-8")
    if fmt == "pdf":
        from simfocus.reports.exports.pdf import render_pdf

        return render_pdf(report, transcript)
    if fmt == "json":
        return export_json(report, transcript)
    raise ValueError(f"unknown export format {fmt!r}")


def export_filename(report: Report, fmt: str) -> str:
    """A safe download name: ``simfocus-report-<title slug>-<id>.<suffix>``."""
    # "Zoë's café" → "zoe-s-cafe": ASCII only, as some clients mangle other names.
    ascii_title = unicodedata.normalize("NFKD", report.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:60].rstrip("-")
    safe_id = re.sub(r"[^A-Za-z0-9_-]+", "", report.id)[:40]
    stem = "-".join(part for part in ("simfocus-report", slug, safe_id) if part)
    return stem + FILE_SUFFIXES[fmt]
