"""Two runs of a suite, cell by cell: what a change (a preset, a protocol, the code) bought.

Pairs the records of two ``--out`` folders per cell and per task, so a change is read with the
paired exact test on the same tasks, like every other comparison in wmbench. Cells whose task
sets differ are refused (their outcomes cannot be paired).

Usage:
    python -m benchmark.scripts.compare BEFORE AFTER --suite quick --out results/benchmarks/x.md
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import tyro

from benchmark.results import load_records
from benchmark.stats import mcnemar_exact

KEY = ("env", "model", "planner", "seed")


@dataclass
class CompareConfig:
    """Two record folders (``--out`` of two runs) and the suite to pair."""

    before: tyro.conf.Positional[Path]
    """The ``--out`` folder of the first run (its records are under runs/<suite>/)."""
    after: tyro.conf.Positional[Path]
    """The ``--out`` folder of the second run."""
    suite: str = "quick"
    """Suite whose records are paired."""
    out: Path | None = None
    """Markdown output (default: print only)."""
    note: str = ""
    """A line written under the command, e.g. where BEFORE came from."""


def outcomes(folder: Path, suite: str) -> dict[tuple, dict]:
    """Per cell: its tasks digest, per-task successes, the better floor's rate and commit."""
    records, _ = load_records(folder, suite)
    cells = {}
    for rec in records:
        if rec.get("status") != "ok":
            continue
        c = rec["cell"]
        cells[(c["env_id"].split("/")[-1], c["model"], c["planner"], c["seed"])] = {
            "tasks": rec["tasks_digest"],
            "success": np.array([o["success"] for o in rec["outcomes"]], bool),
            "floor": rec[f"{rec['better_floor']}_success_rate"],
            "expert": rec["expert_success_rate"],
            "commit": rec.get("git_commit", "")[:7],
        }
    return cells


def compare(before: Path, after: Path, suite: str = "quick") -> pd.DataFrame:
    """One row per cell in both runs: success before and after, the change and its paired
    exact p, and the better floor and expert rates (of the later run)."""
    old, new = outcomes(before, suite), outcomes(after, suite)
    rows = []
    for key in sorted(set(old) & set(new)):
        a, b = old[key], new[key]
        if a["tasks"] != b["tasks"]:
            raise ValueError(f"{'__'.join(map(str, key))}: the two runs have different tasks")
        rows.append(
            {
                **dict(zip(KEY, key)),
                "before %": round(100 * a["success"].mean()),
                "after %": round(100 * b["success"].mean()),
                "change (points)": round(100 * (b["success"].mean() - a["success"].mean())),
                "p (paired)": float(f"{mcnemar_exact(a['success'], b['success']):.2g}"),
                "better floor %": round(100 * b["floor"]),
                "expert %": round(100 * b["expert"]),
                "commits": f"{a['commit']} -> {b['commit']}",
            }
        )
    return pd.DataFrame(rows)


def run(cfg: CompareConfig) -> pd.DataFrame:
    df = compare(cfg.before, cfg.after, cfg.suite)
    text = (
        f"`python -m benchmark.scripts.compare {cfg.before} {cfg.after} --suite {cfg.suite}`: "
        "success per cell in two runs on the same tasks; p = exact McNemar test, paired per "
        "task.\n\n" + (f"{cfg.note}\n\n" if cfg.note else "") + df.to_markdown(index=False) + "\n"
    )
    if cfg.out:
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
        cfg.out.write_text(text)
    print(text)
    return df


def main(argv: list[str] | None = None) -> pd.DataFrame:
    return run(tyro.cli(CompareConfig, args=argv))


if __name__ == "__main__":
    main()
