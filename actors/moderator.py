"""``ModeratorActor``: one per running discussion, named ``discussion:<id>``.

It loads the discussion from the store, seats one ``PersonaActor`` per participant (owned
by this actor, so they go when it goes), opens the budget in the gateway and drives a
``DiscussionRunner``; every control and watch call is delegated to the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ray
from ray.exceptions import RayActorError
from ray.util import metrics

from actors.errors import unwrap
from actors.reports import report_writer
from simfocus.discussions.errors import PersonaLost
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.runner import DiscussionRunner
from simfocus.discussions.schemas import DiscussionSnapshot, EventBatch, Message
from simfocus.discussions.service import load_discussion
from simfocus.discussions.store import DiscussionStore
from simfocus.personas.schemas import TurnOutcome, TurnRequest
from simfocus.reports.repository import ReportRepository
from simfocus.reports.schemas import Report, ReportStatus
from simfocus.reports.service import Sessions, produce_report
from simfocus.settings import Settings
from simfocus.store.engine import create_engine, session_factory

logger = logging.getLogger(__name__)


START_TIMEOUT_S = 120.0
REPORT_WAIT_S = 300.0  # a shutdown waits this long for the report being written
PERSONA_BACK_S = 30.0  # how long a lost persona may take to be restarted by Ray


@contextmanager
def _persona_call(call: Any, participant_id: str) -> Iterator[None]:
    """Errors of a call to a persona, as the runner understands them."""
    try:
        yield
    except asyncio.CancelledError:
        ray.cancel(call)  # stop: the persona abandons its call too
        raise
    except RayActorError as e:
        raise PersonaLost(f"persona {participant_id} died: {type(e).__name__}") from None
    except Exception as e:
        raise unwrap(e) from None


def moderator_name(discussion_id: str) -> str:
    return f"discussion:{discussion_id}"


def persona_name(discussion_id: str, position: int, name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return f"discussion:{discussion_id}:persona:{position}:{slug}"


class DiscussionMetrics:
    """For the Ray dashboard / Prometheus: discussions running and turns taken (the
    gateway adds tokens, cost, latency, errors and queue waits)."""

    def __init__(self) -> None:
        self.active = metrics.Gauge(
            "simfocus_discussions_active",
            description="1 while this moderator's discussion runs",
            tag_keys=("discussion",),
        )
        self.turns = metrics.Counter(
            "simfocus_turns", description="persona turns taken", tag_keys=("mode",)
        )


class ModeratorActor:
    def __init__(self, settings: Settings, discussion_id: str, gateway: Any) -> None:
        self.settings = settings
        self.discussion_id = discussion_id
        self.gateway = gateway
        self.personas: dict[str, Any] = {}
        self.runner: DiscussionRunner | None = None
        self._task: asyncio.Task[DiscussionSnapshot] | None = None
        self._ready = asyncio.Event()  # set once start() has seated everyone
        self._after: asyncio.Task[None] | None = None
        self._report_done = asyncio.Event()
        self.report: Report | None = None
        self.metrics = DiscussionMetrics()
        self._final_memory: dict[str, dict[str, Any]] = {}
        self._engine = create_engine(
            settings.resolved_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )

    async def start(self, retire_after_s: float | None = None) -> DiscussionSnapshot:
        """Seat the personas and start the discussion; returns once they are seated.

        ``retire_after_s`` (detached moderators started by the API): that long after the
        discussion ends — time for watchers to read its last events — the moderator
        releases its personas and exits; later readers get everything from the store.
        """
        if self.runner is not None:
            return self.runner.snapshot()
        sessions = session_factory(self._engine)
        async with sessions() as session:
            repo = DiscussionRepository(session)
            setup = await load_discussion(repo, self.discussion_id)
            history: list[Message] = await repo.messages(self.discussion_id)
        from actors.builders import persona_actor_class  # avoid an import cycle

        persona_cls = persona_actor_class()
        for p in setup.participants:
            self.personas[p.id] = persona_cls.options(
                name=persona_name(self.discussion_id, p.position, p.character.name)
            ).remote(p, setup.topic, setup.spec, self.settings, self.gateway)
        # Seated means ready: a persona that cannot start fails start(), not turn one.
        await asyncio.gather(*(h.check_health.remote() for h in self.personas.values()))
        spent = sum(m.cost_micro_usd for m in history)
        await self.gateway.open_budget.remote(
            self.discussion_id,
            setup.spec.budget_micro_usd,
            self.settings.report_budget_share,
            spent,
        )
        self.runner = DiscussionRunner(
            setup, DiscussionStore(sessions), self._speak, history=history, with_report=True
        )
        await self.runner.begin()
        self._ready.set()
        self._task = asyncio.create_task(self.runner.run())
        self.metrics.active.set(1, tags={"discussion": self.discussion_id})
        self._after = asyncio.create_task(self._after_run(sessions, retire_after_s))
        return self.runner.snapshot()

    async def _after_run(self, sessions: Sessions, retire_after_s: float | None) -> None:
        """Once the discussion ends: write its report, then (detached) retire."""
        assert self._task is not None and self.runner is not None
        await asyncio.gather(self._task, return_exceptions=True)
        self.metrics.active.set(0, tags={"discussion": self.discussion_id})
        # The run is over: the personas' processes go now, not at retirement; what they
        # remembered stays readable (persona_memory).
        states = await asyncio.gather(
            *(h.memory_state.remote() for h in self.personas.values()), return_exceptions=True
        )
        self._final_memory = {
            pid: state
            for pid, state in zip(self.personas, states, strict=True)
            if isinstance(state, dict)
        }
        self._release_personas()
        if self.runner.report_status == "generating":
            status = ReportStatus.FAILED.value
            try:
                writer = report_writer(self.settings, self.gateway)
                report = await produce_report(sessions, writer, self.discussion_id)
                self.report = report
                status = report.status.value
            except Exception:
                logger.exception(
                    "discussion %s: the report could not be stored", self.discussion_id
                )
                await self._report_failed(sessions)
            await self.runner.report_finished(status)
        self._report_done.set()
        if retire_after_s is not None:
            await asyncio.sleep(retire_after_s)
            await self.shutdown()
            ray.actor.exit_actor()

    async def _report_failed(self, sessions: Sessions) -> None:
        with contextlib.suppress(Exception):
            async with sessions() as session, session.begin():
                row = await ReportRepository(session).mark_generating(self.discussion_id)
                row.status = ReportStatus.FAILED.value
                row.note = "The report could not be stored (the store failed); regenerate it."

    async def wait_report(self, timeout: float | None = None) -> Report | None:
        """The report written when the discussion ended (None if none was)."""
        await asyncio.wait_for(self._report_done.wait(), timeout)
        return self.report

    async def _speak(self, participant_id: str, turn: TurnRequest) -> TurnOutcome:
        try:
            return await self._speak_once(participant_id, turn)
        except PersonaLost:
            # Ray is restarting the process: let it come back before the runner retries,
            # or the retry only meets the same dead process.
            await self._persona_back(participant_id)
            raise

    async def _persona_back(self, participant_id: str, timeout_s: float = PERSONA_BACK_S) -> None:
        handle = self.personas.get(participant_id)
        deadline = asyncio.get_running_loop().time() + timeout_s
        while handle is not None and asyncio.get_running_loop().time() < deadline:
            try:
                await asyncio.wait_for(handle.check_health.remote(), 2.0)
                return
            except (RayActorError, TimeoutError):
                await asyncio.sleep(0.5)

    async def _speak_once(self, participant_id: str, turn: TurnRequest) -> TurnOutcome:
        persona = self.personas[participant_id]
        assert self.runner is not None
        runner = self.runner
        call = (
            persona.take_turn_stream.remote(turn)
            if runner.spec.stream
            else persona.take_turn.remote(turn)
        )
        self.metrics.turns.inc(1, tags={"mode": runner.spec.mode.value})
        with _persona_call(call, participant_id):
            if not runner.spec.stream:
                outcome: TurnOutcome = await call
                return outcome
            async for ref in call:
                item = await ref
                if isinstance(item, TurnOutcome):
                    return item
                await runner.publish_live(item)
        raise RuntimeError("the persona's stream ended without an outcome")

    def _runner(self) -> DiscussionRunner:
        if self.runner is None:
            raise RuntimeError("the moderator has not been started")
        return self.runner

    async def _started_runner(self) -> DiscussionRunner:
        """The runner, once start() is done: a watcher may find this actor by name while
        it is still seating the personas."""
        await asyncio.wait_for(self._ready.wait(), START_TIMEOUT_S)
        return self._runner()

    async def pause(self) -> DiscussionSnapshot:
        return await (await self._started_runner()).pause()

    async def resume(self) -> DiscussionSnapshot:
        return await (await self._started_runner()).resume()

    async def stop(self, reason: str = "stopped by user") -> DiscussionSnapshot:
        return await (await self._started_runner()).stop(reason)

    async def inject_question(self, question: str) -> Message:
        return await (await self._started_runner()).inject_question(question)

    async def set_speed(self, speed: float) -> DiscussionSnapshot:
        return await (await self._started_runner()).set_speed(speed)

    def snapshot(self) -> DiscussionSnapshot:
        return self._runner().snapshot()

    async def events_since(
        self,
        after_seq: int,
        known_version: int | None = None,
        timeout: float = 10.0,
        after_live: int | None = None,
    ) -> EventBatch:
        """Events after ``after_seq`` (and live text after ``after_live``), waiting up to
        ``timeout`` s for news (no polling)."""
        runner = await self._started_runner()
        return await runner.events_since(after_seq, known_version, timeout, after_live)

    async def wait_finished(self, timeout: float | None = None) -> DiscussionSnapshot:
        assert self._task is not None
        return await asyncio.wait_for(asyncio.shield(self._task), timeout)

    async def persona_memory(self, participant_id: str) -> dict[str, Any]:
        if participant_id not in self.personas:
            return self._final_memory[participant_id]
        return await self.personas[participant_id].memory_state.remote()

    async def shutdown(self) -> None:
        """Stop if still running, release the personas and the store."""
        if self.runner is not None and not self.runner.status.is_terminal:
            await self.runner.stop("moderator shut down")
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self._after is not None and self._after is not asyncio.current_task():
            # Let the report being written finish (it has its own timeouts), then go.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._report_done.wait(), REPORT_WAIT_S)
            self._after.cancel()
        self._release_personas()
        await self.gateway.close_budget.remote(self.discussion_id)
        await self._engine.dispose()

    def _release_personas(self) -> None:
        for handle in self.personas.values():
            ray.kill(handle, no_restart=True)
        self.personas.clear()

    def process_id(self) -> int:
        """This process (the chaos tests kill it)."""
        return os.getpid()

    def check_health(self) -> bool:
        return self._task is None or not self._task.done() or self._task.exception() is None
