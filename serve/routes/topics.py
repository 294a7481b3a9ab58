"""``/v1/topics``: topics and their text attachments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from serve.deps import ClientDep, CurrentUser, MutationLimited, SessionDep
from serve.envelope import ok
from simfocus.kit.pagination import PageParams
from simfocus.topics import service
from simfocus.topics.schemas import TopicIn, TopicPatch

router = APIRouter(prefix="/v1/topics", tags=["topics"])
Page = Annotated[int, Query(ge=1, le=100_000)]
PerPage = Annotated[int, Query(ge=1, le=100)]


@router.post("", status_code=201, dependencies=[MutationLimited])
async def create(
    body: TopicIn, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    topic = await service.create_topic(session, user.id, body)
    await session.commit()
    return ok(request, topic, status=201)


@router.get("")
async def list_(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    page: Page = 1,
    per_page: PerPage = 20,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    items, pagination = await service.list_topics(
        session, user.id, PageParams(page=page, per_page=per_page), q
    )
    return ok(request, items, pagination=pagination)


@router.get("/{topic_id}")
async def get(
    topic_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    return ok(request, await service.get_topic(session, user.id, topic_id))


@router.patch("/{topic_id}", dependencies=[MutationLimited])
async def update(
    topic_id: str, body: TopicPatch, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    topic = await service.update_topic(session, user.id, topic_id, body)
    await session.commit()
    return ok(request, topic)


@router.delete("/{topic_id}", dependencies=[MutationLimited])
async def delete(
    topic_id: str, request: Request, user: CurrentUser, session: SessionDep, client: ClientDep
) -> JSONResponse:
    await service.delete_topic(session, user.id, topic_id, client=client)
    await session.commit()
    return ok(request, {"id": topic_id, "deleted": True})


@router.post("/{topic_id}/duplicate", status_code=201, dependencies=[MutationLimited])
async def duplicate(
    topic_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    topic = await service.duplicate_topic(session, user.id, topic_id)
    await session.commit()
    return ok(request, topic, status=201)


@router.post("/{topic_id}/attachments", status_code=201, dependencies=[MutationLimited])
async def attach(
    topic_id: str,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    file: Annotated[UploadFile, File()],
) -> JSONResponse:
    data = await file.read(service.MAX_ATTACHMENT_BYTES + 1)  # never more than one over the limit
    attachment = await service.add_attachment(
        session, user.id, topic_id, file.filename or "", file.content_type or "", data
    )
    await session.commit()
    return ok(request, attachment, status=201)


@router.get("/{topic_id}/attachments/{attachment_id}")
async def attachment(
    topic_id: str, attachment_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    return ok(request, await service.get_attachment(session, user.id, topic_id, attachment_id))


@router.delete("/{topic_id}/attachments/{attachment_id}", dependencies=[MutationLimited])
async def detach(
    topic_id: str, attachment_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    await service.remove_attachment(session, user.id, topic_id, attachment_id)
    await session.commit()
    return ok(request, {"id": attachment_id, "deleted": True})
