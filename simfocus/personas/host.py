"""Many personas in one process: the dense placement of batch workers.

Interactive discussions give each persona a Ray actor (a process of ~50 MB that starts in
~0.4 s). A batch of hundreds of groups cannot: 200 groups of 5 would need ~50 GB and
minutes of start-up. A ``PersonaHost`` keeps many personas in the process that runs their
discussions. Each persona is still its own ``PersonaMind`` with only its own memory and
prompt state; the runner reaches it through the same ``speak(participant_id, turn)`` it
uses for persona actors, so the moderator logic cannot tell the difference.
"""

from __future__ import annotations

from simfocus.discussions.runner import Speak
from simfocus.discussions.service import DiscussionSetup
from simfocus.personas.mind import CallLLM, PersonaMind
from simfocus.personas.schemas import TurnOutcome, TurnRequest


class PersonaHost:
    def __init__(self, call_llm: CallLLM, *, window_tokens: int, summary_tokens: int) -> None:
        self.call_llm = call_llm
        self.window_tokens = window_tokens
        self.summary_tokens = summary_tokens
        self.minds: dict[str, dict[str, PersonaMind]] = {}  # discussion → participant → mind

    def seat(self, setup: DiscussionSetup) -> Speak:
        """Seat a discussion's panel here; returns the runner's way to reach them."""
        minds = self.minds[setup.discussion_id] = {
            p.id: PersonaMind(
                p,
                setup.topic,
                setup.spec,
                window_tokens=self.window_tokens,
                summary_tokens=self.summary_tokens,
            )
            for p in setup.participants
        }

        async def speak(participant_id: str, turn: TurnRequest) -> TurnOutcome:
            return await minds[participant_id].take_turn(turn, self.call_llm)

        return speak

    def release(self, discussion_id: str) -> None:
        self.minds.pop(discussion_id, None)

    @property
    def personas(self) -> int:
        return sum(len(m) for m in self.minds.values())
