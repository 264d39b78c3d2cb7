"""Figures people would rather look at than read: horizon-error curves, success bars,
success vs planning time, and training collapse diagnostics."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _env(r: dict[str, Any]) -> str:
    return r["cell"]["env_id"].split("/")[-1]


def horizon_curves(records: list[dict[str, Any]], path: Path) -> Path:
    """cos and MSE vs prediction horizon h, one column per env, one line per model; the
    copy-last baseline dashed and the random-pair floor dotted."""
    per: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.get("prediction"):
            per[_env(r)][r["cell"]["model"]].append(r["prediction"])
    env_names = sorted(per)
    fig, axes = plt.subplots(
        2, max(1, len(env_names)), figsize=(3.6 * max(1, len(env_names)), 6), squeeze=False
    )
    for j, env in enumerate(env_names):
        for i, (metric, copy, floor) in enumerate(
            (("cos", "cos_copy", "cos_floor"), ("mse", "mse_copy", None))
        ):
            ax = axes[i, j]
            for k, (model, preds) in enumerate(sorted(per[env].items())):
                color = f"C{k}"
                n = min(len(p[metric]) for p in preds)
                h = np.arange(1, n + 1)
                ax.plot(
                    h, np.mean([p[metric][:n] for p in preds], 0), "o-", color=color, label=model
                )
                ax.plot(
                    h,
                    np.mean([p[copy][:n] for p in preds], 0),
                    "--",
                    color=color,
                    alpha=0.6,
                    label=f"{model} copy-last",
                )
                if floor:
                    ax.plot(
                        h,
                        np.mean([p[floor][:n] for p in preds], 0),
                        ":",
                        color=color,
                        alpha=0.6,
                        label=f"{model} random pair",
                    )
            ax.set_title(env if i == 0 else "")
            ax.set_xlabel("horizon h (blocks)")
            ax.set_ylabel("cosine" if metric == "cos" else "MSE")
            ax.grid(alpha=0.3)
    if env_names:
        axes[0, 0].legend(fontsize=7)
    fig.suptitle("Open-loop prediction vs horizon (held-out windows)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def success_bars(df: pd.DataFrame, path: Path) -> Path:
    """Success rate with its 95 % interval per env, one bar per model + planner, with the env's
    better floor (dashed) and expert ceiling (solid) across its bars."""
    envs = list(dict.fromkeys(df["env"]))
    methods = list(dict.fromkeys(df["model"] + " + " + df["planner"]))
    width = 0.8 / max(1, len(methods))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(envs) * max(1, len(methods)) / 3), 4))
    for k, method in enumerate(methods):
        model, planner = method.split(" + ")
        part = df[(df["model"] == model) & (df["planner"] == planner)].set_index("env")
        x = np.array([envs.index(e) for e in part.index]) + (k - (len(methods) - 1) / 2) * width
        y = part["success_%"].to_numpy()
        err = np.stack([y - part["ci95_low_%"].to_numpy(), part["ci95_high_%"].to_numpy() - y])
        ax.bar(x, y, width, yerr=err, capsize=2, label=method, color=f"C{k}")
    # floors and ceiling are per task set, the same for every method of an env
    for i, env in enumerate(envs):
        row = df[df["env"] == env].iloc[0]
        floor = max(row["noop_%"], row["random_%"])
        span = (i - 0.45, i + 0.45)
        ax.plot(span, [floor] * 2, color="0.35", ls="--", lw=1.2, label="better floor" * (i == 0))
        ax.plot(span, [row["expert_%"]] * 2, color="k", lw=1.2, label="expert" * (i == 0))
    ax.set_xticks(range(len(envs)), envs, rotation=15)
    ax.set_ylabel("success % (95% CI)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def success_vs_time(df: pd.DataFrame, path: Path) -> Path:
    """Success vs planning time per episode-solve: one marker per planner, one colour per env."""
    fig, ax = plt.subplots(figsize=(6, 4))
    markers = dict(zip(sorted(set(df["planner"])), "osD^vP*X"))
    envs = sorted(set(df["env"]))
    for _, row in df.iterrows():
        ax.scatter(
            row["solve_s_per_episode"],
            row["success_%"],
            marker=markers[row["planner"]],
            color=f"C{envs.index(row['env'])}",
            s=40,
        )
    for planner, m in markers.items():
        ax.scatter([], [], marker=m, color="gray", label=planner)
    for k, env in enumerate(envs):
        ax.scatter([], [], marker="s", color=f"C{k}", label=env)
    ax.set_xscale("log")
    ax.set_xlabel("planner wall time per episode-solve (s, log)")
    ax.set_ylabel("success %")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def collapse_plot(histories: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Effective rank, embedding spread and held-out 1-step cosine during training, one line per
    regulariser."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for k, (name, rows) in enumerate(histories.items()):
        evals = [r for r in rows if "effective_rank" in r]
        steps = [r["step"] for r in evals]
        axes[0].plot(steps, [r["effective_rank"] for r in evals], "o-", color=f"C{k}", label=name)
        if all("effective_rank_uncentred" in r for r in evals):
            uncentred = [r["effective_rank_uncentred"] for r in evals]
            axes[0].plot(steps, uncentred, ":", color=f"C{k}", alpha=0.6)
        axes[1].plot(steps, [r["emb_std"] for r in evals], "o-", color=f"C{k}", label=name)
        axes[2].plot(steps, [r["cos_1"] for r in evals], "o-", color=f"C{k}", label=name)
        axes[2].plot(steps, [r["cos_copy_1"] for r in evals], "--", color=f"C{k}", alpha=0.5)
    axes[0].set_ylabel("effective rank (dotted: uncentred)")
    axes[0].set_yscale("log")
    axes[1].set_ylabel("embedding std (mean over dims)")
    axes[1].set_yscale("log")
    axes[2].set_ylabel("held-out 1-step cosine (dashed: copy-last)")
    for ax in axes:
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def all_figures(records: list[dict[str, Any]], df: pd.DataFrame, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    return [
        horizon_curves(records, out / "horizon_error.png"),
        success_bars(df, out / "success.png"),
        success_vs_time(df, out / "success_vs_time.png"),
    ]
