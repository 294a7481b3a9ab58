"""Builds a provider from its config; one instance (one HTTP client) per distinct config."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

import httpx

from simfocus.llm import anthropic, openai
from simfocus.llm.base import LLMProvider
from simfocus.llm.credentials import Credentials
from simfocus.llm.recording import RecordingProvider, ReplayProvider
from simfocus.llm.schemas import ProviderConfig
from simfocus.llm.simulated import SimulatedProvider

DEFAULT_BASE_URLS = {"openai": openai.DEFAULT_BASE_URL, "anthropic": anthropic.DEFAULT_BASE_URL}


class ProviderRegistry:
    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        base_urls: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.credentials = credentials or Credentials({})
        self.base_urls = {**DEFAULT_BASE_URLS, **(base_urls or {})}
        self.transport = transport
        self._providers: dict[ProviderConfig, LLMProvider] = {}

    def resolve(self, config: ProviderConfig) -> ProviderConfig:
        """The config with its base URL filled in (where the call will really go)."""
        if config.name == "simulated" or config.base_url or config.replay_path:
            return config
        return config.model_copy(update={"base_url": self.base_urls[config.name]})

    def get(self, config: ProviderConfig) -> LLMProvider:
        config = self.resolve(config)
        provider = self._providers.get(config)
        if provider is None:
            provider = self._providers[config] = self._build(config)
        return provider

    def _build(self, config: ProviderConfig) -> LLMProvider:
        if config.replay_path:  # no network, no key
            return ReplayProvider(
                config.replay_path, name=config.name, simulated=config.name == "simulated"
            )
        provider = self._build_live(config)
        if config.record_path:
            return RecordingProvider(provider, config.record_path)
        return provider

    def _build_live(self, config: ProviderConfig) -> LLMProvider:
        if config.name == "simulated":
            return SimulatedProvider(latency_ms=config.latency_ms, model=config.model)
        key = self.credentials.api_key(config)
        assert config.base_url is not None
        cls = openai.OpenAIProvider if config.name == "openai" else anthropic.AnthropicProvider
        return cls(
            api_key=key,
            base_url=config.base_url,
            timeout_s=config.timeout_s,
            transport=self.transport,
        )

    def forget(self, matches: Callable[[ProviderConfig], bool]) -> None:
        """Drop providers (and their clients) whose config matches; closed in the background."""
        for config in [c for c in self._providers if matches(c)]:
            provider = self._providers.pop(config)
            with contextlib.suppress(RuntimeError):  # no running loop: nothing to close on
                asyncio.get_running_loop().create_task(provider.aclose())

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()
