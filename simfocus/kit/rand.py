"""Deterministic randomness that does not depend on Python's per-process hash seed."""

from __future__ import annotations

import hashlib
import random


def stable_rng(*parts: object) -> random.Random:
    """A ``random.Random`` seeded from ``parts``: the same parts give the same stream."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))
