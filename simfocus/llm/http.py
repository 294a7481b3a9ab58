"""What the HTTP providers share: the client, SSE reading, and mapping failures once.

``map_status`` and ``map_transport`` turn HTTP statuses and httpx exceptions into the
error tree of ``errors.py``; nothing above the providers sees an httpx exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from simfocus.llm import errors
from simfocus.llm.ratelimit import parse_rate_limit_headers

_RATE_HEADER = re.compile(r"^(x-ratelimit-|anthropic-ratelimit-|retry-after)")
_KEYLIKE = re.compile(r"(sk-[A-Za-z0-9_\-]{3})[A-Za-z0-9_\-*.]{4,}")
_CONTEXT = re.compile(
    r"context[_ ]length|maximum context|prompt is too long|too many tokens|context window",
    re.IGNORECASE,
)
MAX_ERROR_TEXT = 300


def build_client(
    base_url: str,
    headers: Mapping[str, str],
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url.rstrip("/"),
        headers=dict(headers),
        timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        transport=transport,
    )


def rate_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if _RATE_HEADER.match(k.lower())}


def scrub(text: str, secret: str | None) -> str:
    """Remove a key (and anything key-shaped) from text that may reach logs or clients."""
    if secret:
        text = text.replace(secret, "***")
    return _KEYLIKE.sub(r"\1***", text)


def error_text(body: bytes, secret: str | None) -> str:
    """The provider's own error message, if its body has one."""
    try:
        data = json.loads(body)
        message = data.get("error", {}).get("message") if isinstance(data, dict) else None
    except (ValueError, AttributeError):
        message = None
    text = message or body.decode("utf-8", "replace")
    return scrub(text.strip(), secret)[:MAX_ERROR_TEXT]


def map_status(
    provider: str, response: httpx.Response, body: bytes, secret: str | None
) -> errors.ProviderError:
    status = response.status_code
    headers = rate_headers(response.headers)
    retry_after = parse_rate_limit_headers(headers).retry_after_s
    detail = error_text(body, secret)
    message = (
        f"{provider} answered {status}: {detail}" if detail else f"{provider} answered {status}"
    )
    kwargs: dict[str, Any] = {
        "status_code": status,
        "retry_after_s": retry_after,
        "headers": headers,
    }
    cls: type[errors.ProviderError]
    if status in (401, 403):
        cls = errors.AuthenticationFailed
        message = f"{provider} refused the API key ({status}): check the key and its permissions"
    elif status == 404:
        cls = errors.ModelNotFound
    elif status == 429:
        cls = errors.RateLimited
    elif status in (408, 409) or status >= 500:
        cls = errors.ProviderUnavailable
    elif _CONTEXT.search(detail):
        cls = errors.ContextLengthExceeded
    else:
        cls = errors.BadRequest
    return cls(message, **kwargs)


def map_transport(
    provider: str, exc: httpx.HTTPError, *, text_shown: int = 0
) -> errors.ProviderError:
    if text_shown:
        return errors.StreamInterrupted(
            f"{provider} stream was cut after {text_shown} characters ({type(exc).__name__})",
            billed_tokens=max(1, text_shown // 4),
        )
    if isinstance(exc, httpx.TimeoutException):
        return errors.ProviderTimeout(f"{provider} did not answer in time ({type(exc).__name__})")
    return errors.ConnectionFailed(f"cannot reach {provider}: {type(exc).__name__}")


async def post_json(
    client: httpx.AsyncClient, provider: str, path: str, payload: dict[str, Any], secret: str | None
) -> tuple[dict[str, Any], httpx.Headers]:
    """One non-streamed call: its JSON body and headers, or the mapped error."""
    try:
        response = await client.post(path, json=payload)
    except httpx.HTTPError as e:
        raise map_transport(provider, e) from None
    if response.status_code >= 400:
        raise map_status(provider, response, response.content, secret)
    return parse_json(provider, response.content), response.headers


def parse_json(provider: str, body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise errors.MalformedResponse(f"{provider} sent a response that is not JSON") from None
    if not isinstance(data, dict):
        raise errors.MalformedResponse(f"{provider} sent an unexpected JSON document")
    return data


@dataclass
class SSEEvent:
    event: str
    data: str


async def iter_sse(response: httpx.Response) -> AsyncIterator[SSEEvent]:
    """Server-sent events: ``event:`` and ``data:`` lines, a blank line ends an event."""
    event, data = "message", list[str]()
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield SSEEvent(event, "\n".join(data))
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue  # a comment / keep-alive
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield SSEEvent(event, "\n".join(data))


def sse_json(provider: str, event: SSEEvent) -> dict[str, Any]:
    try:
        data = json.loads(event.data)
    except ValueError:
        raise errors.MalformedResponse(f"{provider} sent a stream event that is not JSON") from None
    if not isinstance(data, dict):
        raise errors.MalformedResponse(f"{provider} sent an unexpected stream event")
    return data
