"""``/v1/ws/discussions/{id}``: watch a discussion live and control it.

Server events are ``{type, seq, data}``: ``message`` (seq = the message's), transient
``message_delta`` / ``message_discard`` (seq = the message being written), ``status`` and
``progress`` (seq = the last message's), ``report_ready`` (once the report of the ended
discussion is stored: ready, partial or failed), ``subscribed``, ``pong``, ``error``. A client
sends ``{"action": "subscribe", "data": {"last_seq": N}}`` and gets exactly the messages
after N, then live events; ``ping``; and, as the owner, ``pause``, ``resume``, ``stop``,
``speed`` ({speed: 0.5-3}) and ``inject`` ({question}). Bad messages get an ``error``
event; the connection stays. A client that cannot keep up (its send buffer fills) is told
to resubscribe and disconnected — the discussion itself never waits for a watcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import ray
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from actors.errors import unwrap
from actors.moderator import moderator_name
from serve.context import ApiContext
from serve.deps import authenticate
from serve.feeds import DiscussionFeed
from serve.runtime import live_moderator
from simfocus.discussions import queries
from simfocus.discussions.api_schemas import QuestionIn, SpeedIn
from simfocus.discussions.events import message_event
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import DiscussionStatus
from simfocus.kit.errors import SimfocusError
from simfocus.reports.repository import ReportRepository

logger = logging.getLogger(__name__)
router = APIRouter()
SEND_BUFFER = 1000
HEARTBEAT_S = 20.0
MAX_CLIENT_MESSAGE = 8_192
CONTROLS = {"pause", "resume", "stop", "speed", "inject"}
REPORT_SETTLED = ("ready", "partial", "failed")
FLOOD_CLOSE_AFTER = 100  # messages refused for rate before the connection is closed


class _SlowClient(Exception):
    pass


class _Flooding(Exception):
    """The client keeps sending faster than allowed after being told: it is closed."""


class TokenBucket:
    """Per-connection message budget: ``rate`` per second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class Watch:
    """One WebSocket connection: a reader of client actions and a pump of events."""

    def __init__(self, ws: WebSocket, ctx: ApiContext, discussion_id: str, user_id: str) -> None:
        self.ws, self.ctx, self.id, self.user_id = ws, ctx, discussion_id, user_id
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(SEND_BUFFER)
        self.subscribed = asyncio.Event()
        self.last_seq = 0

    def send(self, type_: str, seq: int, data: Any) -> None:
        try:
            self.outbox.put_nowait({"type": type_, "seq": seq, "data": data})
        except asyncio.QueueFull:
            raise _SlowClient from None

    async def writer(self) -> None:
        while (event := await self.outbox.get()) is not None:
            await self.ws.send_text(json.dumps(event, default=str))

    async def reader(self) -> None:
        bucket = TokenBucket(
            self.ctx.settings.ws_messages_per_second, self.ctx.settings.ws_message_burst
        )
        refused = 0
        while True:
            raw = await self.ws.receive_text()
            if not bucket.take():
                refused += 1
                if refused > FLOOD_CLOSE_AFTER:
                    raise _Flooding
                self.send(
                    "error",
                    self.last_seq,
                    {
                        "code": "RATE_LIMIT_EXCEEDED",
                        "message": f"at most {bucket.rate:g} messages per second: this one "
                        "was ignored",
                        "field": None,
                    },
                )
                continue
            if len(raw) > MAX_CLIENT_MESSAGE:
                self.send(
                    "error",
                    self.last_seq,
                    {"code": "MESSAGE_TOO_LARGE", "message": "messages are limited to 8 KB"},
                )
                continue
            try:
                msg = json.loads(raw)
                action = msg.get("action") if isinstance(msg, dict) else None
                data = msg.get("data") or {} if isinstance(msg, dict) else {}
                if not isinstance(data, dict):
                    raise ValueError
            except ValueError:
                self.send(
                    "error",
                    self.last_seq,
                    {
                        "code": "BAD_MESSAGE",
                        "message": 'send JSON: {"action": "subscribe", "data": {"last_seq": 0}}',
                    },
                )
                continue
            await self.handle(action, data)

    async def handle(self, action: Any, data: dict[str, Any]) -> None:
        if action == "ping":
            self.send("pong", self.last_seq, {})
        elif action == "subscribe":
            last = data.get("last_seq", 0)
            if not isinstance(last, int) or last < 0:
                self.send(
                    "error",
                    self.last_seq,
                    {
                        "code": "VALIDATION_ERROR",
                        "message": "last_seq must be a whole number ≥ 0",
                        "field": "last_seq",
                    },
                )
                return
            self.last_seq = last
            self.subscribed.set()
            self.send("subscribed", last, {"last_seq": last})
        elif action in CONTROLS:
            await self.control(action, data)
        else:
            self.send(
                "error",
                self.last_seq,
                {
                    "code": "UNKNOWN_ACTION",
                    "message": f"unknown action {action!r}",
                    "field": "action",
                },
            )

    async def control(self, action: str, data: dict[str, Any]) -> None:
        try:
            args: tuple[Any, ...] = ()
            method = action
            if action == "speed":
                args, method = (SpeedIn.model_validate(data).speed,), "set_speed"
            elif action == "inject":
                args, method = (QuestionIn.model_validate(data).question,), "inject_question"
            moderator = ray.get_actor(moderator_name(self.id))
            await getattr(moderator, method).remote(*args)
        except ValidationError as e:
            err = e.errors()[0]
            self.send(
                "error",
                self.last_seq,
                {
                    "code": "VALIDATION_ERROR",
                    "message": err["msg"],
                    "field": ".".join(map(str, err["loc"])),
                },
            )
        except ValueError:
            self.send(
                "error",
                self.last_seq,
                {"code": "INVALID_STATE_TRANSITION", "message": "the discussion is not running"},
            )
        except Exception as e:
            error = unwrap(e)
            if isinstance(error, SimfocusError):
                self.send("error", self.last_seq, error.to_dict())
            else:
                raise

    async def pump(self) -> None:
        await self.subscribed.wait()
        feed = self.ctx.feeds.acquire(self.id)
        try:
            gone = await self._follow(feed)
        finally:
            self.ctx.feeds.release(feed)
        if gone:
            await self.from_store()

    async def _follow(self, feed: DiscussionFeed) -> bool:
        """Send what the shared feed has; True if the moderator is not there (use the store)."""
        version: int | None = None
        after_live = 0
        reported = False
        while True:
            await feed.wait(self.last_seq, version, after_live, HEARTBEAT_S)
            if feed.gone:
                return True
            for event in feed.messages[self.last_seq :]:
                self.send("message", event["seq"], event["message"])
                self.last_seq = event["seq"]
            for live in feed.live:
                if live["live_id"] > after_live and live["seq"] > self.last_seq:
                    data = {k: live[k] for k in ("participant_id", "speaker_name", "text")}
                    self.send(live["type"], live["seq"], data)
            snap = feed.snapshot
            if snap is None:
                continue
            after_live = max(after_live, snap.live_id)
            if snap.version != version:
                version = snap.version
                self.send("status", self.last_seq, snap.model_dump(mode="json"))
                progress = {"round": snap.round, "phase": snap.phase, "messages": snap.last_seq}
                self.send("progress", self.last_seq, progress)
                if snap.report_status in REPORT_SETTLED and not reported:
                    reported = True
                    self.report_ready(snap.report_status)
            if (
                snap.status.is_terminal
                and self.last_seq >= snap.last_seq
                and snap.report_status != "generating"
            ):
                return False

    def report_ready(self, status: str) -> None:
        self.send(
            "report_ready",
            self.last_seq,
            {"status": status, "url": f"/v1/discussions/{self.id}/report"},
        )

    async def from_store(self) -> None:
        """The moderator is gone (finished, or never started): replay from the store."""
        async with self.ctx.sessions() as session:
            row = await queries.owned(session, self.user_id, self.id)
            for m in await DiscussionRepository(session).messages(self.id, after_seq=self.last_seq):
                event = message_event(m)
                self.send("message", m.seq, event["message"])
                self.last_seq = m.seq
            status = {
                "status": row.status,
                "status_reason": row.status_reason,
                "round": row.current_round,
                "phase": row.current_phase,
                "last_seq": self.last_seq,
            }
            report = await ReportRepository(session).of_discussion(self.id)
        if row.status in ("running", "paused"):
            # Its moderator was lost (a crash, a restart): resume it, then follow it again.
            await live_moderator(self.ctx, self.id, row.status)
            return await self.pump()
        self.send("status", self.last_seq, status)
        if report is not None and report.status in REPORT_SETTLED:
            self.report_ready(report.status)
        if row.status == DiscussionStatus.INITIALIZED.value:
            # Not started yet: wait for it to start, then follow it.
            while True:
                await asyncio.sleep(1.0)
                try:
                    ray.get_actor(moderator_name(self.id))
                except ValueError:
                    continue
                return await self.pump()


@router.websocket("/v1/ws/discussions/{discussion_id}")
async def watch(websocket: WebSocket, discussion_id: str, token: str = "") -> None:
    ctx: ApiContext = websocket.app.state.ctx
    origin = websocket.headers.get("origin")
    allowed = ctx.settings.allowed_ws_origins
    if origin is not None and "*" not in allowed and origin.rstrip("/") not in allowed:
        # A page on another site must not drive a user's discussions (cross-site WebSocket
        # hijacking): refuse the handshake (HTTP 403).
        logger.warning("websocket from origin %r refused", origin)
        await websocket.close(code=4403)
        return
    await websocket.accept()
    try:
        async with ctx.sessions() as session:
            user = await authenticate(ctx, session, token)
            await queries.owned(session, user.id, discussion_id)
    except SimfocusError as e:
        # Not yours or not there: the same answer, so existence does not leak.
        await websocket.send_text(json.dumps({"type": "error", "seq": 0, "data": e.to_dict()}))
        await websocket.close(code=4404 if e.status == 404 else 4401)
        return
    limits = ctx.limits()
    slot = f"{ctx.settings.rate_limit_scope}:ws:{user.id}"
    if not await limits.acquire.remote(slot, ctx.settings.websockets_per_user):
        await websocket.send_text(
            json.dumps(
                {
                    "type": "error",
                    "seq": 0,
                    "data": {
                        "code": "RATE_LIMIT_EXCEEDED",
                        "message": f"at most {ctx.settings.websockets_per_user} sockets per user",
                        "field": None,
                    },
                }
            )
        )
        await websocket.close(code=4429)
        return
    w = Watch(websocket, ctx, discussion_id, user.id)
    writer = asyncio.create_task(w.writer())
    reader = asyncio.create_task(w.reader())
    pump = asyncio.create_task(w.pump())
    try:
        done, _ = await asyncio.wait({reader, pump, writer}, return_when=asyncio.FIRST_COMPLETED)
        if pump in done and pump.exception() is None:
            await w.outbox.put(None)
            await asyncio.wait_for(writer, 10)
            await websocket.close(code=1000)
        elif any(isinstance(t.exception(), _Flooding) for t in done if not t.cancelled()):
            with contextlib.suppress(Exception):
                await websocket.close(code=4429)
        elif any(isinstance(t.exception(), _SlowClient) for t in done if not t.cancelled()):
            with contextlib.suppress(Exception):
                await websocket.send_text(
                    json.dumps(
                        {
                            "type": "error",
                            "seq": w.last_seq,
                            "data": {
                                "code": "SLOW_CONSUMER",
                                "message": "you fell behind: reconnect, subscribe with last_seq",
                                "field": None,
                            },
                        }
                    )
                )
                await websocket.close(code=4408)
        elif pump in done or (
            reader in done and not isinstance(reader.exception(), WebSocketDisconnect)
        ):
            failed = pump if pump in done else reader
            logger.error(
                "websocket %s failed: %r",
                "pump" if failed is pump else "reader",
                failed.exception(),
            )
            with contextlib.suppress(Exception):
                await websocket.close(code=1011)
    except WebSocketDisconnect:
        pass
    finally:
        for task in (reader, pump, writer):
            task.cancel()
        await asyncio.gather(reader, pump, writer, return_exceptions=True)
        await limits.release.remote(slot)
