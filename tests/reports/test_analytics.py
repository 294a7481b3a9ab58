"""Analytics of a hand-made transcript, every number worked out by hand."""

from __future__ import annotations

from simfocus.reports.analytics import measure_analytics
from simfocus.transcripts.schemas import Transcript
from tests.reports.builders import transcript


def _example() -> Transcript:
    return transcript(
        ["Ann", "Bob", "Cid"],  # Cid never speaks
        [
            {"round": 1, "speaker": "Moderator", "content": "Welcome everyone", "prompt_tokens": 5},
            {
                "round": 1,
                "speaker": "Ann",
                "content": "one two three four",
                "prompt_tokens": 10,
                "completion_tokens": 4,
                "cost_micro_usd": 100,
            },
            {
                "round": 1,
                "speaker": "Bob",
                "content": "five six",
                "prompt_tokens": 12,
                "completion_tokens": 2,
                "cost_micro_usd": 50,
            },
            {
                "round": 2,
                "phase": "development",
                "speaker": "Ann",
                "content": "seven eight",
                "prompt_tokens": 20,
                "completion_tokens": 2,
                "cost_micro_usd": 80,
            },
            {
                "round": 2,
                "phase": "development",
                "speaker": "Moderator",
                "content": "Why?",
                "kind": "question",
            },
            {
                "round": 2,
                "phase": "development",
                "speaker": "Bob",
                "content": "nine ten eleven",
                "prompt_tokens": 30,
                "completion_tokens": 3,
                "cost_micro_usd": 70,
                "responds_to_seq": 5,
                "created_at": "2025-01-01T12:00:55",  # naive: read as UTC
            },
        ],
    )


def test_personas() -> None:
    a = measure_analytics(_example())
    ann, bob, cid = a.personas
    assert (ann.name, ann.messages, ann.words) == ("Ann", 2, 6)
    assert (ann.prompt_tokens, ann.completion_tokens, ann.cost_micro_usd) == (30, 6, 180)
    assert ann.talk_share == 0.545  # 6 / 11
    assert (bob.messages, bob.words, bob.prompt_tokens, bob.cost_micro_usd) == (2, 5, 42, 120)
    assert bob.talk_share == 0.455  # 5 / 11
    assert (cid.messages, cid.words, cid.talk_share) == (0, 0, 0.0)


def test_rounds() -> None:
    one, two = measure_analytics(_example()).rounds
    # messages 10 s apart from 12:00:00; round 2 starts at 00:30, its last message at 00:55
    assert (one.round, one.phase, one.messages, one.duration_s) == (1, "opening", 3, 30.0)
    assert (two.round, two.phase, two.messages, two.duration_s) == (2, "development", 3, 25.0)


def test_totals() -> None:
    a = measure_analytics(_example())
    assert a.discussion_id == "d1"
    assert (a.messages, a.persona_messages, a.words) == (6, 4, 11)
    assert (a.prompt_tokens, a.completion_tokens, a.cost_micro_usd) == (77, 11, 300)
    assert a.duration_s == 55.0


def test_nobody_spoke() -> None:
    a = measure_analytics(transcript(["Ann"], []))
    assert a.personas[0].talk_share == 0.0
    assert (a.messages, a.words, a.duration_s, a.rounds) == (0, 0, 0.0, [])
