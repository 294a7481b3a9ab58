"""Store tests, on SQLite and (when configured) PostgreSQL, each in a rolled-back transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.errors import DiscussionNotFound
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import DiscussionStatus, Message, Phase
from simfocus.discussions.service import create_discussion, load_discussion
from simfocus.store.migrate import current_revision, head_revision
from simfocus.store.models import Base
from simfocus.transcripts.service import load_transcript, render_markdown
from tests.factories import create_study


async def test_migrations_reach_head_and_match_the_models(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata)
        )
    assert diff == []


def message(
    seq: int, participant_id: str | None, *, cost: int = 10, stance: str | None = None
) -> Message:
    return Message(
        seq=seq,
        round=1,
        phase=Phase.OPENING,
        role="persona" if participant_id else "moderator",
        participant_id=participant_id,
        speaker_name="X",
        content=f"message {seq}",
        stance=stance,
        prompt_tokens=100,
        completion_tokens=20,
        cost_micro_usd=cost,  # type: ignore[arg-type]
        created_at=datetime.now(UTC),
    )


async def test_a_discussion_round_trips(session: AsyncSession, templates: TemplateLibrary) -> None:
    repo = DiscussionRepository(session)
    study = create_study(templates, personas=3, budget_usd=0.25)
    setup = await create_discussion(repo, study)
    loaded = await load_discussion(repo, setup.discussion_id)
    assert loaded.spec == study.discussion
    assert [p.character for p in loaded.participants] == study.panel
    assert loaded.status is DiscussionStatus.INITIALIZED
    row = await repo.get(setup.discussion_id)
    assert row is not None and row.budget_micro_usd == 250_000
    with pytest.raises(DiscussionNotFound):
        await load_discussion(repo, "missing")


async def test_messages_update_totals_and_seq_is_unique(
    session: AsyncSession, templates: TemplateLibrary
) -> None:
    repo = DiscussionRepository(session)
    setup = await create_discussion(repo, create_study(templates, personas=2))
    a, b = (p.id for p in setup.participants)
    await repo.add_message(setup.discussion_id, message(1, None, cost=0))
    await repo.add_message(setup.discussion_id, message(2, a, cost=30, stance="oppose"))
    await repo.add_message(setup.discussion_id, message(3, b, cost=12))
    await repo.set_status(
        setup.discussion_id,
        DiscussionStatus.COMPLETED,
        reason=None,
        round_no=1,
        phase=Phase.OPENING,
    )
    await session.flush()
    assert [m.seq for m in await repo.messages(setup.discussion_id)] == [1, 2, 3]
    assert [m.seq for m in await repo.messages(setup.discussion_id, after_seq=1)] == [2, 3]
    assert await repo.last_seq(setup.discussion_id) == 3
    row = await repo.get(setup.discussion_id)
    assert row is not None
    await session.refresh(row)
    assert (row.prompt_tokens, row.completion_tokens, row.cost_micro_usd) == (300, 60, 42)
    assert row.ended_at is not None and row.status == "completed"
    seats = {s.id: s for s in await repo.participants(setup.discussion_id)}
    for seat in seats.values():
        await session.refresh(seat)
    assert (seats[a].message_count, seats[a].cost_micro_usd, seats[a].current_stance) == (
        1,
        30,
        "oppose",
    )
    transcript = await load_transcript(repo, setup.discussion_id)
    assert transcript.usage.cost_micro_usd == 42 and len(transcript.messages) == 3
    assert "message 2" in render_markdown(transcript)
    with pytest.raises(IntegrityError):
        async with session.begin_nested():
            await repo.add_message(setup.discussion_id, message(3, a))
