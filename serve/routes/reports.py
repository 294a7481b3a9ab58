"""Reports: read, regenerate, export; a discussion's analytics; comparing discussions."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from actors.errors import unwrap
from actors.reports import regenerate_task
from serve.deps import CtxDep, CurrentUser, MutationLimited, SessionDep
from serve.envelope import ok
from simfocus.discussions import queries
from simfocus.discussions.repository import DiscussionRepository
from simfocus.kit.models import InputModel
from simfocus.reports.analytics import measure_analytics
from simfocus.reports.compare import compare
from simfocus.reports.errors import ReportNotFound, ReportNotReady
from simfocus.reports.exports import (
    CONTENT_TYPES,
    export_filename,
    export_report,
    transcript_csv,
)
from simfocus.reports.metrics import measure_quality
from simfocus.reports.repository import ReportRepository
from simfocus.reports.schemas import Report, ReportStatus
from simfocus.reports.service import mark_generating, read_report
from simfocus.transcripts.schemas import Transcript
from simfocus.transcripts.service import load_transcript

logger = logging.getLogger(__name__)
router = APIRouter(tags=["reports"])
STALE_AFTER = timedelta(minutes=15)  # a report "generating" this long lost its writer
_background: set[asyncio.Task[None]] = set()


class CompareIn(InputModel):
    discussion_ids: list[Annotated[str, Field(max_length=36)]] = Field(min_length=2, max_length=10)

    @field_validator("discussion_ids")
    @classmethod
    def _distinct(cls, ids: list[str]) -> list[str]:
        if len(set(ids)) != len(ids):
            raise ValueError("each discussion may be listed once")
        return ids


async def _owned_report(session: AsyncSession, user_id: str, discussion_id: str) -> Report:
    await queries.owned(session, user_id, discussion_id)
    report = await read_report(session, discussion_id)
    if report is None:
        raise ReportNotFound(
            "no report yet: it is written when the discussion completes or is stopped",
            field="discussion_id",
        )
    return report


@router.get("/v1/discussions/{discussion_id}/report")
async def get_report(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    return ok(request, await _owned_report(session, user.id, discussion_id))


@router.post(
    "/v1/discussions/{discussion_id}/report/regenerate",
    status_code=202,
    dependencies=[MutationLimited],
)
async def regenerate(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep
) -> JSONResponse:
    row = await queries.owned(session, user.id, discussion_id)
    if row.status not in ("completed", "stopped", "failed"):
        raise ReportNotReady(
            f"the discussion is {row.status}: a report is written once it has ended",
            field="status",
        )
    existing = await ReportRepository(session).of_discussion(discussion_id)
    if existing is not None and existing.status == ReportStatus.GENERATING:
        updated = existing.updated_at
        updated = updated.replace(tzinfo=UTC) if updated.tzinfo is None else updated
        if datetime.now(UTC) - updated < STALE_AFTER:
            raise ReportNotReady("the report is being written; try again when it is ready")
    await session.commit()  # never hold the store across an actor call (see deps.py)
    await mark_generating(ctx.sessions, discussion_id)
    ref = regenerate_task.remote(ctx.settings, discussion_id, ctx.gateway())
    task = asyncio.create_task(_await_regeneration(ref, discussion_id))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return ok(request, {"discussion_id": discussion_id, "status": "generating"}, status=202)


async def _await_regeneration(ref: object, discussion_id: str) -> None:
    try:
        await ref  # type: ignore[misc]
    except Exception as e:
        logger.error("regenerating the report of %s failed: %r", discussion_id, unwrap(e))


async def _export_inputs(
    session: AsyncSession, user_id: str, report_id: str
) -> tuple[Report, Transcript]:
    row = await ReportRepository(session).get(report_id)
    if row is None:
        raise ReportNotFound("no such report", field="report_id")
    try:
        await queries.owned(session, user_id, row.discussion_id)
    except Exception:
        raise ReportNotFound("no such report", field="report_id") from None
    report = await read_report(session, row.discussion_id)
    assert report is not None
    transcript = await load_transcript(DiscussionRepository(session), row.discussion_id)
    return report, transcript


@router.get("/v1/reports/{report_id}/export/{fmt}")
async def export(
    report_id: str,
    fmt: Annotated[Literal["md", "html", "pdf", "json", "csv"], Path()],
    user: CurrentUser,
    session: SessionDep,
) -> Response:
    """The report as Markdown, self-contained HTML, PDF or JSON; ``csv`` is the transcript."""
    report, transcript = await _export_inputs(session, user.id, report_id)
    if fmt == "csv":
        body, media, name = transcript_csv(transcript), "text/csv; charset=utf-8", "transcript.csv"
    else:
        body = await asyncio.to_thread(export_report, report, transcript, fmt)
        media, name = CONTENT_TYPES[fmt], export_filename(report, fmt)
    disposition = "inline" if fmt == "html" else "attachment"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'{disposition}; filename="{name}"'}
    )


@router.get("/v1/discussions/{discussion_id}/analytics")
async def analytics(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    """Measured from the transcript as it stands (a running discussion too)."""
    await queries.owned(session, user.id, discussion_id)
    transcript = await load_transcript(DiscussionRepository(session), discussion_id)
    return ok(request, measure_analytics(transcript))


@router.post("/v1/discussions/compare")
async def compare_discussions(
    body: CompareIn, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    items = []
    for discussion_id in body.discussion_ids:
        await queries.owned(session, user.id, discussion_id)
        transcript = await load_transcript(DiscussionRepository(session), discussion_id)
        report = await read_report(session, discussion_id)
        scores = (report.quality_scores if report else None) or measure_quality(transcript)
        consensus = (
            [p.text for p in report.sections.consensus] if report and report.sections else []
        )
        items.append((transcript, scores, consensus))
    return ok(request, compare(items))
