from __future__ import annotations

from datetime import UTC, datetime

from simfocus.characters.schemas import Stance
from simfocus.discussions.schemas import Message, Phase
from simfocus.llm.tokens import estimate_tokens
from simfocus.personas.memory import PersonaMemory
from simfocus.personas.replies import key_point, parse_reply, shared_statement


def msg(
    seq: int,
    speaker: str,
    content: str,
    *,
    pid: str | None = None,
    kind: str = "statement",
    stance: Stance | None = None,
) -> Message:
    return Message(
        seq=seq,
        round=1 + seq // 5,
        phase=Phase.DEVELOPMENT,
        role="persona" if pid or kind == "statement" else "moderator",
        kind=kind,
        participant_id=pid or f"id-{speaker}",
        speaker_name=speaker,
        content=content,
        stance=stance,
        created_at=datetime.now(UTC),
    )  # type: ignore[arg-type]


def long_text(i: int) -> str:
    return (
        f"Point number {i} is about costs. "
        + "We should weigh evidence carefully before we decide anything here. " * 3
    )


def test_window_and_summary_stay_bounded_however_long_the_discussion() -> None:
    memory = PersonaMemory("me", Stance.NEUTRAL, window_tokens=400, summary_tokens=120)
    sizes = []
    for i in range(1, 301):
        memory.observe([msg(i, f"Speaker{i % 6}", long_text(i))])
        window = sum(estimate_tokens(m.content) for m in memory.recent)
        sizes.append(window + estimate_tokens(memory.summary()))
    assert max(sizes) <= 400 + 120 + 50
    assert estimate_tokens(memory.summary()) <= 120
    assert memory.recent[-1].seq == 300, "the newest message is always in the window"
    assert "(2" in memory.summary() or "earlier messages" in memory.summary()


def test_memory_keeps_own_points_stance_and_ignores_repeats() -> None:
    memory = PersonaMemory("me", Stance.SUPPORT, window_tokens=1000, summary_tokens=200)
    mine = msg(
        1,
        "Me",
        "Hello all. I think the price is far too high for families like mine. Thanks.",
        pid="me",
        stance=Stance.OPPOSE,
    )
    memory.observe([mine])
    memory.observe([mine])  # delivered twice: taken once
    assert len(memory.recent) == 1
    assert memory.stance is Stance.OPPOSE
    assert list(memory.own_points) == ["I think the price is far too high for families like mine."]


def test_folded_questions_are_remembered() -> None:
    memory = PersonaMemory("me", Stance.NEUTRAL, window_tokens=60, summary_tokens=200)
    memory.observe(
        [msg(1, "Moderator", "Would you pay 10 euros a month?", kind="question", pid=None)]
    )
    for i in range(2, 10):
        memory.observe([msg(i, "Bo", long_text(i))])
    assert "The moderator asked: Would you pay 10 euros a month?" in memory.summary()


def test_parse_reply_strips_the_stance_marker() -> None:
    reply = parse_reply("I like it a lot.\nSTANCE: support")
    assert reply.content == "I like it a lot." and reply.stance is Stance.SUPPORT
    assert (
        parse_reply("Fine.\n**Stance:** critical exploration").stance is Stance.CRITICAL_EXPLORATION
    )
    assert parse_reply("No marker here.").stance is None
    assert parse_reply("Odd.\nSTANCE: sideways").stance is None


def test_key_point_skips_framing_and_reactions() -> None:
    text = (
        "Speaking as a nurse, a few thoughts. Bo, I agree with you on the long list of costs "
        "that you raised. Night shifts leave no time to cook at all."
    )
    assert key_point(text, avoid=("Bo",)) == "Night shifts leave no time to cook at all."
    assert shared_statement("x\nShared statement: we agree on a pilot.") == "we agree on a pilot."
