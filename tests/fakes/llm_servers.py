"""Local fake LLM servers speaking the OpenAI Chat Completions and Anthropic Messages wire formats.

Each server runs uvicorn in a background thread on 127.0.0.1 and a free port. Faults are taken
FIFO, one per request to the completion endpoint, before auth is checked. Combinations:
`reset` alone drops the connection with a TCP RST before any response; on a stream,
`cut_after_chunks` ends the body cleanly after N content chunks, plus `reset` closes the
connection mid-body instead (incomplete chunked read), plus `status` sends the provider's
in-stream error event first. rpm/tpm turn on sliding 60-second windows that answer 429 like the
real providers. Token counts are ceil(characters / 4).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import re
import socket
import struct
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _BaseProtocol
except ImportError:  # pragma: no cover - httptools is optional
    from uvicorn.protocols.http.h11_impl import H11Protocol as _BaseProtocol  # type: ignore[assignment]

Flavour = Literal["openai", "anthropic"]
WINDOW_S = 60.0

_WORDS = (
    "I think the price matters more than the packaging, honestly. My family would try it once "
    "but only keep buying it if the taste holds up and it fits our weekly routine without fuss. "
    "Compared with what we use now it feels a bit expensive, though the convenience is appealing "
    "and my friends might recommend it if the quality stays consistent over time."
).split()

_OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: (
        "invalid_request_error",
        "context_length_exceeded",
        "This model's maximum context length is 8192 tokens. However, your messages resulted in "
        "9000 tokens. Please reduce the length of the messages.",
    ),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Access denied."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("rate_limit_exceeded", "rate_limit_exceeded", "Rate limit reached. Please try again."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
_ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "This request would exceed the rate limit for your organization."),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}
_OPENAI_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
_OPENAI_KEY_HINT = "You can find your API key at https://platform.openai.com/account/api-keys."
_BROKEN_SSE = {
    "openai": b'data: {"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"in\n\n',
    "anthropic": b'event: content_block_delta\ndata: {"type":"content_block_delta","de\n\n',
}


@dataclass
class Fault:
    """What to do with one request to the completion endpoint (combinations: module doc)."""

    status: int | None = None  # answer this HTTP status with the provider's error JSON body
    retry_after: float | None = None  # `retry-after` header (+ `retry-after-ms` for openai)
    delay_s: float = 0.0  # sleep before answering
    reset: bool = False  # drop the TCP connection (RST) without any HTTP response
    cut_after_chunks: int | None = None  # stream: N content chunks then end (no [DONE]/stop)
    malformed: bool = False  # 200 with a non-JSON body / one non-JSON SSE data line
    no_usage: bool = False  # openai stream: never send the usage chunk
    error_message: str | None = None  # message text in the error body


@dataclass
class _Reply:
    text: str
    truncated: bool  # cut to max_tokens: finish_reason "length" / stop_reason "max_tokens"
    n_in: int
    n_out: int


def _text(content: Any) -> str:
    """Text of a message content: a string or a list of blocks/parts with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def prompt_tokens(body: dict[str, Any]) -> int:
    """ceil(characters of the system prompt and all message contents / 4)."""
    chars = len(_text(body.get("system")))
    chars += sum(len(_text(m.get("content"))) for m in body.get("messages") or [])
    return math.ceil(chars / 4)


def default_reply(body: dict[str, Any]) -> str:
    """A deterministic 20-40 word sentence derived from the last user message."""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    digest = hashlib.sha256(_text(users[-1]["content"] if users else "").encode()).hexdigest()
    seed = int(digest[:8], 16)
    n, start = 20 + seed % 21, seed % len(_WORDS)
    words = [_WORDS[(start + i) % len(_WORDS)] for i in range(n)]
    return f"Simulated reply {digest[:4]}: {' '.join(words).rstrip('.,')}."


def _pieces(text: str, words: int = 3) -> list[str]:
    """Split into stream pieces of a few words each; their concatenation is exactly `text`."""
    tokens = re.findall(r"\s*\S+\s*", text) or ([text] if text else [])
    return ["".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]


def _secs(value: float) -> str:
    """Seconds for retry-after: integral values plain, otherwise up to 3 decimals."""
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _go_duration(seconds: float) -> str:
    """OpenAI's reset format: "20ms", "1s", "8.64s", "6m0s"."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60)
    return (f"{int(minutes)}m" if minutes else "") + f"{_secs(rest)}s"


def _mask(key: str) -> str:
    return f"{key[:5]}***{key[-4:]}" if len(key) > 12 else "***"


def _sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return (f"event: {event}\n" if event else "").encode() + f"data: {payload}\n\n".encode()


class _RateWindow:
    """Sliding 60-second windows of request count and tokens."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self.rpm, self.tpm = rpm, tpm
        self.entries: deque[tuple[float, int]] = deque()  # (monotonic time, tokens)

    def _prune(self, now: float) -> None:
        while self.entries and self.entries[0][0] + WINDOW_S <= now:
            self.entries.popleft()

    def admit(self, tokens: int) -> tuple[bool, bool, float]:
        """(requests exceeded, tokens exceeded, seconds until enough capacity); records if ok."""
        now = time.monotonic()
        self._prune(now)
        wait_r = wait_t = 0.0
        over_r = self.rpm is not None and len(self.entries) + 1 > self.rpm
        if over_r and self.entries:
            wait_r = self.entries[0][0] + WINDOW_S - now
        used = sum(t for _, t in self.entries)
        over_t = self.tpm is not None and used + tokens > self.tpm
        if over_t and self.tpm is not None:
            wait_t = WINDOW_S if tokens > self.tpm else 0.0
            for ts, t in self.entries:
                used -= t
                if used + tokens <= self.tpm:
                    wait_t = ts + WINDOW_S - now
                    break
        if not (over_r or over_t):
            self.entries.append((now, tokens))
        return over_r, over_t, max(wait_r, wait_t, 0.001)

    def snapshot(self) -> tuple[int, float, int, float]:
        """(requests remaining, requests reset s, tokens remaining, tokens reset s)."""
        now = time.monotonic()
        self._prune(now)
        reset = self.entries[0][0] + WINDOW_S - now if self.entries else 0.0
        req_left = max((self.rpm or 0) - len(self.entries), 0)
        tok_left = max((self.tpm or 0) - sum(t for _, t in self.entries), 0)
        return req_left, reset, tok_left, reset


class _Server(uvicorn.Server):
    loop: asyncio.AbstractEventLoop
    stopping: asyncio.Event  # set on stop(): pending delays end so shutdown is quick and quiet

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # never touch signal handlers
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop, self.stopping = asyncio.get_running_loop(), asyncio.Event()
        await super().startup(sockets)


class FakeLLMServer:
    """A fake OpenAI (`/v1/chat/completions`) or Anthropic (`/v1/messages`) endpoint."""

    def __init__(
        self,
        flavour: Flavour,
        *,
        api_key: str = "sk-test-key",
        reply: Callable[[dict], str] | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
        chunk_delay_s: float = 0.0,
    ) -> None:
        self.flavour: Flavour = flavour
        self.api_key = api_key
        self.reply = reply or default_reply
        self.rpm, self.tpm = rpm, tpm
        self.chunk_delay_s = chunk_delay_s
        self.requests: list[dict[str, Any]] = []
        self.stats: dict[str, int] = dict.fromkeys(
            ("requests", "rate_limited", "input_tokens", "output_tokens"), 0
        )
        self.base_url = ""
        self.port = 0
        self._faults: deque[Fault] = deque()
        self._window = _RateWindow(rpm, tpm) if (rpm or tpm) else None
        self._transports: dict[Any, asyncio.Transport] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.app = FastAPI()
        path = "/v1/chat/completions" if flavour == "openai" else "/v1/messages"
        self.app.add_api_route(path, self._endpoint, methods=["POST"])
        self.app.add_api_route("/{rest:path}", self._not_found, methods=["GET", "POST"])

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        transports = self._transports

        class _Protocol(_BaseProtocol):  # type: ignore[misc,valid-type]
            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                super().connection_made(transport)
                transports[self.client] = transport

            def connection_lost(self, exc: Exception | None) -> None:
                transports.pop(self.client, None)
                super().connection_lost(exc)

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        root = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{root}/v1" if self.flavour == "openai" else root
        config = uvicorn.Config(
            self.app, http=_Protocol, lifespan="off", log_level="warning", access_log=False,
            timeout_graceful_shutdown=2,
        )  # fmt: skip
        self._server = _Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("fake LLM server failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            if self._server.started:
                self._server.loop.call_soon_threadsafe(self._server.stopping.set)
            self._server.should_exit = True
            self._thread.join(timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_faults(self, *faults: Fault) -> None:
        self._faults.extend(faults)

    # -- request handling --------------------------------------------------------------------

    async def _not_found(self, request: Request, rest: str) -> Response:
        msg = f"Invalid URL ({request.method} /{rest})"
        return self._error(404, msg if self.flavour == "openai" else f"Not found: /{rest}")

    async def _endpoint(self, request: Request) -> Response:
        response = await self._handle(request)
        self.stats["rate_limited" if response.status_code == 429 else "requests"] += 1
        return response

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        record = body if body is not None else raw.decode(errors="replace")
        self.requests.append({"path": request.url.path, "headers": headers, "body": record})
        fault = self._faults.popleft() if self._faults else Fault()
        stream = isinstance(body, dict) and body.get("stream") is True
        if fault.delay_s:
            await self._sleep(fault.delay_s)
        if fault.reset and fault.cut_after_chunks is None:
            await self._drop(request, graceful=False)
            return Response(status_code=499)  # never reaches the client
        if fault.status is not None and not (stream and fault.cut_after_chunks is not None):
            return self._error(fault.status, fault.error_message, fault.retry_after)
        problem = self._check(headers, body)
        if problem is not None:
            return self._error(*problem)
        assert isinstance(body, dict)
        text = self.reply(body)
        limit = body.get("max_tokens", body.get("max_completion_tokens"))
        limit = limit if isinstance(limit, int) else None
        truncated = limit is not None and count_tokens(text) > limit
        text = text[: limit * 4] if limit is not None and truncated else text
        r = _Reply(text, truncated, prompt_tokens(body), count_tokens(text))
        if self._window is not None:
            over_r, over_t, wait = self._window.admit(r.n_in + (limit or r.n_out))
            if over_r or over_t:
                msg = f"Rate limit reached: {'requests' if over_r else 'tokens'} per minute."
                return self._error(429, msg, wait, zero=(over_r, over_t))
        self.stats["input_tokens"] += r.n_in
        self.stats["output_tokens"] += r.n_out
        if fault.malformed and not stream:
            broken = b'{"id": "broken", "choices": [{"index": 0, "message": {"content": "Simul'
            return Response(broken, media_type="application/json", headers=self._headers())
        build = self._openai_frames if self.flavour == "openai" else self._anthropic_frames
        if not stream:
            return JSONResponse(build(body, r, fault, False), headers=self._headers())
        frames = self._drive(request, fault, *build(body, r, fault, True))
        headers = {**self._headers(), "cache-control": "no-cache"}
        return StreamingResponse(frames, media_type="text/event-stream", headers=headers)

    def _check(self, headers: dict[str, str], body: Any) -> tuple[int, str] | None:
        """Auth and validation problems as (status, message)."""
        if self.flavour == "openai":
            given = headers.get("authorization", "")
            if given != f"Bearer {self.api_key}":
                key = given.removeprefix("Bearer ").strip()
                if not key:
                    return 401, _OPENAI_NO_KEY
                return 401, f"Incorrect API key provided: {_mask(key)}. {_OPENAI_KEY_HINT}"
            required: tuple[str, ...] = ("model", "messages")
        else:
            # x-api-key; newer SDKs send the key as `Authorization: Bearer`, also accepted.
            bearer = headers.get("authorization", "").removeprefix("Bearer ").strip()
            given = headers.get("x-api-key", bearer)
            if not given:
                return 401, "x-api-key header is required"
            if given != self.api_key:
                return 401, "invalid x-api-key"
            if "anthropic-version" not in headers:
                return 400, "anthropic-version: header is required"
            required = ("model", "messages", "max_tokens")
        if not isinstance(body, dict):
            return 400, "We could not parse the JSON body of your request."
        missing = [name for name in required if name not in body]
        if not missing:
            return None
        if self.flavour == "anthropic":
            return 400, f"{missing[0]}: Field required"
        return 400, f"Missing required parameter: '{missing[0]}'."

    def _error(
        self,
        status: int,
        message: str | None = None,
        retry_after: float | None = None,
        zero: tuple[bool, bool] = (False, False),
    ) -> JSONResponse:
        headers = self._headers(zero)
        if retry_after is not None:
            headers["retry-after"] = _secs(retry_after)
            if self.flavour == "openai":
                headers["retry-after-ms"] = str(math.ceil(retry_after * 1000))
        return JSONResponse(self._error_body(status, message), status, headers=headers)

    def _error_body(self, status: int, message: str | None) -> dict[str, Any]:
        if self.flavour == "openai":
            kind, code, default = _OPENAI_ERRORS.get(status, _OPENAI_ERRORS[500])
            if status == 400 and message and "context length" not in message:
                code = None
            if status == 404 and message and message.startswith("Invalid URL"):
                code = None
            param = "messages" if code == "context_length_exceeded" else None
            missing = re.match(r"Missing required parameter: '(\w+)'", message or "")
            if missing:
                param, code = missing[1], "missing_required_parameter"
            err = {"message": message or default, "type": kind, "param": param, "code": code}
            return {"error": err}
        kind, default = _ANTHROPIC_ERRORS.get(status, _ANTHROPIC_ERRORS[500])
        return {
            "type": "error",
            "error": {"type": kind, "message": message or default},
            "request_id": f"req_{uuid.uuid4().hex[:24]}",
        }

    def _headers(self, zero: tuple[bool, bool] = (False, False)) -> dict[str, str]:
        """Request id plus the provider's rate-limit headers (when rpm/tpm are set)."""
        rid = f"req_{uuid.uuid4().hex[:24]}"
        out = {"x-request-id" if self.flavour == "openai" else "request-id": rid}
        if self._window is None:
            return out
        req_left, req_reset, tok_left, tok_reset = self._window.snapshot()
        limits = [
            ("requests", self.rpm, 0 if zero[0] else req_left, req_reset),
            ("tokens", self.tpm, 0 if zero[1] else tok_left, tok_reset),
        ]
        now = time.time()
        for kind, limit, left, reset in limits:
            if not limit:
                continue
            if self.flavour == "openai":
                out[f"x-ratelimit-limit-{kind}"] = str(limit)
                out[f"x-ratelimit-remaining-{kind}"] = str(left)
                out[f"x-ratelimit-reset-{kind}"] = _go_duration(reset)
                continue
            # whole seconds, rounded up so that a client waiting for it is never early
            at = datetime.fromtimestamp(math.ceil(now + reset), UTC).isoformat()
            # one combined token window, reported as tokens, input-tokens and output-tokens
            for name in (
                (kind,) if kind == "requests" else ("tokens", "input-tokens", "output-tokens")
            ):
                out[f"anthropic-ratelimit-{name}-limit"] = str(limit)
                out[f"anthropic-ratelimit-{name}-remaining"] = str(left)
                out[f"anthropic-ratelimit-{name}-reset"] = at.replace("+00:00", "Z")
        return out

    # -- response bodies ---------------------------------------------------------------------

    def _openai_frames(self, body: dict[str, Any], r: _Reply, fault: Fault, stream: bool) -> Any:
        """The JSON body, or the SSE frames (head, contents, tail, mid-stream error) to stream."""
        finish, n_in, n_out = ("length" if r.truncated else "stop"), r.n_in, r.n_out
        usage = {
            "prompt_tokens": n_in,
            "completion_tokens": n_out,
            "total_tokens": n_in + n_out,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        }
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        ids: dict[str, Any] = {"id": cid, "object": "chat.completion", "created": int(time.time())}
        ids |= {"model": body["model"], "system_fingerprint": None}
        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": r.text, "refusal": None}
            message["annotations"] = []
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            return {**ids, "choices": [choice], "usage": usage}
        base = {**ids, "object": "chat.completion.chunk"}
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        extra = {"usage": None} if with_usage else {}

        def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            return _sse({**base, "choices": [choice], **extra})

        head = [chunk({"role": "assistant", "content": "", "refusal": None})]
        tail = [chunk({}, finish)]
        if with_usage and not fault.no_usage:
            tail.append(_sse({**base, "choices": [], "usage": usage}))
        tail.append(_sse("[DONE]"))
        error = _sse(self._error_body(fault.status or 500, fault.error_message))
        return head, [chunk({"content": p}) for p in _pieces(r.text)], tail, error

    def _anthropic_frames(self, body: dict[str, Any], r: _Reply, fault: Fault, stream: bool) -> Any:
        stop, n_in, n_out = ("max_tokens" if r.truncated else "end_turn"), r.n_in, r.n_out
        usage = {
            "input_tokens": n_in,
            "output_tokens": n_out,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }
        message: dict[str, Any] = {"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message"}
        message["role"] = "assistant"
        message |= {"model": body["model"], "stop_sequence": None}
        if not stream:
            content = [{"type": "text", "text": r.text}]
            return {**message, "content": content, "stop_reason": stop, "usage": usage}

        def ev(kind: str, **data: Any) -> bytes:
            return _sse({"type": kind, **data}, event=kind)

        start = {
            **message,
            "content": [],
            "stop_reason": None,
            "usage": {**usage, "output_tokens": 1},
        }
        head = [
            ev("message_start", message=start),
            ev("content_block_start", index=0, content_block={"type": "text", "text": ""}),
            ev("ping"),
        ]
        contents = [
            ev("content_block_delta", index=0, delta={"type": "text_delta", "text": p})
            for p in _pieces(r.text)
        ]
        message_delta = {"stop_reason": stop, "stop_sequence": None}
        tail = [
            ev("content_block_stop", index=0),
            ev("message_delta", delta=message_delta, usage={"output_tokens": n_out}),
            ev("message_stop"),
        ]
        error = _sse(self._error_body(fault.status or 500, fault.error_message), event="error")
        return head, contents, tail, error

    async def _drive(
        self, request: Request, fault: Fault, head: list[bytes], contents: list[bytes],
        tail: list[bytes], error: bytes,
    ) -> AsyncIterator[bytes]:  # fmt: skip
        """Send SSE frames with chunk delays, cuts, malformed lines and mid-stream errors."""
        for frame in head:
            yield frame
        cut = fault.cut_after_chunks
        for i, frame in enumerate(contents):
            if cut is not None and i >= cut:
                break
            if self.chunk_delay_s:
                await self._sleep(self.chunk_delay_s)
            yield frame
            if fault.malformed and i == 0:
                yield _BROKEN_SSE[self.flavour]
        else:
            if self.chunk_delay_s:
                await self._sleep(self.chunk_delay_s)
            for frame in tail:
                yield frame
            return
        if fault.status is not None:
            yield error
        if fault.reset:
            await self._drop(request, graceful=True)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake up early when the server is stopping."""
        assert self._server is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.stopping.wait(), seconds)

    async def _drop(self, request: Request, *, graceful: bool) -> None:
        """Close the connection: FIN after flushing (graceful) or an immediate RST."""
        transport = self._transports.get(request.scope.get("client"))
        if transport is None:
            return
        if graceful:
            transport.close()
        else:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        for _ in range(3):  # let connection_lost run so uvicorn drops further writes
            await asyncio.sleep(0)
