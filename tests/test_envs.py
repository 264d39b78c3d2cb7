"""Environment registry and sizes. The goal-task contract itself (gymnasium's checker,
determinism, state round trips, the criterion, policies, ``step_state``, bad input) is checked
for every registered id by tests/test_contracts.py (``contracts.check_env``), so a new env is
tested with no edits; tests/test_env_*.py test each env's own dynamics and criterion."""

from __future__ import annotations

import numpy as np
import pytest

import envs


@pytest.mark.parametrize("size", [32, 96])
def test_any_image_size(size):
    e = envs.make(envs.ids()[0], image_size=size)
    obs, _ = e.reset(seed=0)
    assert obs["pixels"].shape == (size, size, 3)


def test_registry_errors():
    with pytest.raises(ValueError, match="wmbench/TwoRoom-v0"):
        envs.make("wmbench/Nope-v0")
    for bad in (0, 8, 5000):
        with pytest.raises(ValueError, match="image_size"):
            envs.make("wmbench/TwoRoom-v0", image_size=bad)
    with pytest.raises(TypeError, match="image_size"):
        envs.make("wmbench/TwoRoom-v0", image_size=64.0)


def test_gallery_shows_start_progress_and_goal(tmp_path):
    from benchmark.scripts.env_gallery import frames, gallery

    start, mid, goal = frames("wmbench/TwoRoom-v0", 32)
    assert start.shape == mid.shape == goal.shape == (32, 32, 3)
    assert not np.array_equal(start, mid) and not np.array_equal(start, goal)
    out = gallery(["wmbench/TwoRoom-v0"], 32, tmp_path / "envs.png")
    assert out.stat().st_size > 2000
