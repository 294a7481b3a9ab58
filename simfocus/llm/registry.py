"""Builds a provider from its config; one instance per distinct config is kept."""

from __future__ import annotations

from simfocus.llm.base import LLMProvider
from simfocus.llm.errors import UnknownProvider
from simfocus.llm.schemas import ProviderConfig
from simfocus.llm.simulated import SimulatedProvider


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[ProviderConfig, LLMProvider] = {}

    def get(self, config: ProviderConfig) -> LLMProvider:
        provider = self._providers.get(config)
        if provider is None:
            provider = self._providers[config] = build_provider(config)
        return provider

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        self._providers.clear()


def build_provider(config: ProviderConfig) -> LLMProvider:
    if config.name == "simulated":
        return SimulatedProvider(latency_ms=config.latency_ms, model=config.model)
    raise UnknownProvider(
        f"provider {config.name!r} is not available yet; use 'simulated'",
        field="provider",
    )
