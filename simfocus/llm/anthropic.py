"""The Anthropic Messages API.

``base_url`` follows the Anthropic SDK's convention and does not end in ``/v1``
(``https://api.anthropic.com``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from simfocus.llm import errors
from simfocus.llm.base import LLMProvider
from simfocus.llm.http import (
    build_client,
    iter_sse,
    map_status,
    map_transport,
    post_json,
    rate_headers,
    scrub,
    sse_json,
)
from simfocus.llm.schemas import Completion, CompletionRequest
from simfocus.llm.tokens import estimate_chat_tokens, estimate_tokens

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
OVERLOADED = {"overloaded_error", "api_error"}


class AnthropicProvider(LLMProvider):
    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        self._secret = api_key
        self._client = build_client(base_url, headers, timeout_s, transport)

    def _payload(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": min(request.temperature, 1.0),  # Anthropic's range is 0..1
            "stream": stream,
        }
        if request.system:
            payload["system"] = request.system
        return payload

    async def complete(self, request: CompletionRequest) -> Completion:
        data, headers = await post_json(
            self._client,
            self.name,
            "/v1/messages",
            self._payload(request, stream=False),
            self._secret,
        )
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise errors.MalformedResponse("anthropic sent a message without content")
        text = "".join(
            b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"
        )
        return self._completion(
            request,
            text,
            data.get("stop_reason") or "end_turn",
            data.get("usage") or {},
            headers,
        )

    async def stream(self, request: CompletionRequest) -> AsyncIterator[str | Completion]:
        parts: list[str] = []
        usage: dict[str, Any] = {}
        finish = "end_turn"
        stopped = False
        try:
            async with self._client.stream(
                "POST", "/v1/messages", json=self._payload(request, stream=True)
            ) as response:
                if response.status_code >= 400:
                    raise map_status(self.name, response, await response.aread(), self._secret)
                headers = response.headers
                async for event in iter_sse(response):
                    if event.event == "ping":
                        continue
                    data = sse_json(self.name, event)
                    kind = data.get("type", event.event)
                    if kind == "message_start":
                        usage.update((data.get("message") or {}).get("usage") or {})
                    elif kind == "content_block_delta":
                        delta = data.get("delta") or {}
                        if delta.get("type") == "text_delta" and delta.get("text"):
                            parts.append(delta["text"])
                            yield delta["text"]
                    elif kind == "message_delta":
                        usage.update(data.get("usage") or {})
                        finish = (data.get("delta") or {}).get("stop_reason") or finish
                    elif kind == "message_stop":
                        stopped = True
                        break
                    elif kind == "error":
                        raise self._stream_error(data, len("".join(parts)))
        except httpx.HTTPError as e:
            raise map_transport(self.name, e, text_shown=len("".join(parts))) from None
        if not stopped:
            shown = len("".join(parts))
            if shown:
                raise errors.StreamInterrupted(
                    f"anthropic stream ended after {shown} characters without message_stop",
                    billed_tokens=max(1, shown // 4),
                )
            raise errors.MalformedResponse("anthropic stream ended without any data")
        yield self._completion(request, "".join(parts), finish, usage, headers)

    def _stream_error(self, data: dict[str, Any], shown: int) -> errors.ProviderError:
        error = data.get("error") or {}
        message = (
            f"anthropic stream error: {scrub(str(error.get('message', ''))[:200], self._secret)}"
        )
        if shown:
            return errors.StreamInterrupted(message, billed_tokens=max(1, shown // 4))
        if error.get("type") in OVERLOADED:
            return errors.ProviderUnavailable(message)
        return errors.BadRequest(message)

    def _completion(
        self,
        request: CompletionRequest,
        text: str,
        finish: str,
        usage: dict[str, Any],
        headers: httpx.Headers,
    ) -> Completion:
        cache_read = int(usage.get("cache_read_input_tokens") or 0)
        cache_write = int(usage.get("cache_creation_input_tokens") or 0)
        if "input_tokens" not in usage or "output_tokens" not in usage:
            return Completion(  # no usage: estimate, and say so (settled at the reservation)
                text=text,
                prompt_tokens=estimate_chat_tokens(
                    request.system, [m.content for m in request.messages]
                ),
                completion_tokens=estimate_tokens(text),
                model=request.model,
                finish_reason=finish,
                usage_reported=False,
                rate_headers=rate_headers(headers),
            )
        return Completion(
            text=text,
            # Anthropic's input_tokens exclude cache reads and writes; ours count all input.
            prompt_tokens=int(usage["input_tokens"]) + cache_read + cache_write,
            completion_tokens=int(usage["output_tokens"]),
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
            model=request.model,
            finish_reason=finish,
            rate_headers=rate_headers(headers),
        )

    async def aclose(self) -> None:
        await self._client.aclose()
