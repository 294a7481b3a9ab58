"""The batch aggregate on data with known answers: stances, support statistics, the
Welch test and the t distribution behind it, recurring points, and the exports."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest

from simfocus.batches.aggregate import (
    CLEARLY,
    LEANING,
    NO_RESULTS,
    ONE_VARIANT,
    TOO_FEW,
    UNCLEAR,
    BatchAggregate,
    GroupResult,
    aggregate,
    preference,
    recurring,
    support_score,
)
from simfocus.batches.aggregate_exports import (
    aggregate_html,
    aggregate_json,
    aggregate_markdown,
    support_svg,
)
from simfocus.batches.schemas import BatchFile, BatchGroup
from simfocus.batches.stats import (
    T_CRITICAL_95,
    betai,
    mean_sd_ci,
    superiority,
    t_cdf,
    t_critical,
    t_two_sided_p,
    welch,
)
from simfocus.characters.schemas import CharacterConfig
from simfocus.discussions.schemas import DiscussionSpec, Mode
from simfocus.reports.schemas import (
    Controversy,
    Point,
    QualityScores,
    Report,
    ReportSections,
    ReportStatus,
)
from simfocus.studies.schemas import Study
from simfocus.topics.schemas import Topic
from simfocus.transcripts.schemas import Transcript
from tests.reports.builders import transcript

# ----- the Student t distribution ------------------------------------------------------


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [
        (2.0, 10, 0.0734),  # printed tables
        (1.0, 5, 0.3632),
        (2.228, 10, 0.05),
        (12.706, 1, 0.05),
        (3.182, 3, 0.05),
        (1.96, 1e6, 0.05),  # the normal limit
        (0.0, 7, 1.0),
    ],
)
def test_two_sided_p_matches_known_values(t: float, df: float, p: float) -> None:
    assert t_two_sided_p(t, df) == pytest.approx(p, abs=2e-4)
    assert t_two_sided_p(-t, df) == pytest.approx(p, abs=2e-4)


def test_t_cdf_matches_closed_forms() -> None:
    for t in (-5.0, -1.3, -0.2, 0.0, 0.7, 1.0, 4.0, 30.0):
        # df = 1 is the Cauchy distribution; df = 2 has a closed form too.
        assert t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
        assert t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)
    assert t_cdf(0.0, 3.7) == 0.5
    assert t_cdf(math.inf, 4) == 1.0 and t_two_sided_p(math.inf, 4) == 0.0


def test_t_cdf_for_non_integer_df_matches_numerical_integration() -> None:
    df, t = 3.2, 4.0
    const = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def pdf(x: float) -> float:
        return const * (1 + x * x / df) ** (-(df + 1) / 2)

    n = 20_000  # Simpson's rule on [0, t]
    h = t / n
    area = pdf(0) + pdf(t) + sum((4 if i % 2 else 2) * pdf(i * h) for i in range(1, n))
    assert t_cdf(t, df) == pytest.approx(0.5 + area * h / 3, abs=1e-9)


def test_incomplete_beta_special_cases() -> None:
    for x in (0.0, 0.1, 0.5, 0.93, 1.0):
        assert betai(2.5, 1.0, x) == pytest.approx(x**2.5, abs=1e-12)
        assert betai(1.0, 3.0, x) == pytest.approx(1 - (1 - x) ** 3, abs=1e-12)
        assert betai(2.0, 5.0, x) == pytest.approx(1 - betai(5.0, 2.0, 1 - x), abs=1e-12)


def test_the_critical_value_table_agrees_with_the_cdf() -> None:
    assert len(T_CRITICAL_95) == 30
    for df, crit in enumerate(T_CRITICAL_95, start=1):
        assert t_critical(df) == crit
        assert t_cdf(crit, df) == pytest.approx(0.975, abs=5e-5)  # three-decimal table
    assert t_critical(31) == t_critical(500) == 1.96
    with pytest.raises(ValueError):
        t_critical(0)


def test_welch_and_superiority_by_hand() -> None:
    a, b = [1.0, 0.5, 1.0], [-0.5, 0.0, -1.0]
    # var a = 1/12, var b = 1/4; se² = 1/36 + 1/12 = 1/9; t = (5/6 + 1/2) / (1/3) = 4;
    # df = (1/9)² / ((1/36)²/2 + (1/12)²/2) = 3.2.
    test = welch(a, b)
    assert test.t == pytest.approx(4.0)
    assert test.df == pytest.approx(3.2)
    assert test.p_value == pytest.approx(t_two_sided_p(4.0, 3.2))
    assert 0.0248 < test.p_value < 0.0249
    assert superiority(a, b) == 1.0
    assert superiority(b, a) == 0.0
    assert superiority([1.0, 0.0], [0.0, 0.0]) == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)
    assert superiority([], [1.0]) is None
    # Equal variances and sizes: Welch's df is 2n - 2 and t is the pooled t.
    same = welch([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert same.t == pytest.approx(-1.0 / math.sqrt(2 / 3)) and same.df == pytest.approx(4.0)
    # No spread at all: t undefined, p 0 for different means, 1 for equal ones.
    assert welch([1.0, 1.0], [0.0, 0.0]).p_value == 0.0
    assert welch([1.0, 1.0], [1.0, 1.0]).p_value == 1.0
    assert welch([1.0, 1.0], [0.0, 0.0]).t is None
    with pytest.raises(ValueError):
        welch([1.0], [0.0, 1.0])


def test_mean_sd_ci_by_hand() -> None:
    s = mean_sd_ci([1.0, 0.5, 1.0])
    assert s.mean == pytest.approx(5 / 6) and s.sd == pytest.approx(math.sqrt(1 / 12))
    half = 4.303 * math.sqrt(1 / 12) / math.sqrt(3)
    assert s.ci_low == pytest.approx(5 / 6 - half) and s.ci_high == pytest.approx(5 / 6 + half)
    clipped = mean_sd_ci([1.0, 0.5, 1.0], (-1.0, 1.0))
    assert clipped.ci_high == 1.0 and clipped.ci_low == pytest.approx(5 / 6 - half)
    one = mean_sd_ci([0.3])
    assert (one.n, one.mean, one.sd, one.ci_low) == (1, 0.3, None, None)
    assert mean_sd_ci([]).mean is None


# ----- hand-built groups ---------------------------------------------------------------


def group_transcript(
    stances: list[str], *, discussion_id: str = "d", topic: str = "Alpha box", cost: int = 0
) -> Transcript:
    """One message per persona stating its closing stance."""
    names = [f"Persona{i}" for i in range(len(stances))]
    messages = [
        (1, name, f"{name} thinks about the box, because it matters.", stance)
        for name, stance in zip(names, stances, strict=True)
    ]
    return transcript(
        names,
        messages,
        discussion_id=discussion_id,
        topic=topic,
        usage=(100, 50, cost),
    )


def result(
    variant: str,
    repeat: int,
    stances: list[str] | None,
    *,
    status: str = "completed",
    mode: str = "free",
    consensus: list[str] | None = None,
    controversies: list[str] | None = None,
    quality: QualityScores | None = None,
    cost: int = 1000,
) -> GroupResult:
    key = f"{variant}.mixed.{mode}.r{repeat}"
    return GroupResult(
        key=key,
        variant=variant,
        panel="mixed",
        mode=mode,
        repeat=repeat,
        status=status,
        transcript=None
        if stances is None
        else group_transcript(stances, discussion_id=key, topic=f"{variant} topic", cost=cost),
        quality=quality,
        consensus=consensus or [],
        controversies=controversies or [],
    )


def scores(overall: float, depth: float, coverage: float | None = None) -> QualityScores:
    return QualityScores(
        participation_balance=1.0,
        responsiveness=0.5,
        novelty=0.5,
        repetition=0.0,
        question_coverage=coverage,
        depth=depth,
        diversity=0.5,
        constructiveness=0.2,
        coherence=1.0,
        overall=overall,
    )


# A: support scores 1, 0.5, 1; B: -0.5, 0, -1.
A_STANCES = [["support", "support"], ["support", "neutral"], ["support", "support"]]
B_STANCES = [["neutral", "oppose"], ["support", "oppose"], ["oppose", "oppose"]]
DELIVERY = "Night-time delivery windows are the main selling point"
DELIVERY_2 = "The night-time delivery windows are the key selling point"


def known_results() -> list[GroupResult]:
    a = [
        result(
            "a",
            1,
            A_STANCES[0],
            consensus=[DELIVERY, "Recipes must be quick"],
            controversies=["Price"],
            quality=scores(0.6, 0.5),
        ),
        result(
            "a",
            2,
            A_STANCES[1],
            # Said twice in one group: counts once.
            consensus=[DELIVERY_2, "Night-time delivery windows are the main selling point!"],
            quality=scores(0.8, 0.7, coverage=1.0),
        ),
        result("a", 3, A_STANCES[2], consensus=["Packaging waste"], quality=scores(0.7, 0.9)),
    ]
    b = [result("b", i + 1, s) for i, s in enumerate(B_STANCES)]
    return [*a, *b, result("b", 4, None, status="failed", cost=0)]


def test_support_score_is_the_mean_closing_stance() -> None:
    assert support_score(group_transcript(["support", "neutral"])) == 0.5
    assert support_score(group_transcript(["critical_exploration", "oppose"])) == -0.75
    assert support_score(transcript([], [])) is None
    # A persona who states no stance closes on its initial one.
    silent = transcript([("Ann", "oppose"), "Bob"], [(1, "Bob", "Fine.", "support")])
    assert support_score(silent) == 0.0


def test_variant_statistics_on_known_data() -> None:
    agg = aggregate(known_results())
    a, b = agg.variants
    assert (a.variant, b.variant) == ("a", "b")
    assert (a.groups, a.completed, a.failed, a.other) == (3, 3, 0, 0)
    assert (b.groups, b.completed, b.failed, b.other) == (4, 3, 1, 0)
    assert (agg.groups, agg.completed, agg.failed, agg.other) == (7, 6, 1, 0)

    assert a.support.n == 3
    assert a.support.mean == pytest.approx(5 / 6)
    assert a.support.sd == pytest.approx(math.sqrt(1 / 12))
    assert a.support.t_critical == 4.303
    assert a.support.ci_low == pytest.approx(5 / 6 - 4.303 * math.sqrt(1 / 12) / math.sqrt(3))
    assert a.support.ci_high == 1.0  # 1.55 clipped to the scale
    assert b.support.mean == pytest.approx(-0.5) and b.support.sd == pytest.approx(0.5)
    assert b.support.ci_low == -1.0
    assert b.support.ci_high == pytest.approx(-0.5 + 4.303 * 0.5 / math.sqrt(3))

    stances = {s.stance: (s.count, s.share) for s in a.stances}
    assert list(stances) == ["support", "neutral", "critical_exploration", "oppose"]
    assert stances["support"] == (5, pytest.approx(5 / 6))
    assert stances["neutral"] == (1, pytest.approx(1 / 6))
    assert stances["oppose"] == (0, 0.0)
    assert a.personas == 6
    assert {s.stance: s.count for s in b.stances} == {
        "support": 1,
        "neutral": 1,
        "critical_exploration": 0,
        "oppose": 4,
    }

    outcomes = {o.key: o for o in agg.outcomes}
    assert [outcomes[f"a.mixed.free.r{i}"].support for i in (1, 2, 3)] == [1.0, 0.5, 1.0]
    assert [outcomes[f"b.mixed.free.r{i}"].support for i in (1, 2, 3, 4)] == [-0.5, 0.0, -1.0, None]
    assert outcomes["a.mixed.free.r2"].closing == {"support": 1, "neutral": 1}


def test_quality_scores_mean_and_sd() -> None:
    a, b = aggregate(known_results()).variants
    q = {s.score: s for s in a.quality}
    assert q["overall"].n == 3
    assert q["overall"].mean == pytest.approx(0.7) and q["overall"].sd == pytest.approx(0.1)
    assert q["depth"].mean == pytest.approx(0.7) and q["depth"].sd == pytest.approx(0.2)
    # Only one group had an injected question.
    assert (q["question_coverage"].n, q["question_coverage"].mean) == (1, 1.0)
    assert q["question_coverage"].sd is None
    # B gave no scores: measured from its transcripts instead.
    assert {s.score: s.n for s in b.quality}["overall"] == 3


def test_cost_and_tokens() -> None:
    agg = aggregate(known_results())
    a, b = agg.variants
    assert a.usage.cost_micro_usd == 3000 and a.usage.cost_usd == pytest.approx(0.003)
    assert a.usage.tokens == 3 * 150 and a.usage.tokens_per_group == 150
    assert a.usage.cost_usd_per_group == pytest.approx(0.001)
    assert b.usage.groups == 3  # the failed group left no transcript
    assert agg.usage.cost_micro_usd == 6000 and agg.usage.prompt_tokens == 600


def test_recurring_points_and_their_stability() -> None:
    a = aggregate(known_results()).variants[0]
    top = a.consensus[0]
    assert top.text == DELIVERY
    assert top.count == 2 and top.share == pytest.approx(2 / 3)
    assert round(top.share, 3) == 0.667
    assert top.group_keys == ["a.mixed.free.r1", "a.mixed.free.r2"]
    assert top.examples == [
        DELIVERY,
        DELIVERY_2,
        "Night-time delivery windows are the main selling point!",
    ]
    rest = a.consensus[1:]
    assert [(p.text, p.count) for p in rest] == [
        ("Recipes must be quick", 1),
        ("Packaging waste", 1),
    ]
    assert all(p.share == pytest.approx(1 / 3) for p in rest)
    assert [(p.text, p.share) for p in a.controversies] == [("Price", pytest.approx(1 / 3))]


def test_recurring_compares_with_each_cluster_s_first_point_only() -> None:
    # b is similar to a, c to b but not to a: c must not be pulled in through b.
    a = "alpha beta gamma delta"
    b = "alpha beta gamma epsilon"  # Jaccard with a: 3/5
    c = "beta gamma epsilon zeta"  # with a: 2/6; with b: 3/5
    points = recurring([("g1", [a]), ("g2", [b]), ("g3", [c]), ("g4", []), ("g5", ["  "])])
    assert [(p.text, p.count, p.share) for p in points] == [(a, 2, 0.4), (c, 1, 0.2)]
    assert recurring([]) == []


def test_preference_on_known_data() -> None:
    pref = aggregate(known_results()).preference
    assert (pref.preferred, pref.runner_up, pref.ranking) == ("a", "b", ["a", "b"])
    assert pref.difference == pytest.approx(4 / 3)
    assert pref.t == pytest.approx(4.0) and pref.df == pytest.approx(3.2)
    assert pref.p_value == pytest.approx(0.02482, abs=1e-5)
    assert pref.probability_of_superiority == 1.0
    assert pref.verdict == CLEARLY == "clearly preferred (p < 0.05)"


def test_preference_verdicts() -> None:
    # means 5/6 vs 1/3, both variances 1/12: t = 2.1213 on 4 df, p = 0.101.
    leaning = preference({"x": [0.0, 0.5, 0.5], "y": [1.0, 0.5, 1.0]})
    assert leaning.preferred == "y" and leaning.verdict == LEANING
    assert leaning.p_value == pytest.approx(0.1012, abs=1e-3)
    unclear = preference({"x": [1.0, 0.0, 0.5], "y": [0.5, 0.0, 1.0, 0.0]})
    assert unclear.verdict == UNCLEAR and unclear.preferred == "x"
    few = preference({"x": [1.0], "y": [0.0, 0.5]})
    assert few.verdict == TOO_FEW == "not enough repeats (need ≥ 2 completed groups per variant)"
    assert few.preferred == "x" and few.p_value is None and few.probability_of_superiority == 1.0
    one = preference({"x": [1.0, 0.5], "y": []})
    assert (one.verdict, one.preferred, one.runner_up) == (ONE_VARIANT, "x", None)
    assert preference({}).verdict == NO_RESULTS
    # Ties keep the given order; identical scores are no preference.
    tie = preference({"x": [0.5, 0.5], "y": [0.5, 0.5]})
    assert (tie.preferred, tie.p_value, tie.verdict) == ("x", 1.0, UNCLEAR)
    # Three variants: the top two are compared.
    three = preference({"x": [0.0, 0.1], "y": [1.0, 0.9], "z": [0.5, 0.6]})
    assert three.ranking == ["y", "z", "x"] and three.runner_up == "z"


def test_by_mode_breakdown_and_preference() -> None:
    results = [
        result("a", 1, ["support", "support"], mode="free"),
        result("a", 2, ["support", "neutral"], mode="free"),
        result("a", 1, ["oppose", "oppose"], mode="consensus"),
        result("a", 2, ["oppose", "neutral"], mode="consensus"),
        result("b", 1, ["oppose", "oppose"], mode="free"),
        result("b", 2, ["oppose", "neutral"], mode="free"),
        result("b", 1, ["support", "support"], mode="consensus"),
        result("b", 2, ["support", "neutral"], mode="consensus", status="stopped"),
    ]
    agg = aggregate(results)
    a = agg.variants[0]
    assert [(m.mode, m.completed, m.support.mean) for m in a.by_mode] == [
        ("free", 2, 0.75),
        ("consensus", 2, -0.75),
    ]
    b = agg.variants[1]
    assert [(m.mode, m.groups, m.completed, m.other) for m in b.by_mode] == [
        ("free", 2, 2, 0),
        ("consensus", 2, 1, 1),
    ]
    assert agg.other == 1 and b.usage.groups == 4  # the stopped group's cost counts
    by_mode = {p.mode: p for p in agg.preference_by_mode}
    assert by_mode["free"].preferred == "a" and by_mode["consensus"].preferred == "b"
    assert by_mode["consensus"].verdict == TOO_FEW
    assert agg.preference.mode is None


def test_the_batch_gives_order_labels_and_the_plan() -> None:
    batch = BatchFile.model_validate(
        {
            "name": "Concept test",
            "variants": [
                {"id": "b", "label": "Bee", "topic": {"title": "B box"}},
                {"id": "a", "topic": {"title": "A box"}},
                {"id": "c", "topic": {"title": "C box"}},
            ],
            "panels": [
                {"id": "mixed", "panel": [{"template": "farmer"}, {"template": "pensioner"}]}
            ],
            "modes": ["free", "creative"],
            "repeats": 4,
        }
    )
    agg = aggregate(known_results(), batch)
    assert agg.name == "Concept test" and agg.planned == 3 * 2 * 4
    assert [(v.variant, v.label, v.topic) for v in agg.variants] == [
        ("b", "Bee", "B box"),
        ("a", "a", "A box"),
        ("c", "c", "C box"),
    ]
    c = agg.variants[2]
    assert (c.groups, c.support.mean, [m.mode for m in c.by_mode]) == (
        0,
        None,
        ["free", "creative"],
    )
    assert agg.preference.ranking == ["a", "b"]
    assert [p.mode for p in agg.preference_by_mode] == ["free", "creative"]
    # Without the batch the variant's topic comes from its transcripts.
    assert aggregate(known_results()).variants[0].topic == "a topic"


def test_duplicate_groups_are_refused() -> None:
    one = result("a", 1, ["support", "support"])
    with pytest.raises(ValueError, match="given twice"):
        aggregate([one, one])


def test_group_result_from_a_group_and_its_report() -> None:
    group = BatchGroup(
        key="a.mixed.consensus.r2",
        variant="a",
        panel="mixed",
        mode=Mode.CONSENSUS,
        repeat=2,
        seed=5,
        study=Study(
            name="x",
            topic=Topic(title="A box"),
            panel=[CharacterConfig(name="Ann", age=30, profession="nurse")],
            discussion=DiscussionSpec(mode=Mode.CONSENSUS, seed=5),
        ),
    )
    t = group_transcript(["support", "neutral"])
    report = Report(
        id="r1",
        discussion_id="d",
        status=ReportStatus.READY,
        title="t",
        topic="A box",
        mode="consensus",
        simulated=True,
        sections=ReportSections(
            overview=Point(text="o"),
            consensus=[Point(text="Quick recipes", citations=[1])],
            controversies=[Controversy(point=Point(text="The price", citations=[2]))],
        ),
        quality_scores=scores(0.5, 0.5),
        created_at="2025-01-01T00:00:00Z",
        updated_at="2025-01-01T00:00:00Z",
    )
    r = GroupResult.of(group, "completed", t, report)
    assert (r.key, r.variant, r.panel, r.mode, r.repeat) == (
        "a.mixed.consensus.r2",
        "a",
        "mixed",
        "consensus",
        2,
    )
    assert r.consensus == ["Quick recipes"] and r.controversies == ["The price"]
    assert r.quality == scores(0.5, 0.5)
    bare = GroupResult.of(group, "failed")
    assert bare.transcript is None and bare.consensus == [] and bare.quality is None


# ----- exports -------------------------------------------------------------------------

EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def evil_aggregate() -> BatchAggregate:
    batch = BatchFile.model_validate(
        {
            "name": f"Test {EVIL}",
            "variants": [
                {"id": "a", "label": f"A {EVIL}", "topic": {"title": f"T {EVIL}"}},
                {"id": "b", "topic": {"title": "B"}},
            ],
            "panels": [
                {"id": "mixed", "panel": [{"template": "farmer"}, {"template": "pensioner"}]}
            ],
            "repeats": 3,
        }
    )
    results = known_results()
    results[2] = results[2].model_copy(update={"consensus": [EVIL], "controversies": [EVIL]})
    return aggregate(results, batch)


def test_html_is_one_parseable_file_with_user_text_escaped() -> None:
    html = aggregate_html(evil_aggregate())
    parser = Tags()
    parser.feed(html)
    parser.close()
    assert "script" not in parser.tags and "img" not in parser.tags
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert "svg" in parser.tags and "table" in parser.tags and "style" in parser.tags
    assert not any(t in parser.tags for t in ("link", "iframe"))  # nothing external
    body = "".join(parser.text)
    assert CLEARLY in body and "67%" in body  # the stability of the recurring point
    assert "Consensus" in body and "Quality scores" in body and "Closing stances" in body


def test_the_chart_is_valid_svg_with_a_bar_and_whiskers_per_variant() -> None:
    agg = evil_aggregate()
    svg = support_svg(agg)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    assert len(root.findall(f"{ns}rect")) == 2
    assert len(root.findall(f"{ns}path")) == 2  # a CI whisker for each variant
    labels = [t.text or "" for t in root.iter(f"{ns}text")]
    assert any(label.startswith("A <script>") for label in labels)  # escaped, then parsed back
    assert "<script>" not in svg
    # The same chart is embedded in the HTML and parses there too.
    html = aggregate_html(agg)
    start, end = html.index("<svg"), html.index("</svg>") + len("</svg>")
    ET.fromstring(html[start:end])


def test_chart_without_results() -> None:
    empty = aggregate(
        [],
        BatchFile.model_validate(
            {
                "variants": [{"id": "a", "topic": {"title": "A"}}],
                "panels": [
                    {"id": "p", "panel": [{"template": "farmer"}, {"template": "pensioner"}]}
                ],
            }
        ),
    )
    root = ET.fromstring(support_svg(empty))
    assert "no results" in "".join(t.text or "" for t in root.iter())
    assert empty.preference.verdict == NO_RESULTS
    assert "nothing to compare" in aggregate_html(empty)
    assert "nothing to compare" in aggregate_markdown(empty)


def test_markdown_export() -> None:
    md = aggregate_markdown(evil_aggregate())
    assert "<script" not in md and "&lt;script>" in md
    assert "clearly preferred (p < 0.05)" in md
    assert "| A &lt;script>" in md  # labels in table cells
    assert "67% (2/3): Night-time delivery windows are the main selling point" in md
    assert "Welch t = 4.00, df = 3.2, p = 0.025" in md
    for line in md.splitlines():
        if line.startswith("|"):
            # Pipes in user text are escaped, so every row of a table has its own columns.
            assert "\n" not in line


def test_json_round_trips() -> None:
    agg = evil_aggregate()
    text = aggregate_json(agg)
    assert BatchAggregate.model_validate_json(text) == agg
    data: dict[str, Any] = json.loads(text)
    assert data["preference"]["verdict"] == CLEARLY
    assert data["variants"][0]["consensus"][0]["share"] == pytest.approx(2 / 3)
