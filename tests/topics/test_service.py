"""Topics: CRUD, search, owner isolation, attachments and the discussion's Topic."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from simfocus.kit.errors import NotFound, ValidationFailed
from simfocus.kit.pagination import PageParams
from simfocus.store.models import AuditLog, DiscussionRow
from simfocus.topics import service
from simfocus.topics.errors import AttachmentNotFound, AttachmentRejected, TopicInUse
from simfocus.topics.repository import TopicRepository
from simfocus.topics.schemas import CONTEXT_MAX, Topic, TopicIn, TopicPatch


async def new_topic(session: AsyncSession, user_id: str, title: str = "Four-day week", **kw: str):
    return await service.create_topic(session, user_id, TopicIn(title=title, **kw))


async def test_crud_round_trip(session: AsyncSession, alice: str) -> None:
    created = await new_topic(session, alice, "  Four-day week  ", description="A pilot.")
    assert created.title == "Four-day week"  # input is trimmed
    assert created.attachments == [] and created.created_at.tzinfo is not None
    assert await service.get_topic(session, alice, created.id) == created

    updated = await service.update_topic(
        session, alice, created.id, TopicPatch(context="City staff.")
    )
    assert (updated.title, updated.description, updated.context) == (
        "Four-day week",
        "A pilot.",
        "City staff.",
    )
    assert updated.updated_at >= created.updated_at

    await service.delete_topic(session, alice, created.id)
    with pytest.raises(NotFound) as e:
        await service.get_topic(session, alice, created.id)
    assert (e.value.code, e.value.status) == ("TOPIC_NOT_FOUND", 404)
    logged = await session.scalar(select(AuditLog).where(AuditLog.resource_id == created.id))
    assert logged is not None and logged.action == "topic.delete" and logged.user_id == alice


def test_input_models_enforce_limits() -> None:
    with pytest.raises(ValidationError):
        TopicIn(title="")
    with pytest.raises(ValidationError):
        TopicIn(title="x" * 201)
    with pytest.raises(ValidationError):
        TopicIn(title="x", description="d" * 5001)
    with pytest.raises(ValidationError):
        TopicPatch()
    with pytest.raises(ValidationError):
        TopicPatch(title=None)
    with pytest.raises(ValidationError):
        TopicPatch(context="c" * 20001)


async def test_list_pages_and_searches(session: AsyncSession, alice: str, bob: str) -> None:
    for i in range(5):
        await new_topic(session, alice, f"Topic {i}", description="about BIKE lanes" * (i % 2))
    await new_topic(session, alice, "100% renewable_energy")
    await new_topic(session, bob, "Bob's bike topic")

    first, pages = await service.list_topics(session, alice, PageParams(page=1, per_page=4))
    second, _ = await service.list_topics(session, alice, PageParams(page=2, per_page=4))
    assert (pages.total, pages.total_pages, len(first), len(second)) == (6, 2, 4, 2)
    assert not {t.id for t in first} & {t.id for t in second}

    found, pages = await service.list_topics(session, alice, PageParams(), q="bike")
    assert pages.total == 2 and {t.title for t in found} == {"Topic 1", "Topic 3"}
    found, _ = await service.list_topics(session, alice, PageParams(), q="TOPIC 4")
    assert [t.title for t in found] == ["Topic 4"]
    # LIKE wildcards in the query are literal characters.
    found, _ = await service.list_topics(session, alice, PageParams(), q="0% r")
    assert [t.title for t in found] == ["100% renewable_energy"]
    found, _ = await service.list_topics(session, alice, PageParams(), q="_")
    assert [t.title for t in found] == ["100% renewable_energy"]
    _, pages = await service.list_topics(session, alice, PageParams(), q="   ")
    assert pages.total == 6


async def test_another_users_topic_is_not_found(
    session: AsyncSession, alice: str, bob: str
) -> None:
    topic = await new_topic(session, alice)
    attachment = await service.add_attachment(
        session, alice, topic.id, "a.txt", "text/plain", b"hello"
    )
    calls = [
        service.get_topic(session, bob, topic.id),
        service.update_topic(session, bob, topic.id, TopicPatch(title="mine")),
        service.delete_topic(session, bob, topic.id),
        service.duplicate_topic(session, bob, topic.id),
        service.add_attachment(session, bob, topic.id, "b.txt", "text/plain", b"x"),
        service.get_attachment(session, bob, topic.id, attachment.id),
        service.remove_attachment(session, bob, topic.id, attachment.id),
        service.topic_for_discussion(session, bob, topic.id),
    ]
    for call in calls:
        with pytest.raises(NotFound) as e:
            await call
        assert e.value.code == "TOPIC_NOT_FOUND" and e.value.status == 404
    # Exactly what a missing id gives.
    with pytest.raises(NotFound) as missing:
        await service.get_topic(session, bob, "no-such-id")
    assert missing.value.code == "TOPIC_NOT_FOUND"
    listed, pages = await service.list_topics(session, bob, PageParams())
    assert listed == [] and pages.total == 0
    assert (await service.get_topic(session, alice, topic.id)).title == "Four-day week"


@pytest.mark.parametrize("race", [False, True])
async def test_a_topic_used_by_a_discussion_cannot_be_deleted(
    session: AsyncSession, alice: str, race: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = await new_topic(session, alice)
    session.add(
        DiscussionRow(
            user_id=alice,
            topic_id=topic.id,
            mode="free",
            status="initialized",
            max_rounds=3,
            llm_provider="simulated",
            llm_model="sim",
            spec={},
        )
    )
    await session.flush()
    if race:  # the discussion appears between the check and the delete: the foreign key holds

        async def unused(self: object, topic_id: str) -> bool:
            return False

        monkeypatch.setattr(TopicRepository, "in_use", unused)
    with pytest.raises(TopicInUse) as e:
        await service.delete_topic(session, alice, topic.id)
    assert (e.value.code, e.value.status) == ("TOPIC_IN_USE", 409)
    assert (await service.get_topic(session, alice, topic.id)).id == topic.id


async def test_duplicate_copies_fields_and_attachments(session: AsyncSession, alice: str) -> None:
    topic = await new_topic(session, alice, "t" * 200, description="d", context="c")
    await service.add_attachment(session, alice, topic.id, "notes.md", "text/markdown", b"# hi")
    copy = await service.duplicate_topic(session, alice, topic.id)
    assert copy.id != topic.id and len(copy.title) == 200 and copy.title.endswith(" (copy)")
    assert (copy.description, copy.context) == ("d", "c")
    assert [a.filename for a in copy.attachments] == ["notes.md"]
    original = await service.get_topic(session, alice, topic.id)
    assert copy.attachments[0].id != original.attachments[0].id
    text = await service.get_attachment(session, alice, copy.id, copy.attachments[0].id)
    assert text.text == "# hi"
    short = await service.duplicate_topic(session, alice, (await new_topic(session, alice)).id)
    assert short.title == "Four-day week (copy)"


async def test_attachments_round_trip(session: AsyncSession, alice: str) -> None:
    topic = await new_topic(session, alice)
    out = await service.add_attachment(
        session,
        alice,
        topic.id,
        "C:\\Users\\me\\../notes.txt",
        "text/plain; charset=utf-8",
        "\ufeffnaïve notes".encode(),
    )
    assert (out.filename, out.content_type, out.size) == ("notes.txt", "text/plain", 15)
    # Generic types fall back on the extension.
    csv = await service.add_attachment(
        session, alice, topic.id, "/tmp/data.csv", "application/octet-stream", b"a,b\n1,2\n"
    )
    assert csv.content_type == "text/csv"
    got = await service.get_topic(session, alice, topic.id)
    assert [a.id for a in got.attachments] == [out.id, csv.id]
    assert "text" not in got.attachments[0].model_dump()
    text = await service.get_attachment(session, alice, topic.id, out.id)
    assert text.text == "naïve notes"  # the byte-order mark is dropped

    await service.remove_attachment(session, alice, topic.id, out.id)
    assert [a.id for a in (await service.get_topic(session, alice, topic.id)).attachments] == [
        csv.id
    ]
    with pytest.raises(AttachmentNotFound) as e:
        await service.remove_attachment(session, alice, topic.id, out.id)
    assert e.value.status == 404
    with pytest.raises(AttachmentNotFound):
        await service.get_attachment(session, alice, topic.id, out.id)


@pytest.mark.parametrize(
    ("filename", "content_type", "data", "code"),
    [
        ("a.png", "image/png", b"\x89PNG", "UNSUPPORTED_FILE_TYPE"),
        ("a.bin", "application/octet-stream", b"abc", "UNSUPPORTED_FILE_TYPE"),
        ("a.txt", "text/plain", b"\xff\xfe\x00\x01binary", "FILE_NOT_TEXT"),
        ("a.txt", "text/plain", b"abc\x00def", "FILE_NOT_TEXT"),
        ("a.txt", "text/plain", b"", "FILE_EMPTY"),
        ("a.txt", "text/plain", b"x" * (service.MAX_ATTACHMENT_BYTES + 1), "FILE_TOO_LARGE"),
    ],
)
async def test_attachment_refusals(
    session: AsyncSession, alice: str, filename: str, content_type: str, data: bytes, code: str
) -> None:
    topic = await new_topic(session, alice)
    with pytest.raises(ValidationFailed) as e:
        await service.add_attachment(session, alice, topic.id, filename, content_type, data)
    assert isinstance(e.value, AttachmentRejected)
    assert (e.value.code, e.value.field, e.value.status) == (code, "file", 422)
    assert (await service.get_topic(session, alice, topic.id)).attachments == []


async def test_attachment_count_and_total_limits(session: AsyncSession, alice: str) -> None:
    topic = await new_topic(session, alice)
    big = b"x" * service.MAX_ATTACHMENT_BYTES
    fits = service.MAX_TOPIC_ATTACHMENT_BYTES // service.MAX_ATTACHMENT_BYTES  # 5 of 200 KiB
    for i in range(fits):
        await service.add_attachment(session, alice, topic.id, f"{i}.txt", "text/plain", big)
    remaining = service.MAX_TOPIC_ATTACHMENT_BYTES - fits * service.MAX_ATTACHMENT_BYTES
    with pytest.raises(AttachmentRejected) as e:
        await service.add_attachment(
            session, alice, topic.id, "over.txt", "text/plain", b"x" * (remaining + 1)
        )
    assert e.value.code == "ATTACHMENTS_TOO_LARGE"

    other = await new_topic(session, alice, "Small files")
    for i in range(service.MAX_ATTACHMENTS):
        await service.add_attachment(session, alice, other.id, f"{i}.txt", "text/plain", b"x")
    with pytest.raises(AttachmentRejected) as e:
        await service.add_attachment(session, alice, other.id, "11.txt", "text/plain", b"x")
    assert e.value.code == "TOO_MANY_ATTACHMENTS"


def test_filenames_are_sanitised() -> None:
    assert service.sanitize_filename("../../etc/passwd") == "passwd"
    assert service.sanitize_filename("a\x00b\n.txt") == "ab.txt"
    assert service.sanitize_filename("dir/") == "attachment"
    long = service.sanitize_filename("n" * 300 + ".markdown")
    assert len(long) == service.MAX_FILENAME_CHARS and long.endswith(".markdown")
    assert len(service.sanitize_filename("n" * 300)) == service.MAX_FILENAME_CHARS


async def test_topic_for_discussion_appends_attachments(session: AsyncSession, alice: str) -> None:
    topic = await new_topic(session, alice, description="A pilot.", context="Background.")
    await service.add_attachment(session, alice, topic.id, "notes.txt", "text/plain", b"Note 1")
    await service.add_attachment(session, alice, topic.id, "d.json", "application/json", b"{}")
    core = await service.topic_for_discussion(session, alice, topic.id)
    assert isinstance(core, Topic)
    assert (core.title, core.description) == ("Four-day week", "A pilot.")
    assert core.context == (
        "Background.\n\n--- attachment: notes.txt ---\nNote 1\n\n--- attachment: d.json ---\n{}"
    )


async def test_topic_for_discussion_cuts_to_the_context_limit(
    session: AsyncSession, alice: str
) -> None:
    topic = await new_topic(session, alice, context="c" * 15000)
    await service.add_attachment(session, alice, topic.id, "big.txt", "text/plain", b"a" * 9000)
    core = await service.topic_for_discussion(session, alice, topic.id)
    assert len(core.context) <= CONTEXT_MAX
    assert core.context.startswith("c" * 15000 + "\n\n--- attachment: big.txt ---\naaa")
    assert core.context.endswith(
        "[context cut: topic context and attachments exceed 20000 characters]"
    )
