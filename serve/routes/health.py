"""``/v1/health``: is Ray up, is the store reachable, does the gateway answer."""

from __future__ import annotations

import asyncio

import ray
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from serve.deps import CtxDep
from serve.envelope import ok

router = APIRouter(tags=["health"])


@router.get("/v1/health")
async def health(request: Request, ctx: CtxDep) -> JSONResponse:
    checks: dict[str, str] = {"ray": "ok" if ray.is_initialized() else "down"}
    try:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["store"] = "ok"
    except Exception as e:  # report, don't fail the probe
        checks["store"] = f"down: {type(e).__name__}"
    try:
        await asyncio.wait_for(ctx.gateway().check_health.remote(), 5)
        checks["gateway"] = "ok"
    except Exception as e:
        checks["gateway"] = f"down: {type(e).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return ok(
        request,
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if healthy else 503,
    )
