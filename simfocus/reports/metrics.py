"""Quality scores measured from a transcript, never asked of a model.

Each score is a plain count or ratio over the messages, in [0, 1] and rounded to three
decimals, so a reader can check it by hand; ``FORMULAS`` states every one in words (the
same text is published in the docs). Only persona messages are scored: the moderator's
framing and the user's injected questions are context, not panel talk.

Where a score has nothing to measure (no persona message at all, no message from round 2
on, …) it is 0, except ``question_coverage``, which is None when no question was injected.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

from simfocus.reports.schemas import PersonaStanceTrack, QualityScores, StanceChange
from simfocus.reports.text import STANCE_SCALE, content_words, jaccard, words
from simfocus.transcripts.schemas import Transcript, TranscriptMessage, TranscriptParticipant

STANCES: tuple[str, ...] = tuple(STANCE_SCALE)

RESPONSE_OVERLAP = 0.15  # content-word Jaccard that counts as taking up a previous message
RESPONSE_LOOKBACK = 3  # how many earlier messages by other panellists are compared
DUPLICATE_OVERLAP = 0.6  # content-word Jaccard above which two messages are near-duplicates

DEPTH_MARKERS: tuple[str, ...] = (
    "because",
    "since",
    "so that",
    "therefore",
    "thus",
    "for example",
    "for instance",
    "e.g.",
    "which means",
    "as a result",
    "due to",
)
CONSTRUCTIVE_MARKERS: tuple[str, ...] = (
    "what if",
    "could we",
    "we could",
    "we should",
    "why don't we",
    "let's",
    "i suggest",
    "i'd suggest",
    "propose",
    "how about",
    "building on",
    "build on",
    "to add",
    "alternatively",
    "one option",
    "a compromise",
    "a middle ground",
)
_TITLES = frozenset({"dr", "mr", "mrs", "ms", "mx", "prof", "sir", "dame"})


def _phrases(markers: Iterable[str]) -> re.Pattern[str]:
    """One case-insensitive pattern matching any marker as whole words."""
    body = "|".join(re.escape(m) for m in markers)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


_DEPTH = _phrases(DEPTH_MARKERS)
_IF_THEN = re.compile(r"\bif\b[^.!?]*\bthen\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d|[£$€]")
_CONSTRUCTIVE = _phrases(CONSTRUCTIVE_MARKERS)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


def _quoted(markers: Iterable[str]) -> str:
    return ", ".join(f"“{m}”" for m in markers)


FORMULAS: dict[str, str] = {
    "participation_balance": (
        "1 - the Gini coefficient of words spoken per persona, over every seated persona "
        "(those who said nothing count as 0), with the small-sample correction n/(n-1) so "
        "that one persona doing all the talking scores 0 and equal talk scores 1. "
        "A panel of one scores 1."
    ),
    "responsiveness": (
        "Share of persona messages, except the discussion's first, that take up an earlier "
        "speaker: they name (by first name, whole word) another persona who has already "
        f"spoken, or their content words overlap (Jaccard ≥ {RESPONSE_OVERLAP}) with the "
        "persona message they were asked to answer or with one of the "
        f"{RESPONSE_LOOKBACK} latest persona messages by someone else. Being assigned a "
        "message to answer does not count on its own."
    ),
    "novelty": (
        "Mean, over persona messages from round 2 on, of the share of a message's content "
        "words (words of 3+ letters that are not stop words) that no earlier message of "
        "the discussion used."
    ),
    "repetition": (
        "Share of persona messages whose content words overlap with those of an earlier "
        f"persona message by Jaccard ≥ {DUPLICATE_OVERLAP} (near-duplicates). Lower is better."
    ),
    "question_coverage": (
        "Over the questions the user injected, the mean share of seated personas who "
        "answered each one. Empty (None) when no question was injected."
    ),
    "depth": (
        "Share of persona messages that give a reason or evidence: they contain "
        f"{_quoted(DEPTH_MARKERS)}, an “if … then” in one sentence, or any number or "
        "£/$/€ amount."
    ),
    "diversity": (
        "Mean of two normalised Shannon entropies of stance labels (support, oppose, "
        "neutral, critical_exploration): over all persona messages that state a stance, "
        "and over the personas' closing stances. Each entropy is divided by its maximum, "
        "log(min(4, number of items)), so 1 means as spread out as the count allows."
    ),
    "constructiveness": (
        "Share of persona messages that propose or build on something: they contain "
        f"{_quoted(CONSTRUCTIVE_MARKERS)} (case-insensitive, whole words)."
    ),
    "coherence": (
        "Share of persona messages that share at least one content word with the topic "
        "(title, description and context), with the message they answer, or with the "
        "message just before them."
    ),
    "overall": (
        "Mean of participation_balance, responsiveness, novelty, 1 - repetition, "
        "question_coverage (when there is one), depth, diversity, constructiveness and "
        "coherence. 0 when no persona spoke."
    ),
    "stance_movement": (
        "Per persona: the stance stated by its last message in each round (empty where "
        "it stated none); changes = how many of its stated stances differ from the one before, "
        "starting from its initial stance; net shift = final - initial on the scale "
        "oppose -1, critical_exploration -0.5, neutral 0, support +1."
    ),
}


# ----- public ---------------------------------------------------------------------------


def measure_quality(t: Transcript) -> QualityScores:
    """All quality scores of one transcript (see ``FORMULAS``)."""
    messages = sorted(t.messages, key=lambda m: m.seq)
    persona = [m for m in messages if m.role == "persona"]
    bags = {m.seq: content_words(m.content) for m in messages}
    tracks = stance_tracks(t)

    balance = _participation_balance(t.participants, persona)
    responsiveness = _responsiveness(t.participants, messages, bags)
    novelty = _novelty(messages, bags)
    repetition = _repetition(persona, bags)
    coverage = _question_coverage(t.participants, messages)
    depth = _share(persona, _gives_reason)
    diversity = _diversity(persona, tracks)
    constructiveness = _share(
        persona, lambda m: bool(_CONSTRUCTIVE.search(m.content.translate(_APOSTROPHES)))
    )
    coherence = _coherence(t, messages, bags)

    parts = [
        balance,
        responsiveness,
        novelty,
        1.0 - repetition,
        depth,
        diversity,
        constructiveness,
        coherence,
    ]
    if coverage is not None:
        parts.append(coverage)
    overall = sum(parts) / len(parts) if persona else 0.0
    return QualityScores(
        participation_balance=_r(balance),
        responsiveness=_r(responsiveness),
        novelty=_r(novelty),
        repetition=_r(repetition),
        question_coverage=None if coverage is None else _r(coverage),
        depth=_r(depth),
        diversity=_r(diversity),
        constructiveness=_r(constructiveness),
        coherence=_r(coherence),
        overall=_r(overall),
        stance_movement=tracks,
    )


def stance_changes(t: Transcript, participant_id: str) -> list[StanceChange]:
    """Every stated stance that differs from the one before it (starting from the initial
    stance): the raw material of a viewpoint's ``movement``."""
    seat = next((p for p in t.participants if p.id == participant_id), None)
    if seat is None:
        raise KeyError(f"no participant {participant_id} in discussion {t.discussion_id}")
    current = seat.initial_stance
    out: list[StanceChange] = []
    for m in _stated(t.messages, participant_id):
        assert m.stance is not None
        if m.stance != current:
            out.append(
                StanceChange(seq=m.seq, round=m.round, from_stance=current, to_stance=m.stance)
            )
            current = m.stance
    return out


def movement_sentence(changes: Sequence[StanceChange], initial: str, final: str) -> str:
    """How a stance moved, in words: "held neutral throughout" or "moved from oppose to
    neutral in round 4, then to support in round 6"."""
    if not changes:
        if final == initial:
            return f"held {_label(initial)} throughout"
        return f"moved from {_label(initial)} to {_label(final)}"
    first, *rest = changes
    text = (
        f"moved from {_label(first.from_stance)} to {_label(first.to_stance)} "
        f"in round {first.round}"
    )
    for c in rest:
        text += f", then to {_label(c.to_stance)} in round {c.round}"
    return text


def stance_tracks(t: Transcript) -> list[PersonaStanceTrack]:
    """Each seated persona's stance by round and its measured movement, in seat order."""
    max_round = max((m.round for m in t.messages), default=0)
    tracks: list[PersonaStanceTrack] = []
    for seat in sorted(t.participants, key=lambda p: p.position):
        # Rounds count from 1: by_round[0] is round 1, as every chart and table reads it.
        by_round: list[str | None] = [None] * max_round
        final = seat.initial_stance
        for m in _stated(t.messages, seat.id):
            assert m.stance is not None
            if 1 <= m.round <= max_round:
                by_round[m.round - 1] = m.stance
            final = m.stance
        changes = stance_changes(t, seat.id)
        shift = STANCE_SCALE.get(final, 0.0) - STANCE_SCALE.get(seat.initial_stance, 0.0)
        tracks.append(
            PersonaStanceTrack(
                participant_id=seat.id,
                name=seat.name,
                initial_stance=seat.initial_stance,
                final_stance=final,
                by_round=by_round,
                changes=len(changes),
                net_shift=_r(shift),
            )
        )
    return tracks


# ----- the scores ---------------------------------------------------------------------


def _participation_balance(
    seats: Sequence[TranscriptParticipant], persona: Sequence[TranscriptMessage]
) -> float:
    """1 - corrected Gini of words per seat; O(n log n) via the sorted-rank formula."""
    talk = {p.id: 0 for p in seats}
    for m in persona:
        if m.participant_id in talk:
            talk[m.participant_id] += len(words(m.content))
    values = sorted(talk.values())
    n, total = len(values), sum(values)
    if n <= 1:
        return 1.0
    if total == 0:
        return 0.0
    ranked = sum(i * x for i, x in enumerate(values, start=1))
    gini = (2 * ranked / (n * total) - (n + 1) / n) * n / (n - 1)
    return _clamp(1.0 - gini)


def _responsiveness(
    seats: Sequence[TranscriptParticipant],
    messages: Sequence[TranscriptMessage],
    bags: dict[int, set[str]],
) -> float:
    owners: dict[str, set[str]] = defaultdict(set)  # first name (lower case) → seat ids
    for p in seats:
        if first := _first_name(p.name):
            owners[first.lower()].add(p.id)
    body = "|".join(re.escape(n) for n in sorted(owners, key=len, reverse=True))
    pattern = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE) if owners else None
    by_seq = {m.seq: m for m in messages}
    spoken: list[str] = []  # persona ids in order of first message
    earlier: list[TranscriptMessage] = []  # persona messages so far
    eligible = engaged = 0
    for m in messages:
        if m.role != "persona":
            continue
        if earlier:
            eligible += 1
            named = {
                pid
                for found in (pattern.findall(m.content) if pattern else ())
                for pid in owners[found.lower()]
            }
            engaged += _engages(m, spoken, earlier, named, by_seq, bags)
        if m.participant_id and m.participant_id not in spoken:
            spoken.append(m.participant_id)
        earlier.append(m)
    return engaged / eligible if eligible else 0.0


def _engages(
    m: TranscriptMessage,
    spoken: Sequence[str],
    earlier: Sequence[TranscriptMessage],
    named: set[str],
    by_seq: dict[int, TranscriptMessage],
    bags: dict[int, set[str]],
) -> bool:
    others = [pid for pid in spoken if pid != m.participant_id]
    if not others:
        return False
    if named.intersection(others):
        return True
    bag = bags[m.seq]
    target = by_seq.get(m.responds_to_seq) if m.responds_to_seq is not None else None
    if (
        target is not None
        and target.role == "persona"
        and target.participant_id != m.participant_id
        and jaccard(bag, bags[target.seq]) >= RESPONSE_OVERLAP
    ):
        return True
    compared = 0
    for prev in reversed(earlier):
        if prev.participant_id == m.participant_id:
            continue
        if jaccard(bag, bags[prev.seq]) >= RESPONSE_OVERLAP:
            return True
        compared += 1
        if compared == RESPONSE_LOOKBACK:
            break
    return False


def _novelty(messages: Sequence[TranscriptMessage], bags: dict[int, set[str]]) -> float:
    seen: set[str] = set()
    shares: list[float] = []
    for m in messages:
        bag = bags[m.seq]
        if m.role == "persona" and m.round >= 2 and bag:
            shares.append(len(bag - seen) / len(bag))
        seen |= bag
    return sum(shares) / len(shares) if shares else 0.0


def _repetition(persona: Sequence[TranscriptMessage], bags: dict[int, set[str]]) -> float:
    if not persona:
        return 0.0
    repeats = _near_duplicates([bags[m.seq] for m in persona], DUPLICATE_OVERLAP)
    return sum(repeats) / len(persona)


def _near_duplicates(sets: Sequence[set[str]], threshold: float) -> list[bool]:
    """For each set, whether an earlier one has Jaccard >= threshold with it.

    A set-similarity self-join (AllPairs, Bayardo et al. 2007) rather than all n² pairs:
    sets are visited smallest first with their words ordered rarest first; two sets at
    Jaccard >= t must share a word between the probing prefix (|x| - ⌈t·|x|⌉ + 1 words) of
    the larger and the indexing prefix (|y| - ⌈2t/(1+t)·|y|⌉ + 1 words) of the smaller, and
    the smaller must hold at least t·|x| words. Only such candidates are compared, as
    bit masks.
    """
    freq = Counter(w for s in sets for w in s)
    ranked = [sorted(s, key=lambda w: (freq[w], w)) for s in sets]
    bit = {w: i for i, w in enumerate(freq)}
    masks = [sum(1 << bit[w] for w in s) for s in sets]  # overlap = popcount of an AND
    index: dict[str, list[int]] = defaultdict(list)
    out = [False] * len(sets)
    for x in sorted((i for i in range(len(sets)) if sets[i]), key=lambda i: len(sets[i])):
        size = len(ranked[x])
        probe = ranked[x][: size - _ceil(threshold * size) + 1]
        candidates = {
            y for w in probe for y in index[w] if len(ranked[y]) >= threshold * size - 1e-9
        }
        for y in candidates:
            shared = (masks[x] & masks[y]).bit_count()
            if shared >= threshold * (size + len(ranked[y]) - shared) - 1e-9:
                out[max(x, y)] = True
        for w in ranked[x][: size - _ceil(2 * threshold / (1 + threshold) * size) + 1]:
            index[w].append(x)
    return out


def _ceil(x: float) -> int:
    """Ceiling that forgives float noise (0.6 * 5 is 3.0000000000000004)."""
    return math.ceil(x - 1e-9)


def _question_coverage(
    seats: Sequence[TranscriptParticipant], messages: Sequence[TranscriptMessage]
) -> float | None:
    answered: dict[int, set[str]] = {
        m.seq: set() for m in messages if m.role == "moderator" and m.kind == "question"
    }
    if not answered:
        return None
    seated = {p.id for p in seats}
    if not seated:
        return 0.0
    for m in messages:
        if m.role == "persona" and m.responds_to_seq in answered and m.participant_id:
            answered[m.responds_to_seq].add(m.participant_id)
    return sum(len(who & seated) / len(seated) for who in answered.values()) / len(answered)


def _gives_reason(m: TranscriptMessage) -> bool:
    text = m.content
    return bool(_DEPTH.search(text) or _IF_THEN.search(text) or _NUMBER.search(text))


def _diversity(persona: Sequence[TranscriptMessage], tracks: Sequence[PersonaStanceTrack]) -> float:
    said = [m.stance for m in persona if m.stance]
    closing = [tr.final_stance for tr in tracks]
    return (_spread(said) + _spread(closing)) / 2


def _spread(labels: Sequence[str]) -> float:
    """Shannon entropy of the labels over its maximum for that many items (0 … 1)."""
    n = len(labels)
    ceiling = math.log(min(len(STANCES), n)) if n else 0.0
    if ceiling == 0.0:
        return 0.0
    entropy = -sum(c / n * math.log(c / n) for c in Counter(labels).values())
    return _clamp(entropy / ceiling)


def _coherence(
    t: Transcript, messages: Sequence[TranscriptMessage], bags: dict[int, set[str]]
) -> float:
    topic = " ".join(str(t.topic.get(k) or "") for k in ("title", "description", "context"))
    topic_bag = content_words(topic)
    eligible = on_topic = 0
    previous: TranscriptMessage | None = None
    for m in messages:
        if m.role == "persona":
            eligible += 1
            bag = bags[m.seq]
            linked = [topic_bag]
            if m.responds_to_seq is not None and m.responds_to_seq in bags:
                linked.append(bags[m.responds_to_seq])
            if previous is not None:
                linked.append(bags[previous.seq])
            on_topic += any(bag & other for other in linked)
        previous = m
    return on_topic / eligible if eligible else 0.0


# ----- small helpers --------------------------------------------------------------------


def _share(
    persona: Sequence[TranscriptMessage], test: Callable[[TranscriptMessage], bool]
) -> float:
    """Share of persona messages passing ``test``."""
    if not persona:
        return 0.0
    return sum(1 for m in persona if test(m)) / len(persona)


def _stated(messages: Iterable[TranscriptMessage], participant_id: str) -> list[TranscriptMessage]:
    """A persona's messages that state a stance, in order."""
    return sorted(
        (
            m
            for m in messages
            if m.role == "persona" and m.participant_id == participant_id and m.stance
        ),
        key=lambda m: m.seq,
    )


def _first_name(name: str) -> str | None:
    """A persona's first name: the first word of its name that is not a title."""
    for part in name.split():
        if part.rstrip(".").lower() not in _TITLES:
            return part
    return None


def _label(stance: str) -> str:
    return stance.replace("_", " ")


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


def _r(x: float) -> float:
    return round(x, 3)


# The numeric scores of ``QualityScores`` (compare and batch aggregates go over these).
SCORE_NAMES: tuple[str, ...] = (
    "overall",
    "participation_balance",
    "responsiveness",
    "novelty",
    "repetition",
    "question_coverage",
    "depth",
    "diversity",
    "constructiveness",
    "coherence",
)
