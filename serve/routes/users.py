"""``/v1/users/me``: the caller's account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from serve.deps import ClientDep, CtxDep, CurrentUser, MutationLimited, SessionDep
from serve.envelope import ok
from simfocus.accounts import service
from simfocus.accounts.schemas import UserOut, UserPatch

router = APIRouter(prefix="/v1/users/me", tags=["users"])


@router.get("")
async def me(request: Request, user: CurrentUser) -> JSONResponse:
    return ok(request, UserOut.model_validate(user))


@router.patch("", dependencies=[MutationLimited])
async def update(
    body: UserPatch,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
    client: ClientDep,
) -> JSONResponse:
    user = await service.update_me(session, ctx.settings, user, body, client)
    data: dict[str, object] = {"user": UserOut.model_validate(user)}
    if body.password:
        # A new password ends every session, this one too: hand out a fresh one.
        data["tokens"] = await service.open_session(session, ctx.settings, user)
    await session.commit()
    return ok(request, data)


@router.delete("", dependencies=[MutationLimited])
async def delete(
    request: Request, user: CurrentUser, session: SessionDep, client: ClientDep
) -> JSONResponse:
    await service.delete_me(session, user, client)
    await session.commit()
    return ok(request, {"deleted": True})
