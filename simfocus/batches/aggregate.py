"""The aggregate report of a batch: what the groups said, per variant, and which variant won.

Method
======

Units. A *group* is one discussion of the batch (variant x panel x mode x repeat). The
statistics treat each completed group as one independent observation; the personas of
a group are not independent of one another (they talk to each other), so they are never
counted as separate samples.

Which groups count. A group whose status is ``completed`` counts for stances, support
scores, quality scores and recurring points. ``failed`` and other ended groups (e.g.
``stopped`` when the budget ran out) are counted as run but contribute no statistics:
their last stances are not closing stances. Their cost and tokens still count, since
the money was spent.

Closing stances. A persona's closing stance is the stance of its last message that
states one, else its initial stance (as the single-discussion report measures it,
``reports.metrics.stance_tracks``). The stance distribution of a variant counts the
closing stances of all personas of its completed groups; share = count / personas.

Support score. Per completed group, the mean over its personas of the closing stance on
the scale support +1, neutral 0, critical exploration -0.5, oppose -1
(``reports.text.STANCE_SCALE``); stances outside the scale are left out of the mean.
Per variant (and per variant x mode): the mean of the groups' support scores, their
sample standard deviation (n - 1) and a 95 % confidence interval for the mean,
``mean ± t · sd / √n`` with t the 0.975 quantile of Student's t with n - 1 degrees of
freedom (a table for df 1…30, the normal 1.960 beyond), clipped to [-1, 1]. With one
group there is a mean but no sd or interval.

Quality. Each quality score (``reports.metrics``) as mean ± sample sd over the completed
groups that have it (question coverage only where a question was injected).

Recurring points. The consensus points of all completed groups of a variant are
clustered greedily in group order: a point joins the first cluster whose first point is
similar to it (content-word Jaccard ≥ 0.5, ``reports.text.similar``), else starts a
new cluster. A cluster's ``count`` is the number of groups it appears in (a group
saying it twice counts once) and ``share`` = count / completed groups of the variant:
the *stability* of the finding across panels, modes and reruns. Controversy points are
clustered the same way, separately. Lists are sorted by share, then first appearance.

Preference. Variants are ranked by mean support score. The top two are compared with
Welch's two-sample t-test on their per-group support scores (unequal variances,
Welch-Satterthwaite degrees of freedom, two-sided p from Student's t CDF computed via the
regularized incomplete beta function). The verdict: "clearly preferred (p < 0.05)",
"leaning (p < 0.2)", or "no clear preference"; "not enough repeats (need ≥ 2 completed
groups per variant)" when either has fewer than two completed groups. If neither
variant's scores vary at all, the t statistic is undefined and p is 0 when the means
differ, 1 when they are equal. The effect size is the probability of superiority: over
all pairs (a group of the preferred variant, a group of the runner-up), the share where
the first scores higher, ties counting half (0.5 = no difference, 1 = every group of the
preferred variant beat every group of the runner-up). With three or more variants the
top two are chosen after seeing the data, so the p-value is optimistic: read "clearly
preferred" as a strong screening result, not a confirmatory test. When the batch has
several modes the same comparison is also made within each mode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from pydantic import Field

from simfocus.batches.schemas import BatchFile, BatchGroup
from simfocus.batches.stats import mean_sd_ci, superiority, welch
from simfocus.kit.models import ValueModel
from simfocus.reports.metrics import SCORE_NAMES, measure_quality, stance_tracks
from simfocus.reports.schemas import QualityScores, Report
from simfocus.reports.text import STANCE_SCALE, content_words, jaccard
from simfocus.transcripts.schemas import Transcript

COMPLETED = "completed"
FAILED = "failed"
POINT_SIMILARITY = 0.5  # the threshold of ``reports.text.similar``
EXAMPLES = 3
SUPPORT_RANGE = (-1.0, 1.0)
# Strongest support first: the order tables read in.
STANCE_DISPLAY_ORDER: tuple[str, ...] = tuple(
    sorted(STANCE_SCALE, key=lambda s: STANCE_SCALE[s], reverse=True)
)

CLEARLY = "clearly preferred (p < 0.05)"
LEANING = "leaning (p < 0.2)"
UNCLEAR = "no clear preference"
TOO_FEW = "not enough repeats (need ≥ 2 completed groups per variant)"
ONE_VARIANT = "nothing to compare (only one variant has completed groups)"
NO_RESULTS = "no completed groups"


# ----- input ----------------------------------------------------------------------------


class GroupResult(ValueModel):
    """What one group of the batch ended with: the aggregate's input."""

    key: str
    variant: str
    panel: str
    mode: str
    repeat: int
    status: str  # the discussion's final status: completed, failed, stopped, …
    transcript: Transcript | None = None  # None when the group never produced one
    quality: QualityScores | None = None  # None: measured from the transcript
    consensus: list[str] = Field(default_factory=list)  # the report's consensus point texts
    controversies: list[str] = Field(default_factory=list)  # its controversy point texts
    report_cost_micro_usd: int = 0  # what writing its report cost (on top of the discussion)

    @classmethod
    def of(
        cls,
        group: BatchGroup,
        status: str,
        transcript: Transcript | None = None,
        report: Report | None = None,
    ) -> GroupResult:
        """A result from the group and what its run produced (a report is optional)."""
        sections = report.sections if report is not None else None
        return cls(
            key=group.key,
            variant=group.variant,
            panel=group.panel,
            mode=group.mode.value,
            repeat=group.repeat,
            status=status,
            transcript=transcript,
            quality=report.quality_scores if report is not None else None,
            consensus=[p.text for p in sections.consensus] if sections else [],
            controversies=[c.point.text for c in sections.controversies] if sections else [],
            report_cost_micro_usd=report.cost_micro_usd if report is not None else 0,
        )


# ----- output ---------------------------------------------------------------------------


class StanceCount(ValueModel):
    stance: str
    count: int
    share: float  # count / personas counted


class SupportStats(ValueModel):
    """Per-group support scores summarised over the groups (see the module docstring)."""

    n: int  # completed groups with a score
    mean: float | None
    sd: float | None  # sample sd; None below two groups
    ci_low: float | None  # 95 % t-interval, clipped to [-1, 1]
    ci_high: float | None
    t_critical: float | None


class ScoreStats(ValueModel):
    score: str
    n: int
    mean: float | None
    sd: float | None


class UsageStats(ValueModel):
    groups: int  # groups with a transcript: the ones that spent anything
    prompt_tokens: int
    completion_tokens: int
    tokens: int
    cost_micro_usd: int
    cost_usd: float
    tokens_per_group: float
    cost_usd_per_group: float


class RecurringPoint(ValueModel):
    text: str  # the cluster's first point
    count: int  # groups it appeared in
    share: float  # count / completed groups: the finding's stability
    examples: list[str]  # up to three distinct wordings, the first being ``text``
    group_keys: list[str]


class CellStats(ValueModel):
    """Everything measured over one set of groups (a variant, or a variant in one mode)."""

    groups: int  # run (results given)
    completed: int
    failed: int
    other: int  # ended otherwise, e.g. stopped by the budget
    personas: int  # closing stances counted
    stances: list[StanceCount]
    support: SupportStats
    quality: list[ScoreStats]
    usage: UsageStats


class ModeStats(CellStats):
    mode: str


class VariantStats(CellStats):
    variant: str
    label: str
    topic: str
    by_mode: list[ModeStats]
    consensus: list[RecurringPoint]
    controversies: list[RecurringPoint]


class GroupOutcome(ValueModel):
    """One group in a line: its place in the matrix, status and support score."""

    key: str
    variant: str
    panel: str
    mode: str
    repeat: int
    status: str
    support: float | None  # None unless completed (or no persona had a known stance)
    closing: dict[str, int]  # closing stance → personas


class Preference(ValueModel):
    mode: str | None  # None: all modes pooled
    ranking: list[str]  # variant ids by mean support score, best first
    preferred: str | None
    runner_up: str | None
    difference: float | None  # mean support: preferred - runner-up
    t: float | None
    df: float | None
    p_value: float | None
    probability_of_superiority: float | None
    verdict: str


class BatchAggregate(ValueModel):
    name: str
    planned: int | None  # groups in the batch, when known
    groups: int
    completed: int
    failed: int
    other: int
    simulated: bool  # any group ran on the simulated provider
    variants: list[VariantStats]
    preference: Preference
    preference_by_mode: list[Preference]  # empty with a single mode
    outcomes: list[GroupOutcome]
    usage: UsageStats


# ----- public ---------------------------------------------------------------------------


def aggregate(
    results: Sequence[GroupResult], batch: BatchFile | None = None, *, name: str = ""
) -> BatchAggregate:
    """The batch's aggregate (see the module docstring for the method).

    With ``batch`` the variants keep the file's order and labels (variants with no
    results yet still get a line) and ``planned`` is known; without it variants appear
    in the order their first result does.
    """
    twice = sorted(k for k, n in Counter(r.key for r in results).items() if n > 1)
    if twice:
        raise ValueError(f"group {twice[0]!r} is given twice")
    order: list[str] = [v.id for v in batch.variants] if batch else []
    labels = {v.id: v.label for v in batch.variants} if batch else {}
    topics = {v.id: v.topic.title for v in batch.variants} if batch else {}
    order += [v for v in dict.fromkeys(r.variant for r in results) if v not in order]
    modes = [m.value for m in batch.modes] if batch else []
    modes += [m for m in dict.fromkeys(r.mode for r in results) if m not in modes]

    measured = [_Measured(r) for r in results]
    variants: list[VariantStats] = []
    for vid in order:
        mine = [m for m in measured if m.result.variant == vid]
        by_mode = [
            ModeStats(mode=mode, **dict(_cell([m for m in mine if m.result.mode == mode])))
            for mode in modes
            if batch is not None or any(m.result.mode == mode for m in mine)
        ]
        done = [m for m in mine if m.completed]
        topic = topics.get(vid) or next(
            (
                str(m.result.transcript.topic.get("title") or "")
                for m in mine
                if m.result.transcript
            ),
            "",
        )
        variants.append(
            VariantStats(
                variant=vid,
                label=labels.get(vid) or vid,
                topic=topic,
                by_mode=by_mode,
                consensus=recurring([(m.result.key, m.result.consensus) for m in done]),
                controversies=recurring([(m.result.key, m.result.controversies) for m in done]),
                **dict(_cell(mine)),
            )
        )
    scores = {
        vid: [m.support for m in measured if m.result.variant == vid and m.support is not None]
        for vid in order
    }
    by_mode_pref = (
        [
            preference(
                {
                    vid: [
                        m.support
                        for m in measured
                        if m.result.variant == vid
                        and m.result.mode == mode
                        and m.support is not None
                    ]
                    for vid in order
                },
                mode=mode,
            )
            for mode in modes
        ]
        if len(modes) > 1
        else []
    )
    return BatchAggregate(
        name=name or (batch.title if batch else ""),
        planned=batch.group_count if batch else None,
        groups=len(results),
        completed=sum(m.completed for m in measured),
        failed=sum(r.status == FAILED for r in results),
        other=sum(r.status not in (COMPLETED, FAILED) for r in results),
        simulated=any(r.transcript is not None and r.transcript.simulated for r in results),
        variants=variants,
        preference=preference(scores),
        preference_by_mode=by_mode_pref,
        outcomes=[
            GroupOutcome(
                key=m.result.key,
                variant=m.result.variant,
                panel=m.result.panel,
                mode=m.result.mode,
                repeat=m.result.repeat,
                status=m.result.status,
                support=m.support,
                closing=dict(m.closing),
            )
            for m in measured
        ],
        usage=_usage(results),
    )


def support_score(transcript: Transcript) -> float | None:
    """Mean over personas of their closing stance on the support scale (+1 … -1)."""
    values = [
        STANCE_SCALE[t.final_stance]
        for t in stance_tracks(transcript)
        if t.final_stance in STANCE_SCALE
    ]
    return sum(values) / len(values) if values else None


def recurring(points: Iterable[tuple[str, Sequence[str]]]) -> list[RecurringPoint]:
    """Cluster (group key, point texts) greedily; see "Recurring points" above.

    ``share`` is over the groups given (pass every completed group, even one with no
    points, so that the share is over all of them).
    """
    reps: list[set[str]] = []  # each cluster's first point, as content words
    texts: list[list[str]] = []
    owners: list[list[str]] = []
    n_groups = 0
    for key, own in points:
        n_groups += 1
        for raw in own:
            text = raw.strip()
            if not text:
                continue
            bag = content_words(text)
            # Compared with each cluster's first point only: no chaining of clusters.
            home = next(
                (i for i, rep in enumerate(reps) if jaccard(bag, rep) >= POINT_SIMILARITY),
                None,
            )
            if home is None:
                reps.append(bag)
                texts.append([text])
                owners.append([key])
                continue
            if text not in texts[home]:
                texts[home].append(text)
            if key not in owners[home]:
                owners[home].append(key)
    clusters = [
        RecurringPoint(
            text=t[0],
            count=len(o),
            share=len(o) / n_groups,
            examples=t[:EXAMPLES],
            group_keys=o,
        )
        for t, o in zip(texts, owners, strict=True)
    ]
    # sorted() is stable: equal shares keep their first-appearance order.
    return sorted(clusters, key=lambda c: -c.share)


def preference(scores: dict[str, list[float]], *, mode: str | None = None) -> Preference:
    """Rank variants by mean support and test the top two (see "Preference" above)."""
    means = {v: sum(s) / len(s) for v, s in scores.items() if s}
    # sorted() is stable, so equal means keep the batch's variant order.
    ranking = sorted(means, key=lambda v: -means[v])
    if not ranking:
        return _preference(mode, ranking, NO_RESULTS)
    if len(ranking) == 1:
        return _preference(mode, ranking, ONE_VARIANT, preferred=ranking[0])
    top, second = ranking[0], ranking[1]
    a, b = scores[top], scores[second]
    diff = means[top] - means[second]
    effect = superiority(a, b)
    if len(a) < 2 or len(b) < 2:
        return _preference(
            mode, ranking, TOO_FEW, preferred=top, runner_up=second, diff=diff, effect=effect
        )
    test = welch(a, b)
    verdict = CLEARLY if test.p_value < 0.05 else LEANING if test.p_value < 0.2 else UNCLEAR
    return Preference(
        mode=mode,
        ranking=ranking,
        preferred=top,
        runner_up=second,
        difference=diff,
        t=test.t,
        df=test.df,
        p_value=test.p_value,
        probability_of_superiority=effect,
        verdict=verdict,
    )


# ----- helpers --------------------------------------------------------------------------


class _Measured:
    """A result with what is measured from it once (stances, support, quality)."""

    __slots__ = ("closing", "completed", "quality", "result", "support")

    def __init__(self, result: GroupResult) -> None:
        self.result = result
        t = result.transcript
        self.completed = result.status == COMPLETED and t is not None
        self.closing: Counter[str] = Counter()
        self.support: float | None = None
        self.quality: QualityScores | None = None
        if self.completed and t is not None:
            self.closing = Counter(tr.final_stance for tr in stance_tracks(t))
            self.support = support_score(t)
            self.quality = result.quality or measure_quality(t)


def _cell(measured: Sequence[_Measured]) -> CellStats:
    """What is measured over a set of groups."""
    done = [m for m in measured if m.completed]
    closing: Counter[str] = Counter()
    for m in done:
        closing.update(m.closing)
    personas = sum(closing.values())
    # The scale's stances always (a zero is a finding), then any others seen.
    stances = list(STANCE_DISPLAY_ORDER) + sorted(set(closing) - set(STANCE_SCALE))
    support = mean_sd_ci([m.support for m in done if m.support is not None], SUPPORT_RANGE)
    quality = []
    for name in SCORE_NAMES:
        values = [
            float(v)
            for m in done
            if m.quality is not None and (v := getattr(m.quality, name)) is not None
        ]
        q = mean_sd_ci(values)
        quality.append(ScoreStats(score=name, n=q.n, mean=q.mean, sd=q.sd))
    return CellStats(
        groups=len(measured),
        completed=len(done),
        failed=sum(m.result.status == FAILED for m in measured),
        other=sum(m.result.status not in (COMPLETED, FAILED) for m in measured),
        personas=personas,
        stances=[
            StanceCount(
                stance=s, count=closing[s], share=closing[s] / personas if personas else 0.0
            )
            for s in stances
        ],
        support=SupportStats(
            n=support.n,
            mean=support.mean,
            sd=support.sd,
            ci_low=support.ci_low,
            ci_high=support.ci_high,
            t_critical=support.t_critical,
        ),
        quality=quality,
        usage=_usage([m.result for m in measured]),
    )


def _usage(results: Sequence[GroupResult]) -> UsageStats:
    spent = [r.transcript.usage for r in results if r.transcript is not None]
    prompt = sum(u.prompt_tokens for u in spent)
    completion = sum(u.completion_tokens for u in spent)
    # The discussions and their reports: what the batch cost.
    micro = sum(u.cost_micro_usd for u in spent) + sum(r.report_cost_micro_usd for r in results)
    n = len(spent)
    return UsageStats(
        groups=n,
        prompt_tokens=prompt,
        completion_tokens=completion,
        tokens=prompt + completion,
        cost_micro_usd=micro,
        cost_usd=micro / 1_000_000,
        tokens_per_group=(prompt + completion) / n if n else 0.0,
        cost_usd_per_group=micro / 1_000_000 / n if n else 0.0,
    )


def _preference(
    mode: str | None,
    ranking: list[str],
    verdict: str,
    *,
    preferred: str | None = None,
    runner_up: str | None = None,
    diff: float | None = None,
    effect: float | None = None,
) -> Preference:
    return Preference(
        mode=mode,
        ranking=ranking,
        preferred=preferred,
        runner_up=runner_up,
        difference=diff,
        t=None,
        df=None,
        p_value=None,
        probability_of_superiority=effect,
        verdict=verdict,
    )
