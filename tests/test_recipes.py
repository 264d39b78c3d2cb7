"""The README recipes hold: a new env, world model or planner is one new file plus one registry
line. Each toy of ``tests/plugins/`` (the one new file) is registered here with exactly that
line and meets the contract every built-in entry meets (``tests/contracts.py``); then the three
together run through the whole harness (collect, train, evaluate, report)."""

from __future__ import annotations

import importlib
import inspect
from dataclasses import fields

from contracts import check_env, check_planner, check_world_model
from plugins import tiny_run
from plugins.mean_model import PoolModel
from plugins.random_shooting import RandomShooting

import envs
from agents import planners, world_models
from agents.world_models import TrainableModel
from benchmark.grid import run
from benchmark.report import ReportConfig, build_report


def test_add_an_environment(monkeypatch):
    monkeypatch.setattr(envs, "REGISTRY", dict(envs.REGISTRY))  # undone after the test
    envs.register("wmbench/Dot-v0", "plugins.dot_env:Dot", max_episode_steps=60)  # the line
    assert "wmbench/Dot-v0" in envs.ids()
    check_env("wmbench/Dot-v0")


def test_add_a_world_model(monkeypatch):
    monkeypatch.setitem(world_models.REGISTRY, "pool", "plugins.mean_model:PoolModel")
    assert "pool" in world_models.names()
    model = check_world_model("pool")
    # ...and nothing the recipe does not ask for: the hooks come from TrainableModel, no
    # PRESETS (the Config defaults serve every preset), no trainer settings in the Config, and
    # the two-argument rollout of a model with one frame of history.
    assert issubclass(PoolModel, TrainableModel)
    assert not {"set_action_stats", "after_optimizer_step"} & set(vars(PoolModel))
    assert not hasattr(importlib.import_module(PoolModel.__module__), "PRESETS")
    assert not {"frameskip", "num_preds"} & {f.name for f in fields(PoolModel.Config)}
    assert list(inspect.signature(PoolModel.rollout).parameters) == [
        "self",
        "z_context",
        "actions",
    ]
    assert model.history == 1
    assert world_models.make("pool", preset="paper").latent_dim == 16  # any preset name


def test_add_a_planner(monkeypatch):
    monkeypatch.setitem(planners.REGISTRY, "shooting", RandomShooting)
    assert "shooting" in planners.names()
    check_planner("shooting")
    # ...with no `cost` field: the terminal goal cost is the default
    assert "cost" not in {f.name for f in fields(RandomShooting.Config)}
    assert set(vars(RandomShooting)) - {"__module__", "__doc__", "__qualname__"} <= {
        "name",
        "Config",
        "_solve",
    }


def test_recipes_run_a_new_env_model_and_planner_through_the_harness(plugins, tmp_path):
    """The ``plugins`` fixture (tests/conftest.py) registers the three toys, one line each."""
    records = run(tiny_run(tmp_path), progress=False)
    (rec,) = records.values()
    assert rec["status"] == "ok", rec.get("traceback")
    assert rec["cell"] == {
        "env_id": "wmbench/Dot-v0",
        "model": "pool",
        "planner": "shooting",
        "seed": 0,
    }
    for key in (
        "schema_version",
        "config",
        "versions",
        "git_commit",
        "device",
        "seeds",
        "outcomes",
        "prediction",
        "solve_time_s",
    ):
        assert key in rec
    assert rec["config"]["collect"]["env_id"] == "wmbench/Dot-v0"
    df = build_report(ReportConfig(out=tmp_path / "results"))
    assert list(df["planner"]) == ["shooting"]
    for name in (
        "leaderboard.md",
        "leaderboard.csv",
        "figures/smoke/horizon_error.png",
        "figures/smoke/success.png",
        "figures/smoke/success_vs_time.png",
        "figures/smoke/success.pdf",
        "index.html",
    ):
        assert (tmp_path / "results" / name).stat().st_size > 0
