"""Report benchmark: our own processing time for the report of a 20-round, 6-persona
discussion (measuring, checking citations, storing — everything but the model's calls),
the staged path with a small context, and each export. Prints JSON.

    .venv/bin/python scripts/bench_report.py
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.runner import DiscussionRunner
from simfocus.discussions.schemas import DiscussionSpec, Mode
from simfocus.discussions.service import create_discussion
from simfocus.discussions.store import DiscussionStore
from simfocus.llm.gateway import Gateway
from simfocus.llm.pricing import PriceTable
from simfocus.llm.schemas import ProviderConfig
from simfocus.personas.host import PersonaHost
from simfocus.reports.exports import export_report
from simfocus.reports.service import produce_report
from simfocus.reports.writer import ReportWriter
from simfocus.settings import REPO_CONFIGS, Settings
from simfocus.store.engine import create_engine, session_factory
from simfocus.store.migrate import upgrade
from simfocus.studies.schemas import Study
from simfocus.topics.schemas import Topic
from simfocus.transcripts.service import load_transcript

PANEL = [
    "night_shift_nurse",
    "software_engineer",
    "retired_teacher",
    "stay_at_home_parent",
    "delivery_driver",
    "pensioner",
]


async def main() -> dict[str, Any]:
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="simfocus-bench-report-")))
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    sessions = session_factory(engine)
    templates = TemplateLibrary.load(REPO_CONFIGS / "characters")
    study = Study(
        name="bench report",
        topic=Topic(title="A four-day week for city employees", description="A pilot."),
        panel=[c for t in PANEL if (c := templates.get(t)) is not None],
        discussion=DiscussionSpec(mode=Mode.FREE, max_rounds=20, provider=ProviderConfig()),
    )
    async with sessions() as session, session.begin():
        setup = await create_discussion(DiscussionRepository(session), study)
    gateway = Gateway(PriceTable.load(REPO_CONFIGS / "pricing.yaml"))
    gateway.open_budget(setup.discussion_id, None, 0.1)
    host = PersonaHost(gateway.complete, window_tokens=900, summary_tokens=300)
    runner = DiscussionRunner(setup, DiscussionStore(sessions), host.seat(setup))
    await runner.run()
    result: dict[str, Any] = {
        "messages": len(runner.history),
        "persona_messages": sum(1 for m in runner.history if m.role == "persona"),
    }
    for label, context in (("report", 12_000), ("report_staged_small_context", 2_000)):
        writer = ReportWriter(gateway.complete, context_tokens=context, max_tokens=1_000)
        started = time.perf_counter()
        report = await produce_report(sessions, writer, setup.discussion_id)
        result[label] = {
            "status": report.status.value,
            "generation_time_ms": report.generation_time_ms,
            "processing_time_ms": report.processing_time_ms,
            "llm_calls": report.llm_calls,
            "wall_ms": round((time.perf_counter() - started) * 1000),
            "citation_check": report.citation_check.model_dump(),
        }
    async with sessions() as session:
        transcript = await load_transcript(DiscussionRepository(session), setup.discussion_id)
    exports: dict[str, Any] = {}
    for fmt in ("md", "html", "pdf", "json"):
        started = time.perf_counter()
        body = export_report(report, transcript, fmt)  # type: ignore[arg-type]
        exports[fmt] = {
            "ms": round((time.perf_counter() - started) * 1000),
            "kb": round(len(body) / 1024, 1),
        }
    result["exports"] = exports
    await engine.dispose()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), indent=2))
