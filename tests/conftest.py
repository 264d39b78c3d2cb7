"""Shared fixtures: every test writes under its own temporary directory.

- ``plugins``: the toy env, model and planner of ``tests/plugins`` registered, one line each;
- ``tworoom_dataset`` / ``tiny_checkpoint``: a small TwoRoom dataset and a LeWM trained on it;
- ``smoke_cfg``: a short CPU ``TrainConfig`` on a dataset (any field overridable);
- ``trained_run``: ``trained_run(model)`` trains ``model`` 120 steps on ``tworoom_dataset``,
  once per model and session.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture(autouse=True)
def _isolated_minari(tmp_path, monkeypatch):
    # Minari falls back to ~/.minari; a test must never touch the user's datasets.
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))


@pytest.fixture(scope="session")
def tworoom_dataset(tmp_path_factory):
    """A small TwoRoom expert dataset at 32 px, collected once per test session."""
    from benchmark.collect import CollectConfig, collect

    root = tmp_path_factory.mktemp("datasets")
    cfg = CollectConfig(
        env_id="wmbench/TwoRoom-v0",
        episodes=16,
        steps=60,
        image_size=32,
        seed=0,
        workers=1,
        root=root,
    )
    return collect(cfg, progress=False)


@pytest.fixture(scope="session")
def tiny_checkpoint(tworoom_dataset, tmp_path_factory):
    """A smoke LeWM trained 40 steps on ``tworoom_dataset``, once per session (read-only: copy it
    before changing it)."""
    from benchmark.train import train

    cfg = _smoke_cfg(
        tworoom_dataset,
        tmp_path_factory.mktemp("run"),
        steps=40,
        batch_size=16,
        log_every=20,
        ckpt_every=40,
        eval_every=40,
    )
    return train(cfg, progress=False)


@pytest.fixture
def plugins(monkeypatch):
    """Registers the toy env, model and planner of tests/plugins for one test: one registry
    line each, as the README recipes say."""
    from plugins.random_shooting import RandomShooting

    import envs
    from agents import planners, world_models

    monkeypatch.setattr(envs, "REGISTRY", dict(envs.REGISTRY))  # undone after the test
    envs.register("wmbench/Dot-v0", "plugins.dot_env:Dot", max_episode_steps=60)
    monkeypatch.setitem(world_models.REGISTRY, "pool", "plugins.mean_model:PoolModel")
    monkeypatch.setitem(planners.REGISTRY, "shooting", RandomShooting)


SMOKE_TRAIN: dict[str, Any] = dict(
    preset="smoke",
    steps=20,
    batch_size=8,
    warmup_steps=10,
    log_every=5,
    ckpt_every=10,
    eval_every=10,
    device="cpu",
)
"""A 20-step CPU training run checkpointing every 10 steps."""

SHORT_RUN: dict[str, Any] = dict(
    steps=120, batch_size=16, log_every=20, eval_every=60, ckpt_every=60
)
"""A short TwoRoom run: enough steps for the loss to fall, seconds on a CPU."""


def _smoke_cfg(dataset: Path, out: Path, **kw: Any):
    from benchmark.train import TrainConfig

    return TrainConfig(**{**SMOKE_TRAIN, "dataset": dataset, "out": out, **kw})


@pytest.fixture(scope="session")
def smoke_cfg() -> Callable[..., Any]:
    """``smoke_cfg(dataset, out, **overrides)``: ``SMOKE_TRAIN`` as a TrainConfig."""
    return _smoke_cfg


class TrainedRun(NamedTuple):
    checkpoint: Path
    out: Path
    config: Any
    """The TrainConfig it was trained with (training it again returns the checkpoint)."""


@pytest.fixture(scope="session")
def trained_run(tworoom_dataset, tmp_path_factory) -> Callable[[str], TrainedRun]:
    """``trained_run(model)``: ``model`` trained ``SHORT_RUN`` on ``tworoom_dataset`` (read-only:
    copy it before changing it), once per model and session."""
    from benchmark.train import train

    runs: dict[str, TrainedRun] = {}

    def get(model: str) -> TrainedRun:
        if model not in runs:
            out = tmp_path_factory.mktemp(f"{model}-run")
            cfg = _smoke_cfg(tworoom_dataset, out, model=model, **SHORT_RUN)
            runs[model] = TrainedRun(train(cfg, progress=False), out, cfg)
        return runs[model]

    return get
