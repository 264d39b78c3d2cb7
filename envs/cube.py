"""Cube: a UR5e arm picks up a 4 cm cube and places it at a goal on the table (OGBench cube-single).

Built on OGBench 1.2.2 ``CubeEnv(env_type="single")``, the manipspace env behind
``cube-single-v0`` / ``visual-cube-single-v0`` (LeWM's and stable-worldmodel's manipulation task),
on MuJoCo 3.17. Its MJCF scene (UR5e + Robotiq 2F-85 + one cube, invisible walls around the
table), its physics (2 ms physics step, 50 ms env step = 25 physics steps) and its end-effector
controller (``CubeEnv.set_control``: differential IK to a target pinch pose, joint PD control,
gripper position actuator) are used as they are; rendering, start/goal sampling and state
handling are wmbench's. The OGBench env is built with ``ob_type="states"`` so it never renders.

State (``state_dim = 255``, float64): ``mj_getState(mjSTATE_INTEGRATION)``: time, qpos (21: arm 6,
gripper linkage 8, cube free joint 7 = xyz + wxyz quaternion), qvel (20), solver warm start,
ctrl (7), applied forces, equality flags and the pose of OGBench's target-cube mocap body. The
controller keeps nothing between steps (each step recomputes its target from the current pinch
pose), so this is the whole state: a restored state gives the same pixels and the same future.
:meth:`Cube.decode_state` reads cube and pinch poses from it. Proprio (18): arm joint positions
(6, rad) and velocities (6, rad/s), pinch position (3, m), cos and sin of the pinch yaw, gripper
opening (0 open, 1 closed).

Action: ``a`` in [-1, 1]^5 is OGBench's normalised action, per 50 ms step: the pinch target is
set ``a[:3] * 0.05`` m from the current pinch point (world x, y, z; clipped to the workspace
[0.25, 0.6] x [-0.35, 0.35] x [0.02, 0.35]), its yaw ``a[3] * 0.3`` rad from the current yaw, and
the gripper target opening ``a[4]`` from the current opening (opening in [0, 1], 1 = closed).
The joint PD lags these targets: a held ``a = 1`` moves the pinch about 2.2 cm and turns it about
0.067 rad per step, and closes the empty gripper to 0.9 in five steps.

Start and goal: the arm at a random pinch point in [0.25, 0.6] x [-0.35, 0.35] x [0.2, 0.35] with
a random yaw (OGBench's data-collection reset), the cube at rest at a uniform xy in
[0.3, 0.55] x [-0.3, 0.3] with a random yaw; the goal state has its own random arm pose and the
cube at another uniform xy, at least ``MIN_GOAL_DISTANCE`` away. ``task_id=1..5`` uses OGBench's
five evaluation tasks instead (fixed start and goal cube positions, start jittered by 1 cm).

Success: ``||cube_xyz - goal_cube_xyz|| <= 0.04`` m, OGBench's ``CubeEnv._compute_successes``
(stable-worldmodel uses the same); ``distance`` is that norm in metres.

Rendering (``envs/mujoco_render.py``): the upstream visual env renders 6-17 frames/s on a 2-core CPU
(``python -m benchmark.scripts.env_speed``). Here the offscreen buffer is ``image_size`` square,
shadows, multisampling, skybox, reflections and the spotlight are off, and the ~185k-face visual
meshes are not drawn: the arm is drawn with its collision capsules (light blue, 40 % opaque) and the
gripper with the convex hulls of its collision meshes (purple, 50 % opaque; pads 80 %), so the red
cube shows through them as it does in OGBench's own pixel envs (which make the arm 90 %
transparent). Camera: OGBench's ``front_pixels``. The target-cube marker is hidden unless
``show_goal=True``. Step + render on the 2-core CPU: about 9 frames/s upstream, 330-380 (64 px) and
220-250 (224 px) here; see ``python -m benchmark.scripts.env_speed --envs wmbench/Cube-v0``.

Pitfalls handled:
- Freeing a MuJoCo render context while another env's GL context is current corrupts that env's
  GL objects (a second OGBench visual env in one process renders garbage): the renderer makes
  its own context current before freeing it, on ``close()``, on garbage collection and at exit.
- ``mj_step`` leaves positions one physics step behind the state; every env step ends with
  ``mj_forward``, so a restored state renders the same pixels and the controller (which reads the
  pinch pose) continues bit-identically.
- OGBench's ``reset`` runs once, to compile the model; wmbench's reset writes the whole state
  itself (OGBench's task-mode reset draws from numpy's global RNG and an unseeded action space).
- Do not install ``ogbench[train]``: it pulls CUDA jax.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import mujoco
import numpy as np

from envs.base import GoalEnv
from envs.mujoco_render import MujocoRenderer, configure_cheap_quality

SUCCESS_THRESHOLD = 0.04
MIN_GOAL_DISTANCE = 2 * SUCCESS_THRESHOLD
CUBE_HALF_SIZE = 0.02
ACTION_SCALE = np.array([0.05, 0.05, 0.05, 0.3, 1.0])  # m, m, m, rad, opening per step
OBJECT_BOUNDS = np.array([[0.3, -0.3], [0.55, 0.3]])
# OGBench cube-single evaluation tasks (CubeEnv.set_tasks): (start cube xy, goal cube xy).
OGBENCH_TASKS = (
    ((0.425, 0.1), (0.425, -0.1)),
    ((0.35, 0.0), (0.50, 0.0)),
    ((0.50, 0.0), (0.35, 0.0)),
    ((0.35, -0.2), (0.50, 0.2)),
    ((0.35, 0.2), (0.50, -0.2)),
)
STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
CAMERA = "front_pixels"
_ARM_RGBA = (0.55, 0.68, 0.9, 0.4)
_GRIPPER_RGBA = (0.61, 0.28, 0.82, 0.5)
_PAD_RGBA = (0.35, 0.15, 0.5, 0.8)
_GOAL_RGBA = (0.96, 0.26, 0.33, 0.3)
# Draw the arm's collision capsules (group 3) instead of its ~185k-face visual meshes (group 2).
_GEOM_GROUPS = (1, 1, 0, 1, 0, 0)


class CubeView(NamedTuple):
    """Task-relevant quantities decoded from a state vector (positions in metres, yaws in rad)."""

    cube_pos: np.ndarray
    cube_yaw: float
    pinch_pos: np.ndarray
    pinch_yaw: float
    gripper_opening: float


def quat_yaw(wxyz: np.ndarray) -> float:
    """Yaw (rotation about world z) of a unit quaternion ``(w, x, y, z)``."""
    w, x, y, z = wxyz
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def build_sim(image_size: int, seed: int = 0) -> Any:
    """The OGBench cube-single env, compiled, with its model set up for cheap rendering."""
    from ogbench.manipspace.envs.cube_env import CubeEnv

    sim = CubeEnv(
        env_type="single",
        ob_type="states",
        mode="data_collection",
        visualize_info=False,
        width=image_size,  # offwidth/offheight of the offscreen buffer = image size
        height=image_size,
    )
    sim.reset(seed=seed)
    _configure_rendering(sim.model)
    return sim


def _configure_rendering(model: mujoco.MjModel) -> None:
    """Render-only model settings (physics untouched); they must precede the GL context."""
    configure_cheap_quality(model)  # no MSAA, no shadow map, 12 x 6 facets per capsule
    model.light_active[model.light("spotlight").id] = 0
    for g in range(model.ngeom):
        body = model.body(model.geom_bodyid[g]).name
        if model.geom_group[g] == 3 and body.startswith("ur5e/robotiq/"):
            model.geom_rgba[g] = _PAD_RGBA if "pad" in body else _GRIPPER_RGBA
        elif model.geom_group[g] == 3 and body.startswith("ur5e/"):
            model.geom_rgba[g] = _ARM_RGBA
        elif model.geom_group[g] == 3 or body.startswith("object_target"):
            model.geom_rgba[g, 3] = 0.0  # invisible walls and the target marker: not drawn


def make_renderer(model: mujoco.MjModel, image_size: int) -> MujocoRenderer:
    """The cheap renderer of the cube scene: collision geoms, gripper meshes as convex hulls."""
    return MujocoRenderer(model, image_size, CAMERA, _GEOM_GROUPS, convex_hull=True)


class Cube(GoalEnv):
    """The OGBench cube-single pick-and-place task (see the module docstring).

    Args:
        image_size: side of the square frame in pixels.
        render_mode: ``"rgb_array"`` or None.
        show_goal: draw a translucent cube at the goal pose (off for training data).
        task_id: None samples start and goal; 1..5 uses OGBench's evaluation task of that number.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    action_dim = 5
    proprio_dim = 18
    state_dim = 255
    collect_cost = 3.0  # 95 steps/s at 64 px on one core (results/benchmarks/collection_cost.md)

    def __init__(
        self,
        image_size: int = 64,
        render_mode: str | None = "rgb_array",
        show_goal: bool = False,
        task_id: int | None = None,
    ):
        super().__init__(image_size, render_mode)
        if task_id is not None and task_id not in range(1, len(OGBENCH_TASKS) + 1):
            raise ValueError(f"task_id must be None or 1..{len(OGBENCH_TASKS)}, got {task_id!r}")
        self.show_goal, self.task_id = show_goal, task_id
        self._sim = build_sim(self.image_size)
        self.model, self.data = self._sim.model, self._sim.data
        m = self.model
        if mujoco.mj_stateSize(m, STATE_SPEC) != self.state_dim:
            raise RuntimeError("Cube: the OGBench model's state size changed; pin ogbench 1.2.2")
        self._nstep = round(self._sim.control_timestep() / self._sim.physics_timestep())
        # offsets of qpos and qvel in the state vector
        self._qpos_at = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_TIME)
        self._qvel_at = mujoco.mj_stateSize(
            m, mujoco.mjtState.mjSTATE_TIME | mujoco.mjtState.mjSTATE_QPOS
        )
        self._cube_qpos = m.jnt_qposadr[m.joint("object_joint_0").id]
        self._cube_dof = m.jnt_dofadr[m.joint("object_joint_0").id]
        self._grip_qpos = m.jnt_qposadr[m.joint("ur5e/robotiq/right_driver_joint").id]
        arm = [m.joint(f"ur5e/{j}_joint").id for j in _ARM_JOINTS]
        self._arm_qpos, self._arm_dof = m.jnt_qposadr[arm], m.jnt_dofadr[arm]
        self._pinch = m.site("ur5e/robotiq/pinch").id
        self._mocap = m.body("object_target_0").mocapid[0]
        self._scratch = mujoco.MjData(m)  # for decode_state, never rendered
        self._renderer = make_renderer(m, self.image_size)
        self._renderer.warm_up(self.data)

    # ---- simulator ------------------------------------------------------------------------
    def _place(
        self, rng: np.random.Generator, cube_xy: np.ndarray, cube_yaw: float, goal_pose: np.ndarray
    ) -> np.ndarray:
        """Random arm pose, cube at rest at ``cube_xy``; returns the state."""
        mujoco.mj_resetData(self.model, self.data)
        self._sim.np_random = rng  # OGBench's arm sampler draws from the env's generator
        self._sim.initialize_arm()
        quat = np.array([np.cos(cube_yaw / 2), 0.0, 0.0, np.sin(cube_yaw / 2)])
        self.data.qpos[self._cube_qpos : self._cube_qpos + 7] = (*cube_xy, CUBE_HALF_SIZE, *quat)
        self.data.mocap_pos[self._mocap] = goal_pose[:3]
        self.data.mocap_quat[self._mocap] = goal_pose[3:]
        mujoco.mj_forward(self.model, self.data)
        return self.get_state()

    def raw_stepper(self, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """The module's :func:`raw_stepper` at this env's settings (``GoalEnv.raw_stepper``)."""
        return raw_stepper(self.image_size, seed)

    def _reset_sim(self, rng: np.random.Generator) -> np.ndarray:
        if self.task_id is None:
            start_xy = rng.uniform(*OBJECT_BOUNDS)
            goal_xy = rng.uniform(*OBJECT_BOUNDS)
            while np.linalg.norm(goal_xy - start_xy) < MIN_GOAL_DISTANCE:
                goal_xy = rng.uniform(*OBJECT_BOUNDS)
            goal_yaw = rng.uniform(0, 2 * np.pi)
        else:
            start, goal = OGBENCH_TASKS[self.task_id - 1]
            start_xy = np.asarray(start) + rng.uniform(-0.01, 0.01, 2)
            goal_xy, goal_yaw = np.asarray(goal), 0.0
        goal_pose = np.array(
            [*goal_xy, CUBE_HALF_SIZE, np.cos(goal_yaw / 2), 0, 0, np.sin(goal_yaw / 2)]
        )
        goal = self._place(rng, goal_xy, goal_yaw, goal_pose)
        self._place(rng, start_xy, rng.uniform(0, 2 * np.pi), goal_pose)
        return goal

    def _apply_action(self, action: np.ndarray) -> None:
        self._sim.set_control(action)  # OGBench un-normalises by ACTION_SCALE and runs the IK
        mujoco.mj_step(self.model, self.data, nstep=self._nstep)
        mujoco.mj_forward(self.model, self.data)  # positions of the state, not one step behind

    def get_state(self) -> np.ndarray:
        state = np.empty(self.state_dim)
        mujoco.mj_getState(self.model, self.data, state, STATE_SPEC)
        return state

    def _set_sim_state(self, state: np.ndarray) -> None:
        quat = state[self._qpos_at + self._cube_qpos + 3 : self._qpos_at + self._cube_qpos + 7]
        if abs(np.linalg.norm(quat) - 1) > 1e-3:
            raise ValueError(f"Cube: the cube quaternion {quat} in the state is not unit length")
        mujoco.mj_setState(self.model, self.data, state, STATE_SPEC)
        mujoco.mj_forward(self.model, self.data)

    def _render_pixels(self) -> np.ndarray:
        if not self.show_goal:
            return self._renderer.render(self.data)
        pose, mat = self._cube_pose(self._goal_state), np.empty(9)
        mujoco.mju_quat2Mat(mat, pose[3:])
        marker = dict(
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=np.full(3, CUBE_HALF_SIZE),
            pos=pose[:3],
            mat=mat,
            rgba=np.array(_GOAL_RGBA, np.float32),
        )
        return self._renderer.render(self.data, extra=[marker])

    def _proprio(self) -> np.ndarray:
        d = self.data
        yaw = _site_yaw(d.site_xmat[self._pinch])
        return np.concatenate(
            [
                d.qpos[self._arm_qpos],
                d.qvel[self._arm_dof],
                d.site_xpos[self._pinch],
                [np.cos(yaw), np.sin(yaw), self._opening(d.qpos[self._grip_qpos])],
            ]
        )

    def close(self) -> None:
        self._renderer.close()
        super().close()

    # ---- task -----------------------------------------------------------------------------
    def _cube_pose(self, state: np.ndarray) -> np.ndarray:
        at = self._qpos_at + self._cube_qpos
        return np.asarray(state)[at : at + 7]

    def distance(self, state: np.ndarray, goal_state: np.ndarray) -> float:
        return float(np.linalg.norm(self._cube_pose(state)[:3] - self._cube_pose(goal_state)[:3]))

    def is_success(self, state: np.ndarray, goal_state: np.ndarray) -> bool:
        return self.distance(state, goal_state) <= SUCCESS_THRESHOLD

    def moved(self, state: np.ndarray, next_state: np.ndarray) -> bool:
        """Whether the cube moved by more than 0.5 mm (contact jitter is far smaller)."""
        return self.distance(state, next_state) > 5e-4

    def with_cube(self, state: np.ndarray, xyz: Any, yaw: float = 0.0) -> np.ndarray:
        """A copy of ``state`` with the cube at rest at ``xyz`` (m) with yaw ``yaw`` (rad)."""
        state = self._check_state(state, "state").copy()
        at = self._qpos_at + self._cube_qpos
        state[at : at + 7] = (*xyz, np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
        state[self._qvel_at + self._cube_dof : self._qvel_at + self._cube_dof + 6] = 0.0
        return state

    def decode_state(self, state: np.ndarray) -> CubeView:
        """Cube and pinch poses of a state vector (forward kinematics on a scratch copy)."""
        state = self._check_state(state, "state")
        mujoco.mj_setState(self.model, self._scratch, state, STATE_SPEC)
        mujoco.mj_kinematics(self.model, self._scratch)
        cube = self._cube_pose(state)
        return CubeView(
            cube_pos=cube[:3].copy(),
            cube_yaw=quat_yaw(cube[3:]),
            pinch_pos=self._scratch.site_xpos[self._pinch].copy(),
            pinch_yaw=_site_yaw(self._scratch.site_xmat[self._pinch]),
            gripper_opening=self._opening(self._scratch.qpos[self._grip_qpos]),
        )

    @staticmethod
    def _opening(driver_angle: float) -> float:
        return float(np.clip(driver_angle / 0.8, 0.0, 1.0))  # OGBench's normalisation

    # ---- data-collection policies ---------------------------------------------------------
    def _make_expert(self, rng: np.random.Generator, noise: float) -> CubeExpert:
        return CubeExpert(self, rng, noise)


_ARM_JOINTS = ("shoulder_pan", "shoulder_lift", "elbow", "wrist_1", "wrist_2", "wrist_3")


def _site_yaw(xmat: np.ndarray) -> float:
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, xmat)
    return quat_yaw(quat)


class CubeExpert:
    """Scripted pick-and-place with Gaussian action noise of std ``noise``.

    Phases: hover above the cube with the gripper yaw matched to a cube face, descend, close,
    lift, carry above the target, lower, release, rise; then a fresh random target on the table,
    so data collection keeps moving the cube after the episode's goal is reached. A cube that
    slips out of the gripper sends it back to hovering. Reads only ``info["state"]`` and
    ``info["goal_state"]`` (decoded through the env's public :meth:`Cube.decode_state`).

    Measured over 200-step episodes: noise 0.3 reaches the goal in 20/20 episodes (first success
    after 50 steps median, 74 max), the cube moves in 62 % of steps; noise 0 in 10/10; noise 0.6
    in 9/10 (cube moves in 43 % of steps); noise 1.0 in 1/10. The random policy moves the cube in
    none of 600 steps.
    """

    HOVER, DESCEND, GRASP, LIFT, CARRY, LOWER, RELEASE, RISE = range(8)
    hover_height = 0.12
    carry_height = 0.15
    close_steps = 4
    release_steps = 3

    def __init__(self, env: Cube, rng: np.random.Generator, noise: float):
        self.env, self.rng, self.noise = env, rng, noise
        self._target = np.array([0.425, 0.0, CUBE_HALF_SIZE])
        self._phase, self._timer = self.HOVER, 0

    def reset(self, info: dict[str, Any]) -> None:
        self._target = self.env.decode_state(info["goal_state"]).cube_pos
        self._phase, self._timer = self.HOVER, 0

    def _next_phase(self, v: CubeView) -> int:
        """The phase for this step, from the current one and the decoded state."""
        cube_xy_err = np.linalg.norm(v.cube_pos[:2] - v.pinch_pos[:2])
        held = np.linalg.norm(v.cube_pos - v.pinch_pos) < 0.03 and v.gripper_opening > 0.2
        p, self._timer = self._phase, self._timer + 1
        if p in (self.LIFT, self.CARRY, self.LOWER) and not held:
            return self.HOVER
        if p == self.HOVER and cube_xy_err < 0.012 and abs(self._yaw_error(v)) < 0.15:
            return self.DESCEND
        if p == self.DESCEND and cube_xy_err > 0.03:
            return self.HOVER
        if p == self.DESCEND and np.linalg.norm(v.cube_pos - v.pinch_pos) < 0.012:
            self._timer = 0
            return self.GRASP
        if p == self.GRASP and self._timer >= self.close_steps:
            return self.LIFT
        if p == self.LIFT and v.pinch_pos[2] > self.carry_height - 0.03:
            return self.CARRY
        if p == self.CARRY and np.linalg.norm(v.cube_pos[:2] - self._target[:2]) < 0.01:
            return self.LOWER
        if p == self.LOWER and v.cube_pos[2] - self._target[2] < 0.01:
            self._timer = 0
            return self.RELEASE
        if p == self.RELEASE and self._timer >= self.release_steps:
            return self.RISE
        if p == self.RISE and v.pinch_pos[2] > self.hover_height - 0.02:
            self._target = np.array([*self.rng.uniform(*OBJECT_BOUNDS), CUBE_HALF_SIZE])
            return self.HOVER
        return p

    @staticmethod
    def _yaw_error(v: CubeView) -> float:
        """Shortest pinch yaw change to a cube-face yaw (a cube repeats every pi/2); the
        controller takes targets across +-pi, so no range limit applies."""
        return float((v.cube_yaw - v.pinch_yaw + np.pi / 4) % (np.pi / 2) - np.pi / 4)

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        v = self.env.decode_state(info["state"])
        self._phase = self._next_phase(v)
        p, cube, target = self._phase, v.cube_pos, self._target
        aim = {
            self.HOVER: (*cube[:2], self.hover_height),
            self.DESCEND: cube,
            self.GRASP: cube,
            self.LIFT: (*v.pinch_pos[:2], self.carry_height),
            self.CARRY: (*(v.pinch_pos[:2] + target[:2] - cube[:2]), self.carry_height),
            self.LOWER: v.pinch_pos + target - cube,
            self.RELEASE: v.pinch_pos,
            self.RISE: (*v.pinch_pos[:2], self.hover_height),
        }[p]
        move = (np.asarray(aim, dtype=np.float64) - v.pinch_pos) / ACTION_SCALE[:3]
        move = move / max(1.0, np.abs(move).max())  # full speed, direction kept
        yaw = self._yaw_error(v) / ACTION_SCALE[3] if p in (self.HOVER, self.DESCEND) else 0.0
        grip = 1.0 if p in (self.GRASP, self.LIFT, self.CARRY, self.LOWER) else -1.0
        action = np.array([*move, np.clip(yaw, -1, 1), grip])
        action = action + self.rng.normal(0.0, self.noise, 5)
        return np.clip(action, -1, 1).astype(np.float32)


def raw_stepper(
    image_size: int, seed: int = 0, ogbench_step: bool = False
) -> Callable[[np.ndarray], np.ndarray]:
    """The bare OGBench simulator plus the same renderer: the wrapper-overhead baseline.

    Each call runs OGBench's controller (``CubeEnv.set_control``) and its 25 physics steps, then
    renders. ``ogbench_step=True`` calls ``CubeEnv.step`` instead, which also builds OGBench's
    observation and info dicts (three times per step) that wmbench does not use. The returned
    callable has a ``close()`` that frees its GL context.
    """
    sim = build_sim(image_size, seed)
    model, data = sim.model, sim.data
    nstep = round(sim.control_timestep() / sim.physics_timestep())
    renderer = make_renderer(model, image_size)
    renderer.warm_up(data)

    class RawStep:
        """One OGBench step plus a render per call; ``sim`` is the OGBench env."""

        def __init__(self) -> None:
            self.sim = sim

        def __call__(self, action: np.ndarray) -> np.ndarray:
            action = np.clip(action, -1, 1)
            if ogbench_step:
                sim.step(action)
            else:
                sim.set_control(action)
                mujoco.mj_step(model, data, nstep=nstep)
            return renderer.render(data)

        def close(self) -> None:
            renderer.close()

    return RawStep()
