"""``/v1/auth``: register, login, refresh, logout, email verification, password reset."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from serve.context import ApiContext
from serve.deps import AuthLimited, ClientDep, CtxDep, SessionDep
from serve.envelope import ok
from simfocus.accounts import service
from simfocus.accounts.mail import deliver_pending
from simfocus.accounts.schemas import (
    ForgotPasswordIn,
    LoginIn,
    RefreshIn,
    RegisterIn,
    ResetPasswordIn,
    UserOut,
    VerifyEmailIn,
)

router = APIRouter(prefix="/v1/auth", tags=["auth"], dependencies=[AuthLimited])


def _send_mail_soon(ctx: ApiContext) -> None:
    """Hand queued mail to SMTP in the background (a no-op without SMTP)."""

    async def send() -> None:
        async with ctx.sessions() as session:
            await deliver_pending(session, ctx.settings)
            await session.commit()

    asyncio.get_running_loop().create_task(send())


@router.post("/register", status_code=201)
async def register(
    body: RegisterIn, request: Request, session: SessionDep, ctx: CtxDep, client: ClientDep
) -> JSONResponse:
    user = await service.register(session, ctx.settings, body, client)
    await session.commit()
    _send_mail_soon(ctx)
    return ok(request, UserOut.model_validate(user), status=201)


@router.post("/login")
async def login(
    body: LoginIn, request: Request, session: SessionDep, ctx: CtxDep, client: ClientDep
) -> JSONResponse:
    try:
        tokens = await service.login(session, ctx.settings, body, client)
    finally:
        await session.commit()  # a failed login's audit row is kept too
    return ok(request, tokens)


@router.post("/refresh")
async def refresh(
    body: RefreshIn, request: Request, session: SessionDep, ctx: CtxDep, client: ClientDep
) -> JSONResponse:
    try:
        tokens = await service.refresh(session, ctx.settings, body.refresh_token, client)
    finally:
        await session.commit()  # reuse detection revokes the family even though we refuse
    return ok(request, tokens)


@router.post("/logout")
async def logout(
    body: RefreshIn, request: Request, session: SessionDep, client: ClientDep
) -> JSONResponse:
    await service.logout(session, body.refresh_token, client)
    await session.commit()
    return ok(request, {"logged_out": True})


@router.post("/verify-email")
async def verify_email(
    body: VerifyEmailIn, request: Request, session: SessionDep, client: ClientDep
) -> JSONResponse:
    user = await service.verify_email(session, body.token, client)
    await session.commit()
    return ok(request, UserOut.model_validate(user))


@router.get("/verify-email")
async def verify_email_link(
    request: Request,
    session: SessionDep,
    client: ClientDep,
    token: Annotated[str, Query(min_length=1, max_length=200)],
) -> JSONResponse:
    """The link in the verification mail."""
    user = await service.verify_email(session, token, client)
    await session.commit()
    return ok(request, UserOut.model_validate(user))


@router.post("/forgot-password", status_code=202)
async def forgot_password(
    body: ForgotPasswordIn, request: Request, session: SessionDep, ctx: CtxDep, client: ClientDep
) -> JSONResponse:
    await service.forgot_password(session, ctx.settings, body.email, client)
    await session.commit()
    _send_mail_soon(ctx)
    # The same answer whether or not the address has an account.
    return ok(
        request,
        {"message": "if that address has an account, a reset link is on its way"},
        status=202,
    )


@router.post("/reset-password")
async def reset_password(
    body: ResetPasswordIn, request: Request, session: SessionDep, ctx: CtxDep, client: ClientDep
) -> JSONResponse:
    user = await service.reset_password(
        session, ctx.settings, body.token, body.new_password, client
    )
    await session.commit()
    return ok(request, UserOut.model_validate(user))
