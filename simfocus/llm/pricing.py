"""Model prices and the cost of a call, in integer micro-USD.

A price in USD per million tokens is numerically the price in micro-USD per token, so
costs are exact products of token counts and prices, rounded up to a whole micro-dollar.
"""

from __future__ import annotations

import logging
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import yaml
from pydantic import Field

from simfocus.kit.models import ValueModel

logger = logging.getLogger(__name__)
_warned: set[str] = set()


class ModelPrice(ValueModel):
    """USD per one million tokens."""

    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)
    cache_write: Decimal | None = Field(default=None, ge=0)


class PriceTable(ValueModel):
    prices_as_of: str
    default: ModelPrice
    models: dict[str, ModelPrice] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PriceTable:
        return cls.model_validate(yaml.safe_load(path.read_text()))

    def price(self, provider: str, model: str) -> ModelPrice:
        key = f"{provider}/{model}"
        if key in self.models:
            return self.models[key]
        # Dated snapshots ("gpt-4o-2024-08-06") are priced like their family.
        for name in sorted(self.models, key=len, reverse=True):
            if key.startswith(name):
                return self.models[name]
        if key not in _warned:  # once per model, not once per call
            _warned.add(key)
            logger.warning("no price for %s; using the default price", key)
        return self.default

    def cost_micro_usd(
        self,
        provider: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> int:
        """Cost of a call; ``prompt_tokens`` counts all input, cached parts included."""
        price = self.price(provider, model)
        uncached = max(0, prompt_tokens - cache_read_tokens - cache_write_tokens)
        total = (
            price.input * uncached
            + (price.cache_read if price.cache_read is not None else price.input)
            * cache_read_tokens
            + (price.cache_write if price.cache_write is not None else price.input)
            * cache_write_tokens
            + price.output * completion_tokens
        )
        return int(total.to_integral_value(rounding=ROUND_CEILING))
