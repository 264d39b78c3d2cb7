"""FetchPush: a Fetch arm pushes a 5 cm cube across a table to a goal position.

Built on gymnasium-robotics 1.4.2 ``FetchPush-v4`` (``MujocoFetchPushEnv``, the official
``mujoco`` bindings, not mujoco-py): its model, mocap arm control, reset and goal sampling.
The task is the one of Plappert et al. 2018 ("Multi-Goal Reinforcement Learning"), 25 Hz control
(20 substeps of 2 ms).

State: ``mujoco.mj_getState(..., mjSTATE_INTEGRATION)``, float64 (292,): time, qpos (22),
qvel (21), act, qacc_warmstart, ctrl, applied forces, eq_active, mocap_pos and mocap_quat (the
gripper is driven through a mocap weld), userdata. ``set_state`` is ``mj_setState`` +
``mj_forward``, which restores pixels, proprio and the future exactly. The object's xyz is
``state[1 + qposadr(object0:joint) :][:3]`` (``env.unwrapped.object_slice``).
Proprio (6,): gripper (``robot0:grip`` site) position in m and its linear velocity in m/s.

Action (4,) in [-1, 1], FetchPush's own: ``a[:3]`` moves the mocap target to the gripper's
current position plus ``0.05 * a[:3]`` m (world x, y, z) every 0.04 s step; the weld lags, so a
full action moves the gripper about 0.025 m the first step and 0.03 m per step after.
``a[3]`` would open/close the fingers but FetchPush blocks the gripper: it has no effect.

Success (FetchPush's own ``distance_threshold``): ``||object_xyz - goal_object_xyz|| < 0.05`` m;
:meth:`FetchPush.distance` is that norm.

Start and goal: FetchPush's reset (object uniform within 0.15 m of the gripper's start, at least
0.1 m away from it; goal uniform within 0.15 m, on the table). A goal within 0.05 m of the start
(already solved) is redrawn. The goal state is the full state that FetchPush's goal implies: the
object at rest at the goal position and the gripper backed off 10 cm behind it along the push
direction and 5 cm up (driven there with the real arm dynamics, so the arm pose is consistent):
what the end of a push looks like, with the cube in view (the gripper's palm would hide a cube
right next to it).

Rendering: our own ``mujoco.Renderer`` at ``image_size`` x ``image_size`` (offwidth/offheight =
image size, offsamples 0, shadows, reflections and skybox off, GL context warmed up) from a
fixed camera looking down at 50 degrees from the side of the table, the robot on the left
(:data:`CAMERA`). Of the views tried this one hides the cube least: it is visible in every
sampled goal frame and in 96% of expert frames (the arm covers it in the rest).
FetchPush's red target sphere is hidden by default (``show_goal=True`` draws it at the goal),
and so is the translucent green crosshair of the mocap body, which would show the last action.

Pitfalls handled:
- gymnasium-robotics 1.4.2's joint helpers in ``utils/mujoco_utils.py``
  (``get/set_joint_qpos/qvel``) assert ``model.jnt_type[i] in (mjJNT_HINGE, mjJNT_SLIDE)``. With
  mujoco >= 3.12 the ``mjtJoint`` members are enums whose ``__eq__`` is False against a
  ``numpy.int32`` (``np.int32(3) == mjJNT_HINGE`` is True, ``mjJNT_HINGE == np.int32(3)`` and so
  ``np.int32(3) in (mjJNT_HINGE,)`` are False), so FetchPush fails its assertion while it is
  being built. We do not touch site-packages: our subclass of ``MujocoFetchPushEnv`` gets its
  own helper namespace (``_FIXED_UTILS``: the stock module's functions with these four, and
  ``robot_get_obs`` which calls them, reimplemented with ``int(jnt_type)``); nothing else in
  the process is patched.
- ``mujoco.Renderer.close`` frees its GL objects in whatever GL context is current; with two
  renderers alive that deletes the other one's offscreen buffer and its frames come back upside
  down. We make the renderer's own context current first, and free it when the env is
  collected or the interpreter exits (EGL raises from ``__del__`` during teardown otherwise).
"""

from __future__ import annotations

import importlib.metadata
import types
import weakref
from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np
from gymnasium_robotics.envs.fetch.push import MujocoFetchPushEnv
from gymnasium_robotics.utils import mujoco_utils

from envs.base import GoalEnv, check_image_size
from envs.mujoco_render import close_at_exit, close_renderer

# recorded for dataset metadata; the joint-helper fix below is written against 1.4.2
GYMNASIUM_ROBOTICS_VERSION = importlib.metadata.version("gymnasium-robotics")
MUJOCO_VERSION = mujoco.__version__
SUCCESS_DISTANCE_M = 0.05
ACTION_STEP_M = 0.05  # FetchPush scales a[:3] by this (fetch_env._set_action)
PUSH_STANDOFF_M = 0.06  # gripper centre behind the object centre when a push starts
GOAL_PARK_M = (0.10, 0.05)  # goal states: gripper this far behind the object and this high up
CAMERA = {"lookat": (1.34, 0.80, 0.42), "distance": 0.9, "azimuth": 90.0, "elevation": -50.0}
_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
_WARMUP_FRAMES = 5  # llvmpipe compiles shaders on the first frames


# ---- the mujoco >= 3.12 fix -------------------------------------------------------------------
_QPOS_WIDTH = {int(mujoco.mjtJoint.mjJNT_FREE): 7, int(mujoco.mjtJoint.mjJNT_BALL): 4}
_QVEL_WIDTH = {int(mujoco.mjtJoint.mjJNT_FREE): 6, int(mujoco.mjtJoint.mjJNT_BALL): 3}


def _joint_slice(model: mujoco.MjModel, name: str, velocity: bool) -> slice:
    joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
    if joint < 0:
        raise ValueError(f"joint {name!r} is not part of the model")
    kind = int(model.jnt_type[joint])  # int(): numpy int32 vs pybind11 enum is the bug
    if velocity:
        start, width = model.jnt_dofadr[joint], _QVEL_WIDTH.get(kind, 1)
    else:
        start, width = model.jnt_qposadr[joint], _QPOS_WIDTH.get(kind, 1)
    return slice(int(start), int(start) + width)


def _get_joint_qpos(model, data, name):
    return data.qpos[_joint_slice(model, name, False)].copy()


def _get_joint_qvel(model, data, name):
    return data.qvel[_joint_slice(model, name, True)].copy()


def _set_joint_qpos(model, data, name, value):
    data.qpos[_joint_slice(model, name, False)] = value


def _set_joint_qvel(model, data, name, value):
    data.qvel[_joint_slice(model, name, True)] = value


def _robot_get_obs(model, data, joint_names):
    names = [n for n in joint_names if n.startswith("robot")]
    if data.qpos is None or not names:
        return np.zeros(0), np.zeros(0)
    qpos = np.squeeze(np.array([_get_joint_qpos(model, data, n) for n in names]))
    qvel = np.squeeze(np.array([_get_joint_qvel(model, data, n) for n in names]))
    return qpos, qvel


_FIXED_UTILS = types.SimpleNamespace(
    **{k: v for k, v in vars(mujoco_utils).items() if not k.startswith("__")}
)
_FIXED_UTILS.get_joint_qpos = _get_joint_qpos
_FIXED_UTILS.get_joint_qvel = _get_joint_qvel
_FIXED_UTILS.set_joint_qpos = _set_joint_qpos
_FIXED_UTILS.set_joint_qvel = _set_joint_qvel
_FIXED_UTILS.robot_get_obs = _robot_get_obs


class FetchPushSim(MujocoFetchPushEnv):
    """gymnasium-robotics' FetchPush-v4 env whose joint helpers work on mujoco >= 3.12."""

    @property
    def _utils(self) -> types.SimpleNamespace:
        return _FIXED_UTILS

    @_utils.setter
    def _utils(self, value: Any) -> None:
        pass  # MujocoRobotEnv.__init__ assigns the stock module; this instance keeps ours


# ---- rendering --------------------------------------------------------------------------------
def _fast_renderer(model: mujoco.MjModel, image_size: int) -> tuple[mujoco.Renderer, Any]:
    """A renderer drawing directly at ``image_size`` with the cheap settings, warmed up."""
    model.vis.global_.offwidth = image_size
    model.vis.global_.offheight = image_size
    model.vis.quality.offsamples = 0
    model.vis.quality.shadowsize = 0
    mocap_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, "robot0:mocap")
    model.geom_rgba[model.geom_bodyid == mocap_body, 3] = 0.0  # the crosshair shows the action
    renderer = mujoco.Renderer(model, image_size, image_size)
    close_at_exit(renderer)
    for flag in ("mjRND_SHADOW", "mjRND_REFLECTION", "mjRND_SKYBOX"):
        renderer.scene.flags[getattr(mujoco.mjtRndFlag, flag)] = 0
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = CAMERA["lookat"]
    camera.distance, camera.azimuth = CAMERA["distance"], CAMERA["azimuth"]
    camera.elevation = CAMERA["elevation"]
    return renderer, camera


def _render(renderer: mujoco.Renderer, camera: Any, data: mujoco.MjData) -> np.ndarray:
    renderer.update_scene(data, camera)
    return renderer.render()


def _make_sim(image_size: int) -> FetchPushSim:
    # FetchPush's own renderer stays unused; width/height size the offscreen buffer
    return FetchPushSim(render_mode=None, width=image_size, height=image_size)


# ---- the env ----------------------------------------------------------------------------------
class FetchPush(GoalEnv):
    """FetchPush on gymnasium-robotics 1.4.2 (see the module docstring).

    Args:
        image_size: side of the square pixel observation.
        render_mode: ``"rgb_array"`` or ``None``.
        show_goal: draw FetchPush's red target sphere at the goal position.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}
    action_dim = 4
    proprio_dim = 6

    def __init__(
        self, image_size: int = 64, render_mode: str | None = "rgb_array", show_goal: bool = False
    ):
        image_size = check_image_size(image_size)
        self._sim = _make_sim(image_size)  # the offscreen buffer is sized at model load
        model = self._sim.model
        self.state_dim = mujoco.mj_stateSize(model, _SPEC)
        super().__init__(image_size, render_mode)
        self.show_goal = show_goal
        self._model, self._data = model, self._sim.data
        self._grip = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "robot0:grip")
        self._target = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target0")
        model.site_rgba[self._target, 3] = 1.0 if show_goal else 0.0
        qpos = _joint_slice(model, "object0:joint", False)
        self.object_slice = slice(1 + qpos.start, 4 + qpos.start)  # time comes first
        self._renderer, self._camera = _fast_renderer(model, self.image_size)
        # free the GL context with the env (one still open at exit: see close_at_exit)
        weakref.finalize(self, close_renderer, self._renderer).atexit = False
        self._sim.reset(seed=0)
        self.goal_centre = self._sim.initial_gripper_xpos[:2].copy()
        self.goal_range = float(self._sim.target_range)
        self.table_z = float(self._sim.height_offset)
        self.rest_z = float(self._sim.initial_gripper_xpos[2])
        self._frame: np.ndarray | None = None
        self._velocity = np.zeros(6)
        for _ in range(_WARMUP_FRAMES):
            _render(self._renderer, self._camera, self._data)

    # ---- simulator ----------------------------------------------------------------------------
    def raw_stepper(self, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """The module's :func:`raw_stepper` at this env's settings (``GoalEnv.raw_stepper``)."""
        return raw_stepper(self.image_size, seed)

    def _reset_sim(self, rng: np.random.Generator) -> np.ndarray:
        while True:
            self._sim.reset(seed=int(rng.integers(2**31 - 1)))
            start = self.get_state()
            goal_xyz = self._sim.goal.copy()
            if np.linalg.norm(goal_xyz - start[self.object_slice]) >= SUCCESS_DISTANCE_M:
                break
        goal = self._goal_state_for(start, goal_xyz)
        self._set_sim_state(start)
        return goal

    def _goal_state_for(self, start: np.ndarray, goal_xyz: np.ndarray) -> np.ndarray:
        """Parks the gripper behind ``goal_xyz`` (real arm dynamics), then puts the object at
        rest on the goal; leaves the simulator in that state."""
        push = goal_xyz[:2] - start[self.object_slice][:2]
        push = push / max(np.linalg.norm(push), 1e-9)
        park = np.r_[goal_xyz[:2] - GOAL_PARK_M[0] * push, self.rest_z + GOAL_PARK_M[1]]
        for _ in range(30):
            error = park - self._data.site_xpos[self._grip]
            if np.linalg.norm(error) < 0.003:
                break
            self._sim.step(np.r_[np.clip(error / ACTION_STEP_M, -1, 1), 0.0])
        obj = _joint_slice(self._model, "object0:joint", False)
        vel = _joint_slice(self._model, "object0:joint", True)
        self._data.qpos[obj] = np.r_[goal_xyz, 1.0, 0.0, 0.0, 0.0]
        self._data.qvel[vel] = 0.0
        mujoco.mj_forward(self._model, self._data)
        return self.get_state()

    def _apply_action(self, action: np.ndarray) -> None:
        self._sim.step(action)
        self._frame = None

    def get_state(self) -> np.ndarray:
        state = np.empty(self.state_dim)
        mujoco.mj_getState(self._model, self._data, state, _SPEC)
        return state

    def _set_sim_state(self, state: np.ndarray) -> None:
        quat = state[self.object_slice.stop : self.object_slice.stop + 4]
        if not 0.5 < np.linalg.norm(quat) < 2.0:
            raise ValueError(f"FetchPush: object quaternion {quat} is not a rotation")
        mujoco.mj_setState(self._model, self._data, state, _SPEC)
        mujoco.mj_forward(self._model, self._data)
        self._frame = None

    def set_goal(self, goal_state: Any) -> None:
        super().set_goal(goal_state)
        goal_xyz = self._goal_state[self.object_slice]
        self._sim.goal = goal_xyz.copy()  # keeps FetchPush's own reward/is_success consistent
        body = self._model.site_bodyid[self._target]
        self._model.site_pos[self._target] = goal_xyz - self._data.xpos[body]
        if self.show_goal:
            mujoco.mj_forward(self._model, self._data)  # moves the site; the state is unchanged
            self._frame = None

    def _render_pixels(self) -> np.ndarray:
        if self._frame is None:
            self._frame = _render(self._renderer, self._camera, self._data)
        return self._frame

    def _proprio(self) -> np.ndarray:
        mujoco.mj_objectVelocity(
            self._model, self._data, mujoco.mjtObj.mjOBJ_SITE, self._grip, self._velocity, 0
        )
        return np.r_[self._data.site_xpos[self._grip], self._velocity[3:]].astype(np.float32)

    def close(self) -> None:
        close_renderer(self._renderer)
        self._sim.close()

    # ---- task ---------------------------------------------------------------------------------
    def distance(self, state: np.ndarray, goal_state: np.ndarray) -> float:
        """Object position error in m."""
        s = self.object_slice
        return float(np.linalg.norm(np.asarray(state)[s] - np.asarray(goal_state)[s]))

    def is_success(self, state: np.ndarray, goal_state: np.ndarray) -> bool:
        return self.distance(state, goal_state) < SUCCESS_DISTANCE_M

    def _make_expert(self, rng: np.random.Generator, noise: float) -> FetchPushExpert:
        return FetchPushExpert(self, rng, noise)


class FetchPushExpert:
    """Noisy scripted pusher: lifts the gripper over the object when it is in the way, lowers
    it 6 cm behind the object on the far side from the target, pushes along the line through the
    object's centre, and after each success picks a new target in FetchPush's goal region.
    Gaussian noise of std ``noise`` is added to the three motion components; the gripper
    component (blocked in FetchPush) is left random so it carries no information.
    """

    def __init__(self, env: FetchPush, rng: np.random.Generator, noise: float):
        self.rng, self.noise = rng, noise
        self.object_slice = env.object_slice
        self.centre, self.range = env.goal_centre, env.goal_range
        self.table_z, self.rest_z = env.table_z, env.rest_z
        self._target = np.zeros(3)

    def reset(self, info: dict[str, Any]) -> None:
        self._target = np.asarray(info["goal_state"])[self.object_slice].copy()

    def _waypoint(self, grip: np.ndarray, obj: np.ndarray) -> np.ndarray:
        safe_z = self.table_z + 0.08
        push = self._target[:2] - obj[:2]
        remaining = np.linalg.norm(push)
        push = push / max(remaining, 1e-9)
        behind = obj[:2] - PUSH_STANDOFF_M * push
        offset = grip[:2] - obj[:2]
        along, lateral = offset @ push, offset - (offset @ push) * push
        lined_up = np.linalg.norm(lateral) < 0.012 and -0.075 < along < -0.035
        if lined_up and grip[2] < self.rest_z + 0.02:
            # push through the centre: step along the line, pull back onto it
            step = min(remaining + 0.01, ACTION_STEP_M)
            return np.r_[grip[:2] + push * step - lateral, self.rest_z]
        # the path to the stand-off point passes the object: go over it
        to_behind = behind - grip[:2]
        t = np.clip((obj[:2] - grip[:2]) @ to_behind / max(to_behind @ to_behind, 1e-9), 0, 1)
        blocked = np.linalg.norm(grip[:2] + t * to_behind - obj[:2]) < 0.055
        if np.linalg.norm(to_behind) > 0.01 and (blocked or grip[2] > self.rest_z + 0.03):
            if blocked and grip[2] < safe_z - 0.02:
                return np.r_[grip[:2], safe_z]
            return np.r_[behind, safe_z if blocked else grip[2]]
        return np.r_[behind, self.rest_z]

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        state = np.asarray(info["state"])
        obj, grip = state[self.object_slice], np.asarray(obs["proprio"][:3], dtype=np.float64)
        if np.linalg.norm(obj - self._target) < 0.6 * SUCCESS_DISTANCE_M:
            xy = self.centre + self.rng.uniform(-self.range, self.range, 2)
            self._target = np.r_[xy, self.table_z]
        move = (self._waypoint(grip, obj) - grip) / ACTION_STEP_M
        move = move / max(1.0, np.abs(move).max()) + self.rng.normal(0.0, self.noise, 3)
        action = np.r_[move, self.rng.uniform(-1, 1)]
        return np.clip(action, -1, 1).astype(np.float32)


def raw_stepper(image_size: int, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """Steps gymnasium-robotics' FetchPush-v4 directly (with the joint-helper fix) and renders
    with the same settings: the reference the speed benchmark compares :class:`FetchPush` to.

    Returns:
        ``step(action (4,)) -> frame uint8 (image_size, image_size, 3)``, with a ``close()``
        attribute that releases the GL context.
    """
    sim = _make_sim(image_size)
    sim.model.site_rgba[mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_SITE, "target0"), 3] = 0
    renderer, camera = _fast_renderer(sim.model, image_size)
    sim.reset(seed=seed)
    for _ in range(_WARMUP_FRAMES):
        _render(renderer, camera, sim.data)

    def step(action: np.ndarray) -> np.ndarray:
        sim.step(np.asarray(action, dtype=np.float64))
        return _render(renderer, camera, sim.data)

    def close() -> None:
        close_renderer(renderer)
        sim.close()

    step.close = close
    weakref.finalize(step, close_renderer, renderer).atexit = False
    return step
