"""``DiscussionRunner``: the moderator's logic, free of Ray.

It walks the phase plan round by round, asks the turn planner who speaks, hands each turn
to a ``Speak`` callable (a Ray persona actor in production, a ``PersonaMind`` in tests),
commits every message before publishing it, and applies the controls:

- pause takes effect at the next turn boundary; resume continues there;
- stop cancels the turn in flight and keeps everything already committed;
- an injected question is committed as a moderator message, then every persona answers
  it in the next turns before the plan continues;
- speed scales the pacing delay between turns.

Every wait (turn, pause, pacing) also watches for stop, so stop is always prompt.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from simfocus.discussions import moderation
from simfocus.discussions.errors import InvalidTransition, PersonaLost
from simfocus.discussions.events import EventLog
from simfocus.discussions.modes import TurnPlanner, TurnSlot
from simfocus.discussions.phases import PhasePlan
from simfocus.discussions.schemas import (
    DiscussionSnapshot,
    DiscussionStatus,
    EventBatch,
    Message,
    MessageKind,
    Mode,
    Phase,
)
from simfocus.discussions.service import DiscussionSetup
from simfocus.discussions.states import transition
from simfocus.discussions.store import DiscussionStore
from simfocus.kit.errors import SimfocusError, ValidationFailed
from simfocus.llm.errors import BudgetExhausted, CircuitOpen, GatewayLost, LLMError, ProviderError
from simfocus.personas.schemas import TurnDelta, TurnOutcome, TurnRequest

logger = logging.getLogger(__name__)

Speak = Callable[[str, TurnRequest], Awaitable[TurnOutcome]]

MIN_SPEED, MAX_SPEED = 0.1, 10.0
MAX_QUESTION_CHARS = 2000
# A report is written for these endings; a failed discussion keeps its transcript only.
REPORTED_STATUSES = frozenset({DiscussionStatus.COMPLETED, DiscussionStatus.STOPPED})


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


# A provider down beyond the gateway's retries is waited out this long, this many times
# (the gateway's circuit breaker cools down in 30 s by default).
PROVIDER_WAIT_S = 30.0
PROVIDER_RETRIES = 2


def _provider_down(error: LLMError) -> bool:
    return isinstance(error, CircuitOpen) or (isinstance(error, ProviderError) and error.retryable)


def _reason(error: BaseException) -> str:
    return error.message if isinstance(error, SimfocusError) else f"{type(error).__name__}: {error}"


class _Stopped(Exception):
    """The run was asked to stop; unwinds the loop to the stop handling."""


class DiscussionRunner:
    def __init__(
        self,
        setup: DiscussionSetup,
        store: DiscussionStore,
        speak: Speak,
        *,
        history: list[Message] | None = None,
        with_report: bool = False,
    ) -> None:
        self.setup = setup
        self.id = setup.discussion_id
        self.spec = setup.spec
        self.store = store
        self.speak = speak
        self.phases = PhasePlan.for_rounds(self.spec.max_rounds)
        self.planner = TurnPlanner(self.spec.mode, setup.participants, self.phases, self.spec.seed)
        self.names = {p.id: p.character.name for p in setup.participants}
        self.history: list[Message] = list(history or [])
        self.events = EventLog(self.history)
        self.status = setup.status
        self.reason: str | None = None
        self.round = self.history[-1].round if self.history else 0
        self.phase: Phase | None = self.history[-1].phase if self.history else None
        self.speed = 1.0
        self.with_report = with_report
        self.provider_wait_s = PROVIDER_WAIT_S
        self.provider_retries = PROVIDER_RETRIES
        self.report_status: str | None = None
        self.totals = {"prompt_tokens": 0, "completion_tokens": 0, "cost_micro_usd": 0}
        for m in self.history:
            self._count(m)
        self._cursor: dict[str, int] = {p.id: 0 for p in setup.participants}
        self._questions: deque[tuple[str, Message]] = deque()
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()  # speed changed: re-evaluate the pacing wait
        self._persisted: asyncio.Future[None] = _done()
        self._stop_reason: str | None = None
        if self.history:
            self._resume_from_history()

    def _resume_from_history(self) -> None:
        """Pick up where a lost moderator left off: a paused discussion stays paused, and
        a question that not everyone answered yet is answered by the rest first."""
        if self.status is DiscussionStatus.PAUSED:
            self._resumed.clear()
        answered: dict[int, set[str]] = {}
        for m in self.history:
            if m.kind == "question":
                answered[m.seq] = set()
            elif m.responds_to_seq in answered and m.participant_id:
                answered[m.responds_to_seq].add(m.participant_id)
        by_seq = {m.seq: m for m in self.history}
        for seq, who in answered.items():
            self._questions.extend(
                (p.id, by_seq[seq]) for p in self.setup.participants if p.id not in who
            )

    # ----- the loop -------------------------------------------------------------------

    async def run(self) -> DiscussionSnapshot:
        """Run to the end (or until stopped); returns the final snapshot."""
        if self.status.is_terminal:  # stopped before it started
            return self.snapshot()
        try:
            await self.begin()
            if not self.history:
                await self._say(
                    moderation.welcome(self.setup.topic, self.spec.mode, list(self.names.values())),
                    round_no=1,
                    phase=self.phases.phase_of(1),
                )
            start = max(1, self.round)
            for round_no in range(start, self.phases.max_rounds + 1):
                await self._run_round(round_no)
            await self._answer_questions()
            await self._persisted
            await self._boundary()  # paused after the last turn: it completes on resume
            await self._set_status(DiscussionStatus.COMPLETED)
        except _Stopped:
            await self._finish(DiscussionStatus.STOPPED, self._stop_reason or "stopped by user")
        except BudgetExhausted as e:
            await self._finish(DiscussionStatus.STOPPED, e.message)
        except Exception as e:  # keep the transcript, say why
            logger.exception("discussion %s failed", self.id)
            await self._finish(DiscussionStatus.FAILED, _reason(e))
        return self.snapshot()

    async def _finish(self, status: DiscussionStatus, reason: str) -> None:
        """End the run once everything already said is committed (or failed to be)."""
        try:
            await self._persisted
        except Exception as e:
            logger.exception("discussion %s: a message could not be committed", self.id)
            status, reason = DiscussionStatus.FAILED, f"the store failed: {_reason(e)}"
        await self._set_status(status, reason)

    async def begin(self) -> None:
        """Mark the discussion running (its start is visible before the first turn)."""
        if self.status is DiscussionStatus.INITIALIZED:
            await self._set_status(DiscussionStatus.RUNNING)

    async def _run_round(self, round_no: int) -> None:
        phase = self.phases.phase_of(round_no)
        self.round, self.phase = round_no, phase
        said = [m for m in self.history if m.round == round_no]
        if round_no > 1 and self.phases.is_phase_start(round_no) and not said:
            await self._say(moderation.phase_intro(phase, self.spec.mode), round_no, phase)
        # On resume, skip the planned turns this round already had (answers to injected
        # questions are extra turns, not the plan's).
        questions = {m.seq for m in self.history if m.kind == "question"}
        done = sum(1 for m in said if m.role == "persona" and m.responds_to_seq not in questions)
        closing_statement = self.spec.mode is Mode.CONSENSUS and phase is Phase.CLOSING
        for slot in self.planner.round_turns(round_no)[done:]:
            await self._answer_questions()
            await self._turn(slot, closing_statement=closing_statement)

    async def _answer_questions(self) -> None:
        while self._questions:
            participant_id, question = self._questions.popleft()
            await self._turn(TurnSlot(participant_id), question=question)

    async def _turn(
        self, slot: TurnSlot, *, question: Message | None = None, closing_statement: bool = False
    ) -> None:
        await self._boundary()
        assert self.phase is not None
        phase = self.phase
        pid = slot.participant_id
        addressee = None if question else self.planner.addressee(slot, self.history)

        def request() -> TurnRequest:
            return TurnRequest(
                discussion_id=self.id,
                round=self.round,
                phase=phase,
                new_messages=tuple(self.history[self._cursor[pid] :]),
                side=slot.side.value if slot.side else None,
                question=question,
                addressee=addressee,
                closing_statement=closing_statement,
            )

        outcome = await self._speak_with_retries(pid, request)
        self._cursor[pid] = len(self.history)
        self._record(
            role="persona",
            content=outcome.content,
            round_no=self.round,
            phase=self.phase,
            participant_id=pid,
            stance=outcome.stance,
            responds_to_seq=answered.seq if (answered := question or addressee) else None,
            outcome=outcome,
        )
        await self._pace()

    async def _speak_with_retries(
        self, pid: str, request: Callable[[], TurnRequest]
    ) -> TurnOutcome:
        """The turn, retried when the failure was not the turn's fault.

        A process that died mid-turn (restarted by Ray) is retried once at once; a persona
        comes back empty and hears everything again (its memory folds that into the usual
        bounded context). A provider that is down after the gateway's own retries (its
        circuit open, 5xx, timeouts) is waited out — ``provider_wait_s`` at a time, up to
        ``provider_retries`` times — before the discussion fails. Nothing of a failed turn
        was committed, so nothing repeats.
        """
        lost_once = False
        waits = 0
        while True:
            try:
                return await self._until_stopped(self.speak(pid, request()))
            except (PersonaLost, GatewayLost) as lost:
                if lost_once:
                    raise
                lost_once = True
                logger.warning(
                    "discussion %s, persona %s: %s; retrying the turn", self.id, pid, lost
                )
                if isinstance(lost, PersonaLost):
                    self._cursor[pid] = 0
            except LLMError as e:
                if not _provider_down(e) or waits >= self.provider_retries:
                    raise
                waits += 1
                logger.warning(
                    "discussion %s: the provider is failing (%s); waiting %.0f s before "
                    "retrying the turn",
                    self.id,
                    e.code,
                    self.provider_wait_s,
                )
                await self._until_stopped(asyncio.sleep(self.provider_wait_s))

    async def _boundary(self) -> None:
        """A turn boundary: honour stop, then wait out a pause."""
        self._check_persisted()
        if self._stop.is_set():
            raise _Stopped
        if not self._resumed.is_set():
            await self._until_stopped(self._resumed.wait())

    def pacing_delay(self) -> float:
        """Seconds between turns: the study's pacing scaled by the current speed."""
        return self.spec.pacing_s / self.speed

    async def _pace(self) -> None:
        # A speed change wakes the wait and it restarts with the new delay.
        while self.pacing_delay() > 0:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._until_stopped(self._wake.wait()), self.pacing_delay())
            except TimeoutError:
                return

    async def _until_stopped(self, work: Awaitable[Any]) -> Any:
        """Await ``work`` unless stop comes first; then cancel it and unwind."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise _Stopped
        return task.result()

    # ----- committing and publishing ---------------------------------------------------

    async def _say(
        self, content: str, round_no: int, phase: Phase, kind: MessageKind = "announcement"
    ) -> Message:
        """A moderator message, returned once it is committed (an injected question's
        sender is told it is stored). Announcements do not wait: like turns, they are
        published once durable, and the next turn overlaps their commit."""
        message = self._record(
            role="moderator", content=content, round_no=round_no, phase=phase, kind=kind
        )
        if kind != "announcement":
            await self._persisted
        return message

    def _record(
        self,
        *,
        role: str,
        content: str,
        round_no: int,
        phase: Phase,
        kind: MessageKind = "statement",
        participant_id: str | None = None,
        stance: Any = None,
        responds_to_seq: int | None = None,
        outcome: TurnOutcome | None = None,
    ) -> Message:
        """Give a message the next seq and queue it for commit, then publication.

        Commits run one after another in seq order, each published only once it is
        durable. The next turn does not wait for them: the persona's model call overlaps
        the commit of the message before it, which hides the store's latency.
        """
        message = Message(
            seq=len(self.history) + 1,
            round=round_no,
            phase=phase,
            role=role,  # type: ignore[arg-type]
            kind=kind,
            participant_id=participant_id,
            speaker_name=self.names[participant_id] if participant_id else "Moderator",
            content=content,
            stance=stance,
            responds_to_seq=responds_to_seq,
            prompt_tokens=outcome.prompt_tokens if outcome else 0,
            completion_tokens=outcome.completion_tokens if outcome else 0,
            cost_micro_usd=outcome.cost_micro_usd if outcome else 0,
            provider=outcome.provider if outcome else None,
            model=outcome.model if outcome else None,
            simulated=outcome.simulated if outcome else False,
            created_at=datetime.now(UTC),
        )
        self.history.append(message)
        self._persisted = asyncio.ensure_future(self._persist(self._persisted, message))
        return message

    async def _persist(self, previous: asyncio.Future[None], message: Message) -> None:
        await previous  # a failed commit fails every later one: no gaps in seq
        await self.store.append(self.id, message)  # durable before visible
        self._count(message)
        await self.events.publish(message)

    def _check_persisted(self) -> None:
        """Raise a commit failure at the next turn instead of at the end."""
        if self._persisted.done() and self._persisted.exception() is not None:
            self._persisted.result()

    def _count(self, message: Message) -> None:
        self.totals["prompt_tokens"] += message.prompt_tokens
        self.totals["completion_tokens"] += message.completion_tokens
        self.totals["cost_micro_usd"] += message.cost_micro_usd

    async def _set_status(self, status: DiscussionStatus, reason: str | None = None) -> None:
        if status is self.status:
            return
        self.status = transition(self.status, status)
        self.reason = reason
        if self.with_report and status in REPORTED_STATUSES:
            # Set with the status, so no watcher sees the end without knowing a report follows.
            self.report_status = "generating"
        # State and version change together: a watcher never sees one without the other.
        self.events.version += 1
        try:
            await self.store.set_status(
                self.id, status, reason=reason, round_no=self.round or None, phase=self.phase
            )
        except Exception:
            if not status.is_terminal:
                raise
            # The store is gone for good: the run still ends (watchers are told); the store
            # keeps "running", so the discussion is resumed once the store is back.
            logger.exception("discussion %s: could not record its end (%s)", self.id, reason)
        await self.events.notify()

    # ----- controls ---------------------------------------------------------------------

    async def pause(self) -> DiscussionSnapshot:
        self._require(DiscussionStatus.RUNNING, "pause")
        self._resumed.clear()
        await self._set_status(DiscussionStatus.PAUSED)
        return self.snapshot()

    async def resume(self) -> DiscussionSnapshot:
        self._require(DiscussionStatus.PAUSED, "resume")
        await self._set_status(DiscussionStatus.RUNNING)
        self._resumed.set()
        return self.snapshot()

    async def stop(self, reason: str = "stopped by user") -> DiscussionSnapshot:
        """Ask the loop to stop; it cancels the turn in flight and marks the run stopped."""
        if self.status.is_terminal:
            return self.snapshot()
        if self.status is DiscussionStatus.INITIALIZED:
            await self._set_status(DiscussionStatus.STOPPED, reason)
        self._stop_reason = reason
        self._stop.set()
        return self.snapshot()

    async def inject_question(self, question: str) -> Message:
        """Commit the question now; every persona answers it in the next turns."""
        question = question.strip()
        if not question:
            raise ValidationFailed("the question is empty", field="question")
        if len(question) > MAX_QUESTION_CHARS:
            raise ValidationFailed(
                f"the question is longer than {MAX_QUESTION_CHARS} characters", field="question"
            )
        if self.status.is_terminal:
            raise InvalidTransition(f"the discussion is {self.status.value}", field="status")
        phase = self.phase or self.phases.phase_of(1)
        message = await self._say(question, max(1, self.round), phase, kind="question")
        order = self.planner.round_turns(max(1, self.round))
        seen: list[str] = []
        for slot in order + [TurnSlot(p.id) for p in self.setup.participants]:
            if slot.participant_id not in seen:
                seen.append(slot.participant_id)
        self._questions.extend((pid, message) for pid in seen)
        await self.events.bump()
        return message

    async def set_speed(self, speed: float) -> DiscussionSnapshot:
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise ValidationFailed(
                f"speed must be between {MIN_SPEED} and {MAX_SPEED}", field="speed"
            )
        self.speed = speed
        self._wake.set()
        await self.events.bump()
        return self.snapshot()

    def _require(self, status: DiscussionStatus, action: str) -> None:
        if self.status is not status:
            raise InvalidTransition(
                f"cannot {action} a {self.status.value} discussion", field="status"
            )

    # ----- watching ---------------------------------------------------------------------

    def snapshot(self) -> DiscussionSnapshot:
        return DiscussionSnapshot(
            discussion_id=self.id,
            status=self.status,
            status_reason=self.reason,
            round=self.round,
            phase=self.phase,
            last_seq=self.events.last_seq,
            speed=self.speed,
            pending_questions=len(self._questions),
            version=self.events.version,
            live_id=self.events.live_id,
            report_status=self.report_status,
            **self.totals,
        )

    async def report_finished(self, status: str) -> None:
        """The report is stored (ready, partial or failed): tell the watchers."""
        self.report_status = status
        await self.events.bump()

    async def events_since(
        self,
        after_seq: int,
        known_version: int | None = None,
        timeout: float = 10.0,
        after_live: int | None = None,
    ) -> EventBatch:
        """Message events after ``after_seq`` (and live events after ``after_live`` if
        given); waits up to ``timeout`` for news."""
        if not self.status.is_terminal or self.report_status == "generating":
            await self.events.wait(after_seq, known_version, timeout, after_live)
        live = self.events.live_since(after_live) if after_live is not None else []
        return EventBatch(events=self.events.since(after_seq), live=live, snapshot=self.snapshot())

    async def publish_live(self, delta: TurnDelta) -> None:
        """Streamed text of the turn in progress (or: discard what was shown of it)."""
        await self.events.publish_live(
            {
                "type": "message_discard" if delta.restart else "message_delta",
                "seq": len(self.history) + 1,  # the seq the message will get
                "participant_id": delta.participant_id,
                "speaker_name": self.names.get(delta.participant_id, ""),
                "text": delta.text,
            }
        )
