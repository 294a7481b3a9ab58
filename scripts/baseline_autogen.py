"""The baseline a user would otherwise write: N focus groups as asyncio tasks in one plain
Python process, with AutoGen AgentChat's ``RoundRobinGroupChat`` and a replay model client
delayed like the simulated provider. Prints JSON. Run by ``scripts/bench_batch.py`` in a
virtualenv of its own (``.venv-baseline``: AutoGen pins a protobuf that Ray cannot use).

    .venv-baseline/bin/python scripts/baseline_autogen.py --groups 200 --personas 5 \\
        --rounds 6 --latency-ms 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import time
from collections.abc import Sequence
from typing import Any

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination
from autogen_agentchat.teams import RoundRobinGroupChat
from autogen_core.models import CreateResult, LLMMessage
from autogen_ext.models.replay import ReplayChatCompletionClient


class DelayedReplay(ReplayChatCompletionClient):
    """Answers from its script after the simulated latency (±20 %, as ours)."""

    def __init__(self, replies: list[str], latency_s: float, rng: random.Random) -> None:
        super().__init__(replies)
        self.latency_s = latency_s
        self.rng = rng

    async def create(self, messages: Sequence[LLMMessage], **kwargs: Any) -> CreateResult:
        await asyncio.sleep(self.latency_s * (0.8 + 0.4 * self.rng.random()))
        return await super().create(messages, **kwargs)


async def one_group(index: int, personas: int, rounds: int, latency_s: float) -> int:
    rng = random.Random(index)
    agents = [
        AssistantAgent(
            name=f"persona_{p}",
            model_client=DelayedReplay(
                [f"Persona {p}, round {r}: a considered view on the topic." for r in range(rounds)],
                latency_s,
                rng,
            ),
            system_message=f"You are persona {p} in a focus group.",
        )
        for p in range(personas)
    ]
    team = RoundRobinGroupChat(
        agents, termination_condition=MaxMessageTermination(personas * rounds + 1)
    )
    result = await team.run(task="Discuss: a weekly meal-kit subscription for shift workers.")
    return len(result.messages) - 1


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--personas", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--latency-ms", type=float, default=200)
    args = parser.parse_args()
    started = time.perf_counter()
    turns = await asyncio.gather(
        *(
            one_group(i, args.personas, args.rounds, args.latency_ms / 1000)
            for i in range(args.groups)
        )
    )
    wall = time.perf_counter() - started
    ideal = args.personas * args.rounds * args.latency_ms / 1000
    print(
        json.dumps(
            {
                "wall_s": round(wall, 2),
                "groups": args.groups,
                "turns_per_group": sum(turns) / len(turns),
                "groups_per_minute": round(args.groups / wall * 60, 1),
                "efficiency": round(ideal / wall, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "cpu_s": round(time.process_time(), 2),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
