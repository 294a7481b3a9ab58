"""Creating discussions and loading what a moderator needs to run one."""

from __future__ import annotations

from dataclasses import dataclass

from simfocus.characters.schemas import CharacterConfig
from simfocus.discussions.errors import DiscussionNotFound
from simfocus.discussions.repository import DiscussionRepository
from simfocus.discussions.schemas import DiscussionSpec, DiscussionStatus, Participant
from simfocus.store.models import CharacterRow, DiscussionRow, ParticipantRow, TopicRow, new_id
from simfocus.studies.schemas import Study
from simfocus.topics.schemas import Topic


@dataclass(frozen=True)
class DiscussionSetup:
    """Everything a moderator needs to run (or resume) a discussion."""

    discussion_id: str
    name: str
    topic: Topic
    spec: DiscussionSpec
    participants: tuple[Participant, ...]
    status: DiscussionStatus


async def create_discussion(
    repo: DiscussionRepository,
    study: Study,
    *,
    user_id: str | None = None,
    topic_id: str | None = None,
    character_ids: list[str] | None = None,
) -> DiscussionSetup:
    """Stage a new discussion with its participants (no commit).

    From a study file, the topic and characters are new rows too; from the API they exist
    already (``topic_id``, ``character_ids`` in panel order) and are only referenced.
    """
    spec = study.discussion
    topic: TopicRow | None = None
    if topic_id is None:
        topic = TopicRow(id=new_id(), user_id=user_id, **study.topic.model_dump())
        topic_id = topic.id
    discussion = DiscussionRow(
        id=new_id(),
        user_id=user_id,
        name=study.name,
        topic_id=topic_id,
        mode=spec.mode.value,
        status=DiscussionStatus.INITIALIZED.value,
        max_rounds=spec.max_rounds,
        llm_provider=spec.provider.name,
        llm_model=spec.provider.model,
        spec=spec.model_dump(mode="json"),
        budget_micro_usd=spec.budget_micro_usd,
    )
    if topic is not None:
        repo.add(topic)
        await repo.flush()  # plain foreign keys give the unit of work no order: parents first
    repo.add(discussion)
    await repo.flush()
    participants = []
    seats = []
    for position, character in enumerate(study.panel):
        config = character.model_dump(mode="json")
        if character_ids is None:
            row = CharacterRow(id=new_id(), user_id=user_id, name=character.name, config=config)
            repo.add(row)
            character_id = row.id
        else:
            character_id = character_ids[position]
        seat = ParticipantRow(
            id=new_id(),
            discussion_id=discussion.id,
            character_id=character_id,
            position=position,
            name=character.name,
            character_snapshot=config,
            current_stance=character.stance.value,
        )
        seats.append(seat)
        participants.append(Participant(id=seat.id, position=position, character=character))
    await repo.flush()
    repo.add(*seats)
    await repo.flush()
    return DiscussionSetup(
        discussion_id=discussion.id,
        name=study.name,
        topic=study.topic,
        spec=spec,
        participants=tuple(participants),
        status=DiscussionStatus.INITIALIZED,
    )


async def load_discussion(repo: DiscussionRepository, discussion_id: str) -> DiscussionSetup:
    discussion = await repo.get(discussion_id)
    if discussion is None:
        raise DiscussionNotFound(f"no discussion {discussion_id}", field="discussion_id")
    topic = await repo.topic(discussion.topic_id)
    assert topic is not None  # RESTRICT foreign key
    seats = await repo.participants(discussion_id)
    return DiscussionSetup(
        discussion_id=discussion.id,
        name=discussion.name,
        topic=Topic(title=topic.title, description=topic.description, context=topic.context),
        spec=DiscussionSpec.model_validate(discussion.spec),
        participants=tuple(
            Participant(
                id=s.id,
                position=s.position,
                character=CharacterConfig.model_validate(s.character_snapshot),
            )
            for s in seats
        ),
        status=DiscussionStatus(discussion.status),
    )
