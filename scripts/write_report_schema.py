"""Write the published JSON Schema of the report export to ``docs/schemas/report-v1.json``.

    python scripts/write_report_schema.py

Run it after changing the report or transcript models; a test fails while the file on disk
differs from what the models generate. Prints the path written.
"""

from __future__ import annotations

from pathlib import Path

from simfocus.reports.exports.json_export import report_json_schema_text

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "schemas" / "report-v1.json"


def main() -> None:
    SCHEMA_PATH.parent.mkdir(parents=True, exist_ok=True)
    SCHEMA_PATH.write_text(report_json_schema_text(), encoding="utf-8")
    print(SCHEMA_PATH)


if __name__ == "__main__":
    main()
