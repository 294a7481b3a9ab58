"""Share links: the owner creates, lists and revokes them; anyone with a link reads the
discussion's transcript and report at ``/s/{slug}`` (HTML for browsers, JSON on request)."""

from __future__ import annotations

import asyncio
from html import escape
from typing import Annotated

from fastapi import APIRouter, Form, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from serve.deps import CtxDep, CurrentUser, MutationLimited, SessionDep, check_rate, client_info
from serve.envelope import ok
from simfocus.discussions import queries
from simfocus.discussions.repository import DiscussionRepository
from simfocus.kit.audit import audit
from simfocus.kit.errors import SimfocusError
from simfocus.reports.exports import export_report
from simfocus.reports.service import provisional_report, read_report
from simfocus.shares.repository import ShareRepository
from simfocus.shares.schemas import ShareIn
from simfocus.shares.service import (
    check_password,
    count_access,
    create_share,
    find_open_link,
    revoke_share,
    share_out,
)
from simfocus.transcripts.service import load_transcript

router = APIRouter(tags=["shares"])


@router.post(
    "/v1/discussions/{discussion_id}/share", status_code=201, dependencies=[MutationLimited]
)
async def create(
    discussion_id: str,
    body: ShareIn,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
) -> JSONResponse:
    await queries.owned(session, user.id, discussion_id)
    link = await create_share(session, discussion_id, body)
    audit(
        session,
        "share.create",
        user_id=user.id,
        client=client_info(request),
        resource_type="discussion",
        resource_id=discussion_id,
    )
    await session.commit()
    return ok(request, share_out(link, ctx.settings.public_url), status=201)


@router.get("/v1/discussions/{discussion_id}/shares")
async def list_(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep
) -> JSONResponse:
    await queries.owned(session, user.id, discussion_id)
    links = await ShareRepository(session).of_discussion(discussion_id)
    return ok(request, [share_out(link, ctx.settings.public_url) for link in links])


@router.delete("/v1/discussions/{discussion_id}/shares/{share_id}", dependencies=[MutationLimited])
async def revoke(
    discussion_id: str,
    share_id: str,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    ctx: CtxDep,
) -> JSONResponse:
    await queries.owned(session, user.id, discussion_id)
    link = await revoke_share(session, discussion_id, share_id)
    audit(
        session,
        "share.revoke",
        user_id=user.id,
        client=client_info(request),
        resource_type="discussion",
        resource_id=discussion_id,
    )
    await session.commit()
    return ok(request, share_out(link, ctx.settings.public_url))


def _wants_html(request: Request, fmt: str | None) -> bool:
    if fmt:
        return fmt == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


def _page(title: str, body: str, status: int) -> HTMLResponse:
    html = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>body{{font-family:system-ui,sans-serif;"
        "max-width:28rem;margin:4rem auto;padding:0 1rem;color:#222}"
        "input,button{font-size:1rem;padding:.5rem;margin:.25rem 0}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status)


def _password_form(slug: str, error: str | None, status: int) -> HTMLResponse:
    hint = f"<p style='color:#b00'>{escape(error)}</p>" if error else ""
    form = (
        f"{hint}<p>This shared focus group is protected by a password.</p>"
        f"<form method='post' action='/s/{escape(slug)}'>"
        "<input type='password' name='password' autofocus required maxlength='200'>"
        "<button type='submit'>Open</button></form>"
    )
    return _page("Password required", form, status)


async def _open(
    request: Request,
    ctx: CtxDep,
    session: AsyncSession,
    slug: str,
    password: str | None,
    fmt: str | None,
) -> Response:
    html = _wants_html(request, fmt)
    try:
        link = await find_open_link(session, slug)
        if password and link.password_hash:
            # Wrong guesses are limited per link and client; right ones count too, cheaply.
            ip = client_info(request).ip
            await check_rate(
                ctx,
                f"share:{link.id}:{ip}",
                ctx.settings.share_password_attempts_per_minute,
                60,
                "password attempts",
            )
        await check_password(link, password)
    except SimfocusError as e:
        if not html:
            raise
        if e.code in ("SHARE_PASSWORD_REQUIRED", "SHARE_PASSWORD_WRONG"):
            error = None if e.code == "SHARE_PASSWORD_REQUIRED" else e.message
            return _password_form(slug, error, e.status)
        return _page("Link not available", f"<p>{escape(e.message)}</p>", e.status)
    await count_access(session, link)
    await session.commit()
    transcript = await load_transcript(DiscussionRepository(session), link.discussion_id)
    report = await read_report(session, link.discussion_id) or provisional_report(transcript)
    if html:
        body = await asyncio.to_thread(export_report, report, transcript, "html")
        return HTMLResponse(body, headers={"X-Robots-Tag": "noindex", "Cache-Control": "no-store"})
    return ok(request, {"report": report, "transcript": transcript})


@router.get("/s/{slug}", response_model=None)
async def read_shared(
    slug: str,
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    x_share_password: Annotated[str | None, Header(max_length=200)] = None,
    format: Annotated[str | None, Query(pattern="^(html|json)$")] = None,
) -> Response:
    """A shared discussion: HTML for browsers, JSON when asked (``Accept`` or ``format``).
    A password goes in the ``X-Share-Password`` header (or the page's form)."""
    return await _open(request, ctx, session, slug, x_share_password, format)


@router.post("/s/{slug}", response_model=None)
async def unlock_shared(
    slug: str,
    request: Request,
    ctx: CtxDep,
    session: SessionDep,
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    """The password form of a protected link (browsers)."""
    return await _open(request, ctx, session, slug, password, "html")
