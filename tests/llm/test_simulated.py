from __future__ import annotations

import time
from datetime import UTC, datetime

from simfocus.characters.schemas import ExpressionStyle, Stance
from simfocus.discussions.schemas import DiscussionSpec, Message, Mode, Participant, Phase
from simfocus.llm.schemas import Completion, ProviderConfig
from simfocus.llm.simulated import SimulatedProvider
from simfocus.llm.tokens import estimate_tokens
from simfocus.personas.mind import PersonaMind
from simfocus.personas.replies import parse_reply, shared_statement
from simfocus.personas.schemas import TurnRequest
from simfocus.topics.schemas import Topic
from tests.factories import create_character

TOPIC = Topic(title="A repair café in every library")


def mind(mode: Mode = Mode.FREE, seed: int = 1, **character: object) -> PersonaMind:
    c = create_character("Ana Ruiz", profession="pharmacist", **character)
    spec = DiscussionSpec(mode=mode, seed=seed, provider=ProviderConfig())
    return PersonaMind(
        Participant(id="ana", position=0, character=c),
        TOPIC,
        spec,
        window_tokens=900,
        summary_tokens=300,
    )


def other(seq: int, content: str) -> Message:
    return Message(
        seq=seq,
        round=1,
        phase=Phase.OPENING,
        role="persona",
        participant_id="bo",
        speaker_name="Bo Lind",
        content=content,
        created_at=datetime.now(UTC),
    )


async def reply(m: PersonaMind, turn: TurnRequest) -> str:
    completion = await SimulatedProvider().complete(m.build_request(turn))
    return completion.text


async def test_replies_are_deterministic_under_a_seed() -> None:
    turn = TurnRequest(discussion_id="d", round=1, phase=Phase.OPENING)
    assert await reply(mind(seed=4), turn) == await reply(mind(seed=4), turn)
    texts = {await reply(mind(seed=s), turn) for s in range(8)}
    assert len(texts) > 3


async def test_replies_are_persona_aware() -> None:
    bo = other(
        2, "Honestly it sounds lovely. Repair cafés bring neighbours together and cut waste."
    )
    turn = TurnRequest(
        discussion_id="d", round=1, phase=Phase.OPENING, new_messages=(bo,), addressee=bo
    )
    text = await reply(mind(stance=Stance.OPPOSE, expression_style=ExpressionStyle.TECHNICAL), turn)
    parsed = parse_reply(text)
    assert "pharmacist" in parsed.content
    assert "Bo Lind" in parsed.content, "it refers to the previous speaker by name"
    assert parsed.stance is Stance.OPPOSE


async def test_it_answers_an_injected_question() -> None:
    q = Message(
        seq=3,
        round=1,
        phase=Phase.OPENING,
        role="moderator",
        kind="question",
        speaker_name="Moderator",
        content="Would you volunteer there?",
        created_at=datetime.now(UTC),
    )
    text = await reply(
        mind(), TurnRequest(discussion_id="d", round=1, phase=Phase.OPENING, question=q)
    )
    assert 'On the question "Would you volunteer there?"' in text


async def test_mode_rules_show_in_the_reply() -> None:
    bo = other(2, "We could run it on Saturdays. It would help students too.")
    creative = await reply(
        mind(Mode.CREATIVE),
        TurnRequest(
            discussion_id="d", round=2, phase=Phase.DEVELOPMENT, new_messages=(bo,), addressee=bo
        ),
    )
    assert "Yes, and" in creative or "build" in creative or "take it further" in creative
    closing = await reply(
        mind(Mode.CONSENSUS),
        TurnRequest(discussion_id="d", round=4, phase=Phase.CLOSING, closing_statement=True),
    )
    assert shared_statement(closing)


async def test_usage_is_realistic_and_latency_is_configurable() -> None:
    m = mind()
    request = m.build_request(TurnRequest(discussion_id="d", round=1, phase=Phase.OPENING))
    started = time.perf_counter()
    completion = await SimulatedProvider(latency_ms=120).complete(request)
    assert time.perf_counter() - started >= 0.09
    assert completion.completion_tokens == estimate_tokens(completion.text) > 10
    assert completion.prompt_tokens > estimate_tokens(request.system)
    chunks = [c async for c in SimulatedProvider().stream(request)]
    assert isinstance(chunks[-1], Completion)
    assert "".join(c for c in chunks if isinstance(c, str)) == chunks[-1].text
    assert SimulatedProvider.simulated is True
