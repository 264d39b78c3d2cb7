"""PointMaze: a force-driven ball navigating a maze, seen from straight above (DINO-WM's maze task).

Built on gymnasium-robotics 1.4.2 ``PointMazeEnv`` (MuJoCo 3.17): its maze layouts (``U_MAZE``,
``MEDIUM_MAZE``), its generated MJCF, its start/goal noise and its ``PointEnv.step`` (velocity
clipped to 5 per axis, then one 0.01 s MuJoCo step) are used as they are; the rendering, the
start/goal sampling and the state handling are wmbench's.

World: cells of 1 x 1 (``maze_size_scaling = 1``), maze centred on the origin, ``x`` to the right
and ``y`` up, in the image too (map row 0 is at the top of the frame). Walls are tan, the floor a
blue checker, the ball a green disc (its visual site, radius 0.2; the collision sphere is 0.1).

State (``state_dim = 6``, float64): ``[x, y, vx, vy, warm_x, warm_y]`` = MuJoCo's
``mjSTATE_QPOS | mjSTATE_QVEL | mjSTATE_WARMSTART``; the solver warm start makes a restored state
step bit-identically to the original. Goal states have zero velocity and warm start. Proprio
(4): ``[x, y, vx, vy]``.

Action: ``a`` in [-1, 1]^2 is the native ``ctrl`` of the two slide motors (gear 100): a force of
``100 * a`` N on a 4.19 kg ball along x and y, held for one 0.01 s step; no rescaling is done.

Start and goal: two different free cells drawn uniformly, each position jittered by
U(-0.25, 0.25) per axis (gymnasium-robotics's ``position_noise_range``), start at rest. Planning
tasks start at rest too, at a recorded position (``task_start``).

Success: ``||xy - goal_xy|| <= 0.45``, the threshold in gymnasium-robotics's code
(``MazeEnv.compute_terminated`` / ``info["success"]``). Its docstring says 0.5, and DINO-WM
uses < 0.5 in D4RL maze2d coordinates (a different frame and scale); we use the number the env
actually computes, so an env-native success and ours agree.

Pitfalls handled:
- ``continuing_task=True`` never terminates and, with ``reset_target``, ``desired_goal`` can be
  stale: the goal is wmbench's own ``goal_state``; the upstream goal machinery is never used.
- The upstream camera is oblique and ``default_camera_config`` raises ``TypeError``: frames come
  from our own ``mujoco.Renderer`` with an orthographic camera straight above the maze centre,
  framing the free space plus a quarter cell of the outer wall.
- The red target site is made transparent unless ``show_goal=True``.
- ``PointMazeEnv`` writes its MJCF to a temporary file and never removes it; we remove it.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from typing import Any

import mujoco
import numpy as np

from envs.base import GoalEnv
from envs.mujoco_render import close_at_exit, close_renderer

MAZES = ("umaze", "medium")
SUCCESS_RADIUS = 0.45
POSITION_NOISE = 0.25
BALL_RADIUS = 0.1
VIEW_MARGIN = 0.25  # cells of the outer wall kept in the frame, so walls bound the view
_STATE_SPEC = mujoco.mjtState.mjSTATE_QPOS | mujoco.mjtState.mjSTATE_QVEL
_STATE_SPEC |= mujoco.mjtState.mjSTATE_WARMSTART
_WARMUP_FRAMES = 10


def maze_layout(maze: str) -> np.ndarray:
    """The maze's wall grid, bool (rows, cols), True where a cell is a wall block."""
    if maze not in MAZES:
        raise ValueError(f"maze must be one of {MAZES}, got {maze!r}")
    from gymnasium_robotics.envs.maze import maps

    layout = maps.U_MAZE if maze == "umaze" else maps.MEDIUM_MAZE
    return np.array([[c == 1 for c in row] for row in layout], dtype=bool)


def cell_centre(walls: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """World ``(x, y)`` of the centre of ``cell = (row, col)`` (gymnasium-robotics's frame)."""
    rows, cols = walls.shape
    return np.array([cell[1] + 0.5 - cols / 2, rows / 2 - cell[0] - 0.5])


def cell_of(walls: np.ndarray, xy: np.ndarray) -> tuple[int, int]:
    """The ``(row, col)`` cell containing the world point ``xy``."""
    rows, cols = walls.shape
    return int(np.floor(rows / 2 - xy[1])), int(np.floor(xy[0] + cols / 2))


def free_cells(walls: np.ndarray) -> list[tuple[int, int]]:
    """The free cells of the maze, row-major."""
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(~walls))]


def steps_to(walls: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """Breadth-first cell distances to ``target`` over 4-connected free cells, int (rows, cols);
    -1 for walls and unreachable cells."""
    dist = np.full(walls.shape, -1, dtype=np.int64)
    dist[target] = 0
    queue = deque([target])
    while queue:
        i, j = queue.popleft()
        for ni, nj in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
            inside = 0 <= ni < walls.shape[0] and 0 <= nj < walls.shape[1]
            if inside and not walls[ni, nj] and dist[ni, nj] < 0:
                dist[ni, nj] = dist[i, j] + 1
                queue.append((ni, nj))
    return dist


def _make_sim(walls: np.ndarray) -> Any:
    # gymnasium-robotics is imported here so that `import envs` stays cheap.
    from gymnasium_robotics.envs.maze.point_maze import PointMazeEnv

    layout = [[1 if w else 0 for w in row] for row in walls]
    sim = PointMazeEnv(maze_map=layout, continuing_task=True, reset_target=False)
    if os.path.exists(sim.tmp_xml_file_path):
        os.remove(sim.tmp_xml_file_path)
    return sim


class TopDownRenderer:
    """An orthographic camera straight above the maze centre, rendering at ``image_size``.

    Fast settings: offscreen buffer = image size, no multisampling, shadows, reflections or
    skybox; the GL context is warmed up (the first frames compile shaders).
    """

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, walls: np.ndarray, size: int):
        model.vis.global_.offwidth = size
        model.vis.global_.offheight = size
        model.vis.quality.offsamples = 0
        model.vis.global_.orthographic = 1
        # In orthographic mode fovy is the height of the view in world units.
        model.vis.global_.fovy = max(walls.shape) - 2 + 2 * VIEW_MARGIN
        self.renderer = mujoco.Renderer(model, size, size)
        close_at_exit(self.renderer)
        for flag in (
            mujoco.mjtRndFlag.mjRND_SHADOW,
            mujoco.mjtRndFlag.mjRND_REFLECTION,
            mujoco.mjtRndFlag.mjRND_SKYBOX,
        ):
            self.renderer.scene.flags[flag] = 0
        self.camera = mujoco.MjvCamera()
        self.camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.camera.orthographic = 1
        self.camera.lookat[:] = 0.0
        self.camera.distance = 5.0  # any height above the 0.4 walls works orthographically
        self.camera.azimuth = 90.0  # +x to the right, +y up in the image
        self.camera.elevation = -90.0
        for _ in range(_WARMUP_FRAMES):
            self.render(data)

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """Returns a fresh frame, uint8 (size, size, 3)."""
        self.renderer.update_scene(data, self.camera)
        return self.renderer.render()

    def close(self) -> None:
        close_renderer(self.renderer)


class PointMaze(GoalEnv):
    """The PointMaze task (see the module docstring).

    Args:
        image_size: side of the square frame in pixels.
        render_mode: ``"rgb_array"`` or None.
        maze: ``"umaze"`` (5 x 5 map) or ``"medium"`` (8 x 8 map).
        show_goal: draw the goal as a translucent red ball (off for training data).

    Example:
        >>> import envs
        >>> env = envs.make("wmbench/PointMaze-v0", image_size=64)
        >>> obs, info = env.reset(seed=0)
        >>> info["state"].shape  # [x, y, vx, vy, warm_x, warm_y]
        (6,)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 100}
    action_dim = 2
    proprio_dim = 4
    state_dim = 6

    def __init__(
        self,
        image_size: int = 64,
        render_mode: str | None = "rgb_array",
        maze: str = "umaze",
        show_goal: bool = False,
    ):
        super().__init__(image_size, render_mode)
        self.maze = maze
        self.walls = maze_layout(maze)
        self.cells = free_cells(self.walls)
        self.show_goal = show_goal
        self._sim = _make_sim(self.walls)
        self._point = self._sim.point_env
        self.model, self.data = self._point.model, self._point.data
        target = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, "target")
        self._target_site = target
        self.model.site_rgba[target, 3] = 0.4 if show_goal else 0.0
        self._renderer = TopDownRenderer(self.model, self.data, self.walls, self.image_size)
        # MuJoCo's default ball position (the origin) is inside a wall of some mazes (UMaze):
        # start in the first free cell, so a state saved before any reset is a valid one.
        self.data.qpos[:] = cell_centre(self.walls, self.cells[0])
        mujoco.mj_forward(self.model, self.data)

    # ---- simulator ------------------------------------------------------------------------
    def sample_position(self, rng: np.random.Generator, cell: tuple[int, int]) -> np.ndarray:
        """A position in ``cell`` with gymnasium-robotics's uniform reset noise."""
        return cell_centre(self.walls, cell) + rng.uniform(-POSITION_NOISE, POSITION_NOISE, 2)

    def raw_stepper(self, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """The module's :func:`raw_stepper` at this env's settings (``GoalEnv.raw_stepper``)."""
        return raw_stepper(self.image_size, seed, maze=self.maze)

    def _reset_sim(self, rng: np.random.Generator) -> np.ndarray:
        g = int(rng.integers(len(self.cells)))
        s = int(rng.integers(len(self.cells) - 1))
        s += s >= g  # a different cell from the goal's
        goal_xy = self.sample_position(rng, self.cells[g])
        start_xy = self.sample_position(rng, self.cells[s])
        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = start_xy
        mujoco.mj_forward(self.model, self.data)
        goal = np.zeros(self.state_dim)
        goal[:2] = goal_xy
        return goal

    def _apply_action(self, action: np.ndarray) -> None:
        self._point.step(action)
        # mj_step leaves the poses of the pre-step qpos in data; refresh them so the frame
        # shows the state reported in info (gymnasium-robotics's own render lags one step).
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_camlight(self.model, self.data)

    def get_state(self) -> np.ndarray:
        state = np.empty(self.state_dim)
        mujoco.mj_getState(self.model, self.data, state, _STATE_SPEC)
        return state

    def _set_sim_state(self, state: np.ndarray) -> None:
        i, j = cell_of(self.walls, state[:2])
        rows, cols = self.walls.shape
        if not (0 <= i < rows and 0 <= j < cols) or self.walls[i, j]:
            raise ValueError(f"PointMaze: ball position {state[:2]} is inside a wall")
        mujoco.mj_setState(self.model, self.data, state, _STATE_SPEC)
        mujoco.mj_forward(self.model, self.data)

    def set_goal(self, goal_state: Any) -> None:
        super().set_goal(goal_state)
        if self.show_goal:
            self.model.site_pos[self._target_site, :2] = self._goal_state[:2]
            # site_xpos is only recomputed by the kinematics; forward leaves the state alone.
            mujoco.mj_forward(self.model, self.data)

    def _proprio(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel])

    def task_start(self, state: np.ndarray) -> np.ndarray:
        """Planning tasks start at rest at the recorded position (velocity and solver warm
        start zeroed). From the recorded velocity, which the expert aimed at the goal, doing
        nothing coasted to 90 % of the 25-step goals of the quick tasks; from rest it reaches
        none, and a single frame shows the whole state."""
        start = np.asarray(state, dtype=np.float64).copy()
        start[2:] = 0.0
        return start

    def _render_pixels(self) -> np.ndarray:
        return self._renderer.render(self.data)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
            self._sim.close()
        super().close()

    # ---- task -----------------------------------------------------------------------------
    def distance(self, state: np.ndarray, goal_state: np.ndarray) -> float:
        return float(np.linalg.norm(np.asarray(state)[:2] - np.asarray(goal_state)[:2]))

    def is_success(self, state: np.ndarray, goal_state: np.ndarray) -> bool:
        return self.distance(state, goal_state) <= SUCCESS_RADIUS

    def moved(self, state: np.ndarray, next_state: np.ndarray) -> bool:
        return bool(np.abs(np.asarray(next_state)[:2] - np.asarray(state)[:2]).max() > 1e-6)

    # ---- data-collection policies ---------------------------------------------------------
    def _make_expert(self, rng: np.random.Generator, noise: float) -> PointMazeExpert:
        return PointMazeExpert(self.walls, rng, noise)


class PointMazeExpert:
    """Follows the breadth-first cell path to the goal with a velocity-tracking controller,
    then on to fresh random targets, with Gaussian action noise of std ``noise``.

    Args:
        walls: the maze's wall grid (a constant of the env).
        rng: the policy's random generator.
        noise: std of the Gaussian added to each action before clipping.
        cruise_speed: speed along the path, below the env's clip of 5 so corners are taken.
        gain: action per unit of velocity error (1 / gain is the velocity error at full force).
    """

    def __init__(
        self,
        walls: np.ndarray,
        rng: np.random.Generator,
        noise: float,
        cruise_speed: float = 3.0,
        gain: float = 1.0,
    ):
        self.walls, self.rng, self.noise = walls, rng, noise
        self.cruise_speed, self.gain = cruise_speed, gain
        self.cells = free_cells(walls)
        self._set_target(cell_centre(walls, self.cells[0]))

    def _set_target(self, xy: np.ndarray) -> None:
        self._target = np.asarray(xy, dtype=np.float64)[:2].copy()
        self._steps = steps_to(self.walls, cell_of(self.walls, self._target))

    def reset(self, info: dict[str, Any]) -> None:
        self._set_target(info["goal_state"])

    def _waypoint(self, pos: np.ndarray) -> tuple[np.ndarray, bool]:
        """The next point to head for, and whether it is the final target."""
        i, j = cell_of(self.walls, pos)
        rows, cols = self.walls.shape
        here = self._steps[i, j] if 0 <= i < rows and 0 <= j < cols else -1
        if here <= 1:  # in the target's cell or next to it (or off the path): go straight
            return self._target, True
        for ni, nj in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)):
            if 0 <= ni < rows and 0 <= nj < cols and self._steps[ni, nj] == here - 1:
                return cell_centre(self.walls, (ni, nj)), False
        return self._target, True

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        state = np.asarray(info["state"], dtype=np.float64)
        pos, vel = state[:2], state[2:4]
        if np.linalg.norm(pos - self._target) < SUCCESS_RADIUS * 0.4:
            cell = self.cells[int(self.rng.integers(len(self.cells)))]
            jitter = self.rng.uniform(-POSITION_NOISE, POSITION_NOISE, 2)
            self._set_target(cell_centre(self.walls, cell) + jitter)
        waypoint, final = self._waypoint(pos)
        delta = waypoint - pos
        dist = float(np.linalg.norm(delta))
        speed = min(self.cruise_speed, 4.0 * dist) if final else self.cruise_speed
        desired = delta / max(dist, 1e-9) * speed
        action = self.gain * (desired - vel) + self.rng.normal(0.0, self.noise, 2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def raw_stepper(
    image_size: int, seed: int = 0, maze: str = "umaze"
) -> Callable[[np.ndarray], np.ndarray]:
    """Steps gymnasium-robotics's ``PointMazeEnv`` directly and renders with the same top-down
    settings: the reference the speed benchmark compares :class:`PointMaze` against.

    Returns:
        ``step(action (2,)) -> frame uint8 (image_size, image_size, 3)``, with a ``close()``
        attribute that releases the GL context.
    """
    walls = maze_layout(maze)
    sim = _make_sim(walls)
    sim.reset(seed=seed)
    model, data = sim.point_env.model, sim.point_env.data
    model.site_rgba[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target"), 3] = 0.0
    renderer = TopDownRenderer(model, data, walls, image_size)

    def step(action: np.ndarray) -> np.ndarray:
        sim.step(action)
        return renderer.render(data)

    def close() -> None:
        renderer.close()
        sim.close()

    step.close = close  # the GL context must be released before interpreter exit
    return step
