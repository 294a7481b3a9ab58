"""Run a batch file (the same code as ``simfocus batch``): python scripts/run_batch.py FILE
[--parallel N] [--workers N] [--resume --out DIR]."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from simfocus.cli.batches import batch_command
from simfocus.settings import Settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("batch", type=Path)
    parser.add_argument("--parallel", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    return batch_command(
        Settings(), args.batch, args.out, args.parallel, args.workers, args.resume, Console()
    )


if __name__ == "__main__":
    sys.exit(main())
