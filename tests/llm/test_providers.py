"""The HTTP providers against local servers that speak the real wire formats, faults included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simfocus.llm import errors
from simfocus.llm.anthropic import AnthropicProvider
from simfocus.llm.base import LLMProvider
from simfocus.llm.openai import OpenAIProvider
from simfocus.llm.schemas import ChatMessage, Completion, CompletionRequest
from tests.fakes.llm_servers import FakeLLMServer, Fault

KEY = "sk-test-provider-key-123456"
REQUEST = CompletionRequest(
    model="test-model",
    system="You are Ana, a pharmacist.",
    messages=(ChatMessage(role="user", content="Round 1. What do you think of repair cafés?"),),
    max_tokens=200,
    temperature=0.7,
    seed=3,
)


@pytest.fixture(params=["openai", "anthropic"])
def server(request: pytest.FixtureRequest) -> Iterator[FakeLLMServer]:
    with FakeLLMServer(request.param, api_key=KEY) as s:
        yield s


def provider_for(server: FakeLLMServer, key: str = KEY, timeout_s: float = 10) -> LLMProvider:
    cls = OpenAIProvider if server.flavour == "openai" else AnthropicProvider
    return cls(api_key=key, base_url=server.base_url, timeout_s=timeout_s)


async def collect(provider: LLMProvider) -> tuple[list[str], Completion]:
    pieces: list[str] = []
    final = None
    async for piece in provider.stream(REQUEST):
        if isinstance(piece, Completion):
            final = piece
        else:
            pieces.append(piece)
    assert final is not None
    return pieces, final


async def test_complete_reads_text_and_usage(server: FakeLLMServer) -> None:
    provider = provider_for(server)
    completion = await provider.complete(REQUEST)
    await provider.aclose()
    assert completion.text.startswith("Simulated reply")
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0
    assert completion.usage_reported
    sent = server.requests[-1]
    if server.flavour == "openai":
        assert sent["path"] == "/v1/chat/completions"
        assert sent["headers"]["authorization"] == f"Bearer {KEY}"
        assert sent["body"]["messages"][0] == {"role": "system", "content": REQUEST.system}
        assert sent["body"]["seed"] == 3
    else:
        assert sent["path"] == "/v1/messages"
        assert sent["headers"]["x-api-key"] == KEY and sent["headers"]["anthropic-version"]
        assert sent["body"]["system"] == REQUEST.system  # its own field, not a message
        assert [m["role"] for m in sent["body"]["messages"]] == ["user"]


async def test_stream_yields_pieces_then_the_same_text_with_usage(server: FakeLLMServer) -> None:
    provider = provider_for(server)
    pieces, final = await collect(provider)
    plain = await provider.complete(REQUEST)
    await provider.aclose()
    assert len(pieces) > 3
    assert "".join(pieces) == final.text == plain.text
    assert final.usage_reported and final.completion_tokens == plain.completion_tokens
    if server.flavour == "openai":
        assert server.requests[0]["body"]["stream_options"] == {"include_usage": True}


async def test_a_stream_without_usage_still_works_and_says_so() -> None:
    with FakeLLMServer("openai", api_key=KEY) as server:
        server.add_faults(Fault(no_usage=True))
        provider = provider_for(server)
        pieces, final = await collect(provider)
        await provider.aclose()
    assert "".join(pieces) == final.text
    assert final.usage_reported is False and final.completion_tokens > 0


@pytest.mark.parametrize(
    "fault,error,retryable",
    [
        (Fault(status=429, retry_after=1.5), errors.RateLimited, True),
        (Fault(status=500), errors.ProviderUnavailable, True),
        (Fault(status=503), errors.ProviderUnavailable, True),
        (Fault(status=529), errors.ProviderUnavailable, True),
        (Fault(status=400), errors.ContextLengthExceeded, False),
        (Fault(status=400, error_message="temperature must be <= 2"), errors.BadRequest, False),
        (Fault(status=404), errors.ModelNotFound, False),
        (Fault(reset=True), errors.ConnectionFailed, True),
        (Fault(malformed=True), errors.MalformedResponse, True),
        (Fault(delay_s=2.0), errors.ProviderTimeout, True),
    ],
)
async def test_faults_map_to_typed_errors(
    server: FakeLLMServer, fault: Fault, error: type[errors.ProviderError], retryable: bool
) -> None:
    server.add_faults(fault)
    provider = provider_for(server, timeout_s=0.5)
    with pytest.raises(error) as info:
        await provider.complete(REQUEST)
    await provider.aclose()
    assert info.value.retryable is retryable
    if fault.retry_after:
        assert info.value.retry_after_s == pytest.approx(1.5)


async def test_a_bad_key_is_refused_and_never_echoed(server: FakeLLMServer) -> None:
    provider = provider_for(server, key="sk-wrong-key-abcdefghijklmnop")
    with pytest.raises(errors.AuthenticationFailed) as info:
        await provider.complete(REQUEST)
    await provider.aclose()
    assert info.value.code == "API_KEY_INVALID" and not info.value.retryable
    assert "abcdefghijklmnop" not in str(info.value) and "abcdefghijklmnop" not in repr(
        info.value.__dict__
    )


@pytest.mark.parametrize("reset", [False, True])
async def test_a_stream_cut_midway_is_interrupted_with_what_was_shown(
    server: FakeLLMServer, reset: bool
) -> None:
    server.add_faults(Fault(cut_after_chunks=3, reset=reset))
    provider = provider_for(server)
    shown: list[str] = []
    with pytest.raises(errors.StreamInterrupted) as info:
        async for piece in provider.stream(REQUEST):
            shown.append(str(piece))
    await provider.aclose()
    assert shown and info.value.retryable and info.value.billed_tokens > 0


async def test_malformed_stream_and_in_stream_errors(server: FakeLLMServer) -> None:
    server.add_faults(Fault(malformed=True), Fault(status=529, cut_after_chunks=0))
    provider = provider_for(server)
    with pytest.raises(errors.MalformedResponse):
        await collect(provider)
    with pytest.raises((errors.ProviderUnavailable, errors.StreamInterrupted)):
        await collect(provider)
    await provider.aclose()
