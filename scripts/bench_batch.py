"""Batch benchmark: 200 focus groups (5 personas x 6 rounds, 200 ms simulated latency)
through the batch runner on this machine, against the baseline a user would otherwise
write (the same groups as asyncio tasks in one process, AutoGen AgentChat's
RoundRobinGroupChat with a replay client delayed by 200 ms). Prints JSON.

    .venv/bin/python scripts/bench_batch.py [--groups 200] [--reports] [--no-baseline]

The baseline runs in its own virtualenv (``.venv-baseline``, created on first use: AutoGen
pins a protobuf that Ray cannot use). Also measured: starting one actor, and memory per
group in a batch worker vs per interactive discussion (one actor per persona).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import yaml
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
BASELINE_VENV = ROOT / ".venv-baseline"
PANEL = [
    "night_shift_nurse",
    "software_engineer",
    "retired_teacher",
    "stay_at_home_parent",
    "delivery_driver",
]


def batch_file(folder: Path, groups: int, rounds: int, latency_ms: float, reports: bool) -> Path:
    variants = 4
    data = {
        "name": "bench",
        "variants": [
            {
                "id": f"v{i}",
                "topic": {"title": f"Concept {i}: a meal-kit subscription for shift workers"},
            }
            for i in range(variants)
        ],
        "panels": [{"id": "five", "panel": [{"template": t} for t in PANEL]}],
        "modes": ["creative"],  # exactly one turn per persona and round: 30 turns
        "repeats": groups // variants,
        "seed": 1,
        "discussion": {
            "max_rounds": rounds,
            "provider": {"name": "simulated", "latency_ms": latency_ms},
        },
        "reports": reports,
    }
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class MemorySampler:
    """Peak summed RSS of this process and every Ray process, sampled every 0.2 s."""

    def __init__(self) -> None:
        self.peak = 0
        self.workers_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = workers = 0
            for p in psutil.process_iter(["cmdline", "memory_info"]):
                cmd = " ".join(p.info["cmdline"] or [])
                if p.pid == os.getpid() or "ray" in cmd:
                    rss = p.info["memory_info"].rss if p.info["memory_info"] else 0
                    total += rss
                    if "BatchWorker" in cmd:
                        workers += rss
            self.peak = max(self.peak, total)
            self.workers_peak = max(self.workers_peak, workers)
            time.sleep(0.2)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def run_ours(groups: int, rounds: int, latency_ms: float, reports: bool) -> dict[str, Any]:
    from simfocus.cli.batches import run_batch
    from simfocus.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="simfocus-bench-batch-"))
    try:
        settings = Settings(data_dir=folder / "data")
        path = batch_file(folder, groups, rounds, latency_ms, reports)
        with MemorySampler() as memory:
            outcome = run_batch(
                settings,
                path,
                out_dir=folder / "out",
                console=Console(file=open(os.devnull, "w")),
            )
        ideal = 5 * rounds * latency_ms / 1000
        statuses = [g.status for g in outcome.index.groups.values()]
        return {
            "groups": len(statuses),
            "completed": statuses.count("completed"),
            "run_s": round(outcome.run_seconds, 2),
            "startup_s": round(outcome.startup_seconds, 2),
            "groups_per_minute": round(len(statuses) / outcome.run_seconds * 60, 1),
            "efficiency": round(ideal / outcome.run_seconds, 3),
            "concurrency_reached": outcome.peak,
            "admission_cap": outcome.cap.value,
            "workers": outcome.workers,
            "peak_rss_mb_all_processes": round(memory.peak / 2**20, 1),
            "peak_rss_mb_workers": round(memory.workers_peak / 2**20, 1),
            "group_commits": sum(s["commits"] for s in outcome.worker_stats),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_baseline(groups: int, rounds: int, latency_ms: float) -> dict[str, Any]:
    python = BASELINE_VENV / "bin" / "python"
    if not python.exists():
        print("creating .venv-baseline with autogen-agentchat (first run only)…", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(BASELINE_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "autogen-agentchat>=0.7,<0.8",
                "autogen-ext>=0.7,<0.8",
            ],
            check=True,
        )
    out = subprocess.run(
        [
            str(python),
            str(ROOT / "scripts" / "baseline_autogen.py"),
            "--groups",
            str(groups),
            "--personas",
            "5",
            "--rounds",
            str(rounds),
            "--latency-ms",
            str(latency_ms),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def actor_costs() -> dict[str, Any]:
    """One persona-sized actor: start time and memory (the interactive placement)."""
    import ray

    from simfocus.cli.local_ray import init_ray
    from simfocus.settings import Settings

    init_ray(Settings())

    @ray.remote(num_cpus=0)
    class Probe:
        def pid(self) -> int:
            return os.getpid()

    times, rss = [], []
    for _ in range(5):
        started = time.perf_counter()
        actor = Probe.remote()
        pid = ray.get(actor.pid.remote())
        times.append(time.perf_counter() - started)
        rss.append(psutil.Process(pid).memory_full_info().uss)
        ray.kill(actor)
    return {
        "actor_start_s_median": round(sorted(times)[len(times) // 2], 3),
        "actor_uss_mb": round(sorted(rss)[len(rss) // 2] / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--reports", action="store_true", help="write each group's report too")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    ours = run_ours(args.groups, args.rounds, args.latency_ms, args.reports)
    costs = actor_costs()
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        },
        "workload": {
            "groups": args.groups,
            "personas": 5,
            "rounds": args.rounds,
            "latency_ms": args.latency_ms,
            "reports": args.reports,
            "ideal_s": 5 * args.rounds * args.latency_ms / 1000,
        },
        "batch_runner": ours,
        "per_group_memory_mb_batch": round(
            ours["peak_rss_mb_workers"] / max(1, ours["concurrency_reached"]), 2
        ),
        "per_discussion_memory_mb_interactive": round(
            costs["actor_uss_mb"] * 6, 1
        ),  # moderator + 5 personas
        **costs,
    }
    if not args.no_baseline:
        base = run_baseline(args.groups, args.rounds, args.latency_ms)
        result["baseline_autogen_one_process"] = base
        result["ratio_ours_to_baseline"] = round(ours["run_s"] / base["wall_s"], 3)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
