"""Quality scores on hand-made transcripts whose answers are worked out by hand."""

from __future__ import annotations

import math
import random

import pytest

from simfocus.reports.metrics import (
    FORMULAS,
    _near_duplicates,
    measure_quality,
    movement_sentence,
    stance_changes,
)
from simfocus.reports.schemas import QualityScores, StanceChange
from simfocus.reports.text import content_words, jaccard, similar, words
from tests.reports.builders import transcript

# ----- text helpers ---------------------------------------------------------------------


def test_words_and_content_words() -> None:
    assert words("Don't PANIC: it\u2019s 42%!") == ["don't", "panic", "it's", "42"]
    assert content_words("The company's staff and the company can't decide") == {
        "company",
        "staff",
        "decide",
    }
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 0.0
    assert similar("Hybrid work keeps teams productive", "Teams stay productive with hybrid work")
    assert not similar("Hybrid work keeps teams productive", "Offices need better ventilation")


# ----- participation balance ------------------------------------------------------------


def test_equal_talk_is_perfectly_balanced() -> None:
    t = transcript(["Ann", "Bob"], [(1, "Ann", "one two three"), (1, "Bob", "four five six")])
    assert measure_quality(t).participation_balance == 1.0


def test_one_speaker_of_three_scores_zero() -> None:
    # words (0, 0, 3): Gini 2/3, times the correction 3/2 = 1
    t = transcript(["Ann", "Bob", "Cid"], [(1, "Ann", "one two three")])
    assert measure_quality(t).participation_balance == 0.0


def test_uneven_talk_balance_by_hand() -> None:
    # words (1, 2, 3): Σ|xi - xj| over ordered pairs = 8; Gini = 8 / (2·3²·2) = 2/9;
    # corrected 2/9 · 3/2 = 1/3, so balance 2/3
    t = transcript(
        ["Ann", "Bob", "Cid"],
        [(1, "Ann", "one"), (1, "Bob", "one two"), (1, "Cid", "one two three")],
    )
    assert measure_quality(t).participation_balance == 0.667


def test_a_panel_of_one_is_balanced() -> None:
    t = transcript(["Ann"], [(1, "Ann", "all mine")])
    assert measure_quality(t).participation_balance == 1.0


# ----- responsiveness -------------------------------------------------------------------


def test_naming_an_earlier_speaker_counts() -> None:
    t = transcript(
        ["Ann", "Bob", "Cid"],
        [
            (1, "Ann", "Remote work saves commuting time for parents."),
            (1, "Bob", "I agree with ann about families."),  # names Ann: engages
            (1, "Cid", "Office rents are expensive downtown."),  # nothing shared: does not
        ],
    )
    assert measure_quality(t).responsiveness == 0.5


def test_names_must_be_whole_words_of_earlier_speakers() -> None:
    t = transcript(
        ["Ann", "Bob", "Dr. Cid Vega"],
        [
            (1, "Ann", "Remote work saves commuting time."),
            (1, "Bob", "Annual budgets matter, Cid."),  # "Annual" ≠ Ann; Cid has not spoken
            (1, "Dr. Cid Vega", "Parking is scarce."),
            (1, "Ann", "As Cid said, parking matters."),  # first name after the title
        ],
    )
    assert measure_quality(t).responsiveness == pytest.approx(0.333, abs=1e-3)


def test_word_overlap_with_recent_messages_counts_but_assignment_alone_does_not() -> None:
    t = transcript(
        ["Ann", "Bob"],
        [
            (1, "Ann", "Childcare costs keep rising every year."),
            # {childcare, costs, rising, fast} vs {childcare, costs, keep, rising, year}: 3/6
            (1, "Bob", "Childcare costs are rising fast.", None, None, 1),
            # assigned to answer message 2 but shares nothing with anything
            (1, "Ann", "Bicycles are lovely.", None, None, 2),
        ],
    )
    assert measure_quality(t).responsiveness == 0.5


# ----- novelty and repetition -----------------------------------------------------------


def test_novelty_by_hand() -> None:
    t = transcript(
        ["Ann", "Bob"],
        [
            (1, "Ann", "alpha beta gamma delta"),  # round 1: not scored
            (2, "Bob", "alpha beta epsilon zeta"),  # 2 new of 4
            (2, "Ann", "alpha beta epsilon kappa"),  # 1 new of 4
        ],
    )
    assert measure_quality(t).novelty == 0.375


def test_exact_duplicates_are_repetition() -> None:
    t = transcript(
        ["Ann", "Bob"],
        [
            (1, "Ann", "Remote work saves commuting time."),
            (1, "Bob", "Office culture builds trust."),
            (2, "Ann", "Remote work saves commuting time."),
        ],
    )
    q = measure_quality(t)
    assert q.repetition == 0.333
    assert q.novelty == 0.0  # the only round-2 message says nothing new


def test_near_duplicates_match_brute_force() -> None:
    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(30)]
    sets = [set(rng.sample(vocab, rng.randint(0, 8))) for _ in range(300)]
    brute = [any(jaccard(s, sets[j]) >= 0.6 for j in range(i)) for i, s in enumerate(sets)]
    assert _near_duplicates(sets, 0.6) == brute
    assert any(brute)


# ----- question coverage ----------------------------------------------------------------


def test_question_answered_by_two_of_three() -> None:
    t = transcript(
        ["Ann", "Bob", "Cid"],
        [
            (1, "Ann", "Hello there."),
            (1, "Moderator", "What about costs?", None, "question"),
            (1, "Ann", "Costs are high.", None, None, 2),
            (1, "Bob", "Costs are fine.", None, None, 2),
            (1, "Bob", "Really fine.", None, None, 2),  # answering twice counts once
        ],
    )
    assert measure_quality(t).question_coverage == 0.667


def test_no_question_means_no_coverage() -> None:
    t = transcript(["Ann"], [(1, "Moderator", "Welcome."), (1, "Ann", "Hello.")])
    assert measure_quality(t).question_coverage is None


# ----- depth, constructiveness, coherence ------------------------------------------------


def test_depth_markers() -> None:
    t = transcript(
        ["Ann", "Bob"],
        [
            (1, "Ann", "I back it because staff are happier."),
            (1, "Bob", "Costs rose 20% last year."),
            (1, "Ann", "If we wait, then prices rise."),
            (1, "Bob", "I am sincere about this."),  # "sincere" is not "since"
            (1, "Ann", "Some teams, e.g. support, need desks."),
            (1, "Bob", "I like it."),
        ],
    )
    assert measure_quality(t).depth == pytest.approx(4 / 6, abs=1e-3)


def test_constructive_markers() -> None:
    t = transcript(
        ["Ann", "Bob"],
        [
            (1, "Ann", "What if we tried a hybrid week?"),
            (1, "Bob", "Let\u2019s keep Fridays free."),  # curly apostrophe
            (1, "Ann", "Building on that, fine."),
            (1, "Bob", "No."),
        ],
    )
    assert measure_quality(t).constructiveness == 0.75


def test_coherence() -> None:
    # topic content words: remote, work, company, keep
    t = transcript(
        ["Ann", "Bob", "Cid"],
        [
            (1, "Ann", "Remote offices are great."),  # shares "remote" with the topic
            (1, "Bob", "Bananas taste sweet."),  # shares nothing
            (1, "Cid", "Sweet things matter."),  # shares "sweet" with the message before
        ],
    )
    assert measure_quality(t).coherence == 0.667


# ----- diversity ------------------------------------------------------------------------


def test_diversity_extremes() -> None:
    same = transcript(
        [("Ann", "support"), ("Bob", "support")],
        [(1, "Ann", "Yes.", "support"), (1, "Bob", "Yes.", "support")],
    )
    assert measure_quality(same).diversity == 0.0
    names = ["Ann", "Bob", "Cid", "Dee"]
    stances = ["support", "oppose", "neutral", "critical_exploration"]
    spread = transcript(
        list(zip(names, stances, strict=True)),
        [(1, n, "Hm.", s) for n, s in zip(names, stances, strict=True)],
    )
    assert measure_quality(spread).diversity == 1.0


def test_diversity_by_hand() -> None:
    t = transcript(
        ["Ann", "Bob"],
        [
            (1, "Ann", "Yes.", "support"),
            (1, "Bob", "Yes.", "support"),
            (2, "Ann", "Yes.", "support"),
            (2, "Bob", "No.", "oppose"),
        ],
    )
    said = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(4)
    closing = 1.0  # support and oppose: log 2 / log min(4, 2)
    assert measure_quality(t).diversity == round((said + closing) / 2, 3)


# ----- overall and empty transcripts ---------------------------------------------------


def test_overall_is_the_mean_of_the_parts() -> None:
    t = transcript(
        ["Ann", "Bob"],
        [
            (1, "Ann", "Remote work helps because commutes cost £200.", "support"),
            (1, "Moderator", "What about trust?", None, "question"),
            (1, "Ann", "Trust grows, Bob, if we meet monthly.", "support", None, 2),
            (2, "Bob", "We should try a hybrid month, Ann.", "neutral", None, 2),
        ],
    )
    q = measure_quality(t)
    parts = [
        q.participation_balance,
        q.responsiveness,
        q.novelty,
        1 - q.repetition,
        q.question_coverage,
        q.depth,
        q.diversity,
        q.constructiveness,
        q.coherence,
    ]
    assert q.overall == pytest.approx(sum(p for p in parts if p is not None) / 9, abs=2e-3)
    for name in QualityScores.model_fields:
        value = getattr(q, name)
        if isinstance(value, float):
            assert 0.0 <= value <= 1.0, name


def test_nothing_said_scores_zero() -> None:
    t = transcript(["Ann", "Bob"], [(1, "Moderator", "Welcome.")])
    q = measure_quality(t)
    assert q.overall == 0.0
    assert q.participation_balance == 0.0
    assert q.question_coverage is None
    assert [tr.final_stance for tr in q.stance_movement] == ["neutral", "neutral"]


def test_every_score_has_a_formula() -> None:
    scored = set(QualityScores.model_fields)
    assert scored == set(FORMULAS)
    assert all(text.strip() for text in FORMULAS.values())


# ----- stance movement ------------------------------------------------------------------


def _moving() -> tuple[list[tuple[str, str]], list[tuple[object, ...]]]:
    return (
        [("Ann", "oppose"), ("Bob", "neutral")],
        [
            (1, "Ann", "No.", "oppose"),
            (2, "Ann", "Maybe.", "neutral"),
            (3, "Ann", "Hmm."),  # speaks without stating a stance
            (4, "Ann", "Fine.", "support"),
            (4, "Ann", "Yes!", "support"),
        ],
    )


def test_stance_track_by_hand() -> None:
    seats, messages = _moving()
    ann, bob = measure_quality(transcript(seats, messages)).stance_movement
    assert ann.by_round == ["oppose", "neutral", None, "support"]  # rounds 1 to 4
    assert (ann.initial_stance, ann.final_stance) == ("oppose", "support")
    assert ann.changes == 2
    assert ann.net_shift == 2.0
    assert bob.by_round == [None] * 4
    assert (bob.final_stance, bob.changes, bob.net_shift) == ("neutral", 0, 0.0)


def test_stance_changes_and_sentence() -> None:
    seats, messages = _moving()
    t = transcript(seats, messages)
    changes = stance_changes(t, "p1")
    assert changes == [
        StanceChange(seq=2, round=2, from_stance="oppose", to_stance="neutral"),
        StanceChange(seq=4, round=4, from_stance="neutral", to_stance="support"),
    ]
    assert (
        movement_sentence(changes, "oppose", "support")
        == "moved from oppose to neutral in round 2, then to support in round 4"
    )
    assert stance_changes(t, "p2") == []
    assert movement_sentence([], "neutral", "neutral") == "held neutral throughout"
    with pytest.raises(KeyError):
        stance_changes(t, "nobody")


def test_critical_exploration_shift() -> None:
    t = transcript([("Ann", "critical_exploration")], [(1, "Ann", "Let me push back.", "oppose")])
    (ann,) = measure_quality(t).stance_movement
    assert ann.net_shift == -0.5
    changes = stance_changes(t, "p1")
    assert (
        movement_sentence(changes, "critical_exploration", "oppose")
        == "moved from critical exploration to oppose in round 1"
    )
