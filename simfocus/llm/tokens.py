"""Token estimates for text when no tokenizer of the model is at hand.

About four characters per token is what English text averages with the BPE tokenizers of
the OpenAI and Anthropic models; budgets add a safety margin on top (see ``budget.py``).
"""

from __future__ import annotations

from math import ceil

CHARS_PER_TOKEN = 4
# Every chat message carries a few tokens of framing (role, separators).
MESSAGE_OVERHEAD_TOKENS = 4


def estimate_tokens(text: str) -> int:
    return ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_chat_tokens(system: str, contents: list[str]) -> int:
    parts = [system, *contents]
    return sum(estimate_tokens(p) + MESSAGE_OVERHEAD_TOKENS for p in parts if p)


def truncate_to_tokens(text: str, max_tokens: int) -> str:
    """Cut ``text`` to about ``max_tokens``, at a word boundary, marking the cut."""
    limit = max_tokens * CHARS_PER_TOKEN
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)].rsplit(" ", 1)[0]
    return cut + "…"
