"""Build the leaderboard and figures from result records alone.

Usage:
    wmbench report [--out data/results] [--suite quick]

Writes ``<out>/leaderboard.md``, ``<out>/leaderboard.csv``, ``<out>/figures/<suite>/*``
(PNG and PDF) and the HTML page ``<out>/index.html``.
Success rates pool every task over every seed of an (env, model, planner) and come with a
95 % interval never narrower than Wilson's (``benchmark.stats``), beside the floors (no-op,
random policy) and the ceiling (scripted expert) on the same tasks and the exact paired tests
against the better floor and the env's best cell; cosines are means over seeds with the
copy-last baseline and the random-pair floor beside them.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.floors import BASELINES, better_floor
from benchmark.results import load_records
from benchmark.stats import mcnemar_exact, success_interval

COS_HORIZONS = (1, 4, 8)
ALPHA = 0.01
"""A cell is "planning" when it beats its better floor, paired per task, at p < ALPHA."""


@dataclass
class ReportConfig:
    """``python run_benchmark.py report``: leaderboard and figures from records."""

    out: Path = Path("data/results")
    """Directory holding runs/ (records); the report is written there too (results/ is the
    committed leaderboard)."""
    suite: str | None = None
    """Only this suite's records (None: all)."""


def _outcomes(recs: list[dict[str, Any]], key: str = "success") -> np.ndarray:
    """(seeds, tasks) array of one outcome field of the planner."""
    return np.array([[o[key] for o in r["outcomes"]] for r in recs], float)


def _baseline(recs: list[dict[str, Any]], name: str) -> np.ndarray:
    """(seeds, tasks) success of a floor / the ceiling, repeated per seed so it pairs with
    the planner's outcomes (it is computed once per task file, the same for every seed)."""
    return np.array([[o["success"] for o in r["baselines"][name]] for r in recs], float)


def missing_floors(records: list[dict[str, Any]]) -> list[str]:
    """Records without per-task floors and ceiling (made before they existed): to re-run."""
    return [
        r.get("_path", str(r.get("cell")))
        for r in records
        if r.get("status") == "ok"
        and not all(len(r.get("baselines", {}).get(b, [])) == len(r["outcomes"]) for b in BASELINES)
    ]


def leaderboard(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (suite, env, model, planner) from ``ok`` records that carry floors.

    Seeds are pooled: the success interval resamples seeds and held-out episodes (never
    narrower than Wilson's), and the paired tests pair every (seed, task) outcome with the
    floor's, or the best cell's, outcome on the same task.
    """
    usable = set(map(id, records)) - {
        id(r) for r in records if r.get("_path") in set(missing_floors(records))
    }
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("status") == "ok" and id(r) in usable:
            c = r["cell"]
            groups[(r["suite"], c["env_id"], c["model"], c["planner"])].append(r)
    rows = []
    for (suite, env_id, model, planner), recs in sorted(groups.items()):
        recs = sorted(recs, key=lambda r: r["cell"]["seed"])
        digests = {r.get("tasks_digest") for r in recs}
        if len(digests) != 1:
            raise ValueError(
                f"{env_id} {model} {planner}: its seeds were evaluated on different task sets "
                f"({', '.join(map(str, digests))}); re-run them on one task file"
            )
        success = _outcomes(recs)
        episodes = np.array([t["episode"] for t in recs[0]["tasks"]])
        mean, low, high = success_interval(success, episodes)
        rates = {b: float(_baseline(recs, b).mean()) for b in BASELINES}
        floor = better_floor(rates)
        row = {
            "suite": suite,
            "env": env_id.split("/")[-1],
            "model": model,
            "planner": planner,
            "success_%": 100 * mean,
            "ci95_low_%": 100 * low,
            "ci95_high_%": 100 * high,
            "final_%": 100 * float(_outcomes(recs, "success_final").mean()),
            **{f"{b}_%": 100 * rates[b] for b in BASELINES},
            "better_floor": floor,
            "p_vs_floor": mcnemar_exact(success, _baseline(recs, floor)),
            "tasks": success.shape[1],
            "seeds": success.shape[0],
            "episodes": len(set(episodes.tolist())),
            **{
                k: recs[0]["eval_config"][k]
                for k in ("goal_offset", "budget", "horizon", "receding")
            },
            "tasks_digest": digests.pop(),
            "solve_s_per_episode": float(np.mean([r["solve_time_per_episode_s"] for r in recs])),
            "final_distance": float(_outcomes(recs, "final_distance").mean()),
            "_success": success,
            "_seeds": [r["cell"]["seed"] for r in recs],
        }
        row["above_floor"] = bool(
            row["p_vs_floor"] < ALPHA and row["success_%"] > row[f"{floor}_%"]
        )
        for h in COS_HORIZONS:
            for key, name in (
                ("cos", "cos"),
                ("cos_copy", "copy"),
                ("cos_floor", "floor"),
                ("skill", "skill"),
            ):
                vals = [
                    r["prediction"][key][h - 1]
                    for r in recs
                    if r.get("prediction") and len(r["prediction"].get(key, [])) >= h
                ]
                row[f"{name}@{h}"] = float(np.mean(vals)) if vals else np.nan
        row["device"] = ",".join(sorted({r["device"] for r in recs}))
        row["commit"] = ",".join(sorted({r["git_commit"][:10] for r in recs}))
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["p_vs_best"] = [_p_vs_best(df, i) for i in range(len(df))]
    return df.drop(columns=["_success", "_seeds"])


def _p_vs_best(df: pd.DataFrame, i: int) -> float:
    """Exact McNemar of row ``i`` against the best cell (highest success) of its suite and env
    on the same tasks and seeds; 1.0 for the best cell itself."""
    row = df.iloc[i]
    peers = df[
        (df["suite"] == row["suite"])
        & (df["env"] == row["env"])
        & (df["tasks_digest"] == row["tasks_digest"])
    ]
    best = peers.loc[peers["success_%"].idxmax()]
    if best.name == row.name:
        return 1.0
    shared = sorted(set(row["_seeds"]) & set(best["_seeds"]))
    if not shared:
        return float("nan")
    a = row["_success"][[row["_seeds"].index(s) for s in shared]]
    b = best["_success"][[best["_seeds"].index(s) for s in shared]]
    return mcnemar_exact(a, b)


def task_sets(df: pd.DataFrame) -> pd.DataFrame:
    """One row per env: its protocol, its task set and the floors and ceiling measured on it.
    A task set is usable when the expert reaches >= 80 % and the better floor <= 20 %."""
    rows = []
    for env, part in df.groupby("env", sort=True):
        r = part.iloc[0]
        floor = max(r["noop_%"], r["random_%"])
        rows.append(
            {
                "env": env,
                "goal offset": r["goal_offset"],
                "budget": r["budget"],
                "plan (blocks x replan)": f"{r['horizon']} x {r['receding'] or r['horizon']}",
                "tasks (episodes)": f"{r['tasks']} ({r['episodes']})",
                "no-op %": f"{r['noop_%']:.0f}",
                "random %": f"{r['random_%']:.0f}",
                "expert %": f"{r['expert_%']:.0f}",
                "usable": "yes" if r["expert_%"] >= 80 and floor <= 20 else "NO",
            }
        )
    return pd.DataFrame(rows)


def _p(p: float) -> str:
    if np.isnan(p):
        return "-"
    return f"{p:.0e}" if p < 0.001 else f"{p:.3f}"


def _markdown(df: pd.DataFrame, failed: list[dict], problems: list[str], rerun: list[str]) -> str:
    lines = [
        "# wmbench leaderboard",
        "",
        "Success: the env's published criterion fired within the step budget, over "
        "held-out (start, goal) tasks, pooled over seeds; [95% interval: the wider of Wilson's "
        "and a bootstrap over held-out episodes and seeds]. final: the criterion holds at the "
        "last step. Floors and ceiling on the same tasks, budget and criterion: no-op (zero "
        "actions), random (uniform actions held one action block), expert (the scripted expert, "
        "noise off). p floor: exact McNemar test, paired per task, against the better floor; "
        f"p best: the same against the best cell of the env. Cells marked * are not above "
        f"their better floor (p >= {ALPHA} or not higher). cos@h: cosine of the h-block "
        "open-loop prediction to the encoded true frame (copy = last context frame, "
        "floor = random pairs). skill@1: (cos@1 - copy) / (1 - copy), 0 = no better than "
        "copying the last frame, 1 = perfect, comparable across models whose cosines have "
        "different floors. Built by `wmbench report` from the records under runs/.",
        "",
    ]
    if df.empty:
        lines += [
            "**No cell succeeded**: there is nothing to rank. See the failed cells and the "
            "records listed below.",
            "",
        ]
    for suite, part in () if df.empty else df.groupby("suite", sort=False):
        lines += [f"## suite `{suite}`", "", task_sets(part).to_markdown(index=False), ""]
        show = pd.DataFrame(
            {
                "env": part["env"],
                "model": part["model"],
                "planner": part["planner"],
                "success %": [
                    f"{m:.0f} [{lo:.0f}, {hi:.0f}]{'' if ok else ' *'}"
                    for m, lo, hi, ok in zip(
                        part["success_%"],
                        part["ci95_low_%"],
                        part["ci95_high_%"],
                        part["above_floor"],
                    )
                ],
                "final %": part["final_%"].map(lambda x: f"{x:.0f}"),
                "no-op %": part["noop_%"].map(lambda x: f"{x:.0f}"),
                "random %": part["random_%"].map(lambda x: f"{x:.0f}"),
                "expert %": part["expert_%"].map(lambda x: f"{x:.0f}"),
                "p floor": part["p_vs_floor"].map(_p),
                "p best": part["p_vs_best"].map(_p),
                "tasks x seeds": [f"{t} x {s}" for t, s in zip(part["tasks"], part["seeds"])],
                "solve s/ep": part["solve_s_per_episode"].map(lambda x: f"{x:.3f}"),
            }
        )
        # skill = (cos - copy) / (1 - copy): 0 = copying the last frame, 1 = perfect; unlike
        # the raw cosine it compares models whose latents have different floors
        show["skill@1"] = part["skill@1"].map(lambda x: "-" if np.isnan(x) else f"{x:.2f}")
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
    if rerun:
        lines += [
            "## records to re-run",
            "",
            "These records hold no per-task floors and ceiling (made by an older wmbench), so "
            "their cells are left out; re-run their suite (`python run_benchmark.py --suite "
            "<suite>`) to replace them:",
            "",
        ]
        lines += [f"- `{p}`" for p in rerun] + [""]
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
    from benchmark import html, plots

    records, problems = load_records(cfg.out, cfg.suite)
    if not records and not problems:
        raise FileNotFoundError(
            f"no records under {Path(cfg.out) / 'runs'}; run the suite first "
            "(python run_benchmark.py)"
        )
    rerun = missing_floors(records)
    for path in rerun:
        warnings.warn(f"{path} has no per-task floors and ceiling; re-run its cell", stacklevel=2)
    df = leaderboard(records)
    failed = [r for r in records if r.get("status") != "ok"]
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leaderboard.md").write_text(_markdown(df, failed, problems, rerun))
    df.to_csv(out / "leaderboard.csv", index=False, float_format="%.4g")
    ok = [r for r in records if r.get("status") == "ok" and r.get("_path") not in set(rerun)]
    figures: dict[str, list[Path]] = {}
    for suite in sorted({r["suite"] for r in ok}):
        # one folder per suite: a figure never mixes suites
        mine = [r for r in ok if r["suite"] == suite]
        part = df[df["suite"] == suite] if not df.empty else df
        drawn = plots.all_figures(mine, part, out / "figures" / suite)
        figures[suite] = [f.resolve() for f in drawn]  # the page links them relative to out
    if not ok:
        warnings.warn(
            f"no cell under {Path(cfg.out) / 'runs'} succeeded: the leaderboard lists only the "
            "failures, and no figures were drawn",
            stacklevel=2,
        )
    html.write_html(df, [r for r in records if r.get("_path") not in set(rerun)], out, figures)
    return df
