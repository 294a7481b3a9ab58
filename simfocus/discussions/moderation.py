"""What the moderator itself says: fixed announcements, no model involved."""

from __future__ import annotations

from simfocus.discussions.schemas import Mode, Phase
from simfocus.topics.schemas import Topic

MODE_INTRO = {
    Mode.FREE: "Speak freely and react to each other.",
    Mode.STRUCTURED: "We will hear the arguments for and against in turn: answer each other.",
    Mode.CREATIVE: "Let's build on each other's ideas: 'yes, and', no shooting ideas down.",
    Mode.CONSENSUS: "Our aim is to find common ground and end with a statement we can all share.",
}

PHASE_INTRO = {
    Phase.DEVELOPMENT: "Let's go deeper: reasons, examples, angles we have not covered yet.",
    Phase.DEBATE: "Time to test the arguments: challenge what you find weakest.",
    Phase.CLOSING: "We are closing: please sum up where you stand now.",
}


def welcome(topic: Topic, mode: Mode, names: list[str]) -> str:
    title = topic.title if topic.title[-1:] in ".?!" else topic.title + "."
    text = f"Welcome, {', '.join(names)}. Today's topic: {title}"
    if topic.description:
        text += f" {topic.description}"
    return f"{text} {MODE_INTRO[mode]}"


def phase_intro(phase: Phase, mode: Mode) -> str:
    text = PHASE_INTRO.get(phase, "")
    if phase is Phase.CLOSING and mode is Mode.CONSENSUS:
        text += " Let's try to agree on one shared statement."
    return text
