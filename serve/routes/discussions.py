"""``/v1/discussions``: create, list, read, delete, run and control discussions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from actors.errors import unwrap
from serve.deps import CtxDep, CurrentUser, MutationLimited, SessionDep, check_rate, client_info
from serve.envelope import ok
from serve.runtime import live_moderator, start_moderator
from simfocus.discussions import queries
from simfocus.discussions.api_schemas import DiscussionIn, QuestionIn, SpeedIn
from simfocus.discussions.errors import InvalidTransition
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import DiscussionSpec, DiscussionStatus, Mode
from simfocus.discussions.service import create_discussion
from simfocus.kit.audit import audit
from simfocus.kit.errors import ValidationFailed
from simfocus.kit.pagination import PageParams
from simfocus.llm.schemas import ProviderConfig
from simfocus.studies.schemas import Study

router = APIRouter(prefix="/v1/discussions", tags=["discussions"])


@router.post("", status_code=201, dependencies=[MutationLimited])
async def create(
    body: DiscussionIn, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep
) -> JSONResponse:
    from simfocus.characters.service import characters_for_discussion
    from simfocus.topics.service import topic_for_discussion

    await check_rate(
        ctx, f"create:{user.id}", ctx.settings.discussions_per_hour, 3600, "new discussions"
    )
    if body.llm_provider != "simulated" and not body.api_key_id:
        raise ValidationFailed(
            f"{body.llm_provider} needs one of your stored API keys: add one under "
            f"/v1/users/me/api-keys and pass its id",
            field="api_key_id",
        )
    provider: dict[str, Any] = {"name": body.llm_provider, "api_key_id": body.api_key_id}
    if body.api_key_id:
        from simfocus.keys.service import get_key

        key = await get_key(session, user.id, body.api_key_id)
        if key.provider != body.llm_provider:
            raise ValidationFailed(f"that key is for {key.provider}", field="api_key_id")
        # The key's endpoint and default model, unless the request names a model.
        provider["base_url"] = key.api_base_url
        if key.default_model:
            provider["model"] = key.default_model
    if body.llm_model:
        provider["model"] = body.llm_model
    topic = await topic_for_discussion(session, user.id, body.topic_id)
    characters = await characters_for_discussion(session, user.id, body.character_ids)
    spec = DiscussionSpec(
        mode=body.discussion_mode,
        max_rounds=body.max_rounds,
        provider=ProviderConfig.model_validate(provider),
        budget_usd=body.budget_usd,
        pacing_s=body.pacing_s,
        seed=body.seed,
    )
    study = Study(
        name=body.name or topic.title,
        topic=topic,
        panel=[c for _, c in characters],
        discussion=spec,
    )
    setup = await create_discussion(
        DiscussionRepository(session),
        study,
        user_id=user.id,
        topic_id=body.topic_id,
        character_ids=[cid for cid, _ in characters],
    )
    audit(
        session,
        "discussion.create",
        user_id=user.id,
        client=client_info(request),
        resource_type="discussion",
        resource_id=setup.discussion_id,
    )
    await session.commit()
    row = await queries.owned(session, user.id, setup.discussion_id)
    return ok(request, await queries.discussion_out(session, row), status=201)


@router.get("")
async def list_(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 20,
    status: DiscussionStatus | None = None,
    mode: Mode | None = None,
    topic_id: Annotated[str | None, Query(max_length=36)] = None,
) -> JSONResponse:
    items, pagination = await queries.list_discussions(
        session,
        user.id,
        PageParams(page=page, per_page=per_page),
        status=status,
        mode=mode,
        topic_id=topic_id,
    )
    return ok(request, items, pagination=pagination)


@router.get("/{discussion_id}")
async def get(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    row = await queries.owned(session, user.id, discussion_id)
    return ok(request, await queries.discussion_out(session, row))


@router.delete("/{discussion_id}", dependencies=[MutationLimited])
async def delete(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    await queries.delete_discussion(session, user.id, discussion_id)
    audit(
        session,
        "discussion.delete",
        user_id=user.id,
        client=client_info(request),
        resource_type="discussion",
        resource_id=discussion_id,
    )
    await session.commit()
    return ok(request, {"id": discussion_id, "deleted": True})


@router.get("/{discussion_id}/messages")
async def messages(
    discussion_id: str,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 50,
    after_seq: Annotated[int, Query(ge=0)] = 0,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    items, pagination = await queries.list_messages(
        session,
        user.id,
        discussion_id,
        PageParams(page=page, per_page=per_page),
        after_seq=after_seq,
        q=q,
    )
    return ok(request, items, pagination=pagination)


@router.post("/{discussion_id}/start", dependencies=[MutationLimited])
async def start(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep, ctx: CtxDep
) -> JSONResponse:
    row = await queries.owned(session, user.id, discussion_id)
    if row.status != DiscussionStatus.INITIALIZED.value:
        raise InvalidTransition(f"a {row.status} discussion cannot be started", field="status")
    await session.commit()  # never hold the store across an actor call (see deps.py)
    moderator = await _call(start_moderator(ctx, discussion_id))
    snapshot = await _call(moderator.snapshot.remote())
    audit(
        session,
        "discussion.start",
        user_id=user.id,
        client=client_info(request),
        resource_type="discussion",
        resource_id=discussion_id,
    )
    await session.commit()
    return ok(request, snapshot)


async def _control(
    discussion_id: str, request: Request, user: Any, session: Any, action: str, *args: Any
) -> JSONResponse:
    row = await queries.owned(session, user.id, discussion_id)
    await session.commit()  # never hold the store across an actor call (see deps.py)
    moderator = await _call(live_moderator(request.app.state.ctx, discussion_id, row.status))
    if moderator is None:
        raise InvalidTransition(f"the discussion is {row.status}, not running", field="status")
    result = await _call(getattr(moderator, action).remote(*args))
    if action in ("pause", "resume", "stop"):
        audit(
            session,
            f"discussion.{action}",
            user_id=user.id,
            client=client_info(request),
            resource_type="discussion",
            resource_id=discussion_id,
        )
        await session.commit()
    return ok(request, result)


async def _call(ref: Any) -> Any:
    try:
        return await ref
    except Exception as e:
        raise unwrap(e) from None


@router.post("/{discussion_id}/pause", dependencies=[MutationLimited])
async def pause(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    return await _control(discussion_id, request, user, session, "pause")


@router.post("/{discussion_id}/resume", dependencies=[MutationLimited])
async def resume(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    return await _control(discussion_id, request, user, session, "resume")


@router.post("/{discussion_id}/stop", dependencies=[MutationLimited])
async def stop(
    discussion_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    return await _control(discussion_id, request, user, session, "stop", "stopped by user")


@router.post("/{discussion_id}/inject-question", dependencies=[MutationLimited])
async def inject(
    discussion_id: str, body: QuestionIn, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    return await _control(discussion_id, request, user, session, "inject_question", body.question)


@router.post("/{discussion_id}/speed", dependencies=[MutationLimited])
async def speed(
    discussion_id: str, body: SpeedIn, request: Request, user: CurrentUser, session: SessionDep
) -> JSONResponse:
    return await _control(discussion_id, request, user, session, "set_speed", body.speed)
