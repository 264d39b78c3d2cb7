"""Figures: every figure written as PNG and PDF at a page width, one colour per planner in
every figure, distinct colours for many planners, old records without spread bands."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex
from matplotlib.text import Text

from benchmark import plots
from benchmark.report import leaderboard

MODELS, PLANNERS, ENVS = ("lewm", "dreamer"), ("cem", "mppi", "gd"), ("TwoRoom-v0", "PushT-v0")
FIGURES = ("success", "success_vs_time", "horizon_error", "horizon_cosine")
SPREAD = ("cos_q25", "cos_q75", "skill_lo", "skill_hi")
N_TASKS, H = 12, 4


def _record(env: str, model: str, planner: str, rng: np.random.Generator) -> dict:
    cos = np.linspace(0.99, 0.7, H) - 0.05 * rng.random()
    copy = np.linspace(0.8, 0.1, H)
    skill = (cos - copy) / (1 - copy)
    return {
        "schema_version": 2,
        "status": "ok",
        "suite": "test",
        "cell": {"env_id": f"wmbench/{env}", "model": model, "planner": planner, "seed": 0},
        "_path": f"runs/test/{env}__{model}__{planner}__s0.jsonl",
        "tasks_digest": f"digest-{env}",
        "tasks": [{"episode": t % 4} for t in range(N_TASKS)],
        "outcomes": [
            {"success": bool(s), "success_final": bool(s), "final_distance": 0.1}
            for s in rng.random(N_TASKS) < 0.5
        ],
        "baselines": {
            "noop": [{"success": t == 0} for t in range(N_TASKS)],
            "random": [{"success": t < 2} for t in range(N_TASKS)],
            "expert": [{"success": t > 0} for t in range(N_TASKS)],
        },
        "eval_config": {"goal_offset": 25, "budget": 50, "horizon": 5, "receding": 0},
        "solve_time_per_episode_s": {"cem": 0.08, "mppi": 0.07, "gd": 0.01}[planner]
        * (1 + rng.random()),
        "prediction": {
            "cos": list(cos),
            "mse": list(1 - cos),
            "cos_copy": list(copy),
            "mse_copy": list(1 - copy),
            "cos_floor": [0.05] * H,
            "skill": list(skill),
            "cos_q25": list(cos - 0.1),
            "cos_q75": list(np.minimum(cos + 0.05, 1)),
            "skill_lo": list(skill - 0.05),
            "skill_hi": list(skill + 0.05),
        },
        "device": "cpu",
        "git_commit": "0" * 40,
    }


@pytest.fixture(scope="module")
def records() -> list[dict]:
    rng = np.random.default_rng(0)
    return [_record(e, m, p, rng) for e in ENVS for m in MODELS for p in PLANNERS]


def _planner_colours(fig) -> dict[str, set[str]]:
    """planner -> the colours of the artists drawn for it (tagged ``planner:<name>``)."""
    out: dict[str, set[str]] = {}
    for a in fig.findobj(lambda a: (a.get_gid() or "").startswith("planner:")):
        colour = a.get_facecolor() if hasattr(a, "get_width") else a.get_color()
        out.setdefault(a.get_gid().split(":", 1)[1], set()).add(to_hex(colour))
    return out


def test_all_figures_write_png_and_pdf_at_a_page_width(records, tmp_path):
    df = leaderboard(records)
    paths = plots.all_figures(records, df, tmp_path / "figs")
    assert paths == [tmp_path / "figs" / f"{name}.png" for name in FIGURES]
    for png in paths:
        assert png.stat().st_size > 0 and png.with_suffix(".pdf").stat().st_size > 0
        height, width = mpimg.imread(png).shape[:2]
        assert width / plots.DPI <= 7.5 and height / plots.DPI <= 9  # fits a page
    figs = [
        plots.success_figure(df),
        plots.time_figure(df),
        plots.horizon_figure(records),
        plots.horizon_cosine_figure(records),
    ]
    for fig in figs:
        assert fig.get_size_inches()[0] <= 7.5
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
        assert sizes and min(sizes) >= 7
    # one row of panels per model in the success figure, one panel per env in the time figure
    assert len([ax for ax in figs[0].axes if ax.get_title(loc="left")]) == len(MODELS)
    assert {ax.get_title() for ax in figs[1].axes if ax.axison} == {"TwoRoom", "PushT"}


def test_a_planner_has_one_colour_in_every_figure(records):
    df = leaderboard(records)
    colours = plots.planner_colors(PLANNERS)
    assert colours == plots.planner_colors(reversed(PLANNERS))  # stable: depends on the set
    assert {p: colours[p] for p in PLANNERS} == {p: plots.PLANNER_COLORS[p] for p in PLANNERS}
    bars = _planner_colours(plots.success_figure(df, colours))
    points = _planner_colours(plots.time_figure(df, colours))
    again = _planner_colours(plots.success_figure(df))  # default mapping, a second call
    assert set(bars) == set(points) == set(PLANNERS)
    for p in PLANNERS:
        assert bars[p] == points[p] == again[p] == {colours[p]}
    assert len({colours[p] for p in PLANNERS}) == len(PLANNERS)


def test_many_planners_get_distinct_colours():
    names = [f"method{i:02d}" for i in range(23)] + ["cem", "gd"]
    colours = plots.planner_colors(names)
    assert len(colours) == 25 and len(set(colours.values())) == 25
    assert colours["cem"] == plots.PLANNER_COLORS["cem"]
    many = plots.planner_colors(f"m{i}" for i in range(80))  # past the palette: spread hues
    assert len(set(many.values())) == 80
    grey = [c for c in colours.values() if len({c[1:3], c[3:5], c[5:7]}) == 1]
    assert not grey  # greys are the floors'


def test_old_records_without_spread_still_plot(records, tmp_path):
    old = [
        {**r, "prediction": {k: v for k, v in r["prediction"].items() if k not in SPREAD}}
        for r in records
    ]
    paths = plots.all_figures(old, leaderboard(old), tmp_path)
    assert all(p.exists() and p.with_suffix(".pdf").exists() for p in paths)

    def bands(fig) -> int:
        return len(fig.findobj(PolyCollection))

    assert bands(plots.horizon_figure(old)) == 0 == bands(plots.horizon_cosine_figure(old))
    assert bands(plots.horizon_figure(records)) == len(MODELS) * len(ENVS)
    assert bands(plots.horizon_cosine_figure(records)) == len(MODELS) * len(ENVS)
    # no prediction at all: still a figure, saying so
    bare = [{**r, "prediction": {}} for r in records]
    assert plots.all_figures(bare, leaderboard(bare), tmp_path / "bare")[-1].exists()


def test_collapse_plot_writes_png_and_pdf(tmp_path):
    rows = [
        {
            "step": s,
            "effective_rank": 10.0 + s / 100,
            "effective_rank_uncentred": 8.0 + s / 100,
            "emb_std": 0.5 + s / 1000,
            "cos_1": 0.9,
            "cos_copy_1": 0.5,
        }
        for s in (100, 200, 300)
    ]
    path = plots.collapse_plot({"sigreg": rows, "vicreg": rows}, tmp_path / "f" / "collapse.png")
    assert path == tmp_path / "f" / "collapse.png" and path.with_suffix(".pdf").exists()
    assert mpimg.imread(path).shape[1] / plots.DPI <= 7.5
