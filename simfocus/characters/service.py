"""Characters a user owns: CRUD, creation from shipped templates, and seating a panel.

Every function is scoped by owner: another user's character behaves exactly like a missing
one (``CharacterNotFound``), so ids never leak whether they exist. Nothing here commits; the
caller (the HTTP layer) owns the transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.characters.api_schemas import (
    CharacterOut,
    CharacterPatch,
    FromPanelIn,
    FromTemplateIn,
    TemplateOut,
)
from simfocus.characters.errors import CharacterNotFound, TemplateNotFound
from simfocus.characters.repository import CharacterRepository
from simfocus.characters.schemas import CharacterConfig
from simfocus.characters.templates import TemplateLibrary
from simfocus.kit.audit import ClientInfo, audit
from simfocus.kit.errors import ValidationFailed
from simfocus.kit.pagination import PageParams, Pagination
from simfocus.kit.validation import describe
from simfocus.store.models import CharacterRow, new_id
from simfocus.studies.loader import deep_merge
from simfocus.studies.schemas import MAX_PANEL, MIN_PANEL

# --- CRUD ---------------------------------------------------------------------------------


async def create_character(
    session: AsyncSession,
    user_id: str,
    data: CharacterConfig,
    *,
    template_id: str | None = None,
) -> CharacterOut:
    """Stage a new character owned by ``user_id``."""
    row = CharacterRow(
        id=new_id(),
        user_id=user_id,
        name=data.name,
        template_id=template_id,
        config=data.model_dump(mode="json"),
    )
    await CharacterRepository(session).add(row)
    return to_character_out(row)


async def create_from_panel(
    session: AsyncSession, user_id: str, body: FromPanelIn
) -> list[CharacterOut]:
    """Sample ``body.n`` personas from the spec and stage them as the user's characters."""
    from simfocus.panels.sampler import sample_panel

    return [
        await create_character(session, user_id, character)
        for character in sample_panel(body.spec, body.n, body.seed)
    ]


async def list_characters(
    session: AsyncSession, user_id: str, page: PageParams, q: str | None = None
) -> tuple[list[CharacterOut], Pagination]:
    """The user's characters, newest first; ``q`` filters case-insensitively on the name."""
    q = (q or "").strip() or None
    rows, total = await CharacterRepository(session).list_owned(
        user_id, offset=page.offset, limit=page.per_page, q=q
    )
    return [to_character_out(row) for row in rows], Pagination.of(page, total)


async def get_character(session: AsyncSession, user_id: str, character_id: str) -> CharacterOut:
    """One character; ``CharacterNotFound`` if missing or not the user's."""
    return to_character_out(await _owned(session, user_id, character_id))


async def update_character(
    session: AsyncSession, user_id: str, character_id: str, patch: CharacterPatch
) -> CharacterOut:
    """Lay ``patch`` over the stored config (nested merge), validate the result, store it.

    ``ValidationFailed`` names the offending field, e.g. ``personality.openness``.
    """
    repo = CharacterRepository(session)
    row = await _owned(session, user_id, character_id, repo)
    config = validate_config(deep_merge(row.config, patch.changes()))
    row.config = config.model_dump(mode="json")
    row.name = config.name
    await repo.flush()
    return to_character_out(row)


async def delete_character(
    session: AsyncSession,
    user_id: str,
    character_id: str,
    *,
    client: ClientInfo | None = None,
) -> None:
    """Delete a character, auditing it. Seats in discussions keep their snapshot."""
    repo = CharacterRepository(session)
    row = await _owned(session, user_id, character_id, repo)
    await repo.delete(row)  # participants' character_id is ON DELETE SET NULL
    audit(
        session,
        "character.delete",
        user_id=user_id,
        client=client,
        resource_type="character",
        resource_id=character_id,
    )


# --- templates ----------------------------------------------------------------------------


def list_templates(library: TemplateLibrary) -> list[TemplateOut]:
    """Every shipped template, by id."""
    return [
        TemplateOut(template_id=template_id, **config.model_dump())
        for template_id, config in library.items()
    ]


async def create_from_template(
    session: AsyncSession, user_id: str, library: TemplateLibrary, data: FromTemplateIn
) -> CharacterOut:
    """A new character from a template with ``overrides`` laid over it (nested merge).

    ``TemplateNotFound`` (field ``template_id``) for an unknown template; ``ValidationFailed``
    naming the field as ``overrides.<path>`` when the overrides make an invalid persona.
    """
    template = library.get(data.template_id)
    if template is None:
        raise TemplateNotFound(f"no template {data.template_id!r}", field="template_id")
    merged = deep_merge(template.model_dump(mode="json"), data.overrides)
    config = validate_config(merged, prefix=("overrides",))
    return await create_character(session, user_id, config, template_id=data.template_id)


# --- for the discussion engine ------------------------------------------------------------


async def characters_for_discussion(
    session: AsyncSession, user_id: str, ids: list[str]
) -> list[tuple[str, CharacterConfig]]:
    """The user's characters ``ids`` as ``(id, config)``, in the order given.

    ``ValidationFailed`` (field ``character_ids``) for fewer than 2, more than 12 or repeated
    ids; ``CharacterNotFound`` (field ``character_ids``) if any is missing or not the user's.
    """
    if not MIN_PANEL <= len(ids) <= MAX_PANEL:
        raise ValidationFailed(
            f"a panel has {MIN_PANEL} to {MAX_PANEL} characters; got {len(ids)}",
            field="character_ids",
        )
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValidationFailed(
            f"a character can sit at the table only once: {', '.join(repeated)}",
            field="character_ids",
        )
    found = await CharacterRepository(session).get_many_owned(user_id, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise CharacterNotFound(f"no character {', '.join(missing)}", field="character_ids")
    return [(i, CharacterConfig.model_validate(found[i].config)) for i in ids]


# --- helpers ------------------------------------------------------------------------------


def validate_config(raw: dict[str, Any], prefix: tuple[int | str, ...] = ()) -> CharacterConfig:
    """``raw`` as a ``CharacterConfig``, or ``ValidationFailed`` naming the first bad field."""
    try:
        return CharacterConfig.model_validate(raw)
    except ValidationError as e:
        problems = describe(e, prefix)
        field, message = problems[0]
        if not prefix and field == "(file)":  # a problem with the whole object
            field = "(body)"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValidationFailed(f"{field}: {message}{more}", field=field) from None


async def _owned(
    session: AsyncSession,
    user_id: str,
    character_id: str,
    repo: CharacterRepository | None = None,
) -> CharacterRow:
    row = await (repo or CharacterRepository(session)).get_owned(user_id, character_id)
    if row is None:
        raise CharacterNotFound(f"no character {character_id}", field="character_id")
    return row


def to_character_out(row: CharacterRow) -> CharacterOut:
    return CharacterOut(
        id=row.id,
        template_id=row.template_id,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        **row.config,
    )


def _utc(value: datetime) -> datetime:
    # SQLite keeps no zone; we only ever write UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
