"""Cube-specific tests: OGBench's 0.04 m criterion, exact state restores, the cheap renderer
(what it draws and that several envs in one process agree), the action units and the expert."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import envs
from envs.cube import CUBE_HALF_SIZE, SUCCESS_THRESHOLD, raw_stepper

SIZE = 48  # the cube spans ~3 px: enough to find it, cheap to render


@pytest.fixture(scope="module")
def env():
    e = envs.make("wmbench/Cube-v0", image_size=SIZE)
    yield e
    e.close()


def _project(u, point: np.ndarray) -> tuple[int, int]:
    """(row, col) of a world point in the env's camera image (pinhole model)."""
    cam = u._renderer.camera.fixedcamid
    rel = u.data.cam_xmat[cam].reshape(3, 3).T @ (point - u.data.cam_xpos[cam])
    focal = SIZE / 2 / np.tan(np.deg2rad(u.model.cam_fovy[cam]) / 2)
    col = SIZE / 2 + focal * rel[0] / -rel[2]
    row = SIZE / 2 - focal * rel[1] / -rel[2]
    return int(row), int(col)


@pytest.mark.parametrize(
    "offset, inside",
    [
        ((0.0399, 0, 0), True),
        ((0.0401, 0, 0), False),
        ((0, -0.0399, 0), True),
        ((0, -0.0401, 0), False),
        ((0, 0, 0.0399), True),  # a lifted cube counts: the norm is 3-D
        ((0, 0, 0.0401), False),
        ((0.028, 0.028, 0), True),  # norm 0.0396
        ((0.03, 0.03, 0), False),  # each axis within 0.04, norm 0.0424 is not
    ],
)
def test_success_is_cube_within_0_04_m_of_goal(env, offset, inside):
    u = env.unwrapped
    _, info = env.reset(seed=0)
    goal = info["goal_state"]
    goal_xyz = u.decode_state(goal).cube_pos
    # the arm pose and the cube yaw are irrelevant: start state's arm, cube turned 45 degrees
    state = u.with_cube(info["state"], goal_xyz + np.array(offset), yaw=np.pi / 4)
    assert u.distance(state, goal) == pytest.approx(np.linalg.norm(offset), abs=1e-12)
    assert u.is_success(state, goal) is inside
    assert SUCCESS_THRESHOLD == 0.04


def test_set_state_restores_pixels_and_future(env):
    u = env.unwrapped
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(5):
        env.step(rng.uniform(-1, 1, 5))
    start = u.get_state()
    actions = rng.uniform(-1, 1, (8, 5))
    first = [env.step(a) for a in actions]
    u.set_state(start)
    for a, (obs, _, _, _, info) in zip(actions, first):
        obs2, _, _, _, info2 = env.step(a)
        np.testing.assert_array_equal(info2["state"], info["state"])
        np.testing.assert_array_equal(obs2["pixels"], obs["pixels"])
        np.testing.assert_array_equal(obs2["proprio"], obs["proprio"])


def test_bad_quaternion_is_rejected(env):
    u = env.unwrapped
    _, info = env.reset(seed=0)
    bad = info["state"].copy()
    quat_at = u._qpos_at + u._cube_qpos + 3
    bad[quat_at : quat_at + 4] = (0.5, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="quaternion"):
        u.set_state(bad)


def test_decode_state_agrees_with_proprio(env):
    u = env.unwrapped
    obs, info = env.reset(seed=2)
    view = u.decode_state(info["state"])
    np.testing.assert_allclose(view.pinch_pos, obs["proprio"][12:15], atol=1e-6)
    assert view.gripper_opening == pytest.approx(obs["proprio"][17], abs=1e-6)
    assert np.cos(view.pinch_yaw) == pytest.approx(obs["proprio"][15], abs=1e-6)
    assert view.cube_pos[2] == pytest.approx(CUBE_HALF_SIZE)


def test_action_units(env):
    """a[:3] sets the pinch target up to 5 cm away (the PD lag realises ~2.2 cm per step),
    a[3] the yaw target 0.3 rad away (~0.067 rad realised), a[4] > 0 closes the gripper."""
    u = env.unwrapped
    _, info = env.reset(seed=3)
    before = u.decode_state(info["state"])
    sign = 1.0 if before.pinch_pos[0] < 0.425 else -1.0  # towards the workspace centre
    for _ in range(3):
        _, _, _, _, info = env.step(np.array([sign, 0, 0, 1, 1]))
    after = u.decode_state(info["state"])
    dx, dy, dz = after.pinch_pos - before.pinch_pos
    assert 0.05 < sign * dx <= 3 * 0.05
    assert abs(dy) < 0.02 and abs(dz) < 0.02
    turned = np.angle(np.exp(1j * (after.pinch_yaw - before.pinch_yaw)))
    assert 0.1 < turned <= 3 * 0.3
    assert after.gripper_opening > 0.5 > before.gripper_opening


def test_render_settings_are_the_cheap_ones(env):
    u = env.unwrapped
    r = u._renderer
    assert u.model.vis.global_.offwidth == SIZE and u.model.vis.global_.offheight == SIZE
    assert u.model.vis.quality.offsamples == 0
    assert not r.scene.flags[0]  # mjRND_SHADOW
    assert r.option.geomgroup[2] == 0 and r.option.geomgroup[3] == 1  # meshes off, primitives on


def test_arm_gripper_and_cube_are_drawn_in_their_colours(env):
    u = env.unwrapped
    _, info = env.reset(seed=4)
    pinch = u.decode_state(info["state"]).pinch_pos
    # cube on the far side of the table from the arm, so nothing occludes it
    u.set_state(u.with_cube(info["state"], (0.5, -0.25 * np.sign(pinch[1]), CUBE_HALF_SIZE)))
    frame = u.render().astype(int)
    r, g, b = frame[_project(u, u.data.qpos[u._cube_qpos : u._cube_qpos + 3])]
    assert r > g + 60 and r > b + 40, "cube is not red"
    r, g, b = frame[_project(u, u.data.body("ur5e/robotiq/base").xpos)]
    assert r > g + 15 and b > g + 30, "gripper is not purple"
    r, g, b = frame[_project(u, u.data.body("ur5e/forearm_link").xpos)]
    assert b > r + 10 and b > 60, "arm is not light blue"


def test_goal_marker_hidden_unless_show_goal(env):
    u = env.unwrapped
    _, info = env.reset(seed=5)
    goal_xyz = np.array([0.5, 0.2 * np.sign(u.decode_state(info["state"]).pinch_pos[1]), 0.02])
    state = u.with_cube(info["state"], (0.35, -goal_xyz[1], CUBE_HALF_SIZE))
    u.set_state(state)
    plain = u.render()
    u.set_goal(u.with_cube(info["goal_state"], goal_xyz))
    np.testing.assert_array_equal(u.render(), plain)  # the goal is not drawn by default
    u.show_goal = True
    try:
        marked = u.render().astype(int)
    finally:
        u.show_goal = False
    row, col = _project(u, goal_xyz)
    assert marked[row, col, 0] > plain[row, col, 0] + 20  # a translucent red cube appears


def test_envs_in_one_process_render_identical_frames(env):
    """Two envs alive at once, one closed while the other is current, one garbage-collected
    without close, and one made after another was closed all draw the same frame."""
    u = env.unwrapped
    _, info = env.reset(seed=6)
    state = info["state"]
    reference = u.render_state(state)
    second = envs.make("wmbench/Cube-v0", image_size=SIZE)
    second.reset(seed=7)
    np.testing.assert_array_equal(second.unwrapped.render_state(state), reference)
    np.testing.assert_array_equal(u.render_state(state), reference)
    second.close()
    np.testing.assert_array_equal(u.render_state(state), reference)
    third = envs.make("wmbench/Cube-v0", image_size=SIZE)
    third.reset(seed=8)
    np.testing.assert_array_equal(third.unwrapped.render_state(state), reference)
    del third
    gc.collect()
    np.testing.assert_array_equal(u.render_state(state), reference)


def test_expert_solves_the_task_and_keeps_moving_the_cube(env):
    u = env.unwrapped
    solved, moved, moved_after, steps = 0, 0, 0, 0
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        pi = u.make_policy("expert", np.random.default_rng(seed), noise=0.3)
        pi.reset(info)
        hit = False
        for _ in range(150):
            before = info["state"]
            obs, _, _, _, info = env.step(pi(obs, info))
            step_moved = u.moved(before, info["state"])
            moved, steps = moved + step_moved, steps + 1
            moved_after += hit and step_moved
            hit = hit or info["success"]
        solved += hit
    # measured: 10/10 episodes solved within 75 steps, the cube moves in ~60 % of steps
    assert solved >= 3
    assert moved / steps > 0.35
    assert moved_after > 20  # new targets after the goal: the data keep showing the cube move


def test_random_policy_rarely_moves_the_cube(env):
    u = env.unwrapped
    obs, info = env.reset(seed=0)
    pi = u.make_policy("random", np.random.default_rng(0))
    moved = 0
    for _ in range(60):
        before = info["state"]
        obs, _, _, _, info = env.step(pi(obs, info))
        moved += u.moved(before, info["state"])
    assert moved < 15  # so the expert's cube motion above is not the default


def test_ogbench_tasks():
    with pytest.raises(ValueError, match="task_id"):
        envs.make("wmbench/Cube-v0", image_size=16, task_id=6)
    e = envs.make("wmbench/Cube-v0", image_size=16, task_id=4)
    u = e.unwrapped
    for seed in range(3):
        _, info = e.reset(seed=seed)
        start, goal = u.decode_state(info["state"]), u.decode_state(info["goal_state"])
        assert np.abs(start.cube_pos[:2] - (0.35, -0.2)).max() <= 0.01
        np.testing.assert_allclose(goal.cube_pos, (0.5, 0.2, CUBE_HALF_SIZE))
        assert not info["success"]
    e.close()


def test_raw_stepper_renders_the_scene():
    step = raw_stepper(16, seed=0)
    rng = np.random.default_rng(0)
    frames = [step(rng.uniform(-1, 1, 5)) for _ in range(5)]
    step.close()
    assert frames[0].shape == (16, 16, 3) and frames[0].dtype == np.uint8
    assert frames[-1].std() > 5 and np.abs(frames[0].astype(int) - frames[-1]).sum() > 0
