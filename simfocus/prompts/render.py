"""Rendering persona prompts from templates, with ``StrictUndefined``.

The system prompt holds the persona's identity, stance and the topic: it does not change
during a discussion, so it is a stable prefix that providers can cache. Everything that
changes turn by turn (summary, recent messages, phase, mode, question) goes in the turn.
"""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from simfocus.characters.schemas import CharacterConfig
from simfocus.kit.models import ValueModel
from simfocus.prompts import guidance
from simfocus.topics.schemas import Topic


class QuotedMessage(ValueModel):
    seq: int
    speaker: str
    content: str


class TurnPromptInputs(ValueModel):
    name: str
    round: int
    max_rounds: int
    phase: str
    mode: str
    side: str | None = None
    summary: str = ""
    own_points: tuple[str, ...] = ()
    recent: tuple[QuotedMessage, ...] = ()
    question: str | None = None
    addressee: str | None = None
    closing_statement: bool = False


class RenderedPrompt(ValueModel):
    system: str
    user: str


# User-written text (topic, persona fields, questions, other speakers' words) reaches the
# model as quoted data. Two filters keep it there: angle brackets become look-alikes, so the
# text cannot close its <topic>/<question> block early; ``inline`` also folds a value onto
# one line, so a name or a profession cannot start a section ("# Rules") of its own; and
# ``block`` indents every line of a longer text under its block.
_ANGLES = str.maketrans({"<": "\u2039", ">": "\u203a"})  # look-alike angle quotes


def inline(value: object) -> str:
    return _inline(str(value))


@lru_cache(maxsize=8192)
def _inline(text: str) -> str:
    # Cached: a persona's window quotes the same recent messages turn after turn.
    return " ".join(text.split()).translate(_ANGLES)


def block(value: object, indent: str = "  ") -> str:
    lines = str(value).translate(_ANGLES).strip().splitlines()
    return "\n".join(indent + line.strip() for line in lines if line.strip())


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("simfocus.prompts", "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # plain text for a model, not HTML
    )
    env.filters["level"] = guidance.level
    env.filters["inline"] = inline
    env.filters["block"] = block
    return env


def render_system_prompt(character: CharacterConfig, topic: Topic) -> str:
    return (
        _env()
        .get_template("system.j2")
        .render(
            c=character.model_dump(mode="json"),
            topic=topic.model_dump(mode="json"),
            stance_guidance=guidance.STANCE,
            style_guidance=guidance.STYLE,
            behavior_guidance=guidance.BEHAVIOR,
        )
        .strip()
    )


def render_turn_prompt(inputs: TurnPromptInputs) -> str:
    return (
        _env()
        .get_template("turn.j2")
        .render(
            **dict(inputs),  # the fields as they are: no per-turn serialisation
            phase_guidance=guidance.PHASE,
            mode_guidance=guidance.MODE,
        )
        .strip()
    )


def render_prompt(
    character: CharacterConfig, topic: Topic, turn: TurnPromptInputs
) -> RenderedPrompt:
    """The whole prompt of one turn: the stable system prefix and the turn message."""
    return RenderedPrompt(
        system=render_system_prompt(character, topic), user=render_turn_prompt(turn)
    )


def render_template(name: str, **values: object) -> str:
    """Any other prompt template of this package (the report writer's)."""
    return _env().get_template(name).render(**values).strip()
