"""Characters: CRUD, search, owner isolation, templates and seating a panel."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.characters import service
from simfocus.characters.api_schemas import CharacterOut, CharacterPatch, FromTemplateIn
from simfocus.characters.errors import CharacterNotFound, TemplateNotFound
from simfocus.characters.schemas import CharacterConfig, Stance
from simfocus.characters.templates import TemplateLibrary
from simfocus.kit.errors import NotFound, ValidationFailed
from simfocus.kit.pagination import PageParams
from simfocus.store.models import AuditLog, DiscussionRow, ParticipantRow, TopicRow
from tests.factories import create_character


async def new_character(session: AsyncSession, user_id: str, name: str = "Ana", **kw: Any):
    return await service.create_character(session, user_id, create_character(name, **kw))


def patch(**fields: Any) -> CharacterPatch:
    return CharacterPatch.model_validate(fields)


async def test_crud_round_trip(session: AsyncSession, alice: str) -> None:
    created = await new_character(session, alice, personality={"openness": 8})
    assert isinstance(created, CharacterOut) and created.template_id is None
    assert created.config() == create_character("Ana", personality={"openness": 8})
    assert await service.get_character(session, alice, created.id) == created

    updated = await service.update_character(
        session, alice, created.id, patch(name="Ana B", personality={"rigor": 9})
    )
    # Nested fields merge: openness stays, rigor changes.
    assert (updated.name, updated.personality.openness, updated.personality.rigor) == (
        "Ana B",
        8,
        9,
    )
    assert updated.age == created.age and updated.updated_at >= created.updated_at
    listed, _ = await service.list_characters(session, alice, PageParams(), q="ana b")
    assert [c.id for c in listed] == [created.id]  # the name column follows the config

    await service.delete_character(session, alice, created.id)
    with pytest.raises(NotFound) as e:
        await service.get_character(session, alice, created.id)
    assert (e.value.code, e.value.status) == ("CHARACTER_NOT_FOUND", 404)
    logged = await session.scalar(select(AuditLog).where(AuditLog.resource_id == created.id))
    assert logged is not None and logged.action == "character.delete"


async def test_an_invalid_patch_names_the_field(session: AsyncSession, alice: str) -> None:
    created = await new_character(session, alice)
    with pytest.raises(ValidationError):
        patch(personality={"openness": 11})  # the patch model checks types and ranges
    with pytest.raises(ValidationError):
        patch()
    with pytest.raises(ValidationFailed) as e:
        await service.update_character(session, alice, created.id, patch(name=None))
    assert e.value.field == "name" and e.value.status == 422
    with pytest.raises(ValidationFailed) as e:
        await service.update_character(session, alice, created.id, patch(personality=None))
    assert e.value.field == "personality"
    assert (await service.get_character(session, alice, created.id)) == created


async def test_list_pages_and_searches(session: AsyncSession, alice: str, bob: str) -> None:
    for name in ["Ana", "Bruno", "Carla", "Anabel", "100%_ok"]:
        await new_character(session, alice, name)
    await new_character(session, bob, "Ana of Bob")
    first, pages = await service.list_characters(session, alice, PageParams(per_page=3))
    second, _ = await service.list_characters(session, alice, PageParams(page=2, per_page=3))
    assert (pages.total, pages.total_pages, len(first), len(second)) == (5, 2, 3, 2)
    assert not {c.id for c in first} & {c.id for c in second}
    found, pages = await service.list_characters(session, alice, PageParams(), q="ANA")
    assert pages.total == 2 and {c.name for c in found} == {"Ana", "Anabel"}
    found, _ = await service.list_characters(session, alice, PageParams(), q="%_")
    assert [c.name for c in found] == ["100%_ok"]


async def test_another_users_character_is_not_found(
    session: AsyncSession, alice: str, bob: str
) -> None:
    created = await new_character(session, alice)
    other = await new_character(session, bob, "Bo")
    calls = [
        service.get_character(session, bob, created.id),
        service.update_character(session, bob, created.id, patch(age=50)),
        service.delete_character(session, bob, created.id),
    ]
    for call in calls:
        with pytest.raises(NotFound) as e:
            await call
        assert (e.value.code, e.value.status) == ("CHARACTER_NOT_FOUND", 404)
    with pytest.raises(CharacterNotFound) as e:
        await service.characters_for_discussion(session, bob, [other.id, created.id])
    assert e.value.field == "character_ids"
    listed, pages = await service.list_characters(session, bob, PageParams())
    assert [c.id for c in listed] == [other.id] and pages.total == 1
    assert (await service.get_character(session, alice, created.id)).age == 40


def test_list_templates(templates: TemplateLibrary) -> None:
    listed = service.list_templates(templates)
    assert [t.template_id for t in listed] == templates.ids()
    nurse = next(t for t in listed if t.template_id == "night_shift_nurse")
    assert nurse.name == templates.get("night_shift_nurse").name  # type: ignore[union-attr]


async def test_from_template_with_overrides(
    session: AsyncSession, alice: str, templates: TemplateLibrary
) -> None:
    base = templates.get("night_shift_nurse")
    assert base is not None
    data = FromTemplateIn(
        template_id="night_shift_nurse",
        overrides={"name": "Nina", "personality": {"openness": 1}, "stance": "oppose"},
    )
    created = await service.create_from_template(session, alice, templates, data)
    assert created.template_id == "night_shift_nurse"
    assert (created.name, created.stance, created.personality.openness) == (
        "Nina",
        Stance.OPPOSE,
        1,
    )
    assert created.personality.rigor == base.personality.rigor
    assert created.knowledge == base.knowledge
    assert await service.get_character(session, alice, created.id) == created


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"personality": {"openness": 11}}, "overrides.personality.openness"),
        ({"age": "old"}, "overrides.age"),
        ({"favourite_colour": "red"}, "overrides.favourite_colour"),
        ({"knowledge": {"fields": ["x"] * 13}}, "overrides.knowledge.fields"),
    ],
)
async def test_from_template_refuses_bad_overrides(
    session: AsyncSession,
    alice: str,
    templates: TemplateLibrary,
    overrides: dict[str, Any],
    field: str,
) -> None:
    data = FromTemplateIn(template_id="farmer", overrides=overrides)
    with pytest.raises(ValidationFailed) as e:
        await service.create_from_template(session, alice, templates, data)
    assert (e.value.field, e.value.code, e.value.status) == (field, "VALIDATION_ERROR", 422)
    assert field in e.value.message


async def test_from_an_unknown_template(
    session: AsyncSession, alice: str, templates: TemplateLibrary
) -> None:
    data = FromTemplateIn(template_id="astronaut")
    with pytest.raises(TemplateNotFound) as e:
        await service.create_from_template(session, alice, templates, data)
    assert (e.value.code, e.value.field, e.value.status) == (
        "TEMPLATE_NOT_FOUND",
        "template_id",
        404,
    )


async def test_characters_for_discussion_keep_the_order(session: AsyncSession, alice: str) -> None:
    made = [await new_character(session, alice, name) for name in ["A", "B", "C"]]
    ids = [made[2].id, made[0].id, made[1].id]
    seated = await service.characters_for_discussion(session, alice, ids)
    assert [i for i, _ in seated] == ids
    assert [c.name for _, c in seated] == ["C", "A", "B"]
    assert all(isinstance(c, CharacterConfig) for _, c in seated)


async def test_characters_for_discussion_errors(session: AsyncSession, alice: str) -> None:
    made = [await new_character(session, alice, f"P{i}") for i in range(13)]
    ids = [c.id for c in made]
    for bad in ([ids[0]], ids, [ids[0], ids[1], ids[0]], []):
        with pytest.raises(ValidationFailed) as e:
            await service.characters_for_discussion(session, alice, bad)
        assert e.value.field == "character_ids" and e.value.status == 422
    with pytest.raises(CharacterNotFound) as nf:
        await service.characters_for_discussion(session, alice, [ids[0], "missing"])
    assert (nf.value.field, nf.value.status) == ("character_ids", 404)
    assert "missing" in nf.value.message


async def test_deleting_a_seated_character_keeps_the_snapshot(
    session: AsyncSession, alice: str
) -> None:
    created = await new_character(session, alice)
    topic = TopicRow(user_id=alice, title="t")
    session.add(topic)
    await session.flush()
    discussion = DiscussionRow(
        user_id=alice,
        topic_id=topic.id,
        mode="free",
        status="initialized",
        max_rounds=3,
        llm_provider="simulated",
        llm_model="sim",
        spec={},
    )
    session.add(discussion)
    await session.flush()
    snapshot = created.config().model_dump(mode="json")
    seat = ParticipantRow(
        discussion_id=discussion.id,
        character_id=created.id,
        position=0,
        name=created.name,
        character_snapshot=snapshot,
    )
    session.add(seat)
    await session.flush()
    await service.delete_character(session, alice, created.id)
    await session.refresh(seat)
    assert seat.character_id is None and seat.character_snapshot == snapshot
