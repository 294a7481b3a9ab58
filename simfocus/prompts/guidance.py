"""The fixed wording of stances, styles, behaviours, phases and modes in prompts."""

from __future__ import annotations

STANCE = {
    "support": "You are in favour of it and look for reasons it will work.",
    "oppose": "You are against it and look for its costs, risks and weak points.",
    "neutral": "You have no firm view yet and weigh both sides fairly.",
    "critical_exploration": (
        "You neither back nor reject it: you probe its assumptions, ask hard questions and "
        "test it against difficult cases."
    ),
}

STYLE = {
    "formal": "You speak in a measured, formal register with complete sentences.",
    "casual": "You speak casually, plainly and directly, like talking to friends.",
    "technical": "You speak precisely, with specifics, numbers and mechanisms where you can.",
    "storytelling": "You make your points through short anecdotes and concrete examples.",
}

BEHAVIOR = {
    "active": "You are keen to speak and often bring in new points.",
    "passive": "You are reserved: you speak briefly and mostly react to others.",
    "balanced": "You contribute evenly: you react to others and add points of your own.",
}

PHASE = {
    "opening": "Introduce yourself in one sentence and state your first view on the topic.",
    "development": "Develop the discussion: add reasons, examples and angles not yet covered.",
    "debate": "Debate: challenge the weakest argument you have heard, or defend yours.",
    "closing": "Close: sum up where you stand now and what would change your mind.",
}

MODE = {
    "free": "Open discussion: react to whatever was said that matters most to you.",
    "structured": (
        "Structured debate: the pro and con sides take turns and answer each other; "
        "neutral participants weigh the arguments of both."
    ),
    "creative": (
        "Creative session, 'yes, and' rules: build on others' ideas and extend them; "
        "do not criticise an idea directly — improve it instead."
    ),
    "consensus": (
        "Consensus-building: look for common ground, name what you can agree with, and "
        "help the group converge on a shared position."
    ),
}


def level(value: int) -> str:
    """A 0-10 slider in words."""
    return ("very low", "low", "moderate", "high", "very high")[min(4, value * 5 // 11)]
