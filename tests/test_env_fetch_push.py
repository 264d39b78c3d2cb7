"""FetchPush specifics: the 0.05 m criterion, the mujoco >= 3.12 fix, goal states, hidden
markers, exact restore, rendering, and an expert that pushes the cube to the goal (contract
tests live in tests/test_contracts.py)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

import envs
from envs import fetch_push


@pytest.fixture(scope="module")
def env():
    e = envs.make("wmbench/FetchPush-v0", image_size=64)
    yield e
    e.close()


def _with_object_at(u, state: np.ndarray, xyz) -> np.ndarray:
    s = state.copy()
    s[u.object_slice] = xyz
    return s


@pytest.mark.parametrize(("offset", "expected"), [(0.049, True), (0.051, False)])
def test_criterion_at_5_cm(env, offset, expected):
    u = env.unwrapped
    _, info = env.reset(seed=0)
    g = info["goal_state"]
    for direction in (np.array([1.0, 0, 0]), np.array([0, 0.6, 0.8])):
        s = _with_object_at(u, g, g[u.object_slice] + offset * direction)
        assert u.is_success(s, g) is expected
        assert u.distance(s, g) == pytest.approx(offset)
    # only the object counts: moving the whole arm state changes nothing
    s = g.copy()
    s[2:10] += 0.3
    assert u.is_success(s, g)


def test_stock_env_trips_the_mujoco_enum_assertion_and_ours_does_not():
    from gymnasium_robotics.envs.fetch.push import MujocoFetchPushEnv
    from gymnasium_robotics.utils import mujoco_utils

    if tuple(int(x) for x in mujoco.__version__.split(".")[:2]) < (3, 12):
        pytest.skip("the enum comparison only breaks with mujoco >= 3.12")
    with pytest.raises(AssertionError):
        MujocoFetchPushEnv(width=32, height=32)
    sim = fetch_push.FetchPushSim(width=32, height=32)
    sim.reset(seed=0)
    assert sim._utils is fetch_push._FIXED_UTILS
    assert mujoco_utils.get_joint_qpos is not fetch_push._get_joint_qpos  # nothing global
    qpos = fetch_push._get_joint_qpos(sim.model, sim.data, "object0:joint")
    np.testing.assert_array_equal(qpos[:3], sim.data.body("object0").xpos)
    assert fetch_push._get_joint_qvel(sim.model, sim.data, "object0:joint").shape == (6,)
    assert fetch_push._get_joint_qpos(sim.model, sim.data, "robot0:slide0").shape == (1,)
    sim.close()


def test_goal_state_has_the_object_at_rest_on_the_sampled_goal(env):
    u = env.unwrapped
    for seed in range(4):
        _, info = env.reset(seed=seed)
        s, g = info["state"], info["goal_state"]
        goal_xyz = g[u.object_slice]
        np.testing.assert_allclose(goal_xyz, u._sim.goal)  # FetchPush's own sampled goal
        assert goal_xyz[2] == pytest.approx(u.table_z)
        assert np.linalg.norm(goal_xyz[:2] - u.goal_centre) <= np.sqrt(2) * u.goal_range + 1e-9
        assert not info["success"] and info["distance"] >= fetch_push.SUCCESS_DISTANCE_M
        u.set_state(g)
        grip = u._proprio()[:3]
        assert np.linalg.norm(grip[:2] - goal_xyz[:2]) > 0.07  # the gripper is clear of it
        vel = fetch_push._get_joint_qvel(u._model, u._data, "object0:joint")
        np.testing.assert_array_equal(vel, 0.0)
        assert not np.array_equal(s[u.object_slice], goal_xyz)


def test_markers_are_hidden_unless_asked():
    def red(frame):
        f = frame.astype(int)
        return int(np.sum((f[..., 0] > 150) & (f[..., 1] < 60) & (f[..., 2] < 60)))

    hidden = envs.make("wmbench/FetchPush-v0", image_size=96)
    shown = envs.make("wmbench/FetchPush-v0", image_size=96, show_goal=True)
    for seed in (1, 2):
        o1, _ = hidden.reset(seed=seed)
        o2, _ = shown.reset(seed=seed)
        assert red(o1["pixels"]) == 0 and red(o2["pixels"]) > 0
    model = hidden.unwrapped._model
    mocap = model.body("robot0:mocap").id
    assert np.all(model.geom_rgba[model.geom_bodyid == mocap, 3] == 0)  # no action crosshair
    hidden.close()
    shown.close()


def test_render_settings_and_the_cube_is_visible():
    e = envs.make("wmbench/FetchPush-v0", image_size=48)
    u = e.unwrapped
    assert u._model.vis.global_.offwidth == 48 and u._model.vis.global_.offheight == 48
    assert u._model.vis.quality.offsamples == 0
    assert not u._renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW]
    _, info = e.reset(seed=3)
    g = info["goal_state"]
    away = _with_object_at(u, g, g[u.object_slice] + np.array([0.0, 0.0, -5.0]))
    assert np.abs(u.render_state(g).astype(int) - u.render_state(away)).sum() > 500
    e.close()


def test_closing_one_env_leaves_another_rendering():
    a = envs.make("wmbench/FetchPush-v0", image_size=64)
    b = envs.make("wmbench/FetchPush-v0", image_size=64)
    a.reset(seed=0)
    ob, _ = b.reset(seed=0)
    b.unwrapped.set_state(b.unwrapped.get_state())  # make b's GL context the current one
    b.render()
    a.close()  # must free a's GL objects in a's context, not b's
    b.unwrapped.set_state(b.unwrapped.get_state())
    np.testing.assert_array_equal(b.render(), ob["pixels"])
    b.close()


def test_restore_gives_the_same_future_exactly(env):
    u = env.unwrapped
    obs, info = env.reset(seed=5)
    pi = u.make_policy("expert", np.random.default_rng(5))
    pi.reset(info)
    states, actions, frames = [info["state"]], [], [obs["pixels"]]
    for _ in range(25):
        actions.append(pi(obs, info))
        obs, _, _, _, info = env.step(actions[-1])
        states.append(info["state"])
        frames.append(obs["pixels"])
    u.set_state(states[10])
    for k in range(10, 25):
        obs, _, _, _, info = env.step(actions[k])
        np.testing.assert_array_equal(info["state"], states[k + 1])
        np.testing.assert_array_equal(obs["pixels"], frames[k + 1])


def test_action_units_and_proprio(env):
    u = env.unwrapped
    env.reset(seed=0)
    start = u._proprio()[:3].copy()
    for _ in range(4):
        obs, *_ = env.step(np.array([0.0, 1.0, 0.0, 0.0]))
    moved = obs["proprio"][:3] - start
    assert 3 * 0.02 < moved[1] < 4 * fetch_push.ACTION_STEP_M and abs(moved[0]) < 0.01
    assert obs["proprio"][4] > 0.3  # moving along +y, in m/s
    site = u._data.site("robot0:grip").xpos
    np.testing.assert_allclose(obs["proprio"][:3], site, atol=1e-6)


def test_physically_invalid_state_is_rejected(env):
    u = env.unwrapped
    _, info = env.reset(seed=0)
    s = info["state"].copy()
    s[u.object_slice.stop : u.object_slice.stop + 4] = 0.0
    with pytest.raises(ValueError, match="quaternion"):
        u.set_state(s)


def _rollout(env, seed, steps, policy="expert"):
    obs, info = env.reset(seed=seed)
    u = env.unwrapped
    pi = u.make_policy(policy, np.random.default_rng(seed), noise=0.3)
    pi.reset(info)
    objects, first = [info["state"][u.object_slice]], None
    for t in range(steps):
        obs, _, _, _, info = env.step(pi(obs, info))
        objects.append(info["state"][u.object_slice])
        if first is None and info["success"]:
            first = t
    return np.array(objects), first


def test_expert_pushes_the_cube_to_the_goal(env):
    # measured: 30 of 30 seeds within 62 steps at noise 0.3 (median ~30 steps)
    hits = [_rollout(env, seed, 70)[1] is not None for seed in range(4)]
    assert sum(hits) >= 3, hits


def test_object_moves_under_the_expert_and_rarely_under_random(env):
    # measured over 30 x 100 steps: 0.33 of expert steps move the cube > 2 mm, random 0.03
    def moving(objects):
        return float(np.mean(np.linalg.norm(np.diff(objects, axis=0), axis=1) > 0.002))

    expert, _ = _rollout(env, 7, 80)
    random, _ = _rollout(env, 7, 80, policy="random")
    assert np.linalg.norm(expert[-1] - expert[0]) > 0.05
    assert moving(expert) > 0.15 and moving(expert) > 2 * moving(random)


def test_raw_stepper_renders_frames():
    step = fetch_push.raw_stepper(40, seed=1)
    frames = [step(np.array([0.5, 0.5, 0.0, 0.0])) for _ in range(3)]
    assert frames[0].shape == (40, 40, 3) and frames[0].dtype == np.uint8
    assert frames[0].std() > 5 and not np.array_equal(frames[0], frames[-1])
    step.close()
