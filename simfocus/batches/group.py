"""Running one group of a batch in the worker's process (no Ray here: a batch worker actor
calls this for every group it is given, many at once on its event loop).

The group is an ordinary discussion: created in the store, run by a ``DiscussionRunner``
(the moderator's logic) whose personas live in the worker's ``PersonaHost``, its messages
committed through the worker's ``GroupCommitStore``, its calls made through the worker's
own gateway (its share of the rate limits and of the batch budget), and its report
written the same way as an interactive discussion's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from simfocus.batches.schemas import BatchGroup
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.runner import REPORTED_STATUSES, DiscussionRunner
from simfocus.discussions.service import DiscussionSetup, create_discussion
from simfocus.discussions.store import GroupCommitStore
from simfocus.kit.models import ValueModel
from simfocus.llm.gateway import Gateway
from simfocus.llm.schemas import LLMRequest, LLMResult
from simfocus.personas.host import PersonaHost
from simfocus.personas.mind import CallLLM
from simfocus.reports.service import produce_report
from simfocus.reports.writer import ReportCall, ReportWriter
from simfocus.transcripts.service import build_transcript


class GroupRun(ValueModel):
    """What a worker hands back for one group: the documents as JSON (cheap to carry
    between processes and written to the output folder as they are)."""

    key: str
    discussion_id: str
    status: str
    status_reason: str | None
    transcript_json: bytes
    report_json: bytes | None
    cost_micro_usd: int  # the discussion and its report
    turns: int  # persona turns taken
    seconds: float


@dataclass
class GroupContext:
    """A worker's shared parts: store, gateway, persona host and settings."""

    sessions: async_sessionmaker[AsyncSession]
    store: GroupCommitStore
    gateway: Gateway
    host: PersonaHost
    report_share: float
    report_context_tokens: int
    report_max_tokens: int
    budget_account: str | None = None  # "batch:<id>" when the batch has a budget


def batch_call(gateway: Gateway, budget_account: str | None) -> CallLLM:
    """The worker's way to the model: batch calls queue behind interactive ones and book
    against the batch budget too."""
    update: dict[str, object] = {"batch": True}
    if budget_account:
        update["budget_account"] = budget_account

    async def complete(request: LLMRequest) -> LLMResult:
        return await gateway.complete(request.model_copy(update=update))

    return complete


async def run_group(
    ctx: GroupContext, group: BatchGroup, *, user_id: str | None, reports: bool
) -> GroupRun:
    started = time.perf_counter()

    async def create(session: AsyncSession) -> DiscussionSetup:
        return await create_discussion(DiscussionRepository(session), group.study, user_id=user_id)

    setup: DiscussionSetup = await ctx.store.run(create)
    ctx.gateway.open_budget(setup.discussion_id, setup.spec.budget_micro_usd, ctx.report_share)
    try:
        speak = ctx.host.seat(setup)
        runner = DiscussionRunner(setup, ctx.store, speak, with_report=reports)
        snapshot = await runner.run()
        transcript = build_transcript(
            setup,
            runner.history,
            snapshot.status.value,
            snapshot.status_reason,
            ended_at=datetime.now(UTC),
        )
        report = None
        if reports and snapshot.status in REPORTED_STATUSES:
            writer = ReportWriter(
                batch_call(ctx.gateway, ctx.budget_account),
                context_tokens=ctx.report_context_tokens,
                max_tokens=ctx.report_max_tokens,
            )
            call = ReportCall(
                discussion_id=setup.discussion_id,
                user_id=user_id,
                provider=setup.spec.provider,
                fallbacks=tuple(setup.spec.fallbacks),
                seed=setup.spec.seed,
            )
            report = await produce_report(
                ctx.sessions,
                writer,
                setup.discussion_id,
                transcript=transcript,
                call=call,
                transact=ctx.store.run,
            )
    finally:
        ctx.host.release(setup.discussion_id)
        ctx.gateway.ledger.close(setup.discussion_id)
    return GroupRun(
        key=group.key,
        discussion_id=setup.discussion_id,
        status=snapshot.status.value,
        status_reason=snapshot.status_reason,
        transcript_json=transcript.model_dump_json(indent=1).encode(),
        report_json=report.model_dump_json(indent=1).encode() if report else None,
        cost_micro_usd=transcript.usage.cost_micro_usd + (report.cost_micro_usd if report else 0),
        turns=sum(1 for m in runner.history if m.role == "persona"),
        seconds=time.perf_counter() - started,
    )
