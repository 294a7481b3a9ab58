"""The API envelope: ``{data, meta: {request_id, timestamp, pagination}, errors: [...]}``.

Every response, success or error, has this shape and carries the request id (also in the
``X-Request-ID`` header). Errors are ``{code, message, field}``; never a stack trace.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from simfocus.kit.errors import SimfocusError
from simfocus.kit.pagination import Pagination
from simfocus.kit.validation import field_path

logger = logging.getLogger(__name__)
REQUEST_ID = "X-Request-ID"

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
}


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or str(uuid.uuid4())


def meta(request: Request, pagination: Pagination | None = None) -> dict[str, Any]:
    return {
        "request_id": request_id(request),
        "timestamp": datetime.now(UTC).isoformat(),
        "pagination": pagination.model_dump() if pagination else None,
    }


def ok(
    request: Request, data: Any, *, status: int = 200, pagination: Pagination | None = None
) -> JSONResponse:
    body = {"data": jsonable_encoder(data), "meta": meta(request, pagination), "errors": []}
    return JSONResponse(body, status_code=status)


def failure(
    request: Request,
    status: int,
    errors: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"data": None, "meta": meta(request), "errors": errors}
    return JSONResponse(body, status_code=status, headers=headers)


class RequestIdMiddleware(BaseHTTPMiddleware):
    """Adopts the caller's (or Serve proxy's) request id, or makes one.

    Behind Ray Serve the proxy assigns the id and puts it on the response itself, so
    ``echo`` is off there; under plain uvicorn this middleware echoes it.
    """

    def __init__(self, app: object, echo: bool = True) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.echo = echo

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        incoming = request.headers.get(REQUEST_ID, "")
        # Accept an id only if it looks like one (it ends up in logs).
        request.state.request_id = (
            incoming
            if 8 <= len(incoming) <= 64 and incoming.replace("-", "").isalnum()
            else str(uuid.uuid4())
        )
        response = await call_next(request)
        if self.echo:
            response.headers[REQUEST_ID] = request.state.request_id
        return response


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SimfocusError)
    async def simfocus_error(request: Request, exc: SimfocusError) -> JSONResponse:
        headers = None
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after:
            headers = {"Retry-After": str(max(1, round(retry_after)))}
        return failure(request, exc.status, [exc.to_dict()], headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for item in exc.errors():
            loc = [p for p in item.get("loc", ()) if p not in ("body", "query", "path", "header")]
            errors.append(
                {
                    "code": "VALIDATION_ERROR",
                    "message": item.get("msg", "invalid"),
                    "field": field_path(tuple(loc)) or None,
                }
            )
        return failure(request, 422, errors)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.lower().replace("_", " ")
        return failure(
            request,
            exc.status_code,
            [{"code": code, "message": message, "field": None}],
            dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(OperationalError)
    async def store_busy(request: Request, exc: OperationalError) -> JSONResponse:
        # The store timed out (SQLite's write lock held past its busy timeout under heavy
        # load, or the database is unreachable): nothing was changed; the client may retry.
        logger.warning("store unavailable in request %s: %s", request_id(request), exc.orig)
        return failure(
            request,
            503,
            [
                {
                    "code": "STORE_UNAVAILABLE",
                    "message": "the store is busy or unavailable and nothing was changed; "
                    "retry in a few seconds",
                    "field": None,
                }
            ],
            {"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error in request %s", request_id(request))
        return failure(
            request,
            500,
            [
                {
                    "code": "INTERNAL_ERROR",
                    "message": f"an unexpected error occurred (request {request_id(request)})",
                    "field": None,
                }
            ],
        )
