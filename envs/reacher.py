"""Reacher: a planar two-link arm that must match a target joint configuration.

Built on dm_control 1.0.50's suite reacher (``easy``; MuJoCo 3.17): its model, physics and its
start distribution (``randomize_limited_and_rotational_joints``) as they are; the goal is
stable-worldmodel's ``qpos_match`` task, a full target joint configuration rather than the
suite's point target.

State (``state_dim = 6``, float64): ``[shoulder, wrist, shoulder_vel, wrist_vel, warm_s, warm_w]``
= MuJoCo's ``mjSTATE_QPOS | mjSTATE_QVEL | mjSTATE_WARMSTART`` (the solver warm start matters at
the wrist's joint limit and makes a restored state step bit-identically). Angles are in radians;
the shoulder is unlimited (it can wind past +-pi), the wrist is limited to +-160 degrees. Goal
states have zero velocity and warm start. Proprio (6): ``[cos(shoulder), cos(wrist),
sin(shoulder), sin(wrist), shoulder_vel, wrist_vel]``; sin/cos because the shoulder angle is only
meaningful modulo 2 pi.

Action: ``a`` in [-1, 1]^2 is the native ``ctrl`` of the two motors (gear 0.05): torques of
``0.05 * a`` N m on the shoulder and the wrist, held for one 0.02 s physics step; no rescaling.

Start and goal: joint angles drawn as the suite draws starts (shoulder U(-pi, pi), wrist uniform
in its range), at rest, independently for the start and the goal.

Success (stable-worldmodel ``qpos_match``): every joint within 0.05 rad of its target, angle
differences wrapped to (-pi, pi]; ``distance`` is the largest wrapped joint error.

Rendering: ``physics``'s top-down ``fixed`` camera (0.75 m above the arena, looking down) through
one persistent ``dm_control.mujoco.Camera`` (``physics.render`` builds a new scene every call,
3x slower at 64 px), offscreen buffer = image size, no multisampling, shadows, reflections or
skybox, warmed up at construction. The suite's target sphere is transparent unless
``show_goal=True``, which puts it on the goal's fingertip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np

from envs.base import GoalEnv

SUCCESS_TOLERANCE = 0.05
_STATE_SPEC = mujoco.mjtState.mjSTATE_QPOS | mujoco.mjtState.mjSTATE_QVEL
_STATE_SPEC |= mujoco.mjtState.mjSTATE_WARMSTART
# The wrist limit is soft: full torque pushes it about 0.17 rad past; set_state accepts 0.5.
_LIMIT_SLACK = 0.5
_WARMUP_FRAMES = 10
_CAMERA = "fixed"


def wrap_angle(angle: np.ndarray) -> np.ndarray:
    """Wraps angles (radians) to (-pi, pi]."""
    return np.pi - np.mod(np.pi - np.asarray(angle, dtype=np.float64), 2 * np.pi)


def _make_physics() -> Any:
    # dm_control is imported here so that `import envs` stays cheap.
    from dm_control.suite import reacher

    return reacher.Physics.from_xml_string(*reacher.get_model_and_assets())


def _make_camera(physics: Any, size: int, show_target: bool) -> Any:
    """A persistent top-down camera with fast render settings, warmed up."""
    from dm_control import mujoco as dm_mujoco

    model = physics.model
    # The GL context is created lazily on the first render, with these buffer settings.
    model.vis.global_.offwidth = size
    model.vis.global_.offheight = size
    model.vis.quality.offsamples = 0
    if not show_target:
        # A geom rgba that differs from the default takes precedence over its material.
        model.geom_rgba[model.name2id("target", "geom"), 3] = 0.0
    camera = dm_mujoco.Camera(physics, height=size, width=size, camera_id=_CAMERA)
    for flag in (
        mujoco.mjtRndFlag.mjRND_SHADOW,
        mujoco.mjtRndFlag.mjRND_REFLECTION,
        mujoco.mjtRndFlag.mjRND_SKYBOX,
    ):
        camera.scene.flags[flag] = 0
    for _ in range(_WARMUP_FRAMES):
        camera.render()
    return camera


class Reacher(GoalEnv):
    """The Reacher joint-target task (see the module docstring).

    Args:
        image_size: side of the square frame in pixels.
        render_mode: ``"rgb_array"`` or None.
        show_goal: draw the suite's target sphere at the goal's fingertip.

    Example:
        >>> import envs
        >>> env = envs.make("wmbench/Reacher-v0", image_size=64)
        >>> obs, info = env.reset(seed=0)
        >>> info["goal_state"].shape  # target angles, then zero velocity and warm start
        (6,)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}
    action_dim = 2
    proprio_dim = 6
    state_dim = 6

    def __init__(
        self, image_size: int = 64, render_mode: str | None = "rgb_array", show_goal: bool = False
    ):
        super().__init__(image_size, render_mode)
        self.show_goal = show_goal
        self._physics = _make_physics()
        model = self._physics.model
        self.wrist_limit = float(model.jnt_range[model.name2id("wrist", "joint"), 1])
        # Link lengths: the hand and the finger bodies sit along the previous link's x axis.
        self.links = (
            float(model.body_pos[model.name2id("hand", "body"), 0]),
            float(model.body_pos[model.name2id("finger", "body"), 0]),
        )
        self._target_geom = model.name2id("target", "geom")
        self._camera = _make_camera(self._physics, self.image_size, show_goal)

    # ---- simulator ------------------------------------------------------------------------
    def sample_qpos(self, rng: np.random.Generator) -> np.ndarray:
        """Random joint angles, as dm_control's suite draws reacher starts."""
        limit = self.wrist_limit
        return np.array([rng.uniform(-np.pi, np.pi), rng.uniform(-limit, limit)])

    def fingertip(self, qpos: np.ndarray) -> np.ndarray:
        """Planar forward kinematics: the fingertip ``(x, y)`` of joint angles ``qpos``."""
        l1, l2 = self.links
        a, b = qpos[0], qpos[0] + qpos[1]
        return np.array([l1 * np.cos(a) + l2 * np.cos(b), l1 * np.sin(a) + l2 * np.sin(b)])

    def raw_stepper(self, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """The module's :func:`raw_stepper` at this env's settings (``GoalEnv.raw_stepper``)."""
        return raw_stepper(self.image_size, seed)

    def _reset_sim(self, rng: np.random.Generator) -> np.ndarray:
        with self._physics.reset_context():
            self._physics.data.qpos[:] = self.sample_qpos(rng)
        goal = np.zeros(self.state_dim)
        goal[:2] = self.sample_qpos(rng)
        return goal

    def _apply_action(self, action: np.ndarray) -> None:
        self._physics.set_control(action)
        self._physics.step()

    def get_state(self) -> np.ndarray:
        return self._physics.get_state(_STATE_SPEC)

    def _set_sim_state(self, state: np.ndarray) -> None:
        if abs(state[1]) > self.wrist_limit + _LIMIT_SLACK:
            raise ValueError(
                f"Reacher: wrist angle {state[1]:.3f} rad is past its limit "
                f"+-{self.wrist_limit:.3f} rad"
            )
        self._physics.set_state(state, _STATE_SPEC)
        self._physics.forward()

    def set_goal(self, goal_state: Any) -> None:
        super().set_goal(goal_state)
        if self.show_goal:
            self._physics.model.geom_pos[self._target_geom, :2] = self.fingertip(self._goal_state)
            self._physics.forward()  # recomputes the geom poses; the state is untouched

    def _proprio(self) -> np.ndarray:
        q = self._physics.data.qpos
        return np.concatenate([np.cos(q), np.sin(q), self._physics.data.qvel])

    def _render_pixels(self) -> np.ndarray:
        return self._camera.render().copy()

    def close(self) -> None:
        if self._physics is not None:
            self._physics.free()
            self._physics = None
        super().close()

    # ---- task -----------------------------------------------------------------------------
    def distance(self, state: np.ndarray, goal_state: np.ndarray) -> float:
        error = wrap_angle(np.asarray(state)[:2] - np.asarray(goal_state)[:2])
        return float(np.abs(error).max())

    def is_success(self, state: np.ndarray, goal_state: np.ndarray) -> bool:
        return self.distance(state, goal_state) < SUCCESS_TOLERANCE

    def moved(self, state: np.ndarray, next_state: np.ndarray) -> bool:
        return bool(np.abs(np.asarray(next_state)[:2] - np.asarray(state)[:2]).max() > 1e-6)

    # ---- data-collection policies ---------------------------------------------------------
    def _make_expert(self, rng: np.random.Generator, noise: float) -> ReacherExpert:
        return ReacherExpert(self.sample_qpos, rng, noise)


class ReacherExpert:
    """PD control on the joint-angle errors to the goal, then to fresh random targets, with
    Gaussian torque noise of std ``noise``.

    The shoulder error is wrapped (it may turn either way); the wrist error is not, since the
    wrist cannot pass through its +-160 degree limit.

    The damping gain matters: at ``kd = 0.4`` the 0.02 s control step overshoots the joint
    velocity every step (it flips sign, the arm chatters in place) and the noiseless expert
    reached only 17 of 30 held-out 25-step tasks within 50 steps; at ``kd = 0.1`` it reaches all
    30 (median 17 steps), as do ``kp`` 2-16 with ``kd <= 0.2``.

    Args:
        sample_qpos: draws a random target configuration (the env's start distribution).
        rng: the policy's random generator.
        noise: std of the Gaussian added to each action before clipping.
        kp: action per radian of error.
        kd: action per rad/s of joint velocity.
    """

    def __init__(
        self,
        sample_qpos: Callable[[np.random.Generator], np.ndarray],
        rng: np.random.Generator,
        noise: float,
        kp: float = 4.0,
        kd: float = 0.1,
    ):
        self.sample_qpos, self.rng, self.noise = sample_qpos, rng, noise
        self.kp, self.kd = kp, kd
        self._target = np.zeros(2)

    def reset(self, info: dict[str, Any]) -> None:
        self._target = np.asarray(info["goal_state"], dtype=np.float64)[:2].copy()

    def _error(self, qpos: np.ndarray) -> np.ndarray:
        error = self._target - qpos
        error[0] = wrap_angle(error[0])
        return error

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        state = np.asarray(info["state"], dtype=np.float64)
        qpos, qvel = state[:2], state[2:4]
        if np.abs(self._error(qpos)).max() < SUCCESS_TOLERANCE * 0.5:
            self._target = self.sample_qpos(self.rng)
        action = self.kp * self._error(qpos) - self.kd * qvel
        action = action + self.rng.normal(0.0, self.noise, 2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def raw_stepper(image_size: int, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """Steps dm_control's ``suite.load("reacher", "easy")`` environment directly and renders with
    the same camera settings: the reference the speed benchmark compares :class:`Reacher` to.

    Returns:
        ``step(action (2,)) -> frame uint8 (image_size, image_size, 3)``, with a ``close()``
        attribute that frees the physics and its GL context.
    """
    from dm_control import suite

    env = suite.load("reacher", "easy", task_kwargs={"random": seed})
    camera = _make_camera(env.physics, image_size, show_target=False)
    env.reset()

    def step(action: np.ndarray) -> np.ndarray:
        env.step(action)
        return camera.render().copy()

    step.close = env.physics.free
    return step
