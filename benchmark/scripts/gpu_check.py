"""The paper LeWM on one GPU in one command (8 min plus compiling): speed, planning, learning.

Prints three tables:

1. training s/step and TFLOP/s of the paper presets (LeWM, Dreamer, TD-MPC2) at batch 128,
   224 px, and of the LeWM with its loss compiled;
2. planning time and TFLOP/s of the paper LeWM for CEM, MPPI, GRASP and GD at B = 1 and B = 50
   episodes, in fp32 and bf16, and for CEM and MPPI with the one-step function compiled (fp32
   and bf16);
3. TwoRoom at 224 px end to end: collect ``--episodes`` expert episodes, train the ``gpu`` preset
   (the paper architecture, a higher learning rate) for a fixed wall-clock budget (the step count
   comes from the measured s/step), then plan 50 held-out tasks with CEM, beside the floors
   (doing nothing, a random policy) and the expert ceiling on the same tasks; with the fraction
   of training wall time spent waiting for data.

The compiled rows add compile time (inductor, CUDA graphs) to the eight minutes; ``--skip``
leaves parts out. ``--dry-run`` compiles with the ``eager`` backend (the code path only).

Usage:
    python -m benchmark.scripts.gpu_check            # on a GPU box (8 min on an H200 + compiling)
    python -m benchmark.scripts.gpu_check --dry-run  # tiny sizes on the CPU (what CI runs)

On a CPU without ``--dry-run`` it runs, very slowly (the paper preset is sized for a GPU).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tabulate import tabulate

from agents.speed import SolveSpeed
from benchmark import suites
from benchmark.collect import CollectConfig, collect
from benchmark.device import resolve_device
from benchmark.evaluate import EvalConfig, evaluate
from benchmark.provenance import banner
from benchmark.scripts import planning_speed, train_speed
from benchmark.train import TrainConfig, read_history, train

ENV = "wmbench/TwoRoom-v0"
PLANNERS = ("cem", "mppi", "grasp", "gd")
COMPILED_PLANNERS = ("cem", "mppi")  # the same rollout shapes: one set of compiled graphs


@dataclass
class GPUCheckConfig:
    """Paper-LeWM speed and a TwoRoom learning check sized for one GPU."""

    device: str = "auto"
    """auto (CUDA when present), cpu or cuda[:i]."""
    dry_run: bool = False
    """Tiny sizes everywhere (28 px, few steps and tasks): checks the code path on a CPU."""
    episodes: int = 400
    """TwoRoom expert episodes to collect (100 steps each)."""
    train_budget_s: float = 240.0
    """Wall-clock training budget of the TwoRoom run; steps = budget / measured s/step."""
    n_tasks: int = 50
    """Held-out planning tasks."""
    data: Path = Path("data/gpu_check")
    """Dataset and run directory."""
    out: Path | None = Path("results/benchmarks/gpu_check.md")
    """Where the three tables go (None: print only)."""
    skip: tuple[str, ...] = ()
    """Parts to skip: train_speed, planning, tworoom."""


def _backend(cfg: GPUCheckConfig) -> str | None:
    """``eager`` in a dry run (the code path without inductor's minutes of compiling)."""
    return "eager" if cfg.dry_run else None


def _speed_rows(cfg: GPUCheckConfig, device: torch.device) -> list[dict[str, Any]]:
    if cfg.dry_run:
        size: dict[str, Any] = dict(preset="smoke", batch_size=4, steps=1, warmup=1)
    else:
        size = dict(preset="paper", batch_size=128, steps=10)
    # the three models, then the LeWM again with its loss compiled
    runs = [("lewm", False), ("dreamer", False), ("tdmpc2", False), ("lewm", True)]
    return [
        train_speed.measure(
            model, device=device, compile=compile, compile_backend=_backend(cfg), **size
        )
        for model, compile in runs
    ]


def _planning_speeds(cfg: GPUCheckConfig) -> list[tuple[tuple[str, ...], SolveSpeed]]:
    """Which planners run at which speed options."""
    backend = _backend(cfg)
    return [
        (PLANNERS, SolveSpeed("fp32")),
        (PLANNERS, SolveSpeed("bf16")),
        (COMPILED_PLANNERS, SolveSpeed("fp32", compile=True, backend=backend)),
        (COMPILED_PLANNERS, SolveSpeed("bf16", compile=True, backend=backend)),
    ]


def _planning_rows(cfg: GPUCheckConfig, device: torch.device) -> list[dict[str, Any]]:
    spec = "lewm-smoke" if cfg.dry_run else "lewm-paper"
    model = planning_speed.make_world_model(spec).to(device).eval()
    budget = planning_speed.BUDGETS["tiny" if cfg.dry_run else "default"]
    rows = []
    for names, speed in _planning_speeds(cfg):
        for name in names:
            for batch in (1, 2) if cfg.dry_run else (1, 50):
                rows.append(planning_speed.measure(model, name, batch, 5, budget, device, 1, speed))
    return rows


def _tworoom(cfg: GPUCheckConfig, device: torch.device, s_per_step: float) -> dict[str, Any]:
    size, episodes, steps = (28, 12, 30) if cfg.dry_run else (224, cfg.episodes, 100)
    t0 = time.perf_counter()
    dataset = collect(
        CollectConfig(
            env_id=ENV,
            episodes=episodes,
            steps=steps,
            image_size=size,
            root=cfg.data / "datasets",
        ),
        progress=not cfg.dry_run,
    )
    collect_s = time.perf_counter() - t0
    train_steps = 3 if cfg.dry_run else max(100, int(cfg.train_budget_s / s_per_step))
    tcfg = TrainConfig(
        dataset=dataset,
        out=cfg.data / "runs" / f"tworoom-lewm-gpu-{size}px-{train_steps}",
        model="lewm",
        preset="gpu",
        steps=train_steps,
        batch_size=4 if cfg.dry_run else None,
        warmup_steps=1 if cfg.dry_run else None,
        device=str(device),
    )
    t0 = time.perf_counter()
    ckpt = train(tcfg, progress=not cfg.dry_run)
    train_s = time.perf_counter() - t0
    waits = [r["data_wait_frac"] for r in read_history(tcfg.out) if "data_wait_frac" in r]
    proto = suites.protocol(suites.get("quick"), ENV)
    ecfg = EvalConfig(
        planner="cem",
        planner_options=(
            {"samples": 16, "elites": 4, "iterations": 2}
            if cfg.dry_run
            else suites.planner_options("paper", "cem")
        ),
        n_tasks=3 if cfg.dry_run else cfg.n_tasks,
        **dataclasses.asdict(proto),
        pred_horizon=2,
        pred_windows=8 if cfg.dry_run else 256,
        videos=0,
    )
    t0 = time.perf_counter()
    rec = evaluate(ckpt, dataset, ecfg, device=str(device))
    low, high = rec["success_ci95"]
    pred = rec["prediction"]
    return {
        "px": size,
        "episodes": episodes,
        "collect s": round(collect_s, 1),
        "train steps": train_steps,
        "train s": round(train_s, 1),
        "data wait %": round(100 * sum(waits) / len(waits), 1) if waits else "-",
        "cos@1 (copy)": f"{pred['cos'][0]:.3f} ({pred['cos_copy'][0]:.3f})" if pred else "-",
        "CEM success %": f"{100 * rec['success_rate']:.0f} [{100 * low:.0f}, {100 * high:.0f}]",
        "no-op / random / expert %": "/".join(
            f"{100 * rec[f'{b}_success_rate']:.0f}" for b in ("noop", "random", "expert")
        ),
        "p vs floor": f"{rec['p_vs_floor']:.2g}",
        "eval s": round(time.perf_counter() - t0, 1),
    }


def run(cfg: GPUCheckConfig) -> dict[str, Any]:
    device = resolve_device(cfg.device)
    unknown = set(cfg.skip) - {"train_speed", "planning", "tworoom"}
    if unknown:
        raise SystemExit(f"unknown --skip {sorted(unknown)}; valid: train_speed, planning, tworoom")
    parts: dict[str, Any] = {}
    text = banner(str(device)) + "\n"
    started = time.perf_counter()
    if "train_speed" not in cfg.skip:
        parts["train_speed"] = _speed_rows(cfg, device)
        text += "Training, paper presets (fused AdamW on CUDA):\n\n" + tabulate(
            parts["train_speed"], "keys", "github"
        )
        print(text, flush=True)
    if "planning" not in cfg.skip:
        parts["planning"] = _planning_rows(cfg, device)
        table = tabulate(parts["planning"], "keys", "github")
        text += "\n\nPlanning, paper LeWM, horizon 5, fp32 / bf16 / compiled:\n\n" + table
        print(table, flush=True)
    if "tworoom" not in cfg.skip:
        lewm = next((r for r in parts.get("train_speed", []) if r["model"] == "lewm"), None)
        s_per_step = lewm["s/step"] if lewm else 0.071
        parts["tworoom"] = _tworoom(cfg, device, s_per_step)
        table = tabulate([parts["tworoom"]], "keys", "github")
        text += "\n\nTwoRoom end to end, gpu preset:\n\n" + table
        print(table, flush=True)
    text += f"\n\ntotal {time.perf_counter() - started:.0f} s\n"
    print(f"total {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if cfg.out:
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
        cfg.out.write_text(text)
        cfg.out.with_suffix(".json").write_text(json.dumps(parts, indent=1, default=str))
    return parts


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import tyro

    return run(tyro.cli(GPUCheckConfig, args=argv))


if __name__ == "__main__":
    main()
