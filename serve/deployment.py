"""The Ray Serve application: one FastAPI ingress deployment.

``simfocus serve`` and ``serve run configs/serve.yaml`` deploy the same thing; options
come from ``configs/serve.yaml``. ``max_ongoing_requests`` is raised well above Serve's
default of 5 (every open WebSocket holds one), and ``request_timeout_s`` is left unset
(it would cut WebSockets).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from ray import serve
from ray.serve import Application

from serve.app import build_app
from simfocus.settings import REPO_CONFIGS, Settings
from simfocus.store.engine import store_engine

DEPLOYMENT = "SimfocusAPI"
DEFAULT_OPTIONS: dict[str, Any] = {
    "max_ongoing_requests": 1000,
    "ray_actor_options": {"num_cpus": 0},
}


def deployment_options(config_file: Path) -> dict[str, Any]:
    """The API deployment's options from a Serve config file."""
    data = yaml.safe_load(config_file.read_text()) or {}
    for app in data.get("applications", []):
        for dep in app.get("deployments", []):
            if dep.get("name") == DEPLOYMENT:
                return {**DEFAULT_OPTIONS, **{k: v for k, v in dep.items() if k != "name"}}
    return dict(DEFAULT_OPTIONS)


def api_application(settings: Settings, options: dict[str, Any] | None = None) -> Application:
    # The app is built on each replica (a builder, not an object): engines and Ray handles
    # belong to the replica's process. Serve recognises a builder as a function of no args.
    def build() -> FastAPI:
        return build_app(settings, behind_serve=True)

    @serve.deployment(name=DEPLOYMENT, **(options or DEFAULT_OPTIONS))
    @serve.ingress(build)
    class SimfocusAPI:
        pass

    return SimfocusAPI.bind()  # type: ignore[attr-defined]


def app_builder(args: dict[str, str]) -> Application:
    """For ``serve run configs/serve.yaml`` (options there are applied by Serve itself).

    Runs once, where the application is deployed: the right place to migrate the store
    (never in each replica — two replicas must not migrate at once).
    """
    settings = Settings()
    asyncio.run(migrate(settings))
    return api_application(settings, deployment_options(REPO_CONFIGS / "serve.yaml"))


async def migrate(settings: Settings) -> None:
    async with store_engine(settings, migrated=True):
        pass
