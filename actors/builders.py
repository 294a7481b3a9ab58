"""Turning the plain actor classes into Ray actors, with their options.

I/O-bound actors take ``num_cpus=0``: they wait on models and the store, not on a CPU,
and a laptop with 2 cores can host hundreds of them.
"""

from __future__ import annotations

from typing import Any

import ray

from actors.api_limits import ApiLimitsActor
from actors.gateway import LLMGatewayActor
from actors.moderator import ModeratorActor, moderator_name
from actors.persona import PersonaActor
from simfocus.settings import Settings

IO_BOUND: dict[str, Any] = {"num_cpus": 0}


def persona_actor_class() -> Any:
    # A crashed persona comes back empty and the moderator replays it the discussion (see
    # DiscussionRunner._speak_with_retries); its calls are not retried by Ray itself.
    return ray.remote(**IO_BOUND, max_restarts=3, max_task_retries=0)(PersonaActor)


def gateway_actor(settings: Settings) -> Any:
    """The named gateway, created on first use and shared by every discussion."""
    # A crashed gateway is restarted (rebuilding its budgets from the store, see
    # llm/calls.py) and a call it had in flight is retried once on the new process.
    return (
        ray.remote(**IO_BOUND)(LLMGatewayActor)
        .options(
            name=settings.gateway_name,
            get_if_exists=True,
            lifetime="detached",
            max_concurrency=1000,
            max_restarts=-1,
            max_task_retries=1,
        )
        .remote(settings)
    )


def moderator_actor(
    settings: Settings, discussion_id: str, gateway: Any, *, detached: bool = False
) -> Any:
    """The discussion's moderator. ``detached`` (the API): it outlives the replica that
    started it and ends itself once the discussion is over (see ``ModeratorActor``)."""
    options: dict[str, Any] = {"name": moderator_name(discussion_id), "max_concurrency": 1000}
    if detached:
        options.update(lifetime="detached", get_if_exists=True)
    return (
        ray.remote(**IO_BOUND)(ModeratorActor)
        .options(**options)
        .remote(settings, discussion_id, gateway)
    )


def api_limits_actor() -> Any:
    return (
        ray.remote(**IO_BOUND)(ApiLimitsActor)
        .options(name="api_limits", get_if_exists=True, lifetime="detached", max_concurrency=1000)
        .remote()
    )
