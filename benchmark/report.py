"""Build the leaderboard and figures from result records alone.

Usage:
    python run_benchmark.py report [--out results] [--suite quick]

Writes ``<out>/leaderboard.md``, ``<out>/leaderboard.csv`` and ``<out>/figures/*.png``.
Success rates pool every task over every seed of an (env, model, planner) and come with a
95 % percentile-bootstrap interval; cosines are means over seeds with the copy-last baseline
and the random-pair floor beside them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.metrics import bootstrap_ci
from benchmark.results import load_records

COS_HORIZONS = (1, 4, 8)


@dataclass
class ReportConfig:
    """``python run_benchmark.py report``: leaderboard and figures from records."""

    out: Path = Path("results")
    """Directory holding runs/ (records); the report is written there too."""
    suite: str | None = None
    """Only this suite's records (None: all)."""


def _noop_percent(recs: list[dict[str, Any]]) -> float:
    """Success % of doing nothing on the same tasks (NaN for records made without it)."""
    hits = [h for r in recs for h in (r.get("noop_success") or [])]
    return 100 * float(np.mean(hits)) if hits else np.nan


def leaderboard(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (suite, env, model, planner) from ``ok`` records."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("status") == "ok":
            c = r["cell"]
            groups[(r["suite"], c["env_id"], c["model"], c["planner"])].append(r)
    rows = []
    for (suite, env_id, model, planner), recs in sorted(groups.items()):
        outcomes = np.array([o["success"] for r in recs for o in r["outcomes"]], float)
        mean, low, high = bootstrap_ci(outcomes)
        row = {
            "suite": suite,
            "env": env_id.split("/")[-1],
            "model": model,
            "planner": planner,
            "success_%": 100 * mean,
            "ci95_low_%": 100 * low,
            "ci95_high_%": 100 * high,
            "noop_%": _noop_percent(recs),
            "tasks": len(outcomes),
            "seeds": len(recs),
            "solve_s_per_episode": float(np.mean([r["solve_time_per_episode_s"] for r in recs])),
            "final_distance": float(
                np.mean([o["final_distance"] for r in recs for o in r["outcomes"]])
            ),
        }
        for h in COS_HORIZONS:
            for key, name in (("cos", "cos"), ("cos_copy", "copy"), ("cos_floor", "floor")):
                vals = [
                    r["prediction"][key][h - 1]
                    for r in recs
                    if r.get("prediction") and len(r["prediction"].get(key, [])) >= h
                ]
                row[f"{name}@{h}"] = float(np.mean(vals)) if vals else np.nan
        row["device"] = ",".join(sorted({r["device"] for r in recs}))
        row["commit"] = ",".join(sorted({r["git_commit"][:10] for r in recs}))
        rows.append(row)
    return pd.DataFrame(rows)


def _markdown(df: pd.DataFrame, failed: list[dict], problems: list[str]) -> str:
    lines = [
        "# wmbench leaderboard",
        "",
        "Success: the env's published criterion fired within the step budget, over "
        "held-out (start, goal) tasks; [95% bootstrap CI]. no-op: success of doing nothing "
        "(zero actions) on the same tasks, the floor to beat. cos@h: cosine of the h-block "
        "open-loop prediction to the encoded true frame (copy = last context frame, "
        "floor = random pairs). Built by `python run_benchmark.py report` from the records "
        "under runs/.",
        "",
    ]
    for suite, part in df.groupby("suite", sort=False):
        lines += [f"## suite `{suite}`", ""]
        show = pd.DataFrame(
            {
                "env": part["env"],
                "model": part["model"],
                "planner": part["planner"],
                "success %": [
                    f"{m:.0f} [{lo:.0f}, {hi:.0f}]"
                    for m, lo, hi in zip(part["success_%"], part["ci95_low_%"], part["ci95_high_%"])
                ],
                "no-op %": part["noop_%"].map(lambda x: "-" if np.isnan(x) else f"{x:.0f}"),
                "tasks x seeds": [f"{t // s} x {s}" for t, s in zip(part["tasks"], part["seeds"])],
                "solve s/ep": part["solve_s_per_episode"].map(lambda x: f"{x:.3f}"),
            }
        )
        for h in COS_HORIZONS:
            show[f"cos@{h} (copy/floor)"] = [
                "-" if np.isnan(c) else f"{c:.2f} ({cp:.2f}/{fl:.2f})"
                for c, cp, fl in zip(part[f"cos@{h}"], part[f"copy@{h}"], part[f"floor@{h}"])
            ]
        lines += [
            show.to_markdown(index=False),
            "",
            f"Device: {', '.join(sorted(set(part['device'])))}; commit: "
            f"{', '.join(sorted(set(part['commit'])))}.",
            "",
        ]
    if failed:
        lines += ["## failed cells", ""]
        lines += [
            f"- `{r['cell']['env_id']} {r['cell']['model']} {r['cell']['planner']} "
            f"s{r['cell']['seed']}`: {r['error']}"
            for r in failed
        ]
        lines.append("")
    if problems:
        lines += ["## records not included", ""] + [f"- {p}" for p in problems] + [""]
    return "\n".join(lines)


def build_report(cfg: ReportConfig) -> pd.DataFrame:
    """Writes the leaderboard (md + csv) and figures; returns the leaderboard table."""
    from benchmark import plots

    records, problems = load_records(cfg.out, cfg.suite)
    if not records and not problems:
        raise FileNotFoundError(
            f"no records under {Path(cfg.out) / 'runs'}; run the suite first "
            "(python run_benchmark.py)"
        )
    df = leaderboard(records)
    failed = [r for r in records if r.get("status") != "ok"]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.md").write_text(_markdown(df, failed, problems))
    df.to_csv(out / "leaderboard.csv", index=False, float_format="%.4f")
    ok = [r for r in records if r.get("status") == "ok"]
    if ok:
        plots.all_figures(ok, df, out / "figures")
    return df
