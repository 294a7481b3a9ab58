"""The FastAPI application: routes, envelope, request ids, limits on body size, CORS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from serve.context import ApiContext
from serve.envelope import RequestIdMiddleware, failure, install_error_handlers
from serve.retention import retention_lifespan
from simfocus import __version__
from simfocus.settings import Settings


class BodySizeLimit(BaseHTTPMiddleware):
    def __init__(self, app: object, max_bytes: int) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.max_bytes = max_bytes

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            return failure(
                request,
                413,
                [
                    {
                        "code": "PAYLOAD_TOO_LARGE",
                        "message": f"request bodies are limited to {self.max_bytes} bytes",
                        "field": None,
                    }
                ],
            )
        return await call_next(request)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """While a replica serves: the retention job runs; at its end the store is released."""
    async with retention_lifespan(app):
        try:
            yield
        finally:
            await app.state.ctx.aclose()


def build_app(settings: Settings, *, behind_serve: bool = False) -> FastAPI:
    from serve.routes import (
        auth,
        characters,
        discussions,
        health,
        keys,
        reports,
        shares,
        topics,
        users,
        ws,
    )

    app = FastAPI(
        title="simFocus API",
        version=__version__,
        description="AI virtual focus groups: moderated discussions between LLM personas.",
        lifespan=_lifespan,
    )
    app.state.ctx = ApiContext.create(settings)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestIdMiddleware, echo=not behind_serve)
    for module in (health, auth, users, keys, topics, characters, reports, discussions, shares, ws):
        app.include_router(module.router)
    return app
