"""OpenAI-compatible Chat Completions: OpenAI, vLLM, Ollama, llama.cpp server, LM Studio …

``base_url`` follows the OpenAI SDK's convention and ends in ``/v1``
(``https://api.openai.com/v1``, ``http://localhost:8000/v1``).
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
    sse_json,
)
from simfocus.llm.schemas import Completion, CompletionRequest
from simfocus.llm.tokens import estimate_chat_tokens, estimate_tokens

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class OpenAIProvider(LLMProvider):
    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_BASE_URL,
        timeout_s: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # Local servers (Ollama, llama.cpp) often need no key at all.
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._secret = api_key
        self._client = build_client(base_url, headers, timeout_s, transport)

    def _payload(self, request: CompletionRequest, *, stream: bool) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stream": stream,
        }
        if request.seed is not None:
            payload["seed"] = request.seed
        if stream:
            payload["stream_options"] = {"include_usage": True}
        return payload

    async def complete(self, request: CompletionRequest) -> Completion:
        data, headers = await post_json(
            self._client,
            self.name,
            "/chat/completions",
            self._payload(request, stream=False),
            self._secret,
        )
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            finish = choice.get("finish_reason") or "stop"
        except (KeyError, IndexError, TypeError, AttributeError):
            raise errors.MalformedResponse("openai sent a completion without choices") from None
        return self._completion(request, text, finish, data.get("usage"), headers)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[str | Completion]:
        parts: list[str] = []
        usage: dict[str, Any] | None = None
        finish = "stop"
        done = False
        try:
            async with self._client.stream(
                "POST", "/chat/completions", json=self._payload(request, stream=True)
            ) as response:
                if response.status_code >= 400:
                    raise map_status(self.name, response, await response.aread(), self._secret)
                headers = response.headers
                async for event in iter_sse(response):
                    if event.data.strip() == "[DONE]":
                        done = True
                        break
                    chunk = sse_json(self.name, event)
                    if "error" in chunk:
                        raise errors.ProviderUnavailable(
                            f"openai stream error: {str(chunk['error'])[:200]}"
                        )
                    usage = chunk.get("usage") or usage
                    for choice in chunk.get("choices") or []:
                        delta = (choice.get("delta") or {}).get("content")
                        if delta:
                            parts.append(delta)
                            yield delta
                        finish = choice.get("finish_reason") or finish
        except httpx.HTTPError as e:
            raise map_transport(self.name, e, text_shown=len("".join(parts))) from None
        if not done:
            shown = len("".join(parts))
            if shown:
                raise errors.StreamInterrupted(
                    f"openai stream ended after {shown} characters without [DONE]",
                    billed_tokens=max(1, shown // 4),
                )
            raise errors.MalformedResponse("openai stream ended without any data")
        yield self._completion(request, "".join(parts), finish, usage, headers)

    def _completion(
        self,
        request: CompletionRequest,
        text: str,
        finish: str,
        usage: dict[str, Any] | None,
        headers: httpx.Headers,
    ) -> Completion:
        if usage:
            details = usage.get("prompt_tokens_details") or {}
            return Completion(
                text=text,
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=int(usage.get("completion_tokens", 0)),
                cache_read_tokens=int(details.get("cached_tokens") or 0),
                model=request.model,
                finish_reason=finish,
                rate_headers=rate_headers(headers),
            )
        # Servers that ignore stream_options send no usage: estimate, and say so.
        return Completion(
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

    async def aclose(self) -> None:
        await self._client.aclose()
