"""Producing a discussion's report: measure, write, check, store.

The measured parts (quality scores, analytics) come from the transcript alone and are
always stored. The written part comes from the model; if it fails (provider down, budget
spent, unreadable answer) the report is stored ``partial`` with the measured parts and a
note saying why and what to do. Each step commits on its own: the report is visible as
``generating`` while the model writes, and no transaction is held across a model call.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from simfocus.discussions.errors import DiscussionNotFound
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import DiscussionSpec
from simfocus.kit.errors import SimfocusError
from simfocus.reports.analytics import measure_analytics
from simfocus.reports.metrics import measure_quality
from simfocus.reports.repository import ReportRepository, to_report
from simfocus.reports.schemas import CitationCheck, Report, ReportStatus
from simfocus.reports.writer import ReportCall, ReportWriter
from simfocus.transcripts.schemas import Transcript
from simfocus.transcripts.service import load_transcript

logger = logging.getLogger(__name__)
Sessions = async_sessionmaker[AsyncSession]


async def mark_generating(sessions: Sessions, discussion_id: str) -> None:
    async with sessions() as session, session.begin():
        await ReportRepository(session).mark_generating(discussion_id)


async def report_call(sessions: Sessions, discussion_id: str) -> tuple[ReportCall, int | None, int]:
    """Who pays and which model writes; the discussion's budget and what it has spent so
    far (its turns and earlier reports)."""
    async with sessions() as session:
        row = await DiscussionRepository(session).get(discussion_id)
        if row is None:
            raise DiscussionNotFound(f"no discussion {discussion_id}", field="discussion_id")
        report = await ReportRepository(session).of_discussion(discussion_id)
        spec = DiscussionSpec.model_validate(row.spec)
        earlier = (report.details or {}).get("cost_total_micro_usd", 0) if report else 0
        call = ReportCall(
            discussion_id=discussion_id,
            user_id=row.user_id,
            provider=spec.provider,
            fallbacks=tuple(spec.fallbacks),
            seed=spec.seed,
        )
        return call, row.budget_micro_usd, row.cost_micro_usd + earlier


Transact = Callable[[Callable[[AsyncSession], Awaitable[Any]]], Awaitable[Any]]


def own_transactions(sessions: Sessions) -> Transact:
    """Each write in a transaction of its own (the default)."""

    async def transact(op: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async with sessions() as session, session.begin():
            return await op(session)

    return transact


async def produce_report(
    sessions: Sessions,
    writer: ReportWriter,
    discussion_id: str,
    *,
    transcript: Transcript | None = None,
    call: ReportCall | None = None,
    transact: Transact | None = None,
) -> Report:
    """Write and store the report of a finished discussion; never raises for a model
    failure (that is a partial report), only for a store failure.

    A batch worker passes the transcript and the call it has in memory, and its group
    commits as ``transact``, so that a report costs it no reads and no transaction of
    its own."""
    started = time.perf_counter()
    transact = transact or own_transactions(sessions)

    async def generating(session: AsyncSession) -> None:
        await ReportRepository(session).mark_generating(discussion_id)

    await transact(generating)
    if call is None:
        call, _, _ = await report_call(sessions, discussion_id)
    if transcript is None:
        async with sessions() as session:
            transcript = await load_transcript(DiscussionRepository(session), discussion_id)
    scores = measure_quality(transcript)
    analytics = measure_analytics(transcript)
    sections, check, note = None, CitationCheck(), None
    status = ReportStatus.READY
    details: dict[str, Any] = {"llm_calls": 0, "cost_micro_usd": 0, "llm_ms": 0, "stages": 0}
    try:
        written = await writer.write(transcript, scores, call)
    except Exception as e:  # any failure of the written part leaves the measured parts
        reason = e.message if isinstance(e, SimfocusError) else f"{type(e).__name__}: {e}"
        if not isinstance(e, SimfocusError):
            logger.exception("report of discussion %s failed", discussion_id)
        status = ReportStatus.PARTIAL
        note = (
            f"The written part of this report could not be produced: {reason}. The measured "
            "scores and analytics are complete. Regenerate the report to try again "
            f"(POST /v1/discussions/{discussion_id}/report/regenerate)."
        )
    else:
        sections, check = written.sections, written.check
        details = {
            "llm_calls": written.calls,
            "cost_micro_usd": written.cost_micro_usd,
            "llm_ms": round(written.llm_ms),
            "stages": written.stages,
        }
    total_ms = (time.perf_counter() - started) * 1000
    details["processing_time_ms"] = max(0, round(total_ms - details["llm_ms"]))
    title = str(transcript.topic.get("title", ""))

    async def save(session: AsyncSession) -> Report:
        repo = ReportRepository(session)
        previous = await repo.of_discussion(discussion_id)
        earlier = (previous.details or {}).get("cost_total_micro_usd", 0) if previous else 0
        details["cost_total_micro_usd"] = earlier + details["cost_micro_usd"]
        row = await repo.save(
            discussion_id,
            status=status,
            sections=sections,
            scores=scores,
            analytics=analytics,
            check=check,
            note=note,
            generation_time_ms=round(total_ms),
            details=details,
        )
        discussion = await DiscussionRepository(session).get(discussion_id)
        assert discussion is not None
        return to_report(row, discussion, title)

    report: Report = await transact(save)
    return report


async def read_report(session: AsyncSession, discussion_id: str) -> Report | None:
    row = await ReportRepository(session).of_discussion(discussion_id)
    if row is None:
        return None
    repo = DiscussionRepository(session)
    discussion = await repo.get(discussion_id)
    assert discussion is not None
    topic = await repo.topic(discussion.topic_id)
    return to_report(row, discussion, topic.title if topic else "")


def provisional_report(transcript: Transcript) -> Report:
    """The measured parts of a discussion that has no report yet (it is still running,
    or failed): what a share link shows until the report is written."""
    now = datetime.now(UTC).isoformat()
    title = str(transcript.topic.get("title", ""))
    return Report(
        id="",
        discussion_id=transcript.discussion_id,
        status=ReportStatus.GENERATING,
        title=transcript.name or title,
        topic=title,
        mode=str(transcript.spec.get("mode", "free")),
        simulated=transcript.simulated,
        quality_scores=measure_quality(transcript),
        analytics=measure_analytics(transcript),
        note=f"The discussion is {transcript.status}: its written report is not available yet. "
        "The scores and analytics are measured from the transcript so far.",
        created_at=now,
        updated_at=now,
    )
