"""The batch runner on a two-node Ray cluster that the test starts itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.batches.test_runner_on_ray import batch_file

pytestmark = [pytest.mark.ray]


def test_a_batch_runs_across_two_nodes(tmp_path: Path) -> None:
    path = batch_file(tmp_path, repeats=2)
    script = Path(__file__).with_name("two_node_batch.py")
    result = subprocess.run(
        [sys.executable, str(script), str(path), str(tmp_path / "out"), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["nodes"] == 2
    assert outcome["workers"] == 2 and len(outcome["worker_nodes"]) == 2, "one worker per node"
    assert outcome["statuses"] == ["completed"] * 4
    assert (tmp_path / "out" / "aggregate.json").is_file()
