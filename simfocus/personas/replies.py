"""Reading a persona's reply: its text, its stance marker and its key point."""

from __future__ import annotations

import re

from simfocus.characters.schemas import Stance
from simfocus.kit.models import ValueModel

_STANCE_LINE = re.compile(
    r"^\s*\**\s*stance\s*\**\s*[:=]\s*\**\s*([a-z_ ]+?)\s*\**\s*$", re.IGNORECASE | re.MULTILINE
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_STATEMENT = re.compile(r"^\s*shared statement\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


class ParsedReply(ValueModel):
    content: str
    stance: Stance | None


def parse_reply(text: str) -> ParsedReply:
    """Strip the trailing ``STANCE:`` marker a persona is asked to add, keep its value."""
    stance: Stance | None = None
    matches = list(_STANCE_LINE.finditer(text))
    if matches:
        last = matches[-1]
        value = last.group(1).strip().lower().replace(" ", "_")
        stance = Stance(value) if value in Stance._value2member_map_ else None
        text = text[: last.start()] + text[last.end() :]
    return ParsedReply(content=text.strip(), stance=stance)


def key_point(text: str, max_words: int = 30, avoid: tuple[str, ...] = ()) -> str:
    """The most substantial sentence of a message: its longest, cut to ``max_words``.

    Sentences naming someone in ``avoid`` are reactions to others rather than the
    speaker's own point; they are passed over while another sentence is left.
    """
    sentences = [s.strip() for s in _SENTENCE.split(text.replace("\n", " ")) if s.strip()]
    if not sentences:
        return ""
    # A first sentence of three or more, or one ending in a colon, usually only frames.
    body = sentences[1:] if len(sentences) >= 3 else sentences
    own = [
        s
        for s in body
        if not any(name in s for name in avoid) and not _STATEMENT.match(s) and not s.endswith(":")
    ]
    best = max(own or sentences, key=lambda s: len(s.split()))
    words = best.split()
    return best if len(words) <= max_words else " ".join(words[:max_words]) + "…"


def shared_statement(text: str) -> str | None:
    """The ``Shared statement:`` line of a consensus closing, if any."""
    match = _STATEMENT.search(text)
    return match.group(1).strip() if match else None


_MARKER_PREFIX = re.compile(r"^\s*\**\s*s(t(a(n(c(e\s*\**\s*[:=]?.*)?)?)?)?)?$", re.IGNORECASE)


class StanceFilter:
    """Passes a reply's streamed text through, minus its ``STANCE:`` marker line.

    A trailing partial line that could still become the marker is held back until it
    is complete (or proves to be ordinary text). Display only: the committed message is
    ``parse_reply`` of the whole text.
    """

    def __init__(self) -> None:
        self._partial = ""

    def feed(self, text: str) -> str:
        self._partial += text
        out: list[str] = []
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            if not _STANCE_LINE.fullmatch(line):
                out.append(line + "\n")
        if self._partial and not _MARKER_PREFIX.match(self._partial):
            out.append(self._partial)
            self._partial = ""
        return "".join(out)
