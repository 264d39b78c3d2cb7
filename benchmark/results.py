"""Result records: one JSON line per finished evaluation cell, written atomically.

Each cell's record lives in ``<out>/runs/<suite>/<env>__<model>__<planner>__s<seed>.jsonl``
(a file of one line, so finished cells are independent, idempotent and diff well). A record
is written to a temporary file and renamed, so Ctrl-C never leaves half a record.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Cell:
    """One grid cell."""

    env_id: str
    model: str
    planner: str
    seed: int

    @property
    def key(self) -> str:
        env = self.env_id.split("/")[-1]
        return f"{env}__{self.model}__{self.planner}__s{self.seed}"


def record_path(out: str | Path, suite: str, cell: Cell) -> Path:
    return Path(out) / "runs" / suite / f"{cell.key}.jsonl"


def write_record(path: str | Path, record: dict[str, Any]) -> None:
    """Writes one record atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as f:
        f.write(json.dumps({"schema_version": SCHEMA_VERSION, **record}, sort_keys=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_record(path: str | Path) -> dict[str, Any] | None:
    """The record in ``path``, or None if it is absent or unreadable."""
    try:
        return json.loads(Path(path).read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def load_records(
    out: str | Path, suite: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """All records under ``<out>/runs`` of the current schema, and a list of problems
    (records of another schema or unreadable files), which are reported, never mixed in."""
    root = Path(out) / "runs"
    if suite:
        root = root / suite
    records, problems = [], []
    for path in sorted(root.rglob("*.jsonl")):
        for i, line in enumerate(path.read_text().splitlines()):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                problems.append(f"{path}:{i + 1}: unreadable line")
                continue
            version = rec.get("schema_version")
            if version != SCHEMA_VERSION:
                problems.append(
                    f"{path}:{i + 1}: schema_version {version}, this wmbench reads "
                    f"{SCHEMA_VERSION} (re-run the cell to update it)"
                )
                continue
            rec["_path"] = str(path)
            records.append(rec)
    for p in problems:
        warnings.warn(p, stacklevel=2)
    return records, problems
