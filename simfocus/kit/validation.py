"""Turning pydantic validation errors into one clear message naming the field."""

from __future__ import annotations

from pydantic import ValidationError


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("panel", 2, "personality", "openness")`` → ``panel[2].personality.openness``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def describe(error: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[tuple[str, str]]:
    """(field, message) for each problem, with the input shown for value errors."""
    problems = []
    for item in error.errors():
        loc = tuple(
            p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-"))
        )
        msg = item["msg"]
        if item["type"] not in ("missing", "extra_forbidden") and "input" in item:
            msg += f" (got {item['input']!r})"
        problems.append((field_path(prefix + loc) or "(file)", msg))
    return problems
