"""Writing a report with a model, in stages when the transcript is long.

The final prompt must fit the model's context (``context_tokens``). A transcript that does
not fit is cut into parts that do; each part is summarised into notes that keep their
message numbers, and notes that still do not fit are folded again, until they fit. So any
length fits, and every note still cites the messages it came from.

Calls go through ``complete`` (the gateway) with ``Purpose.REPORT``: they spend the share
of the discussion's budget kept for the report. The ``simulated`` provider is handed the
extractive draft as its answer, so the simulated path runs the same stages and checks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from simfocus.llm.schemas import (
    ChatMessage,
    CompletionRequest,
    LLMRequest,
    LLMResult,
    ProviderConfig,
    Purpose,
)
from simfocus.llm.tokens import estimate_tokens
from simfocus.prompts.render import inline, render_template
from simfocus.reports.citations import build_sections
from simfocus.reports.draft import Draft, DraftPoint, Notes, parse_draft, parse_notes
from simfocus.reports.errors import DraftUnreadable
from simfocus.reports.extractive import extractive_draft, extractive_notes
from simfocus.reports.schemas import CitationCheck, QualityScores, ReportSections
from simfocus.transcripts.schemas import Transcript, TranscriptMessage

Complete = Callable[[LLMRequest], Awaitable[LLMResult]]
T = TypeVar("T", Draft, Notes)
NOTES_MAX_TOKENS = 900
MAX_NOTES = 12
MAX_FOLDS = 6
PARALLEL_PARTS = 4
TEMPLATE_TOKENS = 600  # the final prompt's instructions and panel, generously


@dataclass(frozen=True)
class ReportCall:
    """Whose report, and which model writes it."""

    discussion_id: str
    user_id: str | None
    provider: ProviderConfig
    fallbacks: tuple[ProviderConfig, ...] = ()
    seed: int = 0


@dataclass
class Written:
    sections: ReportSections
    check: CitationCheck
    calls: int
    cost_micro_usd: int
    llm_ms: float  # time spent waiting for the model
    stages: int  # summarising levels before the final call (0: the transcript fitted)


def message_line(m: TranscriptMessage) -> str:
    who = "Moderator (question)" if m.kind == "question" else m.speaker
    stance = f" ({m.stance})" if m.stance else ""
    return f"[#{m.seq}] round {m.round}, {inline(who)}{stance}: {inline(m.content)}"


def note_line(note: DraftPoint) -> str:
    cites = ", ".join(f"#{s}" for s in note.citations) or "#?"
    return f"[{cites}] {inline(note.text)}"


def _cost(lines: list[str]) -> int:
    return sum(estimate_tokens(line) + 1 for line in lines)


def _parts(lines: list[str], budget: int) -> list[list[str]]:
    """Consecutive parts of at most ``budget`` tokens (a longer single line is cut)."""
    parts: list[list[str]] = [[]]
    used = 0
    for line in lines:
        size = estimate_tokens(line) + 1
        if size > budget:
            line = line[: budget * 4 - 8] + " …"
            size = budget
        if used + size > budget and parts[-1]:
            parts.append([])
            used = 0
        parts[-1].append(line)
        used += size
    return parts


class ReportWriter:
    def __init__(self, complete: Complete, *, context_tokens: int, max_tokens: int) -> None:
        self.complete = complete
        self.context_tokens = context_tokens
        self.max_tokens = max_tokens
        self.system = render_template("report_system.j2")
        self._calls = 0
        self._cost = 0
        self._llm_s = 0.0  # wall time with at least one call in flight
        self._in_flight = 0
        self._busy_since = 0.0

    async def write(self, t: Transcript, scores: QualityScores, call: ReportCall) -> Written:
        self._calls, self._cost, self._llm_s = 0, 0, 0.0
        fallback = extractive_draft(t, scores.stance_movement)
        simulated = call.provider.name == "simulated"
        topic = str(t.topic.get("title", ""))
        lines = [message_line(m) for m in t.messages]
        kind, stages = "transcript", 0
        overhead = estimate_tokens(self.system) + TEMPLATE_TOKENS + 40 * len(t.participants)
        budget = max(200, self.context_tokens - self.max_tokens - overhead)
        notes: list[DraftPoint] = []
        while _cost(lines) > budget:
            if stages >= MAX_FOLDS:
                lines = _parts(lines, budget)[-1]  # cannot shrink further: keep the end
                break
            if stages == 0:
                notes = await self._summarise_messages(t, call, topic, budget, simulated)
            else:
                notes = await self._fold(notes, call, topic, budget, simulated)
            lines, kind, stages = [note_line(n) for n in notes], "notes", stages + 1
        panel = [
            {
                "id": tr.participant_id,
                "name": tr.name,
                "profession": next(
                    (p.profession for p in t.participants if p.id == tr.participant_id), ""
                ),
                "initial": tr.initial_stance,
                "final": tr.final_stance,
            }
            for tr in scores.stance_movement
        ]
        prompt = render_template(
            "report_final.j2",
            topic=topic,
            mode=t.spec.get("mode", "free"),
            rounds=max((m.round for m in t.messages), default=0),
            panel=panel,
            kind=kind,
            lines=lines,
        )
        answer = fallback.model_dump_json() if simulated else None
        draft = await self._ask(call, prompt, self.max_tokens, answer, parse_draft)
        sections, check = build_sections(draft, t, scores.stance_movement, fallback)
        return Written(sections, check, self._calls, self._cost, self._llm_s * 1000, stages)

    async def _summarise_messages(
        self, t: Transcript, call: ReportCall, topic: str, budget: int, simulated: bool
    ) -> list[DraftPoint]:
        per_part = min(budget, self.context_tokens - NOTES_MAX_TOKENS - 400)
        groups: list[list[TranscriptMessage]] = [[]]
        used = 0
        for m in t.messages:
            size = estimate_tokens(message_line(m)) + 1
            if used + size > per_part and groups[-1]:
                groups.append([])
                used = 0
            groups[-1].append(m)
            used += size
        jobs = [
            (
                [message_line(m) for m in group],
                extractive_notes(group).model_dump_json() if simulated else None,
            )
            for group in groups
        ]
        return await self._notes_of(jobs, call, topic, "transcript")

    async def _fold(
        self, notes: list[DraftPoint], call: ReportCall, topic: str, budget: int, simulated: bool
    ) -> list[DraftPoint]:
        per_part = min(budget, self.context_tokens - NOTES_MAX_TOKENS - 400)
        jobs = []
        start = 0
        for part in _parts([note_line(n) for n in notes], per_part):
            chunk = notes[start : start + len(part)]
            start += len(part)
            answer = None
            if simulated:  # keep every other note: the fold must shrink
                answer = Notes(
                    notes=chunk[:: max(1, -(-len(chunk) // MAX_NOTES))]
                ).model_dump_json()
            jobs.append((part, answer))
        folded = await self._notes_of(jobs, call, topic, "notes")
        if len(folded) >= len(notes):  # a model that does not shrink them: stop growing
            folded = folded[: max(1, len(notes) // 2)]
        return folded

    async def _notes_of(
        self,
        jobs: list[tuple[list[str], str | None]],
        call: ReportCall,
        topic: str,
        kind: str,
    ) -> list[DraftPoint]:
        gate = asyncio.Semaphore(PARALLEL_PARTS)

        async def one(i: int, lines: list[str], answer: str | None) -> Notes:
            prompt = render_template(
                "report_notes.j2",
                part=i + 1,
                parts=len(jobs),
                topic=topic,
                max_notes=MAX_NOTES,
                kind=kind,
                lines=lines,
            )
            async with gate:
                return await self._ask(call, prompt, NOTES_MAX_TOKENS, answer, parse_notes)

        results = await asyncio.gather(*(one(i, *job) for i, job in enumerate(jobs)))
        return [n for r in results for n in r.notes]

    async def _ask(
        self,
        call: ReportCall,
        prompt: str,
        max_tokens: int,
        simulated_answer: str | None,
        parse: Callable[[str], T],
    ) -> T:
        """One call, and once more if the answer is not JSON of the asked shape."""
        messages = [ChatMessage(role="user", content=prompt)]
        for attempt in range(2):
            result = await self._call(call, messages, max_tokens, simulated_answer)
            try:
                return parse(result.text)
            except DraftUnreadable as e:
                if attempt == 1:
                    raise
                messages += [
                    ChatMessage(role="assistant", content=result.text[:4000]),
                    ChatMessage(
                        role="user",
                        content=f"That was not usable ({e.message}). Answer again with the "
                        "JSON object only, in exactly the asked shape.",
                    ),
                ]
        raise AssertionError("unreachable")

    async def _call(
        self,
        call: ReportCall,
        messages: list[ChatMessage],
        max_tokens: int,
        simulated_answer: str | None,
    ) -> LLMResult:
        request = LLMRequest(
            discussion_id=call.discussion_id,
            user_id=call.user_id,
            purpose=Purpose.REPORT,
            provider=call.provider,
            fallbacks=call.fallbacks,
            completion=CompletionRequest(
                model=call.provider.model,
                system=self.system,
                messages=tuple(messages),
                max_tokens=max_tokens,
                temperature=0.2,
                seed=call.seed,
                simulated_answer=simulated_answer,
            ),
        )
        if self._in_flight == 0:
            self._busy_since = time.perf_counter()
        self._in_flight += 1
        try:
            result = await self.complete(request)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._llm_s += time.perf_counter() - self._busy_since
        self._calls += 1
        self._cost += result.cost_micro_usd
        return result
