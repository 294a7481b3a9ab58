"""The batch index (``batch.json`` in the output folder): what ran, what is left.

Written after every finished group (to a temporary file, then renamed, so an interruption
never leaves half a file). ``--resume`` reads it: groups that ended are skipped, the rest
run again from scratch.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import Field

from simfocus.kit.models import ValueModel

INDEX_FILE = "batch.json"
ENDED = ("completed", "stopped")  # a group that ended this way is not run again


class GroupEntry(ValueModel):
    key: str
    status: str = "pending"  # pending | running | completed | stopped | failed
    discussion_id: str | None = None
    status_reason: str | None = None
    seconds: float | None = None
    cost_micro_usd: int = 0
    transcript: str | None = None  # path relative to the output folder
    report: str | None = None


class BatchIndex(ValueModel):
    batch_id: str
    name: str
    source: str
    created_at: str
    updated_at: str
    groups: dict[str, GroupEntry] = Field(default_factory=dict)
    runs: list[dict[str, object]] = Field(default_factory=list)  # one per (resumed) run

    def ended(self, key: str) -> bool:
        entry = self.groups.get(key)
        return entry is not None and entry.status in ENDED and entry.transcript is not None

    def with_group(self, entry: GroupEntry) -> BatchIndex:
        groups = {**self.groups, entry.key: entry}
        return self.model_copy(update={"groups": groups, "updated_at": _now()})


def _now() -> str:
    return datetime.now(UTC).isoformat()


def new_index(batch_id: str, name: str, source: str, keys: list[str]) -> BatchIndex:
    now = _now()
    return BatchIndex(
        batch_id=batch_id,
        name=name,
        source=source,
        created_at=now,
        updated_at=now,
        groups={k: GroupEntry(key=k) for k in keys},
    )


def read_index(out_dir: Path) -> BatchIndex | None:
    path = out_dir / INDEX_FILE
    if not path.is_file():
        return None
    return BatchIndex.model_validate_json(path.read_text())


def write_index(out_dir: Path, index: BatchIndex) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{INDEX_FILE}.tmp"
    tmp.write_text(json.dumps(index.model_dump(mode="json"), indent=2) + "\n")
    os.replace(tmp, out_dir / INDEX_FILE)
