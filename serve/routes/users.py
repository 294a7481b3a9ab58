"""``/v1/users/me``: the caller's account, its export and its deletion."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import ray
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from actors.moderator import moderator_name
from serve.deps import ClientDep, CtxDep, CurrentUser, MutationLimited, SessionDep
from serve.envelope import ok
from simfocus.accounts import service
from simfocus.accounts.lifecycle import export_user_data
from simfocus.accounts.schemas import UserOut, UserPatch
from simfocus.kit.audit import audit
from simfocus.store.models import DiscussionRow

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/users/me", tags=["users"])

EXPORT_FILENAME = "simfocus-export.json"
# A stop waits for the moderator to settle and a shutdown for its report (up to minutes):
# an account deletion does not wait that long — the moderator is killed after this.
STOP_TIMEOUT_S = 30.0


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


@router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": EXPORT_FILENAME}},
)
async def export(
    request: Request, user: CurrentUser, session: SessionDep, client: ClientDep
) -> Response:
    """Everything stored about the caller, as a JSON file (``simfocus-export-v1``).

    The file is the export document itself, not wrapped in the API envelope: it is saved
    and read back as a file (like a report's JSON export), and its own ``format`` and
    ``exported_at`` say what it is. Errors still come in the envelope.
    """
    data = await export_user_data(session, user)
    audit(
        session,
        "user.export",
        user_id=user.id,
        client=client,
        resource_type="user",
        resource_id=user.id,
    )
    await session.commit()
    # Off the event loop: a long history serialises for a while.
    body = await asyncio.to_thread(json.dumps, data, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"',
            "Cache-Control": "no-store",  # personal data: no proxy or browser cache
        },
    )


@router.delete("", dependencies=[MutationLimited])
async def delete(
    request: Request, user: CurrentUser, session: SessionDep, client: ClientDep
) -> JSONResponse:
    """Delete the account and erase its data; answers with what was erased."""
    # Moderators write to the store: stop them before erasing, and never while holding a
    # transaction (current_user ended the read one; this read ends with a commit).
    before = await _discussion_ids(session, user.id)
    await session.commit()
    stopped = await _stop_moderators(before)
    # One transaction. Its first statement takes SQLite's write lock, so no discussion can
    # be created between this read and the erasure; one created after the first read
    # (another request of the same user) is caught here and its moderator stopped below.
    late = set(await _discussion_ids(session, user.id)) - set(before)
    counts = await service.delete_me(session, user, client)
    await session.commit()
    if late:
        stopped += await _stop_moderators(sorted(late))
    return ok(request, {"deleted": True, "erased": counts.as_dict(), "stopped": stopped})


async def _discussion_ids(session: AsyncSession, user_id: str) -> list[str]:
    # Every status: a moderator lives on after the end (report, watchers) for a while.
    return list(
        await session.scalars(select(DiscussionRow.id).where(DiscussionRow.user_id == user_id))
    )


async def _stop_moderators(discussion_ids: list[str]) -> int:
    """Stop and remove the live moderators of these discussions; how many there were."""
    handles = []
    for discussion_id in discussion_ids:
        try:
            handles.append((discussion_id, ray.get_actor(moderator_name(discussion_id))))
        except ValueError:
            continue  # none: never started, or retired after its end
    await asyncio.gather(*(_stop_one(d, h) for d, h in handles))
    return len(handles)


async def _stop_one(discussion_id: str, handle: Any) -> None:
    try:
        with contextlib.suppress(Exception):  # e.g. already ended: nothing to stop
            await asyncio.wait_for(handle.stop.remote("account deleted"), STOP_TIMEOUT_S)
        try:
            # Releases the personas and the gateway's budget for the discussion.
            await asyncio.wait_for(handle.shutdown.remote(), STOP_TIMEOUT_S)
        except Exception:
            logger.warning("discussion %s: moderator shutdown failed", discussion_id)
    finally:
        # A shut-down detached moderator never retires by itself, and one still writing
        # (a report) must not write after the erasure: remove it.
        with contextlib.suppress(Exception):
            ray.kill(handle, no_restart=True)
