"""All SQL of reports: one row per discussion, rewritten by each (re)generation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.reports.schemas import (
    Analytics,
    CitationCheck,
    Controversy,
    Point,
    QualityScores,
    Report,
    ReportSections,
    ReportStatus,
    Viewpoint,
)
from simfocus.store.models import DiscussionRow, ReportRow, utcnow


def _iso(value: datetime) -> str:
    # SQLite hands back naive datetimes (stored as UTC); PostgreSQL aware ones.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _items(values: list[Any]) -> dict[str, Any]:
    return {"items": [v.model_dump(mode="json") for v in values]}


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_discussion(self, discussion_id: str) -> ReportRow | None:
        return await self.session.scalar(
            select(ReportRow).where(ReportRow.discussion_id == discussion_id)
        )

    async def get(self, report_id: str) -> ReportRow | None:
        return await self.session.get(ReportRow, report_id)

    async def mark_generating(self, discussion_id: str) -> ReportRow:
        row = await self.of_discussion(discussion_id)
        if row is None:
            row = ReportRow(discussion_id=discussion_id, status=ReportStatus.GENERATING, details={})
            self.session.add(row)
        else:
            row.status = ReportStatus.GENERATING
            row.note = None
        await self.session.flush()
        return row

    async def save(
        self,
        discussion_id: str,
        *,
        status: ReportStatus,
        sections: ReportSections | None,
        scores: QualityScores | None,
        analytics: Analytics | None,
        check: CitationCheck,
        note: str | None,
        generation_time_ms: int,
        details: dict[str, Any],
    ) -> ReportRow:
        row = await self.mark_generating(discussion_id)
        row.status = status
        row.overview = sections.overview.text if sections else None
        row.viewpoints_summary = _items(sections.viewpoints) if sections else None
        row.consensus = _items(sections.consensus) if sections else None
        row.controversies = _items(sections.controversies) if sections else None
        row.insights = _items(sections.insights) if sections else None
        row.recommendations = _items(sections.recommendations) if sections else None
        row.quality_scores = scores.model_dump(mode="json") if scores else None
        row.analytics = analytics.model_dump(mode="json") if analytics else None
        row.note = note
        row.generation_time_ms = generation_time_ms
        row.details = {
            **details,
            "overview": sections.overview.model_dump(mode="json") if sections else None,
            "citation_check": check.model_dump(mode="json"),
        }
        row.updated_at = utcnow()
        await self.session.flush()
        return row


def _sections(row: ReportRow) -> ReportSections | None:
    overview = (row.details or {}).get("overview")
    if overview is None or row.viewpoints_summary is None:
        return None

    def items(value: dict[str, Any] | None) -> list[Any]:
        return (value or {}).get("items", [])

    return ReportSections(
        overview=Point.model_validate(overview),
        viewpoints=[Viewpoint.model_validate(v) for v in items(row.viewpoints_summary)],
        consensus=[Point.model_validate(p) for p in items(row.consensus)],
        controversies=[Controversy.model_validate(c) for c in items(row.controversies)],
        insights=[Point.model_validate(p) for p in items(row.insights)],
        recommendations=[Point.model_validate(p) for p in items(row.recommendations)],
    )


def to_report(row: ReportRow, discussion: DiscussionRow, topic_title: str) -> Report:
    details = row.details or {}
    return Report(
        id=row.id,
        discussion_id=row.discussion_id,
        status=ReportStatus(row.status),
        title=discussion.name or topic_title,
        topic=topic_title,
        mode=str(discussion.spec.get("mode", "free")),
        simulated=discussion.llm_provider == "simulated",
        sections=_sections(row),
        quality_scores=QualityScores.model_validate(row.quality_scores)
        if row.quality_scores
        else None,
        analytics=Analytics.model_validate(row.analytics) if row.analytics else None,
        citation_check=CitationCheck.model_validate(details.get("citation_check") or {}),
        note=row.note,
        generation_time_ms=row.generation_time_ms,
        processing_time_ms=details.get("processing_time_ms"),
        llm_calls=details.get("llm_calls", 0),
        cost_micro_usd=details.get("cost_micro_usd", 0),
        created_at=_iso(row.created_at),
        updated_at=_iso(row.updated_at),
    )
