"""Comparing discussions: closing stances, costs, score spreads, shared consensus."""

from __future__ import annotations

import pytest

from simfocus.reports.compare import compare
from simfocus.reports.metrics import measure_quality
from simfocus.transcripts.schemas import Transcript
from tests.reports.builders import transcript


def _pair() -> tuple[Transcript, Transcript]:
    first = transcript(
        [("Ann", "oppose"), ("Bob", "neutral")],
        [
            (1, "Ann", "Remote work saves time.", "support"),
            (1, "Bob", "Agreed, Ann.", "support"),
        ],
        discussion_id="d1",
        mode="consensus",
        usage=(1000, 200, 2500),
    )
    second = transcript(
        [("Cid", "support"), ("Dee", "oppose"), ("Eve", "neutral")],
        [(1, "Cid", "Offices matter.", "oppose"), (1, "Dee", "Yes.")],
        discussion_id="d2",
        topic="Office return",
        usage=(500, 100, 1200),
    )
    return first, second


def test_compare_two_discussions() -> None:
    first, second = _pair()
    q1, q2 = measure_quality(first), measure_quality(second)
    result = compare(
        [
            (first, q1, ["Hybrid work keeps teams productive", "Offices need better ventilation"]),
            (second, q2, ["Teams stay productive with hybrid work", "Commuting costs hurt"]),
        ]
    )
    one, two = result.discussions
    assert (one.discussion_id, one.topic, one.mode) == ("d1", "Remote work", "consensus")
    assert one.closing_stances == {
        "oppose": 0,
        "critical_exploration": 0,
        "neutral": 0,
        "support": 2,
    }
    # Dee never stated a stance: she closes where she began
    assert two.closing_stances == {
        "oppose": 2,
        "critical_exploration": 0,
        "neutral": 1,
        "support": 0,
    }
    assert (one.prompt_tokens, one.completion_tokens, one.cost_micro_usd) == (1000, 200, 2500)
    assert one.cost_usd == 0.0025
    assert one.quality == q1

    assert [(p.text, p.discussion_ids) for p in result.shared_consensus] == [
        ("Hybrid work keeps teams productive", ["d1", "d2"])
    ]
    assert [(p.text, p.discussion_ids) for p in result.differing_consensus] == [
        ("Offices need better ventilation", ["d1"]),
        ("Commuting costs hurt", ["d2"]),
    ]
    assert result.score_deltas["overall"] == round(abs(q1.overall - q2.overall), 3)
    assert result.score_deltas["participation_balance"] == round(
        abs(q1.participation_balance - q2.participation_balance), 3
    )
    assert "question_coverage" not in result.score_deltas  # neither had a question


def test_compare_refuses_too_few_or_too_many() -> None:
    first, _ = _pair()
    q = measure_quality(first)
    with pytest.raises(ValueError):
        compare([(first, q, [])])
    with pytest.raises(ValueError):
        compare([(first, q, [])] * 11)
    assert compare([(first, q, [])] * 2).shared_consensus == []
