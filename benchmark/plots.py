"""Figures for a paper, drawn from one suite's records and leaderboard by :func:`all_figures`:
``success`` (success % per env with its 95 % interval, floors and ceiling), ``success_vs_time``
(success vs planning time per episode), ``horizon_error`` (prediction skill vs horizon with its
95 % bootstrap interval) and ``horizon_cosine`` (cosine vs horizon with its interquartile range
over windows, beside copy-last and random pairs); and :func:`collapse_plot` (training collapse
diagnostics, ``benchmark.scripts.collapse``).

Every figure is written twice, ``<name>.png`` (200 dpi) and ``<name>.pdf`` (TrueType fonts, so
the text stays editable), at a page width: single column 3.5 in, double column 7 in, fonts of
7-8 pt. A planner has one colour in every figure (:data:`PLANNER_COLORS`, then
:func:`planner_colors` for names it does not know); a model is a facet (one row of panels) or,
on a shared axes, a marker shape (:data:`MODEL_MARKERS`). Floors and ceiling are grey: the
no-op floor dashed, the random-policy floor dotted, the expert ceiling a thin solid line.
"""

from __future__ import annotations

import colorsys
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FormatStrFormatter  # noqa: E402

SINGLE_IN = 3.5
"""Width of a single-column figure (inches)."""
DOUBLE_IN = 7.0
"""Width of a double-column figure (inches)."""
DPI = 200

PLANNER_ORDER = ("cem", "mppi", "grasp", "gd")
"""Known planners, in the order they are drawn; unknown ones follow, sorted."""
PLANNER_COLORS = {
    "cem": "#1f77b4",  # tab:blue
    "mppi": "#ff7f0e",  # tab:orange
    "grasp": "#d62728",  # tab:red
    "gd": "#2ca02c",  # tab:green
}
"""The fixed colour of each known planner, the same in every figure."""
MODEL_ORDER = ("lewm", "dreamer", "tdmpc2")
MODEL_MARKERS = {"lewm": "o", "dreamer": "s", "tdmpc2": "^"}
"""The marker of each known model where models share an axes."""
_SPARE_MARKERS = ("D", "v", "P", "X", "<", ">", "p", "h", "*", "d")

FLOOR_GREY = "0.45"
NOOP_STYLE = {"color": FLOOR_GREY, "ls": (0, (3.5, 2)), "lw": 0.9}
RANDOM_STYLE = {"color": FLOOR_GREY, "ls": (0, (1, 1.3)), "lw": 1.1}
EXPERT_STYLE = {"color": "0.1", "ls": "-", "lw": 0.7}

STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "legend.columnspacing": 1.2,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.minor.width": 0.4,
    "ytick.minor.width": 0.4,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "xtick.minor.size": 1.5,
    "ytick.minor.size": 1.5,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.5,
    "lines.linewidth": 1.1,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "figure.constrained_layout.h_pad": 0.02,
    "figure.constrained_layout.w_pad": 0.02,
}
"""Matplotlib settings of every figure here (applied in a context, never globally)."""


def _qualitative_palette() -> list[str]:
    """tab20's saturated half, its light half, then tab20b and tab20c, without greys (kept for
    floors) and without the colours of the known planners."""
    tab20 = [to_hex(c) for c in plt.get_cmap("tab20").colors]
    extra = [to_hex(c) for name in ("tab20b", "tab20c") for c in plt.get_cmap(name).colors]
    out: list[str] = []
    for c in tab20[0::2] + tab20[1::2] + extra:
        r, g, b = matplotlib.colors.to_rgb(c)
        if max(r, g, b) - min(r, g, b) < 0.05:  # grey
            continue
        if c not in out and c not in PLANNER_COLORS.values():
            out.append(c)
    return out


_FALLBACK_COLORS = _qualitative_palette()


def ordered_planners(names: Iterable[str]) -> list[str]:
    """The known planners in :data:`PLANNER_ORDER`, then the others sorted."""
    names = set(names)
    return [p for p in PLANNER_ORDER if p in names] + sorted(names - set(PLANNER_ORDER))


def ordered_models(names: Iterable[str]) -> list[str]:
    names = set(names)
    return [m for m in MODEL_ORDER if m in names] + sorted(names - set(MODEL_ORDER))


def planner_colors(names: Iterable[str]) -> dict[str, str]:
    """A colour (hex) per planner name, never the same for two names.

    Known planners keep :data:`PLANNER_COLORS`; the others, sorted, take the next free colour
    of a qualitative palette (tab20, then tab20b and tab20c: about 50 colours without greys),
    then evenly spread hues. The mapping depends only on the set of names, so every figure
    drawn from one suite gives a planner the same colour.
    """
    names = ordered_planners(names)
    out = {n: PLANNER_COLORS[n] for n in names if n in PLANNER_COLORS}
    unknown = [n for n in names if n not in out]
    for i, name in enumerate(unknown):
        if i < len(_FALLBACK_COLORS):
            out[name] = _FALLBACK_COLORS[i]
        else:  # golden-ratio hues: distinct for any number of names
            hue = (0.13 + 0.618033988749895 * (i - len(_FALLBACK_COLORS))) % 1.0
            out[name] = to_hex(colorsys.hsv_to_rgb(hue, 0.75, 0.55 + 0.3 * (i % 2)))
    return out


def model_markers(names: Iterable[str]) -> dict[str, str]:
    """A marker per model: :data:`MODEL_MARKERS` for the known ones, then spare shapes."""
    models = ordered_models(names)
    out = {m: MODEL_MARKERS[m] for m in models if m in MODEL_MARKERS}
    unknown = [m for m in models if m not in out]
    return out | {m: _SPARE_MARKERS[i % len(_SPARE_MARKERS)] for i, m in enumerate(unknown)}


def env_colors(envs: Iterable[str]) -> dict[str, str]:
    """A colour per env for the horizon figure (Dark2, then tab20b): a palette apart from the
    planners', so an env is never read as a planner."""
    envs = sorted(set(envs))
    cmap = plt.get_cmap("Dark2" if len(envs) <= 8 else "tab20b")
    return {e: to_hex(cmap.colors[i % len(cmap.colors)]) for i, e in enumerate(envs)}


def short_env(env: str) -> str:
    """``wmbench/PushT-v0`` -> ``PushT``."""
    return re.sub(r"-v\d+$", "", env.split("/")[-1])


def _floor_handles() -> list[Line2D]:
    return [
        Line2D([], [], label="no-op floor", **NOOP_STYLE),
        Line2D([], [], label="random-policy floor", **RANDOM_STYLE),
        Line2D([], [], label="expert ceiling", **EXPERT_STYLE),
    ]


def _panel_grid(n: int, max_cols: int, row_in: float, pad_in: float) -> tuple[Figure, np.ndarray]:
    """``n`` panels in rows of at most ``max_cols`` sharing both axes: one column wide when
    there is a single column, two otherwise; ``row_in`` inches per row plus ``pad_in``."""
    ncols = min(max_cols, n)
    nrows = math.ceil(n / ncols)
    return plt.subplots(
        nrows,
        ncols,
        figsize=(SINGLE_IN if ncols == 1 else DOUBLE_IN, pad_in + row_in * nrows),
        sharex=True,
        sharey=True,
        squeeze=False,
        layout="constrained",
    )


def _save(fig: Figure, path: Path) -> Path:
    """``path`` (PNG) and the same name as PDF; returns the PNG path."""
    path = Path(path).with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    # tight: a legend wider than a narrow figure is never cut off
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.03)
    fig.savefig(path.with_suffix(".pdf"), bbox_inches="tight", pad_inches=0.03)
    plt.close(fig)
    return path


def _empty(fig: Figure, text: str) -> Figure:
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return fig


def success_figure(df: pd.DataFrame, colors: dict[str, str] | None = None) -> Figure:
    """Success % per env with its 95 % interval, one bar per planner (its colour), one row of
    panels per model; per env group the no-op and random-policy floors and the expert ceiling
    measured on the same tasks."""
    with plt.rc_context(STYLE):
        envs = sorted(set(df["env"]), key=short_env)
        models = ordered_models(df["model"])
        planners = ordered_planners(df["planner"])
        colors = colors or planner_colors(planners)
        single = len(envs) * max(1, len(planners)) <= 12  # a few bars: one column wide
        fig, axes = plt.subplots(
            len(models),
            1,
            figsize=(SINGLE_IN if single else DOUBLE_IN, 0.6 + 1.75 * len(models)),
            sharex=True,
            sharey=True,
            squeeze=False,
            layout="constrained",
        )
        width = 0.84 / max(1, len(planners))
        x0 = np.arange(len(envs))
        for ax, model in zip(axes[:, 0], models):
            part = df[df["model"] == model]
            for k, planner in enumerate(planners):
                cell = part[part["planner"] == planner].drop_duplicates("env")
                cell = cell.set_index("env").reindex(envs)
                y = cell["success_%"].to_numpy(float)
                err = np.stack(
                    [
                        y - cell["ci95_low_%"].to_numpy(float),
                        cell["ci95_high_%"].to_numpy(float) - y,
                    ]
                )
                bars = ax.bar(
                    x0 + (k - (len(planners) - 1) / 2) * width,
                    y,
                    width * 0.92,
                    yerr=err,
                    color=colors[planner],
                    linewidth=0,
                    error_kw={"elinewidth": 0.6, "capsize": 1.2, "capthick": 0.6, "ecolor": "0.15"},
                )
                for b in bars:
                    b.set_gid(f"planner:{planner}")
            for i, env in enumerate(envs):
                rows = part[part["env"] == env]
                if rows.empty:
                    continue
                r = rows.iloc[0]
                span = (i - 0.46, i + 0.46)
                ax.plot(span, [r["noop_%"]] * 2, zorder=3, **NOOP_STYLE)
                ax.plot(span, [r["random_%"]] * 2, zorder=3, **RANDOM_STYLE)
                ax.plot(span, [r["expert_%"]] * 2, zorder=3, **EXPERT_STYLE)
            ax.set_ylim(0, 104)
            ax.set_yticks([0, 25, 50, 75, 100])
            ax.set_ylabel("success % (95 % CI)")
            ax.grid(axis="y")
            ax.set_axisbelow(True)
            ax.set_title(model, loc="left", pad=2, fontweight="bold")
        axes[-1, 0].set_xticks(x0, [short_env(e) for e in envs])
        axes[-1, 0].tick_params(axis="x", length=0)
        axes[-1, 0].set_xlim(-0.55, len(envs) - 0.45)
        handles = [Patch(color=colors[p], label=p) for p in planners] + _floor_handles()
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncol=min(len(handles), 3 if single else 7),
            handlelength=1.6,
        )
    return fig


def time_figure(
    df: pd.DataFrame, colors: dict[str, str] | None = None, markers: dict[str, str] | None = None
) -> Figure:
    """Success % (95 % interval) vs planning time per episode (log), one panel per env;
    colour = planner, marker = model; floors and ceiling as horizontal lines."""
    with plt.rc_context(STYLE):
        envs = sorted(set(df["env"]), key=short_env)
        planners = ordered_planners(df["planner"])
        models = ordered_models(df["model"])
        colors = colors or planner_colors(planners)
        markers = markers or model_markers(models)
        fig, axes = _panel_grid(len(envs), 4, 1.45, 0.5)
        nrows, ncols = axes.shape
        spare = nrows * ncols - len(envs)
        flat = axes.ravel()
        for ax, env in zip(flat, envs):
            part = df[df["env"] == env]
            r = part.iloc[0]
            ax.axhline(r["noop_%"], **NOOP_STYLE)
            ax.axhline(r["random_%"], **RANDOM_STYLE)
            ax.axhline(r["expert_%"], **EXPERT_STYLE)
            for _, row in part.iterrows():
                y = row["success_%"]
                eb = ax.errorbar(
                    row["solve_s_per_episode"],
                    y,
                    yerr=[[y - row["ci95_low_%"]], [row["ci95_high_%"] - y]],
                    fmt=markers[row["model"]],
                    ms=4,
                    mew=0.5,
                    mec="white",
                    color=colors[row["planner"]],
                    elinewidth=0.7,
                    capsize=0,
                    alpha=0.95,
                    zorder=4,
                )
                eb.lines[0].set_gid(f"planner:{row['planner']}")
            ax.set_title(short_env(env), pad=2)
            ax.set_xscale("log")
            ax.grid(which="major")
        lo = df["solve_s_per_episode"].min()
        hi = df["solve_s_per_episode"].max()
        flat[0].set_xlim(lo / 1.8, hi * 1.8)
        flat[0].set_ylim(-3, 104)
        flat[0].set_yticks([0, 50, 100])
        for ax in axes[:, 0]:
            ax.set_ylabel("success %")
        for ax in flat[len(envs) :]:
            ax.axis("off")
        for j in range(ncols):  # the lowest drawn panel of each column gets the x labels
            col = [ax for ax in axes[:, j] if ax.axison]
            col[-1].xaxis.set_tick_params(labelbottom=True)
        fig.supxlabel("planning time per episode (s, log scale)", fontsize=8)
        handles: list[Any] = [Patch(color=colors[p], label=p) for p in planners]
        handles += [
            Line2D([], [], ls="", marker=markers[m], ms=4.5, color="0.25", label=m) for m in models
        ]
        handles += _floor_handles()
        if spare:
            flat[-1].legend(handles=handles, loc="center", ncol=1 + (spare > 1))
        else:
            wide = fig.get_figwidth() > SINGLE_IN
            fig.legend(
                handles=handles,
                loc="outside upper center",
                ncol=min(len(handles), 8 if wide else 4),
            )
    return fig


def _mean_over_seeds(preds: list[dict[str, Any]], key: str, n: int) -> np.ndarray | None:
    """Mean over seeds of the first ``n`` horizons of ``key``; None if a seed lacks it."""
    if not all(len(p.get(key) or []) >= n for p in preds):
        return None
    return np.mean([p[key][:n] for p in preds], 0)


def _predictions(records: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """model -> env_id -> the prediction dicts of its records (one per seed and planner: the
    planner does not change them, so duplicates of a seed are dropped)."""
    per: dict[str, dict[str, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for r in records:
        if r.get("prediction") and r["prediction"].get("cos"):
            c = r["cell"]
            per[c["model"]][c["env_id"]].setdefault(c.get("seed", 0), r["prediction"])
    return {m: {e: list(s.values()) for e, s in envs.items()} for m, envs in per.items()}


def _horizon_axis(ax, hmax: int) -> None:
    ax.set_xticks(np.arange(1, hmax + 1))
    ax.set_xlim(0.7, hmax + 0.3)
    ax.grid()


def horizon_figure(records: list[dict[str, Any]]) -> Figure:
    """Prediction skill vs horizon h, one panel per model, one line per env.

    Skill = (cos - cos_copy) / (1 - cos_copy) of the h-block open-loop prediction to the
    encoded true frame (0 = no better than copying the last frame, 1 = exact), with its 95 %
    bootstrap interval over held-out windows (``skill_lo``/``skill_hi``) as a band. Curves and
    band edges are means over seeds; records made before the bands existed get none.
    """
    per = _predictions(records)
    with plt.rc_context(STYLE):
        models = ordered_models(per)
        if not models:
            fig = plt.figure(figsize=(SINGLE_IN, 1.5), layout="constrained")
            return _empty(fig, "no prediction metrics in these records")
        envs = sorted({e for m in per.values() for e in m}, key=short_env)
        colors = env_colors(envs)
        fig, axes = _panel_grid(len(models), 3, 2.0, 0.75)
        ncols = axes.shape[1]
        hmax, banded = 1, False
        for ax, model in zip(axes.ravel(), models):
            for env, preds in sorted(per[model].items(), key=lambda kv: short_env(kv[0])):
                n = min(len(p["cos"]) for p in preds)
                skill = _mean_over_seeds(preds, "skill", n)
                if skill is None:
                    continue
                hmax, h = max(hmax, n), np.arange(1, n + 1)
                c = colors[env]
                ax.plot(h, skill, "-o", ms=2.2, color=c, gid=f"env:{env}")
                lo = _mean_over_seeds(preds, "skill_lo", n)
                hi = _mean_over_seeds(preds, "skill_hi", n)
                if lo is not None and hi is not None:
                    ax.fill_between(h, lo, hi, color=c, alpha=0.22, lw=0)
                    banded = True
            ax.axhline(0, color=FLOOR_GREY, lw=0.6)
            ax.set_title(model, loc="left", pad=2, fontweight="bold")
        low = axes[0, 0].get_ylim()[0]
        axes[0, 0].set_ylim(max(low, -1.0), 1.02)
        for ax in axes.ravel()[len(models) :]:
            ax.axis("off")
        for ax in axes.ravel()[: len(models)]:
            _horizon_axis(ax, hmax)
        for ax in axes[:, 0]:
            ax.set_ylabel("skill vs copy-last")
        fig.supxlabel("prediction horizon h (action blocks)", fontsize=8)
        handles = [
            Line2D([], [], color=colors[e], marker="o", ms=3, label=short_env(e)) for e in envs
        ]
        if banded:
            handles.append(Patch(color="0.3", alpha=0.25, lw=0, label="95 % CI"))
        fig.legend(
            handles=handles,
            loc="outside upper center",
            ncol=3 if ncols == 1 else min(len(handles), 8),
            handlelength=1.4,
            columnspacing=1.0,
        )
    return fig


def horizon_cosine_figure(records: list[dict[str, Any]]) -> Figure:
    """Cosine of the h-block open-loop prediction to the encoded true frame, one panel per env,
    marker = model: the mean over windows (solid) with the interquartile range over windows
    (``cos_q25``/``cos_q75``, band; means over seeds), beside copying the last frame (dashed)
    and random pairs of true frames (dotted). Records made before the bands existed get none.
    """
    per = _predictions(records)
    with plt.rc_context(STYLE):
        models = ordered_models(per)
        if not models:
            fig = plt.figure(figsize=(SINGLE_IN, 1.5), layout="constrained")
            return _empty(fig, "no prediction metrics in these records")
        markers = model_markers(models)
        shades = dict(zip(models, ("0.1", "#8c510a", "#01665e", "#762a83", "#b35806")))
        envs = sorted({e for m in per.values() for e in m}, key=short_env)
        fig, axes = _panel_grid(len(envs), 4, 1.45, 0.5)
        ncols = axes.shape[1]
        flat = axes.ravel()
        hmax, banded = 1, False
        for ax, env in zip(flat, envs):
            for model in models:
                preds = per[model].get(env)
                if not preds:
                    continue
                n = min(len(p["cos"]) for p in preds)
                hmax, h = max(hmax, n), np.arange(1, n + 1)
                c = shades.get(model, "0.1")
                mean = _mean_over_seeds(preds, "cos", n)
                ax.plot(h, mean, "-", marker=markers[model], ms=2.5, color=c, zorder=3)
                q25 = _mean_over_seeds(preds, "cos_q25", n)
                q75 = _mean_over_seeds(preds, "cos_q75", n)
                if q25 is not None and q75 is not None:
                    ax.fill_between(h, q25, q75, color=c, alpha=0.15, lw=0)
                    banded = True
                for key, style in (("cos_copy", NOOP_STYLE), ("cos_floor", RANDOM_STYLE)):
                    base = _mean_over_seeds(preds, key, n)
                    if base is not None:
                        ax.plot(h, base, **(style | {"color": c, "lw": 0.8, "alpha": 0.75}))
            ax.set_title(short_env(env), pad=2)
            _horizon_axis(ax, hmax)
        flat[0].set_ylim(top=1.03)
        for ax in axes[:, 0]:
            ax.set_ylabel("cosine")
        for ax in flat[len(envs) :]:
            ax.axis("off")
        for j in range(ncols):
            col = [ax for ax in axes[:, j] if ax.axison]
            col[-1].xaxis.set_tick_params(labelbottom=True)
        fig.supxlabel("prediction horizon h (action blocks)", fontsize=8)
        c0 = shades.get(models[0], "0.1") if len(models) == 1 else "0.3"
        handles = [
            Line2D([], [], color=shades.get(m, "0.1"), marker=markers[m], ms=3.5, label=m)
            for m in models
        ]
        if banded:
            handles.append(Patch(color=c0, alpha=0.2, lw=0, label="interquartile range"))
        handles += [
            Line2D([], [], label="copy last frame", **(NOOP_STYLE | {"color": c0})),
            Line2D([], [], label="random pair", **(RANDOM_STYLE | {"color": c0})),
        ]
        spare = len(flat) - len(envs)
        if spare:
            flat[-1].legend(handles=handles, loc="center")
        else:
            wide = fig.get_figwidth() > SINGLE_IN
            fig.legend(
                handles=handles,
                loc="outside upper center",
                ncol=min(len(handles), 8 if wide else 2),
            )
    return fig


def collapse_plot(histories: dict[str, list[dict[str, Any]]], path: Path) -> Path:
    """Effective rank, embedding spread and held-out 1-step cosine during training, one line per
    regulariser; writes ``path`` (PNG) and the PDF beside it and returns ``path``."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(DOUBLE_IN, 2.3), layout="constrained")
        for k, (name, rows) in enumerate(histories.items()):
            c = f"C{k % 10}"
            evals = [r for r in rows if "effective_rank" in r]
            steps = [r["step"] for r in evals]
            axes[0].plot(steps, [r["effective_rank"] for r in evals], "-o", ms=2.5, color=c)
            if all("effective_rank_uncentred" in r for r in evals):
                uncentred = [r["effective_rank_uncentred"] for r in evals]
                axes[0].plot(steps, uncentred, ":", color=c, alpha=0.7)
            axes[1].plot(steps, [r["emb_std"] for r in evals], "-o", ms=2.5, color=c, label=name)
            axes[2].plot(steps, [r["cos_1"] for r in evals], "-o", ms=2.5, color=c)
            axes[2].plot(steps, [r["cos_copy_1"] for r in evals], "--", lw=0.8, color=c, alpha=0.6)
        titles = ("effective rank", "embedding std (mean over dims)", "held-out 1-step cosine")
        for ax, title in zip(axes, titles):
            ax.set_title(title, pad=3)
            ax.set_xlabel("training step")
            ax.grid()
        for ax in axes[:2]:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        if histories:
            handles, _ = axes[1].get_legend_handles_labels()
            handles += [
                Line2D([], [], color="0.4", ls=":", label="uncentred rank"),
                Line2D([], [], color="0.4", ls="--", lw=0.8, label="copy-last cosine"),
            ]
            fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 6))
        return _save(fig, Path(path))


def all_figures(records: list[dict[str, Any]], df: pd.DataFrame, fig_dir: Path) -> list[Path]:
    """The figures of ONE suite, from its ``ok`` records and their leaderboard
    (``benchmark.report.leaderboard(records)``), into ``fig_dir`` (created): ``success``,
    ``success_vs_time`` (only if ``df`` has rows) and ``horizon_error``, each as PNG and PDF.
    Returns the PNG paths."""
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    if not df.empty:
        names = set(df["planner"]) | {r["cell"]["planner"] for r in records if "cell" in r}
        colors = planner_colors(names)
        paths.append(_save(success_figure(df, colors), fig_dir / "success.png"))
        paths.append(_save(time_figure(df, colors), fig_dir / "success_vs_time.png"))
    paths.append(_save(horizon_figure(records), fig_dir / "horizon_error.png"))
    paths.append(_save(horizon_cosine_figure(records), fig_dir / "horizon_cosine.png"))
    return paths
