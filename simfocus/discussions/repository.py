"""All SQL of the discussions domain. Repositories never commit: their caller does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.discussions.schemas import DiscussionStatus, Message, Phase
from simfocus.store.models import (
    CharacterRow,
    DiscussionRow,
    LLMCallRow,
    MessageRow,
    ParticipantRow,
    TopicRow,
    new_id,
    utcnow,
)


class DiscussionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, *rows: TopicRow | CharacterRow | DiscussionRow | ParticipantRow) -> None:
        self.session.add_all(rows)

    async def flush(self) -> None:
        await self.session.flush()

    async def get(self, discussion_id: str) -> DiscussionRow | None:
        return await self.session.get(DiscussionRow, discussion_id)

    async def topic(self, topic_id: str) -> TopicRow | None:
        return await self.session.get(TopicRow, topic_id)

    async def participants(self, discussion_id: str) -> Sequence[ParticipantRow]:
        result = await self.session.scalars(
            select(ParticipantRow)
            .where(ParticipantRow.discussion_id == discussion_id)
            .order_by(ParticipantRow.position)
        )
        return result.all()

    async def messages(
        self, discussion_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[Message]:
        query = (
            select(MessageRow)
            .where(MessageRow.discussion_id == discussion_id, MessageRow.seq > after_seq)
            .order_by(MessageRow.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        return [to_message(row) for row in (await self.session.scalars(query)).all()]

    async def last_seq(self, discussion_id: str) -> int:
        value = await self.session.scalar(
            select(func.max(MessageRow.seq)).where(MessageRow.discussion_id == discussion_id)
        )
        return int(value or 0)

    async def add_message(self, discussion_id: str, message: Message) -> None:
        """Insert a message and add its usage to the discussion's and speaker's totals."""
        # Prebuilt Core statements with bound parameters: this runs once per turn, and
        # compiled-statement caching makes it several times cheaper than ORM units of work.
        conn = await self.session.connection()
        usage = {
            "prompt": message.prompt_tokens,
            "completion": message.completion_tokens,
            "cost": message.cost_micro_usd,
        }
        await conn.execute(
            _INSERT_MESSAGE,
            {"id": new_id(), "discussion_id": discussion_id, **message.model_dump(mode="python")},
        )
        await conn.execute(
            _ADD_TO_DISCUSSION,
            {"did": discussion_id, "round": message.round, "phase": message.phase.value, **usage},
        )
        if message.participant_id is not None:
            stance = message.stance.value if message.stance else None
            await conn.execute(
                _ADD_TO_PARTICIPANT, {"pid": message.participant_id, "stance": stance, **usage}
            )

    async def add_messages(self, items: Sequence[tuple[str, Message]]) -> None:
        """``add_message`` for many (of many discussions) at once, in order: three
        executemany statements instead of three statements per message."""
        if not items:
            return
        conn = await self.session.connection()
        await conn.execute(
            _INSERT_MESSAGE,
            [{"id": new_id(), "discussion_id": d, **m.model_dump(mode="python")} for d, m in items],
        )
        await conn.execute(
            _ADD_TO_DISCUSSION,
            [
                {
                    "did": d,
                    "round": m.round,
                    "phase": m.phase.value,
                    "prompt": m.prompt_tokens,
                    "completion": m.completion_tokens,
                    "cost": m.cost_micro_usd,
                }
                for d, m in items
            ],
        )
        seats = [
            {
                "pid": m.participant_id,
                "stance": m.stance.value if m.stance else None,
                "prompt": m.prompt_tokens,
                "completion": m.completion_tokens,
                "cost": m.cost_micro_usd,
            }
            for _, m in items
            if m.participant_id is not None
        ]
        if seats:
            await conn.execute(_ADD_TO_PARTICIPANT, seats)

    async def log_call(self, **values: object) -> None:
        conn = await self.session.connection()
        await conn.execute(_INSERT_CALL, {"id": new_id(), "created_at": utcnow(), **values})

    async def set_status(
        self,
        discussion_id: str,
        status: DiscussionStatus,
        *,
        reason: str | None = None,
        round_no: int | None = None,
        phase: Phase | None = None,
    ) -> None:
        values: dict[str, object] = {"status": status.value, "status_reason": reason}
        now = utcnow()
        if status is DiscussionStatus.RUNNING:
            values["started_at"] = func.coalesce(DiscussionRow.started_at, now)
        if status.is_terminal:
            values["ended_at"] = now
        if round_no is not None:
            values["current_round"] = round_no
        if phase is not None:
            values["current_phase"] = phase.value
        await self.session.execute(
            update(DiscussionRow).where(DiscussionRow.id == discussion_id).values(values)
        )

    async def list_by_status(self, status: DiscussionStatus) -> Sequence[DiscussionRow]:
        result = await self.session.scalars(
            select(DiscussionRow).where(DiscussionRow.status == status.value)
        )
        return result.all()


_messages = cast(Table, MessageRow.__table__)
_discussions = cast(Table, DiscussionRow.__table__)
_participants = cast(Table, ParticipantRow.__table__)
_INSERT_MESSAGE = insert(_messages)
_INSERT_CALL = insert(cast(Table, LLMCallRow.__table__))
_ADD_TO_DISCUSSION = (
    update(_discussions)
    .where(_discussions.c.id == bindparam("did"))
    .values(
        prompt_tokens=_discussions.c.prompt_tokens + bindparam("prompt"),
        completion_tokens=_discussions.c.completion_tokens + bindparam("completion"),
        cost_micro_usd=_discussions.c.cost_micro_usd + bindparam("cost"),
        current_round=bindparam("round"),
        current_phase=bindparam("phase"),
    )
)
_ADD_TO_PARTICIPANT = (
    update(_participants)
    .where(_participants.c.id == bindparam("pid"))
    .values(
        prompt_tokens=_participants.c.prompt_tokens + bindparam("prompt"),
        completion_tokens=_participants.c.completion_tokens + bindparam("completion"),
        cost_micro_usd=_participants.c.cost_micro_usd + bindparam("cost"),
        message_count=_participants.c.message_count + 1,
        current_stance=func.coalesce(bindparam("stance"), _participants.c.current_stance),
    )
)


def to_message(row: MessageRow) -> Message:
    created: datetime = row.created_at
    if created.tzinfo is None:  # SQLite keeps no zone; we only ever write UTC
        created = created.replace(tzinfo=UTC)
    return Message(
        seq=row.seq,
        round=row.round,
        phase=Phase(row.phase),
        role=row.role,  # type: ignore[arg-type]
        kind=row.kind,  # type: ignore[arg-type]
        participant_id=row.participant_id,
        speaker_name=row.speaker_name,
        content=row.content,
        stance=row.stance,  # type: ignore[arg-type]
        responds_to_seq=row.responds_to_seq,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cost_micro_usd=row.cost_micro_usd,
        provider=row.provider,
        model=row.model,
        simulated=row.simulated,
        created_at=created,
    )
