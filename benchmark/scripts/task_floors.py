"""Is a task set solvable, and not by chance? Floors and ceiling per goal offset and budget.

For each env and each (goal offset, budget) asked for, draws the held-out tasks of a dataset
exactly as the evaluation does and prints the success of the two floors (doing nothing, a random
policy held one action block) and of the ceiling (the noiseless scripted expert). A task set is
usable when the expert reaches >= 80 % and the better floor stays <= 20 %; this is how each env's
protocol in ``benchmark/suites.py`` was chosen, and how a new env's is.

Usage:
    python -m benchmark.scripts.task_floors --dataset data/datasets/<name> --offsets 25 50 100
    python -m benchmark.scripts.task_floors --suite quick          # every env of a suite's protocol
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import envs
from benchmark import suites
from benchmark.datasets import Recording
from benchmark.floors import BASELINES, run_baseline
from benchmark.provenance import banner
from benchmark.stats import wilson_interval
from benchmark.tasks import sample_tasks

USABLE_CEILING = 0.8
USABLE_FLOOR = 0.2


@dataclass
class TaskFloorsConfig:
    """Floors and ceiling of candidate task protocols."""

    dataset: tuple[Path, ...] = ()
    """Datasets to draw tasks from (held-out split); empty with --suite: the suite's datasets
    under --data."""
    suite: str | None = None
    """Check every env of this suite with its own protocol (and the datasets it collects)."""
    data: Path = Path("data")
    """Where the suite's datasets live (with --suite)."""
    offsets: tuple[int, ...] = ()
    """Goal offsets (env steps) to try; empty: the suite's protocol per env."""
    budget_factor: float = 2.0
    """Budget = this x the goal offset, when --offsets is given."""
    n_tasks: int = 0
    """Tasks per set; 0: the suite's (with --suite), else 50."""
    frameskip: int = 5
    """Env steps per action block (the random policy holds each action this long)."""
    seed: int = 0
    """Task draw seed."""
    out: Path | None = None
    """Also write the table (markdown) here."""


def measure(rec: Recording, offset: int, budget: int, n_tasks: int, frameskip: int, seed: int):
    env = envs.make(rec.env_id, image_size=rec.image_size).unwrapped
    try:
        tasks = sample_tasks(rec, n_tasks, offset, seed)
        row = {
            "env": rec.env_id.split("/")[-1],
            "goal offset": offset,
            "budget": budget,
            "tasks": len(tasks),
            "episodes": len({t.episode for t in tasks}),
        }
        for name in BASELINES:
            outs = run_baseline(env, name, tasks, budget, frameskip, seed)
            k = sum(o.success for o in outs)
            low, high = wilson_interval(k, len(outs))
            row[f"{name} %"] = f"{100 * k / len(outs):.0f} [{100 * low:.0f}, {100 * high:.0f}]"
            row[f"_{name}"] = k / len(outs)
    finally:
        env.close()
    row["usable"] = (
        row["_expert"] >= USABLE_CEILING and max(row["_noop"], row["_random"]) <= USABLE_FLOOR
    )
    return row


def run(cfg: TaskFloorsConfig) -> pd.DataFrame:
    jobs: list[tuple[Path, int, int, int]] = []
    if cfg.suite:
        suite = suites.get(cfg.suite)
        for env_id in suite.envs:
            path = suites.collect_config(suite, env_id, cfg.data / "datasets").path
            proto = suites.protocol(suite, env_id)
            for off in cfg.offsets or (proto.goal_offset,):
                budget = proto.budget if not cfg.offsets else int(cfg.budget_factor * off)
                jobs.append((path, off, budget, cfg.n_tasks or suite.n_tasks))
    for path in cfg.dataset:
        for off in cfg.offsets or (25,):
            jobs.append((path, off, int(cfg.budget_factor * off), cfg.n_tasks or 50))
    if not jobs:
        raise SystemExit("give --dataset or --suite")
    rows = []
    for path, off, budget, n_tasks in jobs:
        rec = Recording.open(path, progress=False)
        rows.append(measure(rec, off, budget, n_tasks, cfg.frameskip, cfg.seed))
        print({k: v for k, v in rows[-1].items() if not k.startswith("_")}, file=sys.stderr)
    df = pd.DataFrame(rows)
    df = df[[c for c in df.columns if not c.startswith("_")]]
    text = banner() + "\n"
    text += df.to_markdown(index=False) + "\n"
    print(text)
    if cfg.out:
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
        cfg.out.write_text(text)
    return df


def main(argv: list[str] | None = None) -> pd.DataFrame:
    import tyro

    return run(tyro.cli(TaskFloorsConfig, args=argv))


if __name__ == "__main__":
    main()
