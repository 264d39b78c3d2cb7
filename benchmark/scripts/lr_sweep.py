"""The same tuning budget for every world model: three learning rates, chosen on held-out skill.

Each model is trained with the suite's trainer and presets at three peak learning rates, its
preset's value times 1/3, 1 and 3, on the suite's dataset of one env, and scored on OTHER
episodes: a validation dataset collected with another seed (``val_seed``), whose windows none of
the planning tasks come from. The score, fixed before any result was seen, is the mean over
horizons 1..``horizon`` of the prediction skill (cos - cos_copy) / (1 - cos_copy) on
``windows`` validation windows (0 = no better than copying the last frame, 1 = exact); the
table also gives skill@1, the MSE ratio to copy-last and, per model, which rate wins. Planning
success is never looked at.

Every run is the grid's own run of its rate (``grid.training`` names both), so the preset's
rate reuses a suite's checkpoint in ``--data``, and a suite that adopts a swept rate
(``suites.LEARNING_RATES``) reuses the sweep's. ``train s`` is the recorded training wall time,
which other jobs on the machine lengthen.

Usage:
    python -m benchmark.scripts.lr_sweep --models lewm dreamer tdmpc2 tdmpc2-sigreg \\
        --out results/benchmarks/lr_sweep.md
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from agents import world_models
from benchmark import suites
from benchmark.checkpoint import load_model
from benchmark.checkpoint import windows as checkpoint_windows
from benchmark.collect import CollectConfig, collect
from benchmark.datasets import Recording
from benchmark.device import resolve_device
from benchmark.evaluate import prediction_report
from benchmark.grid import training
from benchmark.provenance import banner
from benchmark.train import TrainConfig, TrainingDiverged, train


@dataclass
class SweepConfig:
    """One env, several models, three learning rates each."""

    env: str = "wmbench/TwoRoom-v0"
    """Env id (the suite's dataset of it is the training data)."""
    models: tuple[str, ...] = ("lewm", "dreamer", "tdmpc2", "tdmpc2-sigreg")
    """World models."""
    factors: tuple[float, ...] = (1 / 3, 1.0, 3.0)
    """Learning rates as multiples of each model's preset rate."""
    suite: str = "quick"
    """Preset of the data, the model and the optimiser."""
    data: Path = Path("data")
    """Datasets and runs (the grid's checkpoints there are reused)."""
    val_seed: int = 1
    """Collection seed of the validation episodes (the suite's dataset is seed 0)."""
    val_episodes: int = 50
    """Validation episodes (the suite's episode length)."""
    horizon: int = 8
    """Prediction horizons scored (action blocks)."""
    windows: int = 1024
    """Validation windows scored."""
    seed: int = 0
    """Training seed."""
    device: str = "cpu"
    """cpu, cuda[:i] or auto."""
    out: Path | None = None
    """Table output (markdown; rows also written as JSON lines beside it)."""


def val_dataset(base: CollectConfig, cfg: SweepConfig) -> Path:
    """The validation dataset: the suite's collection ``base`` of the env with another seed."""
    return collect(
        dataclasses.replace(base, seed=cfg.val_seed, episodes=cfg.val_episodes), progress=False
    )


def score(checkpoint: Path, train_data: Path, val: Path, cfg: SweepConfig) -> dict[str, Any]:
    """Held-out prediction of ``checkpoint`` on every episode of the validation dataset."""
    dev = resolve_device(cfg.device)
    rec = Recording.open(train_data, progress=False)
    model, meta = load_model(checkpoint, dev, dataset_fingerprint=rec.info["fingerprint"])
    model.eval()
    frameskip = checkpoint_windows(meta).frameskip
    vrec = Recording.open(val, env_id=rec.env_id, progress=False)
    pred = prediction_report(model, vrec, frameskip, cfg.horizon, cfg.windows, dev, split="all")
    skill = np.asarray(pred["skill"])
    mse_ratio = np.asarray(pred["mse"]) / np.asarray(pred["mse_copy"])
    return {
        "score": float(skill.mean()),
        "skill@1": float(skill[0]),
        f"skill@{len(skill)}": float(skill[-1]),
        "mse/copy@1": float(mse_ratio[0]),
        "cos@1 (copy)": f"{pred['cos'][0]:.3f} ({pred['cos_copy'][0]:.3f})",
        "train s": meta.get("train_wall_s"),
        "step": meta["step"],
    }


def run(cfg: SweepConfig) -> pd.DataFrame:
    suite = suites.get(cfg.suite)
    for model in cfg.models:
        world_models.model_class(model)  # an unknown name fails before any work
    collect_cfg = suites.collect_config(suite, cfg.env, cfg.data / "datasets")
    train_data = collect(collect_cfg, progress=False)
    val = val_dataset(collect_cfg, cfg)
    runs = []
    for model in cfg.models:
        preset_lr = TrainConfig(Path(), Path(), model=model, preset=cfg.suite).resolved().lr
        runs += [(model, preset_lr, lr) for lr in rates(preset_lr, cfg.factors)]
    rows = []
    for model, preset_lr, lr in (bar := tqdm(runs, desc="lr sweep", unit="run")):
        bar.set_postfix_str(f"{model} lr {lr:g}")
        tcfg, _ = training(suite, collect_cfg, model, cfg.seed, cfg.data, cfg.device, lr=lr)
        row: dict[str, Any] = {"model": model, "lr": lr, "preset lr": preset_lr}
        t0 = time.perf_counter()
        try:
            ckpt = train(tcfg, progress=False)
        except TrainingDiverged as err:
            row.update(score=float("nan"), note=f"diverged: {err}")
        else:
            row.update(score(ckpt, train_data, val, cfg), run=tcfg.out.name)
            if row["train s"] is None:
                row["train s"] = time.perf_counter() - t0
        bar.write(json.dumps(row))
        rows.append(row)
    return choose(pd.DataFrame(rows))


def rates(preset_lr: float, factors: tuple[float, ...]) -> list[float]:
    """The swept learning rates: ``preset_lr`` times each factor, to 3 significant digits.

    >>> rates(2e-3, (1 / 3, 1.0, 3.0))
    [0.000667, 0.002, 0.006]
    """
    return [float(f"{preset_lr * f:.3g}") for f in factors]


def choose(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``chosen`` column: per model, the row of the highest score (a diverged
    run, score NaN, is never chosen; a model whose every run diverged has none)."""
    best = df.dropna(subset=["score"]).groupby("model")["score"].idxmax()
    return df.assign(chosen=df.index.isin(best.values))


def write(df: pd.DataFrame, cfg: SweepConfig) -> str:
    shown = df.copy()
    for col in shown.columns:
        if shown[col].dtype == float and col not in ("lr", "preset lr"):
            shown[col] = shown[col].round(3 if col != "train s" else 0)
    text = (
        banner(cfg.device)
        + f"\nenv {cfg.env}, suite {cfg.suite}, training seed {cfg.seed}; validation: "
        + f"{cfg.val_episodes} episodes collected with seed {cfg.val_seed}, {cfg.windows} "
        + f"windows; score = mean skill over horizons 1..{cfg.horizon}.\n\n"
        + shown.to_markdown(index=False)
        + "\n"
    )
    if cfg.out:
        cfg.out.parent.mkdir(parents=True, exist_ok=True)
        cfg.out.write_text(text)
        with cfg.out.with_suffix(".jsonl").open("w") as f:
            for row in df.to_dict("records"):
                f.write(json.dumps(row) + "\n")
    return text


def main(argv: list[str] | None = None) -> pd.DataFrame:
    import tyro

    cfg = tyro.cli(SweepConfig, args=argv)
    df = run(cfg)
    print(write(df, cfg))
    return df


if __name__ == "__main__":
    main()
