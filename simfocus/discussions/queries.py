"""The discussions API's reads and deletes, always scoped to the owner.

Another user's discussion behaves exactly like a missing one (404), so existence never
leaks.
"""

from __future__ import annotations

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.discussions.api_schemas import DiscussionOut, MessageOut, ParticipantOut, UsageOut
from simfocus.discussions.errors import DiscussionNotFound
from simfocus.discussions.repository import to_message
from simfocus.discussions.schemas import DiscussionStatus, Mode
from simfocus.kit.errors import Conflict
from simfocus.kit.pagination import PageParams, Pagination
from simfocus.store.models import (
    DiscussionRow,
    LLMCallRow,
    MessageRow,
    ParticipantRow,
    ReportRow,
)

USD = 1_000_000


async def owned(session: AsyncSession, user_id: str, discussion_id: str) -> DiscussionRow:
    row = await session.get(DiscussionRow, discussion_id)
    if row is None or row.user_id != user_id:
        raise DiscussionNotFound("no such discussion", field="discussion_id")
    return row


async def discussion_out(
    session: AsyncSession, row: DiscussionRow, *, with_participants: bool = True
) -> DiscussionOut:
    seats = []
    if with_participants:
        result = await session.scalars(
            select(ParticipantRow)
            .where(ParticipantRow.discussion_id == row.id)
            .order_by(ParticipantRow.position)
        )
        seats = [
            ParticipantOut(
                id=p.id,
                character_id=p.character_id,
                name=p.name,
                position=p.position,
                profession=p.character_snapshot.get("profession", ""),
                initial_stance=p.character_snapshot.get("stance", "neutral"),
                current_stance=p.current_stance,
                message_count=p.message_count,
                prompt_tokens=p.prompt_tokens,
                completion_tokens=p.completion_tokens,
                cost_usd=p.cost_micro_usd / USD,
            )
            for p in result.all()
        ]
    return DiscussionOut(
        id=row.id,
        name=row.name,
        topic_id=row.topic_id,
        status=DiscussionStatus(row.status),
        status_reason=row.status_reason,
        discussion_mode=Mode(row.mode),
        max_rounds=row.max_rounds,
        current_round=row.current_round,
        current_phase=row.current_phase,
        llm_provider=row.llm_provider,
        llm_model=row.llm_model,
        budget_usd=None if row.budget_micro_usd is None else row.budget_micro_usd / USD,
        usage=UsageOut(
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            cost_usd=row.cost_micro_usd / USD,
        ),
        participants=seats,
        report_status=await session.scalar(
            select(ReportRow.status).where(ReportRow.discussion_id == row.id)
        ),
        created_at=row.created_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
    )


async def list_discussions(
    session: AsyncSession,
    user_id: str,
    page: PageParams,
    *,
    status: DiscussionStatus | None = None,
    mode: Mode | None = None,
    topic_id: str | None = None,
) -> tuple[list[DiscussionOut], Pagination]:
    where = [DiscussionRow.user_id == user_id]
    if status is not None:
        where.append(DiscussionRow.status == status.value)
    if mode is not None:
        where.append(DiscussionRow.mode == mode.value)
    if topic_id is not None:
        where.append(DiscussionRow.topic_id == topic_id)
    total = await session.scalar(select(func.count()).select_from(DiscussionRow).where(*where)) or 0
    rows = await session.scalars(
        select(DiscussionRow)
        .where(*where)
        .order_by(DiscussionRow.created_at.desc(), DiscussionRow.id)
        .offset(page.offset)
        .limit(page.per_page)
    )
    items = [await discussion_out(session, r, with_participants=False) for r in rows.all()]
    return items, Pagination.of(page, total)


async def list_messages(
    session: AsyncSession,
    user_id: str,
    discussion_id: str,
    page: PageParams,
    *,
    after_seq: int = 0,
    q: str | None = None,
) -> tuple[list[MessageOut], Pagination]:
    await owned(session, user_id, discussion_id)
    where = [MessageRow.discussion_id == discussion_id, MessageRow.seq > after_seq]
    if q:
        like = f"%{_escape_like(q.strip())}%"
        where.append(
            or_(
                MessageRow.content.ilike(like, escape="\\"),
                MessageRow.speaker_name.ilike(like, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(MessageRow).where(*where)) or 0
    rows = await session.scalars(
        select(MessageRow)
        .where(*where)
        .order_by(MessageRow.seq)
        .offset(page.offset)
        .limit(page.per_page)
    )
    out = []
    for row in rows.all():
        m = to_message(row)
        out.append(
            MessageOut(
                seq=m.seq,
                round=m.round,
                phase=m.phase.value,
                role=m.role,
                kind=m.kind,
                participant_id=m.participant_id,
                speaker_name=m.speaker_name,
                content=m.content,
                stance=m.stance.value if m.stance else None,
                responds_to_seq=m.responds_to_seq,
                prompt_tokens=m.prompt_tokens,
                completion_tokens=m.completion_tokens,
                cost_usd=m.cost_micro_usd / USD,
                simulated=m.simulated,
                created_at=m.created_at,
            )
        )
    return out, Pagination.of(page, total)


async def delete_discussion(session: AsyncSession, user_id: str, discussion_id: str) -> None:
    row = await owned(session, user_id, discussion_id)
    if row.status in (DiscussionStatus.RUNNING.value, DiscussionStatus.PAUSED.value):
        raise Conflict(
            "stop the discussion before deleting it", field="status", code="DISCUSSION_ACTIVE"
        )
    await session.execute(delete(LLMCallRow).where(LLMCallRow.discussion_id == discussion_id))
    await session.execute(delete(MessageRow).where(MessageRow.discussion_id == discussion_id))
    await session.execute(
        delete(ParticipantRow).where(ParticipantRow.discussion_id == discussion_id)
    )
    await session.delete(row)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
