"""Getting our own errors back out of Ray's wrappers."""

from __future__ import annotations

from ray.exceptions import RayTaskError


def unwrap(error: BaseException) -> BaseException:
    """The innermost cause of a (possibly nested) ``RayTaskError``."""
    while isinstance(error, RayTaskError) and getattr(error, "cause", None) is not None:
        error = error.cause
    return error
