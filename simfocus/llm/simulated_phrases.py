"""Sentence banks and the composer behind the simulated provider's replies."""

from __future__ import annotations

import random
import re

from simfocus.llm.schemas import SimulationHints

OPENERS: dict[str, list[str]] = {
    "formal": [
        "Speaking as a {profession}, I would put it this way.",
        "From my standpoint as a {profession}, a few observations.",
        "If I may offer the perspective of a {profession}.",
    ],
    "casual": [
        "Honestly, as a {profession}, here's how I see it.",
        "Okay, so from where I sit as a {profession}.",
        "Look, I'm a {profession}, so take this for what it's worth.",
    ],
    "technical": [
        "Looking at the specifics, as a {profession}.",
        "Let me be precise about the mechanics here, from a {profession}'s angle.",
        "If we break this down the way a {profession} would.",
    ],
    "storytelling": [
        "Let me tell you about something from my years as a {profession}.",
        "This reminds me of a situation I ran into as a {profession}.",
        "I keep picturing a day at work as a {profession} when this would matter.",
    ],
}

STANCE_POINTS: dict[str, list[str]] = {
    "support": [
        "I think {topic} meets a real need, and the people I work with would use it.",
        "The upside of {topic} is concrete: it saves time and removes a daily frustration.",
        "I'd back {topic}, provided it is rolled out with care for the people it affects.",
        "What convinces me about {topic} is that it solves a problem people already pay to fix.",
    ],
    "oppose": [
        "I'm not convinced {topic} is worth it; the costs land on people who never asked for it.",
        "My worry with {topic} is that it promises more than it can deliver in practice.",
        "I'd push back on {topic}: the risks are underestimated and the benefits are vague.",
        "Frankly, {topic} looks like a solution in search of a problem to me.",
    ],
    "neutral": [
        "I can see both sides of {topic}; it depends on who pays and who benefits.",
        "I don't have a firm view on {topic} yet; I'd want evidence before committing.",
        "{topic} could work, but only under conditions nobody has spelled out yet.",
    ],
    "critical_exploration": [
        "Before judging {topic}, I'd want to know what assumptions it rests on.",
        "The real question about {topic} is what happens at the edges, not the average case.",
        "Let's test {topic} against the hardest case we can think of, then decide.",
    ],
}

PHASE_MOVES: dict[str, list[str]] = {
    "opening": [
        "My first impression is what matters most to me here.",
        "To set out where I stand at the start, let me be clear.",
    ],
    "development": [
        "Digging a bit deeper, one factor keeps coming back to me: {field}.",
        "Another angle worth developing is how {field} changes the picture.",
        "In my experience with {field}, the details decide whether this works.",
    ],
    "debate": [
        "Where I really disagree with the room is on the trade-offs.",
        "I want to challenge an assumption I have heard a few times now.",
        "The strongest objection I can raise is about who bears the risk.",
    ],
    "closing": [
        "Let me sum up my position after this discussion.",
        "Having heard everyone, here is where I land.",
        "My closing thought is this.",
    ],
}

REACTIONS: dict[str, list[str]] = {
    "agree": [
        "{name}, I agree with your point that {point}",
        "{name} is right that {point}",
        "Building on what {name} said, that {point}",
    ],
    "disagree": [
        "{name}, I see it differently from your point that {point}",
        "I'd challenge {name} on the claim that {point}",
        "With respect to {name}, the idea that {point} does not hold up for me.",
    ],
    "build": [
        "Yes, and to build on {name}'s idea that {point}",
        "I love where {name} is going with {point}, and we could take it further.",
        "Yes, and adding to {name}'s point: {point}",
    ],
    "neutral": [
        "{name} raised a fair point that {point}",
        "Picking up on {name}'s remark that {point}",
    ],
}

CREATIVE_IDEAS = [
    "What if we paired it with a free trial run by the community itself?",
    "Imagine a version designed first for the people who are most sceptical.",
    "We could turn the biggest objection into a feature people can switch on.",
    "A small pilot in one neighbourhood could show what works before anyone scales it.",
]

QUESTION_ANSWERS: dict[str, list[str]] = {
    "support": ['On the question "{q}": yes, and I\'d say it strengthens the case.'],
    "oppose": ['On the question "{q}": no, and that is exactly my concern.'],
    "neutral": ['On the question "{q}": it depends, and I\'d want to see data first.'],
    "critical_exploration": [
        'On the question "{q}": it\'s the right thing to ask, and the answer '
        "hinges on assumptions we haven't tested."
    ],
}

STATEMENTS = [
    "Shared statement: {topic} is worth pursuing only if it is tested with real users, "
    "priced transparently and its risks are monitored.",
    "Shared statement: we agree {topic} should go ahead as a limited pilot with clear "
    "success criteria agreed in advance.",
]


def compose_reply(h: SimulationHints, rng: random.Random) -> str:
    """Write one persona turn from the hints; the last line is the stance marker."""
    fill = {
        "profession": _lower_first(h.profession),
        "topic": _topic_ref(h.topic_title),
        "field": rng.choice(h.fields) if h.fields else "day-to-day practice",
    }
    parts = [
        _article(rng.choice(OPENERS.get(h.expression_style, OPENERS["formal"])).format(**fill))
    ]
    if h.question:
        parts.append(
            rng.choice(QUESTION_ANSWERS.get(h.stance, QUESTION_ANSWERS["neutral"])).format(
                q=h.question.rstrip("?") + "?"
            )
        )
    if h.addressee_name:
        point = _gist(h.addressee_point or "this matters")
        parts.append(
            rng.choice(REACTIONS[_reaction(h, rng)]).format(name=h.addressee_name, point=point)
        )
    parts.append(rng.choice(PHASE_MOVES.get(h.phase, PHASE_MOVES["development"])).format(**fill))
    parts.append(rng.choice(STANCE_POINTS.get(h.stance, STANCE_POINTS["neutral"])).format(**fill))
    if h.views and rng.random() < 0.6:
        parts.append(rng.choice(h.views))
    if h.mode == "creative":
        parts.append(rng.choice(CREATIVE_IDEAS))
    body = " ".join(_capitalise(p) for p in parts)
    if h.closing_statement:
        body += "\n" + rng.choice(STATEMENTS).format(**fill)
    return f"{body}\nSTANCE: {_next_stance(h, rng)}"


def _reaction(h: SimulationHints, rng: random.Random) -> str:
    if h.mode == "creative":
        return "build"
    if h.mode == "structured" and h.side in ("pro", "con"):
        return "disagree"
    if h.mode == "consensus":
        return "agree" if rng.random() < 0.7 else "neutral"
    if h.critical_thinking >= 7 and rng.random() < 0.5:
        return "disagree"
    return rng.choice(["agree", "neutral", "disagree"])


def _next_stance(h: SimulationHints, rng: random.Random) -> str:
    # Minds move a little late in a discussion, and more easily toward the middle.
    if h.phase in ("debate", "closing") and h.mode != "structured" and rng.random() < 0.15:
        if h.stance in ("support", "oppose"):
            return "critical_exploration" if h.critical_thinking >= 6 else "neutral"
        return "support" if h.optimism >= 6 else "oppose"
    return h.stance


def _gist(text: str, words: int = 14) -> str:
    first = text.strip().split("\n")[0]
    tokens = first.split()
    gist = " ".join(tokens[:words])
    return (gist.rstrip(".,;:") + ("…" if len(tokens) > words else "")).strip()


def _lower_first(text: str) -> str:
    """'A weekly kit' → 'a weekly kit', but 'NHS app' and 'iPhone' stay as they are."""
    if text.startswith("A ") or (len(text) > 1 and text[0].isupper() and text[1].islower()):
        return text[0].lower() + text[1:]
    return text


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]


def _article(text: str) -> str:
    """Fix 'a' before a vowel sound that the template could not know about."""
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", lambda m: m.group(1) + "n ", text)


def _topic_ref(title: str) -> str:
    """How a speaker names the topic mid-sentence: the title if short, else 'this proposal'."""
    title = title.strip().rstrip(".")
    if title.endswith("?") or len(title.split()) > 10:
        return "this proposal"
    return _lower_first(title)
