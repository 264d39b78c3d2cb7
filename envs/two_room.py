"""Two Rooms: a 2-D point in two rooms joined by a door (the PLDM / EB-JEPA / LeWM navigation task).

Pure numpy: the dynamics and the renderer are a few array operations, so this is the fastest
env in the suite and the one the smoke preset runs.

World: the unit square, ``x`` to the right and ``y`` down (image rows), a vertical wall of
thickness ``WALL_HALF_WIDTH * 2`` at ``x = 0.5`` with a door of height ``DOOR_HALF_HEIGHT * 2``
centred at ``y = 0.5``. State and proprio: the agent position ``(x, y)``.

Action: ``a`` in [-1, 1]^2 moves the agent by ``a * MAX_STEP`` (world units), sliding along
walls it would enter. Success: the agent is within ``SUCCESS_RADIUS = 16 / 224`` of the goal
position (stable-worldmodel's 16 px on a 224 px frame; DINO-WM's 4.5 px on 65 px is the same
fraction of the frame).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from envs.base import GoalEnv

MAX_STEP = 0.04
WALL_HALF_WIDTH = 0.025
DOOR_HALF_HEIGHT = 0.1
AGENT_RADIUS = 0.035
SUCCESS_RADIUS = 16 / 224
_SUBSTEPS = 4  # MAX_STEP / _SUBSTEPS < wall thickness, so no step tunnels through the wall
_BACKGROUND = np.array([236, 236, 228], np.float32)
_WALL = np.array([52, 58, 84], np.float32)
_AGENT = np.array([220, 50, 40], np.float32)
_GOAL = np.array([40, 170, 70], np.float32)


def in_wall(p: np.ndarray) -> np.ndarray:
    """True where the points ``p`` (..., 2) are inside the solid part of the wall."""
    return (np.abs(p[..., 0] - 0.5) < WALL_HALF_WIDTH) & (
        np.abs(p[..., 1] - 0.5) > DOOR_HALF_HEIGHT
    )


def move(p: np.ndarray, action: np.ndarray) -> np.ndarray:
    """One env step of the point dynamics: move by ``action * MAX_STEP``, slide along walls."""
    d = action * (MAX_STEP / _SUBSTEPS)
    for _ in range(_SUBSTEPS):
        for cand in (p + d, p + d * (0.0, 1.0), p + d * (1.0, 0.0)):
            cand = np.clip(cand, 0.0, 1.0)
            if not in_wall(cand):
                p = cand
                break
    return p


class Renderer:
    """Draws the rooms and discs at one image size (the background is drawn once)."""

    def __init__(self, image_size: int):
        self.image_size = image_size
        centres = (np.arange(image_size) + 0.5) / image_size
        self._ys, self._xs = np.meshgrid(centres, centres, indexing="ij")
        wall = in_wall(np.stack([self._xs, self._ys], -1)).astype(np.float32)[..., None]
        self._background = _BACKGROUND * (1 - wall) + _WALL * wall

    def disc_alpha(self, centre: np.ndarray, radius: float) -> np.ndarray:
        # Anti-aliased coverage: sub-pixel motion changes the frame, which a world model needs.
        dist = np.hypot(self._xs - centre[0], self._ys - centre[1])
        return np.clip((radius - dist) * self.image_size + 0.5, 0.0, 1.0)[..., None]

    def __call__(self, pos: np.ndarray, goal: np.ndarray | None = None) -> np.ndarray:
        frame = self._background
        if goal is not None:
            ring = self.disc_alpha(goal, AGENT_RADIUS * 1.3)
            ring = ring - self.disc_alpha(goal, AGENT_RADIUS * 0.8)
            frame = frame * (1 - ring) + _GOAL * ring
        a = self.disc_alpha(pos, AGENT_RADIUS)
        frame = frame * (1 - a) + _AGENT * a
        return np.round(frame).astype(np.uint8)


def raw_stepper(image_size: int, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """Steps the bare simulator (``move`` + ``Renderer``): the wrapper-overhead baseline."""
    render = Renderer(image_size)
    pos = np.random.default_rng(seed).uniform(0.1, 0.3, 2)

    def step(action: np.ndarray) -> np.ndarray:
        nonlocal pos
        pos = move(pos, np.clip(action, -1, 1))
        return render(pos)

    return step


class TwoRoom(GoalEnv):
    """The Two Rooms navigation task (see the module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    action_dim = 2
    proprio_dim = 2
    state_dim = 2

    def __init__(
        self, image_size: int = 64, render_mode: str | None = "rgb_array", show_goal: bool = False
    ):
        super().__init__(image_size, render_mode)
        self.show_goal = show_goal
        self._pos = np.array([0.25, 0.5])
        self._renderer = Renderer(self.image_size)

    # ---- simulator ------------------------------------------------------------------------
    def _sample_free(self, rng: np.random.Generator) -> np.ndarray:
        while True:
            p = rng.uniform(0.03, 0.97, 2)
            if not in_wall(p) and abs(p[0] - 0.5) > WALL_HALF_WIDTH + 0.02:
                return p

    def raw_stepper(self, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """The module's :func:`raw_stepper` at this env's settings (``GoalEnv.raw_stepper``)."""
        return raw_stepper(self.image_size, seed)

    def _reset_sim(self, rng: np.random.Generator) -> np.ndarray:
        self._pos = self._sample_free(rng)
        return self._sample_free(rng)

    def _apply_action(self, action: np.ndarray) -> None:
        self._pos = move(self._pos, action)

    def get_state(self) -> np.ndarray:
        return self._pos.astype(np.float64).copy()

    def _set_sim_state(self, state: np.ndarray) -> None:
        if np.any(state < 0) or np.any(state > 1) or in_wall(state):
            raise ValueError(f"TwoRoom: state {state} is outside the free space")
        self._pos = state.copy()

    def _proprio(self) -> np.ndarray:
        return self._pos.astype(np.float32)

    # ---- task -----------------------------------------------------------------------------
    def distance(self, state: np.ndarray, goal_state: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(state)[:2] - np.asarray(goal_state)[:2]))

    def is_success(self, state: np.ndarray, goal_state: np.ndarray) -> bool:
        return self.distance(state, goal_state) < SUCCESS_RADIUS

    # ---- rendering ------------------------------------------------------------------------
    def _render_pixels(self) -> np.ndarray:
        return self._renderer(self._pos, self._goal_state if self.show_goal else None)

    # ---- data-collection policies ---------------------------------------------------------
    def _make_expert(self, rng: np.random.Generator, noise: float) -> TwoRoomExpert:
        return TwoRoomExpert(self, rng, noise)


class TwoRoomExpert:
    """Goes through the door to the episode's goal, then on to fresh random targets, with
    Gaussian action noise of std ``noise``."""

    def __init__(self, env: TwoRoom, rng: np.random.Generator, noise: float):
        self.env, self.rng, self.noise = env, rng, noise
        self._target = np.array([0.5, 0.5])

    def reset(self, info: dict[str, Any]) -> None:
        self._target = np.asarray(info["goal_state"], dtype=np.float64)[:2].copy()

    def _waypoint(self, pos: np.ndarray) -> np.ndarray:
        side, goal_side = np.sign(pos[0] - 0.5), np.sign(self._target[0] - 0.5)
        if side == goal_side or side == 0:
            return self._target
        aligned = abs(pos[1] - 0.5) < DOOR_HALF_HEIGHT * 0.6
        near = abs(pos[0] - 0.5) < 0.12
        if aligned and near:
            return np.array([0.5 + goal_side * 0.12, 0.5])
        return np.array([0.5 + side * 0.1, 0.5])

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        pos = np.asarray(info["state"], dtype=np.float64)[:2]
        if np.linalg.norm(pos - self._target) < SUCCESS_RADIUS * 0.5:
            self._target = self.env._sample_free(self.rng)
        delta = self._waypoint(pos) - pos
        action = delta / MAX_STEP
        action = action / max(1.0, np.abs(action).max())  # full speed, direction kept
        action = action + self.rng.normal(0.0, self.noise, 2)
        return np.clip(action, -1, 1).astype(np.float32)
