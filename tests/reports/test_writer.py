"""Writing reports: structure for each mode, staged summaries, citation checks, failure.

Discussions are real (the runner with in-process minds, the simulated provider, a real
store); the model of the report is either the real gateway with the simulated provider,
or a scripted model answering at the ``complete`` boundary.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from simfocus.characters.templates import TemplateLibrary
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import Mode
from simfocus.llm.errors import ProviderUnavailable
from simfocus.llm.schemas import LLMRequest, LLMResult, ProviderConfig, Purpose
from simfocus.reports.errors import DraftUnreadable
from simfocus.reports.metrics import measure_quality
from simfocus.reports.schemas import ReportStatus
from simfocus.reports.service import produce_report, read_report
from simfocus.reports.writer import ReportCall, ReportWriter
from simfocus.store.engine import session_factory
from simfocus.transcripts.schemas import Transcript
from simfocus.transcripts.service import load_transcript
from tests.discussions.harness import Harness, build
from tests.factories import create_study

Complete = Callable[[LLMRequest], Awaitable[LLMResult]]


async def finished(engine: AsyncEngine, templates: TemplateLibrary, **study: object) -> Harness:
    h = await build(engine, create_study(templates, **study))  # type: ignore[arg-type]
    await h.runner.run()
    return h


async def transcript_of(engine: AsyncEngine, h: Harness) -> Transcript:
    async with session_factory(engine)() as session:
        return await load_transcript(DiscussionRepository(session), h.runner.id)


def call_for(h: Harness, provider: str = "simulated") -> ReportCall:
    return ReportCall(
        discussion_id=h.runner.id,
        user_id=None,
        provider=ProviderConfig(name=provider)
        if provider == "simulated"
        else h.runner.spec.provider,
    )


def scripted(answers: list[str], seen: list[LLMRequest] | None = None) -> Complete:
    """A model that answers from a script, at the gateway's boundary."""

    async def complete(request: LLMRequest) -> LLMResult:
        if seen is not None:
            seen.append(request)
        text = answers.pop(0) if len(answers) > 1 else answers[0]
        return LLMResult(
            text=text,
            prompt_tokens=100,
            completion_tokens=50,
            cost_micro_usd=7,
            latency_ms=1.0,
            provider="openai",
            model="gpt-test",
            simulated=False,
        )

    return complete


@pytest.mark.parametrize("mode", list(Mode))
async def test_a_simulated_report_is_complete_for_every_mode(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary, mode: Mode
) -> None:
    h = await finished(sqlite_engine, templates, mode=mode, personas=3, rounds=4)
    t = await transcript_of(sqlite_engine, h)
    writer = ReportWriter(h.gateway.complete, context_tokens=12_000, max_tokens=2_500)
    written = await writer.write(t, measure_quality(t), call_for(h))
    s = written.sections
    assert s.overview.text and s.overview.citations
    assert [v.participant_id for v in s.viewpoints] == [p.id for p in t.participants]
    seqs = {m.seq for m in t.messages}
    own = {p.id: {m.seq for m in t.messages if m.participant_id == p.id} for p in t.participants}
    for v in s.viewpoints:
        assert v.position.citations and set(v.position.citations) <= own[v.participant_id]
        assert all(set(a.citations) <= own[v.participant_id] for a in v.key_arguments)
        assert v.movement
    for point in [*s.consensus, *s.insights, *s.recommendations]:
        assert point.citations and set(point.citations) <= seqs
    assert s.consensus and s.insights
    assert written.calls == 1 and written.stages == 0
    assert written.check.dropped == 0


async def test_a_long_transcript_is_summarised_in_stages_and_still_cites_real_messages(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await finished(sqlite_engine, templates, mode=Mode.FREE, personas=4, rounds=8)
    t = await transcript_of(sqlite_engine, h)
    seen: list[LLMRequest] = []

    async def complete(request: LLMRequest) -> LLMResult:
        seen.append(request)
        return await h.gateway.complete(request)

    # A context far smaller than the transcript: it must be cut, summarised and folded.
    writer = ReportWriter(complete, context_tokens=1_600, max_tokens=400)
    written = await writer.write(t, measure_quality(t), call_for(h))
    assert written.stages >= 1 and written.calls == len(seen) > 2
    assert all(r.purpose is Purpose.REPORT for r in seen)
    for r in seen:  # every prompt fitted the context
        size = sum(len(m.content) for m in r.completion.messages) + len(r.completion.system)
        assert size / 4 + r.completion.max_tokens <= 1_600 * 1.15
    seqs = {m.seq for m in t.messages}
    assert set(written.sections.overview.citations) <= seqs
    assert len(written.sections.viewpoints) == 4


def _draft(t: Transcript, **overrides: object) -> str:
    first, second = t.participants[0], t.participants[1]
    mine = [m.seq for m in t.messages if m.participant_id == first.id]
    theirs = [m.seq for m in t.messages if m.participant_id == second.id]
    draft = {
        "overview": {"text": "They talked.", "citations": [mine[0]]},
        "viewpoints": [
            {
                "participant_id": first.id,
                "position": {"text": "For it.", "citations": [mine[-1], 999]},
                "key_arguments": [
                    {"text": "Own words.", "citations": [f"#{mine[0]}"]},
                    {"text": "Someone else's words.", "citations": [theirs[0]]},
                ],
            },
            {
                "name": second.name.upper(),
                "position": {"text": "Against.", "citations": [theirs[-1]]},
            },
        ],
        "consensus": [
            {"text": "Real.", "citations": [mine[0], theirs[0]]},
            {"text": "Invented.", "citations": [998, 999]},
            {"text": "No citations at all."},
        ],
        "controversies": [
            {
                "text": "Price.",
                "citations": [theirs[0]],
                "sides": {"support": [first.name, "Nobody Real"], "sideways": [second.name]},
            }
        ],
        "insights": [],
        "recommendations": [{"text": "Do it.", "citations": "12"}],
    }
    draft.update(overrides)
    return "Here is the report:\n```json\n" + json.dumps(draft) + "\n```"


async def test_citations_are_checked_against_the_transcript(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await finished(sqlite_engine, templates, personas=3, rounds=3)
    t = await transcript_of(sqlite_engine, h)
    writer = ReportWriter(scripted([_draft(t)]), context_tokens=12_000, max_tokens=2_000)
    written = await writer.write(t, measure_quality(t), call_for(h, "openai"))
    s, check = written.sections, written.check
    first, second, third = (v for v in s.viewpoints)
    # a persona's position keeps its own real message; the invented one is flagged
    assert first.position.flagged_citations == [999] and len(first.position.citations) == 1
    # an argument citing someone else's message is not this persona's argument
    assert [a.text for a in first.key_arguments] == ["Own words."]
    assert second.position.text == "Against."  # matched by name, case-insensitively
    # the persona the draft forgot is described from the transcript itself
    assert third.position.citations and third.participant_id == t.participants[2].id
    assert [p.text for p in s.consensus] == ["Real."]
    assert s.controversies[0].sides == {"support": [t.participants[0].name]}
    assert check.dropped >= 3 and check.flagged >= 1
    assert s.recommendations == [] or all(
        set(p.citations) <= {m.seq for m in t.messages} for p in s.recommendations
    )


async def test_an_unreadable_answer_is_asked_again_once_then_fails(
    sqlite_engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await finished(sqlite_engine, templates, personas=2, rounds=2)
    t = await transcript_of(sqlite_engine, h)
    seen: list[LLMRequest] = []
    writer = ReportWriter(
        scripted(["Sorry, I cannot do JSON.", _draft(t)], seen),
        context_tokens=12_000,
        max_tokens=2_000,
    )
    written = await writer.write(t, measure_quality(t), call_for(h, "openai"))
    assert written.calls == 2 and written.cost_micro_usd == 14
    assert "not usable" in seen[1].completion.messages[-1].content
    writer = ReportWriter(scripted(["{not json"]), context_tokens=12_000, max_tokens=2_000)
    with pytest.raises(DraftUnreadable):
        await writer.write(t, measure_quality(t), call_for(h, "openai"))


async def test_a_failed_model_leaves_a_partial_report_and_regenerating_completes_it(
    engine: AsyncEngine, templates: TemplateLibrary
) -> None:
    h = await finished(engine, templates, personas=3, rounds=3)
    sessions = session_factory(engine)

    async def down(request: LLMRequest) -> LLMResult:
        raise ProviderUnavailable("the provider answered 503 four times", field="provider")

    partial = await produce_report(
        sessions, ReportWriter(down, context_tokens=12_000, max_tokens=2_000), h.runner.id
    )
    assert partial.status is ReportStatus.PARTIAL and partial.sections is None
    assert "503" in (partial.note or "") and "regenerate" in (partial.note or "")
    assert partial.quality_scores is not None and partial.analytics is not None
    assert partial.analytics.persona_messages == 9
    ready = await produce_report(
        sessions,
        ReportWriter(h.gateway.complete, context_tokens=12_000, max_tokens=2_000),
        h.runner.id,
    )
    assert ready.status is ReportStatus.READY and ready.note is None
    assert ready.id == partial.id and ready.sections is not None
    assert ready.generation_time_ms is not None and ready.processing_time_ms is not None
    assert ready.llm_calls == 1 and ready.cost_micro_usd > 0
    async with sessions() as session:  # what is stored reads back the same
        assert await read_report(session, h.runner.id) == ready
