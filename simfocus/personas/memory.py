"""A persona's own memory, and the bounded context it builds its prompts from.

The memory keeps a window of the most recent messages that fits ``window_tokens``; each
message that falls out of the window is folded into a rolling summary (each speaker's
latest key points and the moderator's questions) capped at ``summary_tokens``. So the
prompt of round 50 is no larger than the prompt of round 5.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable

from simfocus.characters.schemas import Stance
from simfocus.discussions.schemas import Message
from simfocus.llm.tokens import estimate_tokens, truncate_to_tokens
from simfocus.personas.replies import key_point

POINTS_PER_SPEAKER = 2
OWN_POINTS = 3
QUESTIONS_KEPT = 3


class PersonaMemory:
    def __init__(
        self,
        participant_id: str,
        stance: Stance,
        *,
        window_tokens: int,
        summary_tokens: int,
    ) -> None:
        self.participant_id = participant_id
        self.stance = stance
        self.window_tokens = window_tokens
        self.summary_tokens = summary_tokens
        self.last_seq = 0
        self.recent: deque[Message] = deque()
        self._recent_tokens = 0
        self.folded_count = 0
        self.points: OrderedDict[str, deque[str]] = OrderedDict()
        self.questions: deque[str] = deque(maxlen=QUESTIONS_KEPT)
        self.own_points: deque[str] = deque(maxlen=OWN_POINTS)
        self.speakers: set[str] = set()

    def names(self) -> tuple[str, ...]:
        """Everyone heard so far (to tell reactions from points)."""
        return tuple(self.speakers)

    def observe(self, messages: Iterable[Message]) -> None:
        """Take in committed messages in seq order; already-seen ones are ignored."""
        for message in sorted(messages, key=lambda m: m.seq):
            if message.seq <= self.last_seq:
                continue
            self.last_seq = message.seq
            if message.role == "persona":
                self.speakers.add(message.speaker_name)
            if message.participant_id == self.participant_id:
                self.own_points.append(key_point(message.content, avoid=self.names()))
                if message.stance is not None:
                    self.stance = message.stance
            self.recent.append(message)
            self._recent_tokens += _cost(message)
            while self._recent_tokens > self.window_tokens and len(self.recent) > 1:
                self._fold(self.recent.popleft())

    def _fold(self, message: Message) -> None:
        self._recent_tokens -= _cost(message)
        self.folded_count += 1
        if message.kind == "question":
            self.questions.append(message.content)
            return
        if message.role != "persona":
            return
        speaker = message.speaker_name
        points = self.points.pop(speaker, deque(maxlen=POINTS_PER_SPEAKER))
        points.append(key_point(message.content, avoid=self.names()))
        self.points[speaker] = points  # most recently active speakers last

    def summary(self) -> str:
        """The rolling summary of everything no longer in the window, within budget."""
        if not self.folded_count:
            return ""
        lines = [f"({self.folded_count} earlier messages, summarised)"]
        lines += [f"- {name}: " + " / ".join(points) for name, points in self.points.items()]
        lines += [f"- The moderator asked: {q}" for q in self.questions]
        text = "\n".join(lines)
        # Over budget: drop the least recently active speakers first.
        while estimate_tokens(text) > self.summary_tokens and len(lines) > 2:
            lines.pop(1)
            text = "\n".join(lines)
        return truncate_to_tokens(text, self.summary_tokens)


def _cost(message: Message) -> int:
    return estimate_tokens(message.content) + estimate_tokens(message.speaker_name) + 4
