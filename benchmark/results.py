"""Result records: one JSON line per finished evaluation cell, written atomically.

Each cell's record lives in ``<out>/runs/<suite>/<env>__<model>__<planner>__s<seed>.jsonl``
(a file of one line, so finished cells are independent, idempotent and diff well). A record
is written to a temporary file and renamed, so Ctrl-C never leaves half a record. The fields
are documented in docs/records.md; ``load`` and ``load_tasks`` give them as pandas frames::

    from benchmark.results import load, load_tasks
    cells = load("results", suite="quick")      # one row per cell
    tasks = load_tasks("results", suite="quick")  # one row per (cell, task)
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 3
"""3 added code_version and device_name, stores paths relative to the out / data
directories and fills checkpoint.train_wall_s; 2 added per-task floors and ceiling."""
READABLE_VERSIONS = (2, 3)


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
            if version not in READABLE_VERSIONS:
                problems.append(
                    f"{path}:{i + 1}: schema_version {version}, this wmbench reads "
                    f"{', '.join(map(str, READABLE_VERSIONS))} (re-run the cell to update it)"
                )
                continue
            rec["_path"] = str(path)
            records.append(rec)
    for p in problems:
        warnings.warn(p, stacklevel=2)
    return records, problems


def _cell_columns(rec: dict[str, Any]) -> dict[str, Any]:
    c = rec["cell"]
    return {
        "suite": rec["suite"],
        "env": c["env_id"].split("/")[-1],
        "model": c["model"],
        "planner": c["planner"],
        "seed": c["seed"],
    }


def load(out: str | Path = "results", suite: str | None = None) -> pd.DataFrame:
    """Every record under ``<out>/runs`` as one tidy frame, one row per cell (seeds apart).

    Columns: suite, env, model, planner, seed, status, success_rate, ci_low, ci_high,
    success_final_rate, noop_rate, random_rate, expert_rate, better_floor, p_vs_floor,
    n_tasks, solve_time_per_episode_s, model_calls_per_solve, eval_wall_s, train_wall_s,
    cos@h / cos_copy@h / skill@h for each prediction horizon h, git_commit, code_version,
    device, device_name, finished_at, schema_version and record (the file, relative to
    ``out``). Failed cells have status ``failed``, their error in ``error`` and NaN rates.

    >>> df = load("results", suite="quick")
    >>> sorted(set(df["planner"])) == ["cem", "gd", "grasp", "mppi"]
    True
    """
    import pandas as pd

    records, _ = load_records(out, suite)
    rows = []
    for rec in records:
        row: dict[str, Any] = {**_cell_columns(rec), "status": rec.get("status")}
        if rec.get("status") == "ok":
            low, high = rec.get("success_ci95", [float("nan")] * 2)
            row.update(
                success_rate=rec["success_rate"],
                ci_low=low,
                ci_high=high,
                success_final_rate=rec.get("success_final_rate"),
                noop_rate=rec.get("noop_success_rate"),
                random_rate=rec.get("random_success_rate"),
                expert_rate=rec.get("expert_success_rate"),
                better_floor=rec.get("better_floor"),
                p_vs_floor=rec.get("p_vs_floor"),
                n_tasks=rec.get("n_tasks"),
                solve_time_per_episode_s=rec.get("solve_time_per_episode_s"),
                model_calls_per_solve=rec.get("model_calls_per_solve"),
                eval_wall_s=rec.get("eval_wall_s"),
                train_wall_s=(rec.get("checkpoint") or {}).get("train_wall_s"),
            )
            pred = rec.get("prediction") or {}
            for key in ("cos", "cos_copy", "skill"):
                for h, value in enumerate(pred.get(key, []), start=1):
                    row[f"{key}@{h}"] = value
        else:
            row["error"] = rec.get("error")
        row.update(
            git_commit=rec.get("git_commit"),
            code_version=(rec.get("code_version") or {}).get("eval"),
            device=rec.get("device"),
            device_name=rec.get("device_name"),
            finished_at=rec.get("finished_at"),
            schema_version=rec.get("schema_version"),
            record=Path(rec["_path"]).resolve().relative_to(Path(out).resolve()).as_posix(),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def load_tasks(out: str | Path = "results", suite: str | None = None) -> pd.DataFrame:
    """Per-task outcomes of every ``ok`` record: one row per (cell, task), with the task
    (held-out episode, start step), the planner's outcome (success, success_final,
    final_distance, initial_distance, steps_to_success) and the floors' and ceiling's success
    on the same task (noop_success, random_success, expert_success), for paired analyses.

    >>> tasks = load_tasks("results", suite="quick")
    >>> bool((tasks.groupby(["env", "model", "planner", "seed"]).size() == 50).all())
    True
    """
    import pandas as pd

    records, _ = load_records(out, suite)
    rows = []
    for rec in records:
        if rec.get("status") != "ok":
            continue
        cell = _cell_columns(rec)
        baselines = rec.get("baselines", {})
        for i, (task, outcome) in enumerate(zip(rec["tasks"], rec["outcomes"])):
            row = {**cell, "task": i, "episode": task["episode"], "step": task["step"]}
            row.update(outcome)
            for name, outcomes in baselines.items():
                row[f"{name}_success"] = outcomes[i]["success"] if i < len(outcomes) else None
            rows.append(row)
    return pd.DataFrame(rows)
