"""Two runs of a suite, cell by cell: what a change (a preset, a protocol, the code) bought.

Pairs the records of two ``--out`` folders per cell and per task, so a change is read with the
paired exact test on the same tasks, like every other comparison in wmbench. Cells whose task
sets differ are refused (their outcomes cannot be paired).

With ``--fields`` it also lists, per cell, every record field whose value differs, setting
apart the ones expected to differ between two runs of the same computation (wall times, the
commit and code hashes, names derived from them): a refactor that keeps every number leaves
no other field.

Usage:
    python -m benchmark.scripts.compare BEFORE AFTER --suite quick --out results/benchmarks/x.md
    python -m benchmark.scripts.compare BEFORE AFTER --suite smoke --fields
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tyro

from benchmark.results import Cell, load_records
from benchmark.stats import mcnemar_exact

KEY = ("env", "model", "planner", "seed")

# Record fields that differ between two runs of the same computation (globs over the flattened
# field paths): wall times, provenance, and names or hashes derived from the code version.
EXPECTED: dict[str, tuple[str, ...]] = {
    "wall time": ("*wall_s", "*time*_s", "finished_at", "*solve_time*"),
    "provenance": ("git_commit", "code_version.*", "versions.*", "device_name", "command"),
    "derived from the code version": (
        "cell_fingerprint",
        "checkpoint.run_fingerprint",
        "checkpoint.path",
        "config.train.out",
        "config.train.dataset",
        "videos*",
    ),
}


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
    fields: bool = False
    """Also list every record field that differs per cell (see ``EXPECTED``)."""


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


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists as ``{"a.b[2].c": leaf}``."""
    if isinstance(value, dict):
        items = [(f"{prefix}.{k}" if prefix else str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(f"{prefix}[{i}]", v) for i, v in enumerate(value)]
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, v in items:
        out.update(flatten(v, key))
    return out if out else {prefix: value}


def expected_kind(path: str) -> str | None:
    """Which ``EXPECTED`` group a differing field belongs to, if any."""
    for kind, patterns in EXPECTED.items():
        if any(fnmatch.fnmatch(path, p) for p in patterns):
            return kind
    return None


def field_diff(before: Path, after: Path, suite: str = "quick") -> pd.DataFrame:
    """One row per cell in both runs: fields compared, and the fields whose values differ,
    split into the expected groups and the rest (``other``: what a refactor must not change)."""
    old, _ = load_records(before, suite)
    new, _ = load_records(after, suite)

    def by_cell(records: list[dict]) -> dict[str, dict[str, Any]]:
        # ``_path`` is where load_records found the record, not part of it
        return {
            Cell(**r["cell"]).key: flatten({k: v for k, v in r.items() if k != "_path"})
            for r in records
        }

    a, b = by_cell(old), by_cell(new)
    rows = []
    for cell in sorted(set(a) & set(b)):
        fa, fb = a[cell], b[cell]
        missing = object()
        differ = [k for k in sorted(set(fa) | set(fb)) if fa.get(k, missing) != fb.get(k, missing)]
        groups: dict[str, list[str]] = {kind: [] for kind in EXPECTED}
        other = []
        for k in differ:
            kind = expected_kind(k)
            if kind:
                groups[kind].append(k)
            else:
                other.append(f"{k}: {_shown(fa, k)} -> {_shown(fb, k)}")
        rows.append(
            {
                "cell": cell,
                "fields": len(set(fa) | set(fb)),
                **{kind: len(keys) for kind, keys in groups.items()},
                "other": "; ".join(other) or "none",
            }
        )
    return pd.DataFrame(rows)


def _shown(fields: dict[str, Any], key: str) -> str:
    return repr(fields[key]) if key in fields else "absent"


def run(cfg: CompareConfig) -> pd.DataFrame:
    df = compare(cfg.before, cfg.after, cfg.suite)
    flags = " --fields" if cfg.fields else ""
    text = (
        f"`python -m benchmark.scripts.compare {cfg.before} {cfg.after} --suite {cfg.suite}"
        f"{flags}`: success per cell in two runs on the same tasks; p = exact McNemar test, "
        "paired per task.\n\n"
        + (f"{cfg.note}\n\n" if cfg.note else "")
        + df.to_markdown(index=False)
        + "\n"
    )
    if cfg.fields:
        text += (
            "\nRecord fields that differ per cell (counts per expected group; `other` lists "
            "every remaining difference):\n\n"
            + field_diff(cfg.before, cfg.after, cfg.suite).to_markdown(index=False)
            + "\n"
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
