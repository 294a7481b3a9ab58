"""``/v1/users/me/api-keys``: the caller's provider keys, encrypted at rest, shown masked."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from serve.deps import ClientDep, CtxDep, CurrentUser, MutationLimited, SessionDep
from serve.envelope import ok
from simfocus.keys import service
from simfocus.keys.schemas import ApiKeyIn, ApiKeyPatch
from simfocus.llm.errors import LLMError
from simfocus.llm.schemas import ChatMessage, CompletionRequest, LLMRequest, ProviderConfig, Purpose

router = APIRouter(prefix="/v1/users/me/api-keys", tags=["api-keys"])


@router.get("")
async def list_(request: Request, user: CurrentUser, session: SessionDep) -> JSONResponse:
    return ok(request, await service.list_keys(session, user.id))


@router.post("", status_code=201, dependencies=[MutationLimited])
async def add(
    body: ApiKeyIn,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
    client: ClientDep,
) -> JSONResponse:
    key = await service.add_key(session, ctx.cipher(), user.id, body, client)
    await session.commit()
    return ok(request, key, status=201)


@router.patch("/{key_id}", dependencies=[MutationLimited])
async def patch(
    key_id: str,
    body: ApiKeyPatch,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
    client: ClientDep,
) -> JSONResponse:
    key = await service.patch_key(session, ctx.cipher(), user.id, key_id, body, client)
    await session.commit()
    await ctx.gateway().forget_key.remote(key_id)
    return ok(request, key)


@router.delete("/{key_id}", dependencies=[MutationLimited])
async def delete(
    key_id: str,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
    client: ClientDep,
) -> JSONResponse:
    await service.delete_key(session, user.id, key_id, client)
    await session.commit()
    await ctx.gateway().forget_key.remote(key_id)
    return ok(request, {"id": key_id, "deleted": True})


@router.post("/{key_id}/test", dependencies=[MutationLimited])
async def test(
    key_id: str, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep
) -> JSONResponse:
    """A one-token call through the gateway with this key: does the provider accept it?"""
    key = await service.get_key(session, user.id, key_id)
    await session.commit()  # never hold the store across an actor call (see deps.py)
    provider = ProviderConfig.model_validate(
        {
            "name": key.provider,
            "api_key_id": key.id,
            "base_url": key.api_base_url,
            **({"model": key.default_model} if key.default_model else {}),
            "max_attempts": 1,
            "timeout_s": 20,
        }
    )
    call = LLMRequest(
        discussion_id=f"key-test:{key.id}",
        user_id=user.id,
        purpose=Purpose.MODERATOR,
        provider=provider,
        completion=CompletionRequest(
            model=provider.model,
            system="",
            max_tokens=1,
            messages=(ChatMessage(role="user", content="ping"),),
        ),
    )
    try:
        result = await ctx.gateway().complete.remote(call)
    except Exception as e:
        from actors.errors import unwrap

        error = unwrap(e)
        if isinstance(error, LLMError):
            return ok(request, {"valid": False, "code": error.code, "message": error.message})
        if isinstance(error, httpx.HTTPError):
            return ok(
                request,
                {"valid": False, "code": "LLM_CONNECTION_ERROR", "message": type(error).__name__},
            )
        raise
    return ok(
        request, {"valid": True, "model": result.model, "latency_ms": round(result.latency_ms)}
    )
