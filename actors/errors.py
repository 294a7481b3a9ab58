"""Getting our own errors back out of Ray's wrappers."""

from __future__ import annotations

import asyncio
from typing import Any

from ray.exceptions import RayActorError, RayTaskError


def unwrap(error: BaseException) -> BaseException:
    """The innermost cause of a (possibly nested) ``RayTaskError``."""
    while isinstance(error, RayTaskError) and getattr(error, "cause", None) is not None:
        error = error.cause
    return error


async def live_actor(name: str, namespace: str | None = None, timeout_s: float = 10.0) -> Any:
    """The named actor if it is alive, else None.

    A process killed outright (SIGKILL, OOM) leaves its actor's name taken by a dead actor
    until someone kills that handle: we do, so a replacement can take the name.
    """
    import ray

    try:
        handle = ray.get_actor(name, namespace=namespace)
    except ValueError:
        return None
    try:
        await asyncio.wait_for(handle.check_health.remote(), timeout_s)
    except RayActorError:
        ray.kill(handle)  # release the name
        return None
    return handle
