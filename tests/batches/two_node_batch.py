"""A small batch on a two-node Ray cluster started here (``ray.cluster_utils.Cluster``).

Run as a script by ``test_two_node.py`` (a process of its own: the test session already
has its local cluster). Prints one JSON line: where the workers ran and how the groups
ended.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import ray
from ray.cluster_utils import Cluster
from rich.console import Console

from simfocus.cli.batches import run_batch
from simfocus.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(batch: Path, out: Path, data_dir: Path) -> None:
    # Redis holds 6379 on this machine (Ray's default head port): take a free one.
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "gcs_server_port": free_port(), "include_dashboard": False},
    )
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
        nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
        outcome = run_batch(
            Settings(data_dir=data_dir, ray_address=cluster.address),
            batch,
            out_dir=out,
            console=Console(file=sys.stderr),
        )
        placed = sorted({s["node_id"] for s in outcome.worker_stats})
        print(
            json.dumps(
                {
                    "nodes": len(nodes),
                    "worker_nodes": placed,
                    "workers": outcome.workers,
                    "statuses": [g.status for g in outcome.index.groups.values()],
                }
            )
        )
    finally:
        ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
