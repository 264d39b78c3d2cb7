"""A toy environment for the "add an environment" recipe: a dot on an open plane."""

from __future__ import annotations

from typing import Any

import numpy as np

from envs.base import GoalEnv


class Dot(GoalEnv):
    """A dot moving by ``0.05 * a`` per step in the unit square; success within 0.08."""

    action_dim, proprio_dim, state_dim = 2, 2, 2

    def __init__(self, image_size: int = 64, render_mode: str | None = "rgb_array"):
        super().__init__(image_size, render_mode)
        self._pos = np.full(2, 0.5)
        c = (np.arange(self.image_size) + 0.5) / self.image_size
        self._ys, self._xs = np.meshgrid(c, c, indexing="ij")

    def _reset_sim(self, rng: np.random.Generator) -> np.ndarray:
        self._pos = rng.uniform(0.1, 0.9, 2)
        return rng.uniform(0.1, 0.9, 2)

    def _apply_action(self, action: np.ndarray) -> None:
        self._pos = np.clip(self._pos + 0.05 * action, 0.0, 1.0)

    def get_state(self) -> np.ndarray:
        return self._pos.copy()

    def _set_sim_state(self, state: np.ndarray) -> None:
        self._pos = state.copy()

    def _proprio(self) -> np.ndarray:
        return self._pos.astype(np.float32)

    def _render_pixels(self) -> np.ndarray:
        d = np.hypot(self._xs - self._pos[0], self._ys - self._pos[1])
        alpha = np.clip((0.06 - d) * self.image_size + 0.5, 0, 1)[..., None]
        return (240 * (1 - alpha) + np.array([30, 60, 200]) * alpha).astype(np.uint8)

    def distance(self, state: np.ndarray, goal_state: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(state) - goal_state))

    def is_success(self, state: np.ndarray, goal_state: np.ndarray) -> bool:
        return self.distance(state, goal_state) < 0.08

    def _make_expert(self, rng: np.random.Generator, noise: float) -> Any:
        env = self

        class Expert:
            def reset(self, info):
                self.goal = np.asarray(info["goal_state"])

            def __call__(self, obs, info):
                if env.is_success(info["state"], self.goal):
                    self.goal = rng.uniform(0.1, 0.9, 2)
                a = (self.goal - info["state"]) / 0.05
                a = a / max(1.0, np.abs(a).max()) + rng.normal(0, noise, 2)
                return np.clip(a, -1, 1).astype(np.float32)

        return Expert()
