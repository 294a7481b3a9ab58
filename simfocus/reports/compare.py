"""Side by side: several discussions' closing stances, scores, costs and consensus points.

Consensus points of different discussions are matched by word overlap (``similar``), not
by a model, so "shared" means the points say much the same thing in much the same words.
"""

from __future__ import annotations

from collections.abc import Sequence

from simfocus.kit.models import ValueModel
from simfocus.reports.metrics import SCORE_NAMES, STANCES, stance_tracks
from simfocus.reports.schemas import QualityScores
from simfocus.reports.text import similar
from simfocus.transcripts.schemas import Transcript

MIN_DISCUSSIONS = 2
MAX_DISCUSSIONS = 10


class ComparedDiscussion(ValueModel):
    discussion_id: str
    name: str
    topic: str
    mode: str
    closing_stances: dict[str, int]  # stance → number of personas ending there
    quality: QualityScores
    prompt_tokens: int
    completion_tokens: int
    cost_micro_usd: int
    cost_usd: float


class SharedPoint(ValueModel):
    """A consensus point and the discussions it was reached in."""

    text: str
    discussion_ids: list[str]


class Comparison(ValueModel):
    discussions: list[ComparedDiscussion]
    shared_consensus: list[SharedPoint]  # found in two or more discussions
    differing_consensus: list[SharedPoint]  # found in one discussion only
    score_deltas: dict[str, float]  # max - min over the discussions, per score


def compare(items: Sequence[tuple[Transcript, QualityScores, list[str]]]) -> Comparison:
    """Compare 2-10 discussions, each given with its scores and consensus point texts."""
    if not MIN_DISCUSSIONS <= len(items) <= MAX_DISCUSSIONS:
        raise ValueError(
            f"compare takes {MIN_DISCUSSIONS} to {MAX_DISCUSSIONS} discussions, got {len(items)}"
        )
    discussions = [_compared(t, q) for t, q, _ in items]
    clusters = _cluster([(t.discussion_id, points) for t, _, points in items])
    return Comparison(
        discussions=discussions,
        shared_consensus=[c for c in clusters if len(c.discussion_ids) >= 2],
        differing_consensus=[c for c in clusters if len(c.discussion_ids) == 1],
        score_deltas=_deltas([q for _, q, _ in items]),
    )


def _compared(t: Transcript, q: QualityScores) -> ComparedDiscussion:
    closing = dict.fromkeys(STANCES, 0)
    for track in stance_tracks(t):
        closing[track.final_stance] = closing.get(track.final_stance, 0) + 1
    return ComparedDiscussion(
        discussion_id=t.discussion_id,
        name=t.name,
        topic=str(t.topic.get("title") or ""),
        mode=str(t.spec.get("mode") or ""),
        closing_stances=closing,
        quality=q,
        prompt_tokens=t.usage.prompt_tokens,
        completion_tokens=t.usage.completion_tokens,
        cost_micro_usd=t.usage.cost_micro_usd,
        cost_usd=t.usage.cost_micro_usd / 1_000_000,
    )


def _cluster(points: Sequence[tuple[str, Sequence[str]]]) -> list[SharedPoint]:
    """Greedy clustering in input order: a point joins the first cluster holding a similar
    point, else starts one named by its own text."""
    texts: list[list[str]] = []
    owners: list[list[str]] = []
    for discussion_id, own in points:
        for text in own:
            if not text.strip():
                continue
            home = next(
                (i for i, members in enumerate(texts) if any(similar(text, m) for m in members)),
                None,
            )
            if home is None:
                texts.append([text])
                owners.append([discussion_id])
            else:
                texts[home].append(text)
                if discussion_id not in owners[home]:
                    owners[home].append(discussion_id)
    return [SharedPoint(text=t[0], discussion_ids=o) for t, o in zip(texts, owners, strict=True)]


def _deltas(scores: Sequence[QualityScores]) -> dict[str, float]:
    """Spread (max - min) of each score; a score fewer than two discussions have is left out."""
    out: dict[str, float] = {}
    for name in SCORE_NAMES:
        values = [v for q in scores if (v := getattr(q, name)) is not None]
        if len(values) >= 2:
            out[name] = round(max(values) - min(values), 3)
    return out
