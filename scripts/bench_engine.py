"""Engine benchmark: orchestration overhead, concurrency, context size, start-up, memory.

    python scripts/bench_engine.py [--concurrent N]

Prints one JSON document. What it measures (issue #2):
(a) orchestration overhead per turn on Ray with a zero-latency simulated provider;
(b) wall time of 20 concurrent discussions (5 personas, 6 rounds, 300 ms latency) against
    one such discussion alone, with actor start-up reported apart from the run itself;
(c) total prompt tokens of a 20-round, 5-persona discussion against sending the full
    transcript every turn, and the prompt of round 20 against round 5;
(d) seconds from `simfocus run` to its first message, and memory per running discussion.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil
import ray
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from actors.builders import gateway_actor, moderator_actor  # noqa: E402
from simfocus.characters.templates import TemplateLibrary  # noqa: E402
from simfocus.discussions.repository import DiscussionRepository  # noqa: E402
from simfocus.discussions.runner import DiscussionRunner  # noqa: E402
from simfocus.discussions.schemas import DiscussionSpec, Message, Mode  # noqa: E402
from simfocus.discussions.service import create_discussion  # noqa: E402
from simfocus.discussions.store import DiscussionStore  # noqa: E402
from simfocus.llm.gateway import Gateway  # noqa: E402
from simfocus.llm.pricing import PriceTable  # noqa: E402
from simfocus.llm.schemas import ProviderConfig  # noqa: E402
from simfocus.llm.tokens import estimate_chat_tokens  # noqa: E402
from simfocus.personas.mind import PersonaMind  # noqa: E402
from simfocus.personas.schemas import TurnOutcome, TurnRequest  # noqa: E402
from simfocus.settings import REPO_CONFIGS, Settings  # noqa: E402
from simfocus.store.engine import create_engine, session_factory  # noqa: E402
from simfocus.store.migrate import upgrade  # noqa: E402
from simfocus.studies.schemas import Study  # noqa: E402
from simfocus.topics.schemas import Topic  # noqa: E402

PANEL = [
    "software_engineer",
    "small_business_owner",
    "night_shift_nurse",
    "retired_teacher",
    "financial_analyst",
]


def study(rounds: int, latency_ms: float, mode: Mode = Mode.CREATIVE, seed: int = 1) -> Study:
    templates = TemplateLibrary.load(REPO_CONFIGS / "characters")
    return Study(
        name="bench",
        topic=Topic(
            title="A four-day work week for city employees",
            description="A one-year pilot in three departments, same pay, same targets.",
        ),
        panel=[templates.get(t) for t in PANEL],  # type: ignore[misc]
        discussion=DiscussionSpec(
            mode=mode, max_rounds=rounds, seed=seed, provider=ProviderConfig(latency_ms=latency_ms)
        ),
    )


async def create(settings: Settings, s: Study) -> str:
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    async with session_factory(engine)() as session, session.begin():
        setup = await create_discussion(DiscussionRepository(session), s)
    await engine.dispose()
    return setup.discussion_id


# ----- (c) context size, in process -----------------------------------------------------


async def context_size(settings: Settings) -> dict[str, Any]:
    engine = create_engine(settings.resolved_database_url)
    await upgrade(engine)
    async with session_factory(engine)() as session, session.begin():
        setup = await create_discussion(DiscussionRepository(session), study(20, 0))
    gateway = Gateway(PriceTable.load(settings.pricing_file))
    minds = {
        p.id: PersonaMind(
            p,
            setup.topic,
            setup.spec,
            window_tokens=settings.context_window_tokens,
            summary_tokens=settings.summary_tokens,
        )
        for p in setup.participants
    }
    turns: list[dict[str, int]] = []
    history: list[Message] = []

    async def speak(pid: str, turn: TurnRequest) -> TurnOutcome:
        request = minds[pid].build_request(turn)
        # The counterfactual: the same turn with the whole transcript instead of our context.
        transcript = "\n".join(f"[{m.seq}] {m.speaker_name}: {m.content}" for m in runner.history)
        full = estimate_chat_tokens(request.system, [transcript, "Now give your contribution."])
        outcome = await minds[pid].take_turn(turn, gateway.complete)
        turns.append({"round": turn.round, "ours": outcome.prompt_tokens, "full": full})
        return outcome

    runner = DiscussionRunner(
        setup, DiscussionStore(session_factory(engine)), speak, history=history
    )
    await runner.run()
    await engine.dispose()
    ours = sum(t["ours"] for t in turns)
    full = sum(t["full"] for t in turns)
    by_round = {r: statistics.mean(t["ours"] for t in turns if t["round"] == r) for r in (5, 20)}
    return {
        "turns": len(turns),
        "prompt_tokens_ours": ours,
        "prompt_tokens_full_transcript": full,
        "ratio": round(ours / full, 3),
        "target_ratio_max": 0.40,
        "mean_prompt_round_5": round(by_round[5]),
        "mean_prompt_round_20": round(by_round[20]),
        "round20_over_round5": round(by_round[20] / by_round[5], 3),
        "target_round20_over_round5_max": 1.2,
    }


# ----- (a) and (b) on Ray ---------------------------------------------------------------


def run_on_ray(settings: Settings, ids: list[str]) -> dict[str, Any]:
    gateway = gateway_actor(settings)
    t0 = time.perf_counter()
    moderators = [moderator_actor(settings, i, gateway) for i in ids]
    ray.get([m.check_health.remote() for m in moderators])
    ray.get([m.start.remote() for m in moderators])  # returns once every persona is up
    t_started = time.perf_counter()
    finished = [m.wait_finished.remote(600) for m in moderators]
    ray.wait(finished, timeout=1.0)  # measure memory mid-run
    memory = actor_memory_mb()
    snapshots = ray.get(finished)
    t_done = time.perf_counter()
    result = {
        "wall_s": round(t_done - t0, 3),
        "startup_s": round(t_started - t0, 3),
        "run_s": round(t_done - t_started, 3),
        "statuses": sorted({s.status.value for s in snapshots}),
        "actor_memory_mb": memory,
    }
    ray.get([m.shutdown.remote() for m in moderators])
    for m in moderators:
        ray.kill(m)
    return result


def actor_memory_mb() -> dict[str, float]:
    """Unique memory (USS) of our actor processes, by actor class, summed."""
    totals: dict[str, float] = {}
    for proc in psutil.process_iter(["cmdline"]):
        title = " ".join(proc.info["cmdline"] or [])
        for cls in ("PersonaActor", "ModeratorActor", "LLMGatewayActor"):
            if f"ray::{cls}" in title:
                try:
                    totals[cls] = totals.get(cls, 0) + proc.memory_full_info().uss / 2**20
                except psutil.Error:
                    pass
    return {k: round(v, 1) for k, v in totals.items()}


async def turn_overhead(settings: Settings) -> dict[str, Any]:
    discussion_id = await create(settings, study(20, 0))
    run = run_on_ray(settings, [discussion_id])
    engine = create_engine(settings.resolved_database_url)
    async with session_factory(engine)() as session:
        messages = await DiscussionRepository(session).messages(discussion_id)
    await engine.dispose()
    times = [m.created_at.timestamp() for m in messages if m.role == "persona"]
    gaps = sorted((b - a) * 1000 for a, b in itertools.pairwise(times))
    return {
        "turns": len(times),
        "median_ms_per_turn": round(statistics.median(gaps), 2),
        "p90_ms_per_turn": round(gaps[int(len(gaps) * 0.9)], 2),
        "target_median_ms_max": 5.0,
        "run_s": run["run_s"],
    }


async def concurrency(settings: Settings, n: int) -> dict[str, Any]:
    alone = run_on_ray(settings, [await create(settings, study(6, 300))])
    ids = [await create(settings, study(6, 300, seed=i)) for i in range(n)]
    together = run_on_ray(settings, ids)
    per = {
        k: round(v / n, 1) for k, v in together["actor_memory_mb"].items() if k != "LLMGatewayActor"
    }
    return {
        "discussions": n,
        "alone": alone,
        "together": together,
        "run_ratio": round(together["run_s"] / alone["run_s"], 3),
        "wall_ratio_incl_actor_startup": round(together["wall_s"] / alone["wall_s"], 3),
        "target_ratio_max": 1.15,
        "memory_mb_per_discussion": round(sum(per.values()), 1),
        "memory_mb_per_discussion_by_actor": per,
    }


# ----- (d) CLI start-up -----------------------------------------------------------------


def cli_first_message(data_dir: Path) -> dict[str, Any]:
    s = yaml.safe_load((REPO_CONFIGS / "studies" / "meal_kit_free.yaml").read_text())
    s["discussion"]["max_rounds"] = 1
    path = data_dir / "first.yaml"
    path.write_text(yaml.safe_dump(s))
    env = {**os.environ, "SIMFOCUS_DATA_DIR": str(data_dir / "cli"), "COLUMNS": "200"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "simfocus", "run", str(path), "--out", str(data_dir / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    first: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if "#1 " in line and "moderator" not in first:
            first["moderator"] = time.perf_counter() - t0
        if "#2 " in line:
            first["persona"] = time.perf_counter() - t0
            break
    proc.communicate(timeout=120)
    return {
        "seconds_to_first_message": round(first.get("moderator", -1), 2),
        "seconds_to_first_persona_message": round(first.get("persona", -1), 2),
        "total_s": round(time.perf_counter() - t0, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrent", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), database_url="")
        out: dict[str, Any] = {
            "machine": {
                "cpus": os.cpu_count(),
                "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            }
        }
        out["c_context"] = asyncio.run(context_size(settings))
        ray.init(
            include_dashboard=False, logging_level="ERROR", log_to_driver=False, namespace="bench"
        )
        try:
            out["a_turn_overhead"] = asyncio.run(turn_overhead(settings))
            out["b_concurrency"] = asyncio.run(concurrency(settings, args.concurrent))
        finally:
            ray.shutdown()
        out["d_cli"] = cli_first_message(Path(tmp))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
