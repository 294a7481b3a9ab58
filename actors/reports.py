"""Writing reports on Ray: the moderator writes its discussion's report when it ends; a
regeneration (the moderator long gone) runs as a Ray task of its own."""

from __future__ import annotations

from typing import Any

import ray

from actors.errors import unwrap
from simfocus.llm.schemas import LLMRequest, LLMResult
from simfocus.reports.schemas import Report
from simfocus.reports.service import Sessions, produce_report, report_call
from simfocus.reports.writer import ReportWriter
from simfocus.settings import Settings
from simfocus.store.engine import create_engine, session_factory


def report_writer(settings: Settings, gateway: Any) -> ReportWriter:
    async def complete(request: LLMRequest) -> LLMResult:
        try:
            result: LLMResult = await gateway.complete.remote(request)
        except Exception as e:
            raise unwrap(e) from None
        return result

    return ReportWriter(
        complete,
        context_tokens=settings.report_context_tokens,
        max_tokens=settings.report_max_tokens,
    )


async def regenerate(settings: Settings, discussion_id: str, gateway: Any) -> Report:
    """Write the report again, with the discussion's budget opened for it (what the
    discussion and its earlier reports spent counts against it)."""
    engine = create_engine(
        settings.resolved_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    sessions: Sessions = session_factory(engine)
    try:
        _, budget, spent = await report_call(sessions, discussion_id)
        await gateway.open_budget.remote(discussion_id, budget, settings.report_budget_share, spent)
        try:
            return await produce_report(sessions, report_writer(settings, gateway), discussion_id)
        finally:
            await gateway.close_budget.remote(discussion_id)
    finally:
        await engine.dispose()


@ray.remote(num_cpus=0, max_retries=0)
def regenerate_task(settings: Settings, discussion_id: str, gateway: Any) -> Report:
    import asyncio

    return asyncio.run(regenerate(settings, discussion_id, gateway))
