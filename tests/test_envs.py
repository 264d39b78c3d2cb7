"""The goal-task contract, checked for every registered id (a new env is tested with no edits)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import envs

IDS = envs.ids()


@pytest.fixture(params=IDS)
def env(request):
    e = envs.make(request.param, image_size=64)
    yield e
    e.close()


def _rollout(env, seed: int, steps: int):
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    frames, states = [obs["pixels"]], [info["state"]]
    for _ in range(steps):
        obs, _, _, _, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        frames.append(obs["pixels"])
        states.append(info["state"])
    return np.stack(frames), np.stack(states), obs, info


def test_ids_lists_all_seven():
    assert set(IDS) == {
        "wmbench/TwoRoom-v0",
        "wmbench/PointMaze-v0",
        "wmbench/PointMazeMedium-v0",
        "wmbench/PushT-v0",
        "wmbench/Reacher-v0",
        "wmbench/Cube-v0",
        "wmbench/FetchPush-v0",
    }


def test_gymnasium_check_env(env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=False)


def test_spaces_and_info(env):
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["pixels"].shape == (64, 64, 3) and obs["pixels"].dtype == np.uint8
    assert obs["proprio"].dtype == np.float32
    assert env.action_space.low.min() == -1 and env.action_space.high.max() == 1
    u = env.unwrapped
    assert info["state"].dtype == np.float64 and info["state"].shape == (u.state_dim,)
    for key in ("goal_state", "success", "distance"):
        assert key in info
    _, _, terminated, _, info = env.step(env.action_space.sample())
    assert terminated is False
    assert isinstance(info["success"], bool) and np.isfinite(info["distance"])


def test_same_seed_is_deterministic(env):
    f1, s1, *_ = _rollout(env, seed=3, steps=12)
    f2, s2, *_ = _rollout(env, seed=3, steps=12)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(f1, f2)
    _, s3, *_ = _rollout(env, seed=4, steps=12)
    assert not np.array_equal(s1, s3)


def test_frames_are_not_blank_or_garbled(env):
    frames, states, *_ = _rollout(env, seed=1, steps=20)
    for f in frames[[0, -1]]:
        assert f.std() > 5, "frame is (nearly) a single colour"
        assert f.max() > 40, "frame is black"
    # the scene moves under random actions, and rendering the same state twice agrees
    assert np.abs(frames[0].astype(int) - frames[-1]).sum() > 0
    u = env.unwrapped
    np.testing.assert_array_equal(u.render_state(states[-1]), u.render_state(states[-1]))


def test_set_state_round_trip(env):
    frames, states, obs, info = _rollout(env, seed=2, steps=8)
    u = env.unwrapped
    for _ in range(5):
        env.step(env.action_space.sample())
    u.set_state(states[-1])
    np.testing.assert_array_equal(u.get_state(), states[-1])
    np.testing.assert_array_equal(u.render(), frames[-1])
    np.testing.assert_array_equal(u._proprio().astype(np.float32), obs["proprio"])


def test_is_success_at_goal_and_not_far(env):
    u = env.unwrapped
    far = 0
    for seed in range(10):
        _, info = env.reset(seed=seed)
        assert u.is_success(info["goal_state"], info["goal_state"])
        assert u.distance(info["goal_state"], info["goal_state"]) == pytest.approx(0, abs=1e-9)
        far += not u.is_success(info["state"], info["goal_state"])
    assert far >= 5


def test_goal_options_and_render_state(env):
    _, info = env.reset(seed=5)
    _, info2 = env.reset(seed=6, options={"state": info["state"], "goal_state": info["goal_state"]})
    np.testing.assert_array_equal(info2["state"], info["state"])
    np.testing.assert_array_equal(info2["goal_state"], info["goal_state"])
    assert info2["success"] == info["success"]


def test_render_state_works_before_any_reset(env):
    """The MPC loop renders task states on a fresh env; a never-reset env must hold a valid
    state to restore (PointMaze's MuJoCo default put the ball inside a UMaze wall)."""
    u = env.unwrapped
    _, info = envs.make(env.spec.id, image_size=64).reset(seed=3)
    frame = u.render_state(info["state"])
    assert frame.shape == (64, 64, 3) and frame.std() > 0


@pytest.mark.parametrize("policy", ["random", "expert"])
def test_policies_give_in_box_actions(env, policy):
    obs, info = env.reset(seed=0)
    pi = env.unwrapped.make_policy(policy, np.random.default_rng(0))
    pi.reset(info)
    for _ in range(10):
        a = pi(obs, info)
        assert env.action_space.contains(np.asarray(a, np.float32))
        obs, _, _, _, info = env.step(a)


def test_bad_input_is_rejected(env):
    u = env.unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(u.action_dim + 1))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full(u.action_dim, np.nan))
    with pytest.raises(ValueError, match="length"):
        u.set_state(np.zeros(u.state_dim + 3))
    with pytest.raises(ValueError, match="unknown policy"):
        u.make_policy("oracle", np.random.default_rng(0))


def test_out_of_box_actions_are_clipped(env):
    u = env.unwrapped
    env.reset(seed=0)
    start = u.get_state()
    with pytest.warns(UserWarning, match="clipped"):
        _, _, _, _, big = env.step(np.full(u.action_dim, 7.0))
    u.set_state(start)
    _, _, _, _, clipped = env.step(np.ones(u.action_dim))
    np.testing.assert_allclose(big["state"], clipped["state"], atol=1e-9)


@pytest.mark.parametrize("size", [32, 96])
def test_any_image_size(size):
    e = envs.make(IDS[0], image_size=size)
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


def test_step_state_is_step_without_the_pixels(env):
    """Floors, ceilings and the MPC loop step without rendering: same states, infos, proprio."""
    u = env.unwrapped
    _, info = env.reset(seed=7)
    start, goal = info["state"], info["goal_state"]
    rng = np.random.default_rng(7)
    actions = rng.uniform(-1, 1, (15, u.action_dim))
    rendered = [u.step(a) for a in actions]
    u.set_state(start)
    u.set_goal(goal)
    for a, (obs, _, _, _, info) in zip(actions, rendered):
        blind_obs, blind_info = u.step_state(a)
        assert set(blind_obs) == {"proprio"}
        np.testing.assert_array_equal(blind_obs["proprio"], obs["proprio"])
        np.testing.assert_array_equal(blind_info["state"], info["state"])
        assert (blind_info["success"], blind_info["distance"]) == (
            info["success"],
            info["distance"],
        )
    seen, seen_info = u.observe()
    np.testing.assert_array_equal(seen["pixels"], rendered[-1][0]["pixels"])
    np.testing.assert_array_equal(seen_info["state"], rendered[-1][4]["state"])


def test_task_start_is_a_valid_state(env):
    u = env.unwrapped
    _, info = env.reset(seed=8)
    for _ in range(5):
        _, _, _, _, info = env.step(np.ones(u.action_dim))
    start = u.task_start(info["state"])
    assert start.shape == info["state"].shape and start is not info["state"]
    u.set_state(start)
    np.testing.assert_array_equal(u.get_state(), start)
