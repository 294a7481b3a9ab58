"""The same FastAPI app under plain uvicorn (no Serve), for comparison and local debugging:

    uvicorn --factory serve.plain:app --port 8001

Discussions still run on Ray (the app joins or starts a cluster on first use).
"""

from __future__ import annotations

from fastapi import FastAPI

from serve.app import build_app
from simfocus.settings import Settings


def app() -> FastAPI:
    return build_app(Settings())
