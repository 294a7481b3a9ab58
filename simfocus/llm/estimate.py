"""What a study will cost, before anything is spent.

The turn plan is known exactly (phases, mode and panel). Per turn, the prompt is the
persona's system prompt, the bounded context (recent-message window + summary, filled
as the discussion grows) and the turn instructions; the reply is a typical 2-5 sentence
answer. The worst case takes every context budget full, the estimate margin and
``max_tokens`` for every reply; the gateway will never let the real run exceed it.
"""

from __future__ import annotations

from dataclasses import dataclass

from simfocus.discussions.modes import TurnPlanner
from simfocus.discussions.phases import PhasePlan
from simfocus.discussions.schemas import Participant
from simfocus.llm.gateway import PROMPT_ESTIMATE_MARGIN
from simfocus.llm.pricing import PriceTable
from simfocus.llm.tokens import MESSAGE_OVERHEAD_TOKENS, estimate_tokens
from simfocus.prompts.render import TurnPromptInputs, render_system_prompt, render_turn_prompt
from simfocus.studies.schemas import Study

TYPICAL_REPLY_TOKENS = 110  # 2-5 sentences, what the prompt asks for
MESSAGE_FRAMING_TOKENS = 8  # "[12] Name: " in the window


@dataclass(frozen=True)
class CostEstimate:
    turns: int
    expected_prompt_tokens: int
    expected_completion_tokens: int
    expected_micro_usd: int
    worst_prompt_tokens: int
    worst_completion_tokens: int
    worst_micro_usd: int
    budget_micro_usd: int | None
    turn_budget_micro_usd: int | None

    @property
    def fits_budget(self) -> bool | None:
        if self.turn_budget_micro_usd is None:
            return None
        return self.worst_micro_usd <= self.turn_budget_micro_usd


def estimate_study(
    study: Study,
    pricing: PriceTable,
    *,
    window_tokens: int,
    summary_tokens: int,
    report_share: float,
) -> CostEstimate:
    spec = study.discussion
    participants = [
        Participant(id=str(i), position=i, character=c) for i, c in enumerate(study.panel)
    ]
    phases = PhasePlan.for_rounds(spec.max_rounds)
    planner = TurnPlanner(spec.mode, participants, phases, spec.seed)
    turns = [
        (r, slot.participant_id)
        for r in range(1, spec.max_rounds + 1)
        for slot in planner.round_turns(r)
    ]
    system = {
        p.id: estimate_tokens(render_system_prompt(p.character, study.topic))
        + MESSAGE_OVERHEAD_TOKENS
        for p in participants
    }
    instructions = (
        estimate_tokens(
            render_turn_prompt(
                TurnPromptInputs(
                    name="x" * 12,
                    round=1,
                    max_rounds=spec.max_rounds,
                    phase="development",
                    mode=spec.mode.value,
                )
            )
        )
        + MESSAGE_OVERHEAD_TOKENS
    )
    reply = min(TYPICAL_REPLY_TOKENS, spec.max_tokens_per_turn)
    per_message = reply + MESSAGE_FRAMING_TOKENS
    exp_prompt = exp_completion = worst_prompt = 0
    exp_cost = worst_cost = 0
    name, model = spec.provider.name, spec.provider.model
    for heard, (_, pid) in enumerate(turns):
        context = min(window_tokens, heard * per_message)
        summary = min(summary_tokens, max(0, heard * per_message - window_tokens) // 4)
        prompt = system[pid] + instructions + context + summary
        worst = (
            int(
                (system[pid] + instructions + window_tokens + summary_tokens)
                * PROMPT_ESTIMATE_MARGIN
            )
            + 1
        )
        exp_prompt += prompt
        exp_completion += reply
        worst_prompt += worst
        exp_cost += pricing.cost_micro_usd(name, model, prompt, reply)
        worst_cost += pricing.cost_micro_usd(name, model, worst, spec.max_tokens_per_turn)
    budget = spec.budget_micro_usd
    return CostEstimate(
        turns=len(turns),
        expected_prompt_tokens=exp_prompt,
        expected_completion_tokens=exp_completion,
        expected_micro_usd=exp_cost,
        worst_prompt_tokens=worst_prompt,
        worst_completion_tokens=len(turns) * spec.max_tokens_per_turn,
        worst_micro_usd=worst_cost,
        budget_micro_usd=budget,
        turn_budget_micro_usd=None if budget is None else budget - round(budget * report_share),
    )
