"""The goal-task contract every wmbench environment implements (README: "Environments").

A wmbench environment is a :class:`gymnasium.Env` whose observation is
``{"pixels": uint8 (H, W, 3), "proprio": float32 (P,)}`` with ``H = W = image_size``, whose
action space is the normalised box ``[-1, 1]^A`` (out-of-box actions are clipped, not
rejected), and whose ``info`` carries, after ``reset`` and every ``step``:

- ``"state"``: the full simulator state, a flat float64 array; ``set_state(state)`` restores it,
  so the same pixels and proprio come back;
- ``"goal_state"``: the state the episode is asked to reach;
- ``"success"``: the published success criterion of ``state`` against ``goal_state``;
- ``"distance"``: the distance that criterion thresholds (units are the env's own).

Episodes never terminate; success is reported in ``info`` and the registered time limit
truncates. Subclasses implement the ``_``-prefixed hooks and ``is_success`` / ``distance``;
``raw_stepper`` (a speed baseline) is optional.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Protocol

import gymnasium as gym
import numpy as np

MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 1024


class Policy(Protocol):
    """A data-collection policy: maps the latest observation and info to a normalised action."""

    def reset(self, info: dict[str, Any]) -> None: ...

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray: ...


class RandomPolicy:
    """Uniform random actions held for ``hold`` steps (held actions cover space better than
    i.i.d. noise, which mostly jitters in place)."""

    def __init__(self, action_dim: int, rng: np.random.Generator, hold: int = 4):
        self.action_dim, self.rng, self.hold = action_dim, rng, hold
        self._action = np.zeros(action_dim, np.float32)
        self._t = 0

    def reset(self, info: dict[str, Any]) -> None:
        self._t = 0

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        if self._t % self.hold == 0:
            self._action = self.rng.uniform(-1, 1, self.action_dim).astype(np.float32)
        self._t += 1
        return self._action.copy()


def check_image_size(image_size: Any) -> int:
    """Validates ``image_size`` and returns it as an int."""
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)):
        raise TypeError(f"image_size must be an int, got {image_size!r}")
    if not MIN_IMAGE_SIZE <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(
            f"image_size must be in [{MIN_IMAGE_SIZE}, {MAX_IMAGE_SIZE}], got {image_size}"
        )
    return int(image_size)


class GoalEnv(gym.Env):
    """Base class for wmbench goal-reaching pixel environments.

    Subclasses set ``action_dim``, ``proprio_dim``, ``state_dim`` and implement the hooks.

    Example:
        >>> import envs
        >>> env = envs.make("wmbench/TwoRoom-v0", image_size=64)
        >>> obs, info = env.reset(seed=0)
        >>> obs["pixels"].shape, info["state"].dtype
        ((64, 64, 3), dtype('float64'))
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    action_dim: int
    proprio_dim: int
    state_dim: int
    collect_cost: float = 1.0
    """Wall time of one collected step relative to a typical env (MuJoCo at 64 px, ~300
    steps/s on one core); collection spawns worker processes once a job's episodes x steps x
    collect_cost reaches 20 000, since a worker costs seconds of imports."""

    def __init__(self, image_size: int = 64, render_mode: str | None = "rgb_array"):
        self.image_size = check_image_size(image_size)
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        self.render_mode = render_mode
        s = self.image_size
        self.observation_space = gym.spaces.Dict(
            {
                "pixels": gym.spaces.Box(0, 255, (s, s, 3), np.uint8),
                "proprio": gym.spaces.Box(-np.inf, np.inf, (self.proprio_dim,), np.float32),
            }
        )
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self.action_dim,), np.float32)
        self._goal_state = np.zeros(self.state_dim)
        self._warned_clip = False

    # ---- hooks a subclass implements ------------------------------------------------------
    def _reset_sim(self, rng: np.random.Generator) -> np.ndarray:
        """Puts the simulator in a random start state and returns a random goal state."""
        raise NotImplementedError

    def _apply_action(self, action: np.ndarray) -> None:
        """Advances the simulator one env step under a normalised action in [-1, 1]^A."""
        raise NotImplementedError

    def get_state(self) -> np.ndarray:
        """Returns the full simulator state, flat float64 (state_dim,)."""
        raise NotImplementedError

    def _set_sim_state(self, state: np.ndarray) -> None:
        raise NotImplementedError

    def _render_pixels(self) -> np.ndarray:
        """Returns the current frame, uint8 (image_size, image_size, 3)."""
        raise NotImplementedError

    def _proprio(self) -> np.ndarray:
        raise NotImplementedError

    def distance(self, state: np.ndarray, goal_state: np.ndarray) -> float:
        """The distance the success criterion thresholds."""
        raise NotImplementedError

    def is_success(self, state: np.ndarray, goal_state: np.ndarray) -> bool:
        """The published success criterion (the env's paper; README: "Environments")."""
        raise NotImplementedError

    def _make_expert(self, rng: np.random.Generator, noise: float) -> Policy:
        raise NotImplementedError

    def task_start(self, state: np.ndarray) -> np.ndarray:
        """The start state of a planning task drawn at the recorded ``state``.

        The default is the recorded state itself. An env whose recorded states carry motion
        that the task's goal came from (a rolling ball) overrides this to start at rest, or
        doing nothing would coast to many goals.
        """
        return np.asarray(state, dtype=np.float64).copy()

    def moved(self, state: np.ndarray, next_state: np.ndarray) -> bool:
        """Whether the task-relevant body moved between two states (data-quality statistics).

        The default compares whole states; manipulation envs override it to look at the object.
        """
        return bool(np.abs(np.asarray(next_state) - np.asarray(state)).max() > 1e-6)

    def raw_stepper(self, seed: int = 0) -> Callable[[np.ndarray], np.ndarray] | None:
        """Optional: the env's underlying simulator and renderer driven directly, with this env's
        image size and render settings but none of its bookkeeping (no checks, state, info or
        time limit): ``step(action (A,)) -> frame uint8 (image_size, image_size, 3)``, with a
        ``close()`` attribute where it holds a GL context. ``benchmark.scripts.env_speed`` times
        it against ``env.step`` to measure the wrapper's overhead.

        The default returns None (the env has no such baseline; env_speed skips it). An env
        overrides it with its simulator's own stepping loop, seeded with ``seed``.
        """
        return None

    # ---- the contract ---------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Resets to a random start and goal; ``options`` may fix ``"state"`` and/or
        ``"goal_state"``."""
        super().reset(seed=seed)
        options = options or {}
        goal = self._reset_sim(self.np_random)
        if options.get("state") is not None:
            self.set_state(options["state"])
        self.set_goal(options["goal_state"] if options.get("goal_state") is not None else goal)
        return self._obs(), self._info()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        self._apply_action(self._checked_action(action))
        info = self._info()
        return self._obs(), float(info["success"]), False, False, info

    def step_state(self, action: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """``step`` without rendering: the same dynamics, ``obs`` holds only ``"proprio"``.

        For rollouts that never look at pixels (the floors and the expert ceiling of a task
        set, the env steps between two planner frames), where rendering is most of the cost.

        Returns:
            ``(obs, info)`` with ``obs = {"proprio": ...}`` and the same ``info`` as ``step``.
        """
        self._apply_action(self._checked_action(action))
        return self._proprio_obs(), self._info()

    def sim_step(self, action: Any) -> None:
        """Advances the simulator one env step under a normalised ``action`` (A,), taken as
        given (no shape, finiteness or box check) and with nothing observed: the bare dynamics
        that ``step`` wraps. For measuring the wrapper's cost (``benchmark.scripts.env_speed``
        times ``sim_step`` + ``render`` against ``step``); episodes use ``step``."""
        self._apply_action(np.asarray(action, dtype=np.float64))

    def observe(self, render: bool = True) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The observation and info of the current state without stepping (after
        ``set_state`` / ``set_goal``, say); ``render=False`` leaves out the pixels."""
        return (self._obs() if render else self._proprio_obs()), self._info()

    def set_state(self, state: Any) -> None:
        """Restores a state from ``info["state"]`` exactly."""
        state = self._check_state(state, "state")
        self._set_sim_state(state)

    def set_goal(self, goal_state: Any) -> None:
        """Sets the state the episode must reach (drawn where the env draws a goal)."""
        self._goal_state = self._check_state(goal_state, "goal_state").copy()

    @property
    def goal_state(self) -> np.ndarray:
        return self._goal_state.copy()

    def render(self) -> np.ndarray | None:
        if self.render_mode is None:
            return None
        return self._render_pixels()

    def render_state(self, state: np.ndarray) -> np.ndarray:
        """Renders the frame of ``state`` without disturbing the current episode."""
        current = self.get_state()
        self.set_state(state)
        frame = self._render_pixels()
        self._set_sim_state(current)
        return frame

    def policy_names(self) -> tuple[str, ...]:
        return ("random", "expert")

    def make_policy(self, name: str, rng: np.random.Generator, noise: float = 0.3) -> Policy:
        """Returns a data-collection policy: ``"random"`` or the noisy scripted ``"expert"``."""
        if name == "random":
            return RandomPolicy(self.action_dim, rng)
        if name == "expert":
            return self._make_expert(rng, noise)
        raise ValueError(f"unknown policy {name!r}; valid: {', '.join(self.policy_names())}")

    # ---- helpers --------------------------------------------------------------------------
    def _checked_action(self, action: Any) -> np.ndarray:
        action = np.asarray(action, dtype=np.float64)
        if action.shape != (self.action_dim,):
            raise ValueError(
                f"{type(self).__name__}: action must have shape ({self.action_dim},), "
                f"got {action.shape}"
            )
        if not np.all(np.isfinite(action)):
            raise ValueError(f"{type(self).__name__}: action contains NaN or inf: {action}")
        clipped = np.clip(action, -1.0, 1.0)
        if not self._warned_clip and np.any(clipped != action):
            warnings.warn(
                f"{type(self).__name__}: actions outside [-1, 1] are clipped", stacklevel=3
            )
            self._warned_clip = True
        return clipped

    def _proprio_obs(self) -> dict[str, np.ndarray]:
        return {"proprio": np.asarray(self._proprio(), dtype=np.float32)}

    def _check_state(self, state: Any, what: str) -> np.ndarray:
        state = np.asarray(state, dtype=np.float64)
        if state.shape != (self.state_dim,):
            raise ValueError(
                f"{type(self).__name__}: {what} must be a flat array of length "
                f"{self.state_dim}, got shape {state.shape}"
            )
        if not np.all(np.isfinite(state)):
            raise ValueError(f"{type(self).__name__}: {what} contains NaN or inf")
        return state

    def _obs(self) -> dict[str, np.ndarray]:
        return {"pixels": self._render_pixels(), **self._proprio_obs()}

    def _info(self) -> dict[str, Any]:
        state = self.get_state()
        return {
            "state": state,
            "goal_state": self._goal_state.copy(),
            "success": bool(self.is_success(state, self._goal_state)),
            "distance": float(self.distance(state, self._goal_state)),
        }
