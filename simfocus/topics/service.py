"""Topics a user owns: CRUD, text attachments, and the ``Topic`` a discussion runs on.

Every function is scoped by owner: another user's topic behaves exactly like a missing one
(``TopicNotFound``), so ids never leak whether they exist. Nothing here commits; the caller
(the HTTP layer) owns the transaction.
"""

from __future__ import annotations

import posixpath
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.kit.audit import ClientInfo, audit
from simfocus.kit.pagination import PageParams, Pagination
from simfocus.store.models import TopicRow, new_id, utcnow
from simfocus.topics.errors import (
    AttachmentNotFound,
    AttachmentRejected,
    TopicInUse,
    TopicNotFound,
)
from simfocus.topics.repository import TopicRepository
from simfocus.topics.schemas import (
    CONTEXT_MAX,
    TITLE_MAX,
    AttachmentOut,
    AttachmentText,
    Topic,
    TopicIn,
    TopicOut,
    TopicPatch,
)

# Limits on uploads. Sizes are of the uploaded bytes.
MAX_ATTACHMENT_BYTES = 200 * 1024
MAX_TOPIC_ATTACHMENT_BYTES = 1024 * 1024
MAX_ATTACHMENTS = 10
MAX_FILENAME_CHARS = 120

TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "application/json"})
# Browsers often send no type, or a generic one, for .md/.csv files: the extension decides.
_GENERIC_TYPES = frozenset({"", "application/octet-stream"})
_TYPE_ALIASES = {"text/x-markdown": "text/markdown", "application/csv": "text/csv"}
_TYPE_BY_EXTENSION = {
    "txt": "text/plain",
    "text": "text/plain",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "csv": "text/csv",
    "json": "application/json",
}
COPY_SUFFIX = " (copy)"
CUT_NOTE = "\n\n[context cut: topic context and attachments exceed {limit} characters]"


# --- CRUD ---------------------------------------------------------------------------------


async def create_topic(session: AsyncSession, user_id: str, data: TopicIn) -> TopicOut:
    """Stage a new topic owned by ``user_id``."""
    row = TopicRow(id=new_id(), user_id=user_id, attachments=[], **data.model_dump())
    await TopicRepository(session).add(row)
    return to_topic_out(row)


async def list_topics(
    session: AsyncSession, user_id: str, page: PageParams, q: str | None = None
) -> tuple[list[TopicOut], Pagination]:
    """The user's topics, newest first; ``q`` filters case-insensitively on title/description."""
    q = (q or "").strip() or None
    rows, total = await TopicRepository(session).list_owned(
        user_id, offset=page.offset, limit=page.per_page, q=q
    )
    return [to_topic_out(row) for row in rows], Pagination.of(page, total)


async def get_topic(session: AsyncSession, user_id: str, topic_id: str) -> TopicOut:
    """One topic; ``TopicNotFound`` if missing or not the user's."""
    return to_topic_out(await _owned(session, user_id, topic_id))


async def update_topic(
    session: AsyncSession, user_id: str, topic_id: str, patch: TopicPatch
) -> TopicOut:
    """Change the fields given in ``patch``."""
    repo = TopicRepository(session)
    row = await _owned(session, user_id, topic_id, repo)
    for name, value in patch.model_dump(exclude_unset=True).items():
        setattr(row, name, value)
    await repo.flush()
    return to_topic_out(row)


async def delete_topic(
    session: AsyncSession, user_id: str, topic_id: str, *, client: ClientInfo | None = None
) -> None:
    """Delete a topic no discussion uses (``TopicInUse`` otherwise), auditing the deletion."""
    repo = TopicRepository(session)
    row = await _owned(session, user_id, topic_id, repo)
    if await repo.in_use(topic_id):
        raise _in_use(topic_id)
    try:
        # A savepoint: a discussion created concurrently trips the RESTRICT foreign key,
        # and the caller's transaction must survive that to report a clean 409.
        async with session.begin_nested():
            await repo.delete(row)
    except IntegrityError:
        raise _in_use(topic_id) from None
    audit(
        session,
        "topic.delete",
        user_id=user_id,
        client=client,
        resource_type="topic",
        resource_id=topic_id,
    )


async def duplicate_topic(session: AsyncSession, user_id: str, topic_id: str) -> TopicOut:
    """A copy titled ``"<title> (copy)"`` (the title cut so the suffix fits), attachments too."""
    repo = TopicRepository(session)
    source = await _owned(session, user_id, topic_id, repo)
    title = source.title[: TITLE_MAX - len(COPY_SUFFIX)].rstrip() + COPY_SUFFIX
    now = _iso(utcnow())
    # Fresh attachment ids: an attachment id names one file of one topic.
    attachments = [{**a, "id": new_id(), "created_at": now} for a in source.attachments]
    row = TopicRow(
        id=new_id(),
        user_id=user_id,
        title=title,
        description=source.description,
        context=source.context,
        attachments=attachments,
    )
    await repo.add(row)
    return to_topic_out(row)


# --- attachments --------------------------------------------------------------------------


async def add_attachment(
    session: AsyncSession,
    user_id: str,
    topic_id: str,
    filename: str,
    content_type: str,
    data: bytes,
) -> AttachmentOut:
    """Attach a UTF-8 text document to a topic.

    Refused with ``AttachmentRejected`` (field ``file``) and one of the codes
    ``UNSUPPORTED_FILE_TYPE``, ``FILE_EMPTY``, ``FILE_TOO_LARGE``, ``FILE_NOT_TEXT``,
    ``TOO_MANY_ATTACHMENTS``, ``ATTACHMENTS_TOO_LARGE``.
    """
    repo = TopicRepository(session)
    row = await _owned(session, user_id, topic_id, repo)
    name = sanitize_filename(filename)
    kind = normalize_content_type(content_type, name)
    existing = list(row.attachments or [])
    if len(existing) >= MAX_ATTACHMENTS:
        raise _rejected(f"a topic holds at most {MAX_ATTACHMENTS} files", "TOO_MANY_ATTACHMENTS")
    if not data:
        raise _rejected("the file is empty", "FILE_EMPTY")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise _rejected(
            f"the file is {len(data)} bytes; the limit is {MAX_ATTACHMENT_BYTES}", "FILE_TOO_LARGE"
        )
    used = sum(int(a["size"]) for a in existing)
    if used + len(data) > MAX_TOPIC_ATTACHMENT_BYTES:
        raise _rejected(
            f"the topic's files would total {used + len(data)} bytes; "
            f"the limit is {MAX_TOPIC_ATTACHMENT_BYTES}",
            "ATTACHMENTS_TOO_LARGE",
        )
    text = decode_text(data)
    attachment = {
        "id": new_id(),
        "filename": name,
        "content_type": kind,
        "size": len(data),
        "text": text,
        "created_at": _iso(utcnow()),
    }
    # A new list, not an in-place append: a plain JSON column only sees reassignment.
    row.attachments = [*existing, attachment]
    await repo.flush()
    return _attachment_out(attachment)


async def get_attachment(
    session: AsyncSession, user_id: str, topic_id: str, attachment_id: str
) -> AttachmentText:
    """One attachment with its text."""
    row = await _owned(session, user_id, topic_id)
    for a in row.attachments or []:
        if a["id"] == attachment_id:
            return AttachmentText(**_attachment_out(a).model_dump(), text=a["text"])
    raise _attachment_missing(attachment_id)


async def remove_attachment(
    session: AsyncSession, user_id: str, topic_id: str, attachment_id: str
) -> None:
    """Remove one attachment; ``AttachmentNotFound`` if the topic has no such file."""
    repo = TopicRepository(session)
    row = await _owned(session, user_id, topic_id, repo)
    existing = list(row.attachments or [])
    kept = [a for a in existing if a["id"] != attachment_id]
    if len(kept) == len(existing):
        raise _attachment_missing(attachment_id)
    row.attachments = kept
    await repo.flush()


# --- for the discussion engine ------------------------------------------------------------


async def topic_for_discussion(session: AsyncSession, user_id: str, topic_id: str) -> Topic:
    """The core ``Topic``, its context followed by each attachment's text under a heading.

    The result is cut to ``Topic``'s context limit, ending with a note saying so.
    """
    row = await _owned(session, user_id, topic_id)
    return Topic(
        title=row.title,
        description=row.description,
        context=compose_context(row.context, row.attachments or []),
    )


def compose_context(
    context: str, attachments: list[dict[str, Any]], limit: int = CONTEXT_MAX
) -> str:
    """``context`` then ``--- attachment: <name> ---`` sections, at most ``limit`` chars."""
    parts = [context.strip()] if context.strip() else []
    for a in attachments:
        parts.append(f"--- attachment: {a['filename']} ---\n{a['text'].strip()}")
    composed = "\n\n".join(parts)
    if len(composed) <= limit:
        return composed
    note = CUT_NOTE.format(limit=limit)
    return composed[: limit - len(note)].rstrip() + note


# --- helpers ------------------------------------------------------------------------------


def sanitize_filename(filename: str) -> str:
    """The base name only, printable characters, at most 120 chars (keeping the extension)."""
    # Both separators: a Windows client may send the full path ``C:\\Users\\me\\notes.txt``.
    base = posixpath.basename(filename.replace("\\", "/"))
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    if base in ("", ".", ".."):
        base = "attachment"
    if len(base) <= MAX_FILENAME_CHARS:
        return base
    stem, dot, ext = base.rpartition(".")
    if dot and stem and len(ext) <= 16:
        return stem[: MAX_FILENAME_CHARS - len(ext) - 1].rstrip() + "." + ext
    return base[:MAX_FILENAME_CHARS]


def normalize_content_type(content_type: str, filename: str) -> str:
    """One of ``TEXT_TYPES``, from the declared type (or, for a generic one, the extension)."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    kind = _TYPE_ALIASES.get(kind, kind)
    if kind in _GENERIC_TYPES:
        ext = filename.rpartition(".")[2].lower() if "." in filename else ""
        kind = _TYPE_BY_EXTENSION.get(ext, kind)
    if kind not in TEXT_TYPES:
        raise _rejected(
            f"only text documents can be attached ({', '.join(sorted(TEXT_TYPES))}); "
            f"got {content_type or 'no type'!r}",
            "UNSUPPORTED_FILE_TYPE",
        )
    return kind


def decode_text(data: bytes) -> str:
    """UTF-8 text (a byte-order mark is dropped); anything binary is refused."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _rejected("the file is not UTF-8 text", "FILE_NOT_TEXT") from None
    # NUL never occurs in a text document but is valid UTF-8: a binary file in disguise.
    if "\x00" in text:
        raise _rejected("the file looks binary (it contains NUL bytes)", "FILE_NOT_TEXT")
    return text


async def _owned(
    session: AsyncSession, user_id: str, topic_id: str, repo: TopicRepository | None = None
) -> TopicRow:
    row = await (repo or TopicRepository(session)).get_owned(user_id, topic_id)
    if row is None:
        raise TopicNotFound(f"no topic {topic_id}", field="topic_id")
    return row


def to_topic_out(row: TopicRow) -> TopicOut:
    return TopicOut(
        id=row.id,
        title=row.title,
        description=row.description,
        context=row.context,
        attachments=[_attachment_out(a) for a in row.attachments or []],
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


def _attachment_out(a: dict[str, Any]) -> AttachmentOut:
    return AttachmentOut(
        id=a["id"],
        filename=a["filename"],
        content_type=a["content_type"],
        size=int(a["size"]),
        created_at=_utc(datetime.fromisoformat(a["created_at"])),
    )


def _rejected(message: str, code: str) -> AttachmentRejected:
    return AttachmentRejected(message, field="file", code=code)


def _in_use(topic_id: str) -> TopicInUse:
    return TopicInUse(
        f"topic {topic_id} is used by a discussion; delete the discussion first",
        field="topic_id",
    )


def _attachment_missing(attachment_id: str) -> AttachmentNotFound:
    return AttachmentNotFound(f"no attachment {attachment_id}", field="attachment_id")


def _utc(value: datetime) -> datetime:
    # SQLite keeps no zone; we only ever write UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat()
