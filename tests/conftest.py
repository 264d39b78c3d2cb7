"""Shared fixtures: every test writes under its own temporary directory."""

from __future__ import annotations

import os

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
    from benchmark.train import TrainConfig, train

    cfg = TrainConfig(
        dataset=tworoom_dataset,
        out=tmp_path_factory.mktemp("run"),
        preset="smoke",
        steps=40,
        batch_size=16,
        warmup_steps=10,
        log_every=20,
        ckpt_every=40,
        eval_every=40,
        device="cpu",
    )
    return train(cfg, progress=False)
