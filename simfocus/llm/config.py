"""Gateway configuration (``configs/llm.yaml``): limits, breaker policy, stream batching."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import yaml
from pydantic import Field

from simfocus.kit.models import ValueModel
from simfocus.llm.breaker import BreakerPolicy
from simfocus.llm.ratelimit import RateLimits
from simfocus.llm.schemas import ProviderConfig

OFFICIAL_HOSTS = {"openai": "api.openai.com", "anthropic": "api.anthropic.com"}


class LimitSpec(ValueModel):
    requests_per_minute: float | None = Field(default=None, gt=0)
    tokens_per_minute: float | None = Field(default=None, gt=0)  # input + output together
    input_tokens_per_minute: float | None = Field(default=None, gt=0)
    output_tokens_per_minute: float | None = Field(default=None, gt=0)
    max_concurrency: int | None = Field(default=None, gt=0)
    burst: float = Field(default=0.05, gt=0, le=0.5)

    @property
    def combined(self) -> bool:
        """OpenAI counts a call's input and max output against one token limit."""
        return self.tokens_per_minute is not None

    def share(self, fraction: float) -> LimitSpec:
        """This part of the limits (a batch worker's share, so that all workers together
        stay within them)."""

        def part(value: float | None) -> float | None:
            return None if value is None else value * fraction

        return self.model_copy(
            update={
                "requests_per_minute": part(self.requests_per_minute),
                "tokens_per_minute": part(self.tokens_per_minute),
                "input_tokens_per_minute": part(self.input_tokens_per_minute),
                "output_tokens_per_minute": part(self.output_tokens_per_minute),
                "max_concurrency": None
                if self.max_concurrency is None
                else max(1, int(self.max_concurrency * fraction)),
            }
        )

    def to_limits(self) -> RateLimits:
        return RateLimits(
            requests_per_minute=self.requests_per_minute,
            input_tokens_per_minute=self.tokens_per_minute or self.input_tokens_per_minute,
            output_tokens_per_minute=None if self.combined else self.output_tokens_per_minute,
            max_concurrency=self.max_concurrency,
            burst=self.burst,
        )


class BreakerSpec(ValueModel):
    window_s: float = Field(default=60, gt=0)
    min_calls: int = Field(default=5, ge=1)
    failure_rate: float = Field(default=0.5, gt=0, le=1)
    cooldown_s: float = Field(default=30, gt=0)

    def to_policy(self) -> BreakerPolicy:
        return BreakerPolicy(self.window_s, self.min_calls, self.failure_rate, self.cooldown_s)


class GatewayConfig(ValueModel):
    limits: dict[str, LimitSpec] = Field(default_factory=dict)
    models: dict[str, LimitSpec] = Field(default_factory=dict)
    breaker: BreakerSpec = Field(default_factory=BreakerSpec)
    stream_batch_ms: float = Field(default=75, ge=0, le=1000)

    def share(self, fraction: float) -> GatewayConfig:
        """Every limit scaled to ``fraction`` (see ``LimitSpec.share``)."""
        return self.model_copy(
            update={
                "limits": {k: v.share(fraction) for k, v in self.limits.items()},
                "models": {k: v.share(fraction) for k, v in self.models.items()},
            }
        )

    @classmethod
    def load(cls, path: Path) -> GatewayConfig:
        return cls.model_validate(yaml.safe_load(path.read_text()) or {})

    def limit_spec(self, config: ProviderConfig) -> LimitSpec:
        """Model override, else the provider's defaults (a self-hosted OpenAI-compatible
        server gets the ``openai_compatible`` profile, not OpenAI's account limits)."""
        if config.label in self.models:
            return self.models[config.label]
        profile: str = config.name
        if config.name == "openai" and config.base_url and not is_official(config):
            profile = "openai_compatible"
        return self.limits.get(profile, LimitSpec())


def is_official(config: ProviderConfig) -> bool:
    host = OFFICIAL_HOSTS.get(config.name)
    return host is not None and (
        config.base_url is None or urlparse(config.base_url).hostname == host
    )
