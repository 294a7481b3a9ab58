"""``/v1/characters``: personas, the shipped templates, and personas from templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from serve.deps import ClientDep, CtxDep, CurrentUser, MutationLimited, SessionDep
from serve.envelope import ok
from simfocus.characters import service
from simfocus.characters.api_schemas import (
    CharacterIn,
    CharacterPatch,
    FromPanelIn,
    FromTemplateIn,
)
from simfocus.kit.pagination import PageParams

router = APIRouter(prefix="/v1/characters", tags=["characters"])
Page = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]


@router.get("/templates")
async def templates(request: Request, ctx: CtxDep, user: CurrentUser) -> JSONResponse:
    return ok(request, service.list_templates(ctx.templates))


@router.post("/from-template", status_code=201, dependencies=[MutationLimited])
async def from_template(
    body: FromTemplateIn, request: Request, ctx: CtxDep, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    character = await service.create_from_template(session, user.id, ctx.templates, body)
    await session.commit()
    return ok(request, character, status=201)


@router.post("/from-panel", status_code=201, dependencies=[MutationLimited])
async def from_panel(
    body: FromPanelIn, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    """Sample personas from a demographic spec and save them as your characters."""
    characters = await service.create_from_panel(session, user.id, body)
    await session.commit()
    return ok(request, characters, status=201)


@router.post("", status_code=201, dependencies=[MutationLimited])
async def create(
    body: CharacterIn, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    character = await service.create_character(session, user.id, body)
    await session.commit()
    return ok(request, character, status=201)


@router.get("")
async def list_(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    page: Page = 1,
    per_page: PerPage = 20,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    items, pagination = await service.list_characters(
        session, user.id, PageParams(page=page, per_page=per_page), q
    )
    return ok(request, items, pagination=pagination)


@router.get("/{character_id}")
async def get(
    character_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    return ok(request, await service.get_character(session, user.id, character_id))


@router.patch("/{character_id}", dependencies=[MutationLimited])
async def update(
    character_id: str,
    body: CharacterPatch,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
) -> JSONResponse:
    character = await service.update_character(session, user.id, character_id, body)
    await session.commit()
    return ok(request, character)


@router.delete("/{character_id}", dependencies=[MutationLimited])
async def delete(
    character_id: str, request: Request, user: CurrentUser, session: SessionDep, client: ClientDep
) -> JSONResponse:
    await service.delete_character(session, user.id, character_id, client=client)
    await session.commit()
    return ok(request, {"id": character_id, "deleted": True})
