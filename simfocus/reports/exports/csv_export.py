"""The transcript as CSV, one row per message, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from simfocus.transcripts.schemas import Transcript, TranscriptMessage

CSV_COLUMNS: tuple[str, ...] = (
    "seq",
    "round",
    "phase",
    "role",
    "kind",
    "speaker",
    "participant_id",
    "stance",
    "responds_to_seq",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "created_at",
    "content",
)

# Spreadsheets run a cell starting with one of these as a formula (OWASP "CSV injection");
# tab and carriage return are on OWASP's list too, as some programs strip them first.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guard(value: str) -> str:
    """Text a spreadsheet would take for a formula gets a leading ``'``, which shows it as text."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _row(m: TranscriptMessage) -> list[str | int]:
    # Only text cells are guarded: numbers we write are never negative, and quoting them
    # would turn them into text.
    return [
        m.seq,
        m.round,
        guard(m.phase),
        guard(m.role),
        guard(m.kind),
        guard(m.speaker),
        guard(m.participant_id or ""),
        guard(m.stance or ""),
        "" if m.responds_to_seq is None else m.responds_to_seq,
        m.prompt_tokens,
        m.completion_tokens,
        f"{m.cost_micro_usd / 1_000_000:.6f}",
        guard(m.created_at),
        guard(m.content),
    ]


def transcript_csv(transcript: Transcript) -> bytes:
    """UTF-8 CSV (RFC 4180 line ends, minimal quoting) with a header row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_row(m) for m in transcript.messages)
    return out.getvalue().encode("utf-8")
