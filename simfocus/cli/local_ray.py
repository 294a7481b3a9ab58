"""Starting or joining Ray for the CLI."""

from __future__ import annotations

import logging

import ray

from simfocus.settings import Settings


def init_ray(settings: Settings, *, dashboard: bool = False) -> None:
    """Join the cluster in ``settings.ray_address`` if set, else start a local one."""
    if ray.is_initialized():
        return
    address = settings.ray_address or None
    kwargs: dict[str, object] = {}
    if address is None:
        kwargs["include_dashboard"] = dashboard
    ray.init(
        address=address,
        namespace=settings.ray_namespace,
        logging_level=logging.ERROR,
        log_to_driver=False,  # actors' logs stay in the Ray session's files, not on screen
        configure_logging=True,
        **kwargs,  # type: ignore[arg-type]
    )
