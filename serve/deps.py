"""Request dependencies: the context, a session, the caller, rate limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from serve.context import ApiContext
from simfocus.kit.audit import ClientInfo
from simfocus.kit.errors import SimfocusError
from simfocus.store.models import User


class RateLimitExceeded(SimfocusError):
    code = "RATE_LIMIT_EXCEEDED"
    status = 429

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        retry_after_s: float = 1.0,
    ) -> None:
        super().__init__(message, field=field, code=code)
        self.retry_after_s = retry_after_s


class Unauthorized(SimfocusError):
    code = "UNAUTHORIZED"
    status = 401


def get_ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[ApiContext, Depends(get_ctx)]


async def get_session(ctx: CtxDep) -> AsyncIterator[AsyncSession]:
    async with ctx.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def client_info(request: Request) -> ClientInfo:
    ip = request.client.host if request.client else None
    return ClientInfo(ip=ip, user_agent=request.headers.get("user-agent"))


ClientDep = Annotated[ClientInfo, Depends(client_info)]


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized(
            "sign in first: send 'Authorization: Bearer <access_token>'", field="authorization"
        )
    return token.strip()


async def authenticate(ctx: ApiContext, session: AsyncSession, token: str) -> User:
    from simfocus.accounts import service

    return await service.authenticate(session, ctx.settings, token)


async def current_user(request: Request, ctx: CtxDep, session: SessionDep) -> User:
    user = await authenticate(ctx, session, bearer_token(request))
    # End the read transaction: SQLite write transactions take the lock up front, and a
    # route must never hold it across a call to an actor (which may need the store too).
    await session.commit()
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def check_rate(ctx: ApiContext, key: str, limit: int, window_s: float, what: str) -> None:
    verdict = await ctx.limits().hit.remote(
        f"{ctx.settings.rate_limit_scope}:{key}", limit, window_s
    )
    if not verdict.allowed:
        raise RateLimitExceeded(
            f"too many {what}: at most {limit} per {int(window_s)} s; "
            f"retry in {verdict.retry_after_s:.0f} s",
            retry_after_s=verdict.retry_after_s,
        )


async def auth_rate_limit(ctx: CtxDep, client: ClientDep) -> None:
    await check_rate(ctx, f"auth:{client.ip}", ctx.settings.auth_per_minute, 60, "sign-in attempts")


async def mutation_rate_limit(ctx: CtxDep, user: CurrentUser) -> None:
    await check_rate(ctx, f"mutation:{user.id}", ctx.settings.mutations_per_minute, 60, "changes")


AuthLimited = Depends(auth_rate_limit)
MutationLimited = Depends(mutation_rate_limit)
