"""Small text helpers shared by the measured parts of a report.

Deliberately plain (a regex tokenizer, a fixed stop-word list, set overlap) so that every
score built on them can be explained in a sentence and reproduced by hand.
"""

from __future__ import annotations

import re

# Opinions on a line from against (-1) to for (+1); used for net stance shifts.
STANCE_SCALE: dict[str, float] = {
    "oppose": -1.0,
    "critical_exploration": -0.5,
    "neutral": 0.0,
    "support": 1.0,
}

# Letters/digits, keeping in-word apostrophes ("don't" is one word).
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})

STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because
    been before being below between both but by can can't cannot could couldn't did didn't
    do does doesn't doing don't down during each even ever every few for from further get
    gets got had hadn't has hasn't have haven't having he he'd he'll he's her here here's
    hers herself him himself his how how's however i i'd i'll i'm i've if in into is isn't
    it it's its itself just let's like lot lots make makes many may me might more most much
    must mustn't my myself need needs no nor not now of off often on once one only or other
    ought our ours ourselves out over own per quite rather really same say says shan't she
    she'd she'll she's should shouldn't so some still such than that that's the their
    theirs them themselves then there there's these they they'd they'll they're they've
    thing things think this those though through thus to too under until up upon us very
    was wasn't way we we'd we'll we're we've well were weren't what what's when when's
    where where's whether which while who who's whom why why's will with within without
    won't would wouldn't yes yet you you'd you'll you're you've your yours yourself
    yourselves
    """.split()
)


def words(text: str) -> list[str]:
    """Lower-case word tokens: the unit for talk share and every overlap measure."""
    return _WORD.findall(text.lower().translate(_APOSTROPHES))


def content_words(text: str) -> set[str]:
    """Words that carry meaning: ≥ 3 characters, not a stop word, possessive 's dropped."""
    out: set[str] = set()
    for w in words(text):
        if w.endswith("'s"):
            w = w[:-2]
        if len(w) >= 3 and w not in STOP_WORDS:
            out.add(w)
    return out


def jaccard(a: set[str], b: set[str]) -> float:
    """Shared words over all words of the two; 0 when both are empty."""
    if not a and not b:
        return 0.0
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


def similar(a: str, b: str, threshold: float = 0.5) -> bool:
    """Whether two short texts say much the same thing (content-word Jaccard ≥ threshold)."""
    return jaccard(content_words(a), content_words(b)) >= threshold
