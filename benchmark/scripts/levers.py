"""What does each lever buy? Data, model and planning variants on one env, paired on its tasks.

Every lever changes one thing against the quick suite's setup of an env (its dataset, the quick
LeWM, CEM with the quick budget, the env's protocol) and is evaluated on the SAME held-out
tasks: the task file of the quick suite's dataset. A lever that changes the data collects a new
dataset with another seed (``data_seed``, default 1), so none of its training episodes is one the
tasks come from. The table gives success, final-step success, the paired exact test against the
better floor and against the ``base`` row, and the held-out 1-step cosine against copy-last.

Usage:
    python -m benchmark.scripts.levers --env wmbench/Reacher-v0 --levers base receding1 noise0.6
    python -m benchmark.scripts.levers --list          # the levers there are
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark import suites
from benchmark.collect import CollectConfig, collect
from benchmark.evaluate import EvalConfig, evaluate
from benchmark.grid import training
from benchmark.provenance import banner, code_version, fingerprint
from benchmark.scripts.lewm_ab import PAPER_PREDICTOR
from benchmark.stats import mcnemar_exact
from benchmark.tasks import default_tasks_file
from benchmark.train import train

# name -> what it changes: "collect" (CollectConfig fields), "model" (LeWM options), "train"
# (TrainConfig fields), "protocol" (Protocol fields), "planner" (CEM options), "planner_name" or
# "eval" (other EvalConfig fields).
LEVERS: dict[str, dict[str, Any]] = {
    "base": {},
    # data
    "noise0.6": {"collect": {"noise": 0.6}},
    "noise1.0": {"collect": {"noise": 1.0}},
    "episodes2x": {"collect": {"episodes_factor": 2}},
    "episodes4x": {"collect": {"episodes_factor": 4}},
    # model
    "history3": {"model": {"history": 3}},
    "latent128": {"model": {"latent_dim": 128}},
    "steps4000": {"train": {"steps": 4000}},
    "steps8000": {"train": {"steps": 8000}},
    "lr5e-4": {"train": {"lr": 5e-4}},
    "lr6e-3": {"train": {"lr": 6e-3}},
    "lam0.03": {"model": {"lam": 0.03}},
    "px96": {"collect": {"image_size": 96}},
    # the released predictor (history 3, 6 layers, latent 192) at the paper's learning rate
    "paper-pred": {"model": PAPER_PREDICTOR, "train": {"lr": 5e-5}},
    # planning
    "receding1": {"protocol": {"receding": 1}},
    "receding2": {"protocol": {"receding": 2}},
    "horizon10": {"protocol": {"horizon": 10, "receding": 5}},
    "summed": {"planner": {"cost": "summed"}},
    "cem30": {"planner": {"iterations": 30}},
    # about the released CEM's spread: std 1 in z-scored action units is ~0.5-0.8 in the box
    "sigma0.5": {"planner": {"sigma0": 0.5}},
    "mppi": {"planner_name": "mppi"},
    "gd": {"planner_name": "gd"},
    # GD at CEM's model-call budget (benchmark.scripts.planner_budget): 20 restarts of 50 Adam steps
    "gd20": {"planner_name": "gd", "planner": {"restarts": 20}},
    # speed options (must not change the outcome)
    "bf16": {"eval": {"precision": "bf16"}},
    "compile": {"eval": {"compile": True}},
}


@dataclass
class LeversConfig:
    """One env, several levers, the same tasks."""

    env: str = "wmbench/TwoRoom-v0"
    """Env id."""
    levers: tuple[str, ...] = ("base",)
    """Lever names (``--list`` prints them); combine with '+', e.g. noise0.6+receding1."""
    list: bool = False
    """Print the levers and exit."""
    summary: Path | None = None
    """Write the before -> after table of every lever run recorded in the ``levers-*.jsonl``
    files of this folder to ``--out`` (default: print it) and exit."""
    data: Path = Path("data")
    """Datasets and runs."""
    data_seed: int = 1
    """Collection seed of levers that change the data (the tasks come from seed 0's held-out
    episodes)."""
    seed: int = 0
    """Training and planning seed."""
    out: Path | None = None
    """Table output (markdown; rows also appended as JSON lines beside it)."""


def spec_of(name: str) -> dict[str, dict[str, Any]]:
    """The merged changes of ``name`` (levers joined by '+')."""
    merged: dict[str, dict[str, Any]] = {}
    for part in name.split("+"):
        if part not in LEVERS:
            raise SystemExit(f"unknown lever {part!r}; valid: {', '.join(LEVERS)}")
        for kind, change in LEVERS[part].items():
            merged[kind] = change if kind == "planner_name" else {**merged.get(kind, {}), **change}
    return merged


def base_collect(cfg: LeversConfig) -> CollectConfig:
    return suites.collect_config(suites.get("quick"), cfg.env, cfg.data / "datasets")


def run_lever(cfg: LeversConfig, name: str, base_outcomes: np.ndarray | None) -> dict[str, Any]:
    spec = spec_of(name)
    suite = suites.get("quick")
    base = base_collect(cfg)
    base_path = collect(base, progress=False)
    t0 = time.perf_counter()
    if "collect" in spec:
        change = dict(spec["collect"])
        factor = change.pop("episodes_factor", 1)
        data_cfg = dataclasses.replace(
            base, seed=cfg.data_seed, episodes=base.episodes * factor, **change
        )
        dataset = collect(data_cfg, progress=False)
    else:
        dataset = base_path
    collect_s = time.perf_counter() - t0
    # the base model is the quick grid's own run (its checkpoint in --data is reused); a lever
    # that changes the data, the model or the optimiser trains its own run beside it
    train_cfg, _ = training(suite, base, "lewm", cfg.seed, cfg.data, "cpu")
    trained = {k: v for k, v in spec.items() if k in ("collect", "model", "train")}
    if trained:
        train_cfg = dataclasses.replace(
            train_cfg,
            dataset=dataset,
            model_options=dict(spec.get("model", {})),
            **spec.get("train", {}),
        )
        key = fingerprint(
            {
                "data": str(dataset.name),
                "train": train_cfg.record(),
                "spec": trained,
                "code": code_version("train"),
            }
        )
        train_cfg = dataclasses.replace(
            train_cfg, out=cfg.data / "levers" / f"{cfg.env.split('/')[-1]}-{key[:10]}"
        )
    t0 = time.perf_counter()
    ckpt = train(train_cfg, progress=False)
    train_s = time.perf_counter() - t0
    proto = {**dataclasses.asdict(suites.protocol(suite, cfg.env)), **spec.get("protocol", {})}
    planner = spec.get("planner_name", "cem")
    ecfg = EvalConfig(
        planner=planner,
        planner_options={**suites.planner_options("quick", planner), **spec.get("planner", {})},
        n_tasks=suite.n_tasks,
        **proto,
        planner_seed=cfg.seed,
        pred_horizon=1,
        videos=0,
        **spec.get("eval", {}),
    )
    tasks_file = default_tasks_file(base_path, suite.n_tasks, proto["goal_offset"], 0)
    t0 = time.perf_counter()
    rec = evaluate(
        ckpt, dataset, ecfg, device="cpu", tasks_file=tasks_file, tasks_dataset=base_path
    )
    eval_s = time.perf_counter() - t0
    success = np.array([o["success"] for o in rec["outcomes"]], bool)
    low, high = rec["success_ci95"]
    pred = rec["prediction"]
    return {
        "env": cfg.env.split("/")[-1],
        "lever": name,
        "lr": train_cfg.resolved().lr,
        "success %": f"{100 * rec['success_rate']:.0f} [{100 * low:.0f}, {100 * high:.0f}]",
        "final %": round(100 * rec["success_final_rate"]),
        "better floor %": round(100 * rec[f"{rec['better_floor']}_success_rate"]),
        "expert %": round(100 * rec["expert_success_rate"]),
        "p vs floor": float(f"{rec['p_vs_floor']:.2g}"),
        "p vs base": (
            float(f"{mcnemar_exact(success, base_outcomes):.2g}")
            if base_outcomes is not None
            else None
        ),
        "cos@1 (copy)": f"{pred['cos'][0]:.3f} ({pred['cos_copy'][0]:.3f})" if pred else "-",
        "collect s": round(collect_s),
        "train s": round(train_s),
        "eval s": round(eval_s),
        "_success": success.tolist(),
    }


def summarise(folder: Path) -> pd.DataFrame:
    """One row per lever run in ``folder/levers-*.jsonl``: its base's success (the last base
    row of the same env before it, i.e. of the same invocation), its own, the paired p against
    that base and against the better floor, and whether it reaches half the expert's rate."""
    rows = []
    for path in sorted(Path(folder).glob("levers-*.jsonl")):
        base: dict[str, dict[str, Any]] = {}
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if row["lever"] == "base":
                base[row["env"]] = row
                continue
            before = base[row["env"]]
            rate = float(np.mean(row["_success"]))
            rows.append(
                {
                    "env": row["env"],
                    "lever": row["lever"],
                    "lr": row.get("lr", "-"),
                    "base %": before["success %"],
                    "lever %": row["success %"],
                    "change (points)": round(100 * (rate - np.mean(before["_success"]))),
                    "p vs base": row["p vs base"],
                    "p vs floor": row["p vs floor"],
                    ">= half expert": 100 * rate >= row["expert %"] / 2,
                }
            )
    return pd.DataFrame(rows)


def run(cfg: LeversConfig) -> pd.DataFrame:
    if cfg.summary is not None:
        df = summarise(cfg.summary)
        text = (
            f"`python -m benchmark.scripts.levers --summary {cfg.summary}"
            + (f" --out {cfg.out}`" if cfg.out else "`")
            + ": every lever run recorded beside this file, against the base row of its own"
            + " run (same tasks, paired exact test); lr: the lever run's peak learning rate"
            + " ('-' where the row predates recording it).\n\n"
            + df.to_markdown(index=False)
            + "\n"
        )
        if cfg.out:
            cfg.out.write_text(text)
        print(text)
        return df
    if cfg.list:
        for name, spec in LEVERS.items():
            print(f"{name:12s} {json.dumps(spec)}")
        return pd.DataFrame()
    for name in cfg.levers:
        spec_of(name)
    base_outcomes, rows = None, []
    names = list(cfg.levers)
    if "base" in names:  # the base row first: every other row is paired against it
        names.remove("base")
        names.insert(0, "base")
    for name in names:
        row = run_lever(cfg, name, base_outcomes)
        if name == "base":
            base_outcomes = np.array(row["_success"], bool)
        rows.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "_success"}), file=sys.stderr)
        if cfg.out:
            cfg.out.parent.mkdir(parents=True, exist_ok=True)
            with cfg.out.with_suffix(".jsonl").open("a") as f:
                f.write(json.dumps(row) + "\n")
    df = pd.DataFrame(rows).drop(columns=["_success"])
    text = banner("cpu") + "\n" + df.to_markdown(index=False) + "\n"
    print(text)
    if cfg.out:
        with cfg.out.open("a") as f:
            f.write(text + "\n")
    return df


def main(argv: list[str] | None = None) -> pd.DataFrame:
    import tyro

    return run(tyro.cli(LeversConfig, args=argv))


if __name__ == "__main__":
    main()
