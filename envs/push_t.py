"""Push-T: push a T-shaped block to a goal pose with a round pusher (the DINO-WM / LeWM task).

Built on gym-pusht 0.1.8 exactly (pymunk 6.11): its pymunk space, PD controller, walls and its
pixel observation path (``obs_type="pixels"``). 0.1.5 -> 0.1.8 changed the reset distribution
under the same gymnasium id, so the installed version is read into :data:`PUSHT_VERSION` and
anything other than 0.1.8 is refused at import and at construction.

World: gym-pusht's 512 x 512 px canvas, ``x`` right, ``y`` down; walls at 5 and 506 px. The
block is gym-pusht's T (bar 120 x 30 px, stem 30 x 90 px, mass 1, moment 3000, centre of
gravity 45 px down the stem from the body origin, the middle of the bar's top edge). Contacts
are frictionless and the space damping is 0, i.e. every velocity is wiped each physics step: the
block moves only while it is pushed (quasi-static).

State (10,), float64, pixels and radians:
``[agent_x, agent_y, block_x, block_y, block_angle, agent_vx, agent_vy, block_vx, block_vy,
block_omega]``. The first 5 are gym-pusht's own state (block position = body origin), the first
7 are DINO-WM's state with velocity. ``block_angle`` is pymunk's raw, unwrapped angle (exact
restore needs the raw float). gym-pusht's PD controller has no hidden state (it reads only the
target and the agent's position and velocity), so these 10 numbers are the whole simulator state.
Proprio (4,): agent position and velocity.

Action (2,) in [-1, 1]: a RELATIVE pusher target. gym-pusht's native action is an absolute
target in pixels, ``Box(0, 512)``; we send ``target = clip(agent_xy + a * MAX_DELTA_PX, 0,
512)``, after which gym-pusht runs its PD controller (kp 100, kv 20) for 10 physics steps of
0.01 s. A constant full action moves the pusher about ``0.41 * MAX_DELTA_PX`` = 20 px per step
(15 px the first step); ``a = 0`` means "stop here" (it overshoots by about 0.11 of the last
speed-setting delta). With ``MAX_DELTA_PX = 50`` a push across half the block (60 px) takes 3
steps and the arena is crossed in about 25 steps: fine enough for the 20 px criterion, fast
enough for 25-step goal offsets.

Success (DINO-WM ``eval_state``, LeWM): ``||(agent_xy, block_xy) - (goal_agent_xy,
goal_block_xy)||_2 < 20`` px (four numbers, agent included) AND block angle error
``min(d, 2 pi - d) < pi / 9`` with ``d = |angle - goal_angle| mod 2 pi``.
:meth:`PushT.distance` returns the position norm; the angle clause is :func:`angle_error`.

Start: gym-pusht 0.1.8's own reset distribution (agent uniform in [50, 450)^2 px, block origin in
[100, 400)^2, angle uniform, including its position-then-angle legacy order), redrawn while the
pusher overlaps the block (8% of draws) or the T pokes into a wall (3%), so episodes do not start
with the solver ejecting the block. Goal: the block moved 30-110 px (centre of gravity) and
turned by up to 90 degrees, fully inside the arena with 40 px to spare, with the pusher resting
1-12 px behind the face that a last push toward that pose would use (what the end of a push
looks like), all at rest. Every goal is thus a non-overlapping pose that pushing can reach.

Pixels: gym-pusht always rasterises on a 512 x 512 pygame surface and ``cv2.resize``-s
(bilinear) to ``observation_width x observation_height``; it cannot draw at another size, so we
set both to ``image_size`` and let it do the resize (its native pixel path, the one its datasets
use; at 64 px the 8x bilinear downscale aliases edges a little). gym-pusht draws a fixed
light-green goal T at (256, 256, pi/4); our goals vary per task and are given as images, so by
default we park its goal pose far off the canvas (pygame clips it away); ``show_goal=True``
moves it to the episode's goal block pose instead.

Pitfalls handled:
- ``render()`` of gym-pusht draws an action marker; we never call it.
- gym-pusht's ``_set_state`` sets position before angle (rotating about the centre of gravity
  moves the origin) and takes a physics step; we write position, angle and all velocities
  directly and re-index the shapes so the drawn polygons follow without a step.
- pymunk caches contact impulses between steps (warm starting). ``set_state`` rebuilds the space,
  so a state always has the same future, but a restored state that is in contact loses the
  cached impulses a continuing episode still has. Measured on 57 restores in contact from expert
  episodes: positions differ from the continuing episode by median 1e-3 px, 90th percentile
  2e-2 px, at most 0.4 px after 20 steps; the block velocity (the last physics step's solver
  output) can differ by up to 70 px/s. Out of contact the future agrees to 1e-13 px (pymunk
  keeps the centre of gravity internally; the trip through ``body.position`` can cost an ulp).
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from envs.base import GoalEnv

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # gym-pusht imports pygame

REQUIRED_PUSHT_VERSION = "0.1.8"
PUSHT_VERSION = importlib.metadata.version("gym-pusht")

CANVAS_PX = 512.0
MAX_DELTA_PX = 50.0
SUCCESS_POSITION_PX = 20.0
SUCCESS_ANGLE_RAD = np.pi / 9
AGENT_RADIUS_PX = 15.0
BLOCK_MASS = 1.0
BLOCK_MOMENT = 3000.0
# The T in its body frame (gym-pusht add_tee, scale 30): (xmin, xmax, ymin, ymax) boxes.
T_BOXES = np.array([[-60.0, 60.0, 0.0, 30.0], [-15.0, 15.0, 30.0, 120.0]])
T_COG = np.array([0.0, 45.0])
T_OUTLINE = np.array(
    [[-60, 0], [60, 0], [60, 30], [15, 30], [15, 120], [-15, 120], [-15, 30], [-60, 30]], float
)
WALL_INNER_PX = (7.0, 504.0)  # wall segments at 5 / 506 px with radius 2
_GOAL_MARGIN_PX = 40.0
_HIDDEN_GOAL_POSE = np.array([-1e4, -1e4, 0.0])  # off the canvas: pygame clips it away
_STATE_BOUND_PX = 100.0  # set_state accepts positions within this far outside the canvas
_MAX_STANDOFF_PX = 12.0  # largest pusher-to-face gap the goal sampler and the expert use


def _check_version() -> None:
    if PUSHT_VERSION != REQUIRED_PUSHT_VERSION:
        raise ImportError(
            f"wmbench/PushT needs gym-pusht=={REQUIRED_PUSHT_VERSION} (its reset distribution "
            f"changed between patch releases), found {PUSHT_VERSION}"
        )


_check_version()

from gym_pusht.envs.pusht import PushTEnv  # noqa: E402


# ---- geometry (pure numpy, shared by the env, the goal sampler and the expert) ------------------
def rotation(angle: float) -> np.ndarray:
    """The 2x2 rotation matrix of ``angle`` (radians, pymunk's sense on the y-down canvas)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def block_cog(state: np.ndarray) -> np.ndarray:
    """World position (2,) of the block's centre of gravity in ``state``."""
    return state[2:4] + rotation(state[4]) @ T_COG


def t_sdf(points: np.ndarray, origin: np.ndarray, angle: float) -> np.ndarray:
    """Signed distance (...,) of world ``points`` (..., 2) to the T at pose (origin, angle)."""
    local = (np.asarray(points) - origin) @ rotation(angle)  # row vectors times R = R^T p
    lo, hi = T_BOXES[:, [0, 2]], T_BOXES[:, [1, 3]]
    centre, half = (lo + hi) / 2, (hi - lo) / 2
    q = np.abs(local[..., None, :] - centre) - half
    outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
    inside = np.minimum(q.max(-1), 0.0)
    return (outside + inside).min(-1)


def t_vertices(origin: np.ndarray, angle: float) -> np.ndarray:
    """World coordinates (8, 2) of the T's outline."""
    return origin + T_OUTLINE @ rotation(angle).T


def angle_error(angle: float | np.ndarray, goal_angle: float | np.ndarray) -> np.ndarray:
    """Wrapped absolute angle difference ``min(d, 2 pi - d)`` with ``d = |a - b| mod 2 pi``."""
    d = np.abs(np.asarray(angle) - np.asarray(goal_angle)) % (2 * np.pi)
    return np.minimum(d, 2 * np.pi - d)


def _contact_candidates(spacing: float = 7.5) -> tuple[np.ndarray, np.ndarray]:
    """Body-frame points on the T's outline a pusher can touch, with outward normals (K, 2)."""
    points, normals = [], []
    n = len(T_OUTLINE)
    for i in range(n):
        a, b = T_OUTLINE[i], T_OUTLINE[(i + 1) % n]
        edge = b - a
        normal = np.array([edge[1], -edge[0]]) / np.linalg.norm(edge)
        if t_sdf(a + edge / 2 + normal, np.zeros(2), 0.0) < 0:
            normal = -normal
        k = int(np.ceil(np.linalg.norm(edge) / spacing))
        for t in np.arange(1, k) / k:
            points.append(a + t * edge)
            normals.append(normal)
        # corners: push along directions inside the corner's normal cone
        c = T_OUTLINE[(i + 1) % n]
        nxt = T_OUTLINE[(i + 2) % n] - c
        n2 = np.array([nxt[1], -nxt[0]]) / np.linalg.norm(nxt)
        if t_sdf(c + nxt / 2 + n2, np.zeros(2), 0.0) < 0:
            n2 = -n2
        for w in (0.25, 0.5, 0.75):
            d = (1 - w) * normal + w * n2
            points.append(c.copy())
            normals.append(d / np.linalg.norm(d))
    p, nrm = np.array(points), np.array(normals)
    # the pusher must fit there, also at the stand-offs used: this drops the concave corners
    # and the stretches of face next to them
    stand = AGENT_RADIUS_PX + _MAX_STANDOFF_PX
    clear = t_sdf(p + stand * nrm, np.zeros(2), 0.0) >= stand - 0.5
    return p[clear], nrm[clear]


CONTACT_POINTS, CONTACT_NORMALS = _contact_candidates()
_RHO = np.sqrt(BLOCK_MOMENT / BLOCK_MASS)  # radius of gyration: radians -> px of motion


def push_response(state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Quasi-static block motion per px of pusher travel at every contact candidate.

    With frictionless contact and zero damping the solver moves the block so that the contact
    point follows the pusher along the normal: the impulse per px is ``1 / (1/m + (r x u)^2/I)``.

    Returns:
        points (K, 2) and outward normals (K, 2) in the world, and per px pushed the centre of
        gravity displacement (K, 2) and the rotation (K,).
    """
    rot = rotation(state[4])
    points = state[2:4] + CONTACT_POINTS @ rot.T
    normals = CONTACT_NORMALS @ rot.T
    push = -normals
    r = points - block_cog(state)
    cross = r[:, 0] * push[:, 1] - r[:, 1] * push[:, 0]
    impulse = 1.0 / (1.0 / BLOCK_MASS + cross**2 / BLOCK_MOMENT)
    return points, normals, impulse[:, None] * push / BLOCK_MASS, impulse * cross / BLOCK_MOMENT


def block_error(state: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The block motion still needed, (3,): centre-of-gravity px and wrapped rotation x rho."""
    turn = (target[4] - state[4] + np.pi) % (2 * np.pi) - np.pi
    return np.concatenate([block_cog(target) - block_cog(state), [_RHO * turn]])


def rank_pushes(state: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosine (K,) between each candidate's block motion and the needed one, and the px (K,) of
    pushing that best reduces the error along it."""
    _, _, dc, da = push_response(state)
    motion = np.concatenate([dc, _RHO * da[:, None]], 1)
    need = block_error(state, target)
    dot = motion @ need
    norm = np.linalg.norm(motion, axis=1)
    cos = dot / (norm * max(np.linalg.norm(need), 1e-9))
    return cos, np.maximum(dot, 0.0) / norm**2


def in_arena(points: np.ndarray, margin: float) -> np.ndarray:
    """True where points (..., 2) are at least ``margin`` px inside the walls."""
    lo, hi = WALL_INNER_PX
    return np.all((points >= lo + margin) & (points <= hi - margin), axis=-1)


def sample_goal(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A goal state reachable from ``state`` by pushing (see the module docstring), at rest."""
    cog = block_cog(state)
    for _ in range(200):
        dist, heading = rng.uniform(30.0, 110.0), rng.uniform(0, 2 * np.pi)
        angle = state[4] + rng.uniform(-np.pi / 2, np.pi / 2)
        new_cog = cog + dist * np.array([np.cos(heading), np.sin(heading)])
        origin = new_cog - rotation(angle) @ T_COG
        if in_arena(t_vertices(origin, angle), _GOAL_MARGIN_PX).all():
            break
    else:  # only when the start hugs a corner: head for the middle of the arena
        angle = state[4]
        origin = np.full(2, CANVAS_PX / 2) - rotation(angle) @ T_COG
    goal = np.zeros(10)
    goal[2:5] = origin[0], origin[1], angle
    # the pusher rests behind the face the last push toward this pose used
    back = goal.copy()
    back[2:5] = state[2:5]
    cos, _ = rank_pushes(goal, back)
    points, normals, _, _ = push_response(goal)
    gap = rng.uniform(1.0, _MAX_STANDOFF_PX)
    rest = points + normals * (AGENT_RADIUS_PX + gap)
    cos = np.where(in_arena(rest, AGENT_RADIUS_PX), -cos, -np.inf)  # push AWAY from the start
    best = np.argsort(-cos)[: 3 if np.isfinite(cos).sum() >= 3 else 1]
    goal[0:2] = rest[rng.choice(best)]
    return goal


# ---- the env ----------------------------------------------------------------------------------
def _make_sim(image_size: int) -> PushTEnv:
    return PushTEnv(
        obs_type="pixels",
        render_mode="rgb_array",
        observation_width=image_size,
        observation_height=image_size,
    )


def _write_state(sim: PushTEnv, state: np.ndarray, goal_pose: np.ndarray) -> None:
    """Puts ``sim`` in ``state`` in a fresh space (no cached contacts: the future is a function of
    the state alone) without the physics step gym-pusht's own ``_set_state`` takes."""
    sim._setup()
    sim.goal_pose = goal_pose
    agent, block = sim.agent, sim.block
    agent.position = (state[0], state[1])
    agent.velocity = (state[5], state[6])
    block.angle = state[4]  # angle first: pymunk rotates about the centre of gravity
    block.position = (state[2], state[3])
    block.velocity = (state[7], state[8])
    block.angular_velocity = state[9]
    sim.space.reindex_shapes_for_body(agent)  # the drawn polygons are the shapes' cached ones
    sim.space.reindex_shapes_for_body(block)


def _read_state(sim: PushTEnv) -> np.ndarray:
    a, b = sim.agent, sim.block
    return np.array(
        [*a.position, *b.position, b.angle, *a.velocity, *b.velocity, b.angular_velocity],
        dtype=np.float64,
    )


def _valid_start(state: np.ndarray) -> bool:
    apart = t_sdf(state[:2], state[2:4], state[4]) > AGENT_RADIUS_PX + 1.0
    return bool(apart and in_arena(t_vertices(state[2:4], state[4]), 1.0).all())


class PushT(GoalEnv):
    """The Push-T task on gym-pusht 0.1.8 (see the module docstring).

    Args:
        image_size: side of the square pixel observation.
        render_mode: ``"rgb_array"`` or ``None``.
        show_goal: draw the goal block pose in light green (gym-pusht's goal drawing).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    action_dim = 2
    proprio_dim = 4
    state_dim = 10

    def __init__(
        self, image_size: int = 64, render_mode: str | None = "rgb_array", show_goal: bool = False
    ):
        _check_version()
        super().__init__(image_size, render_mode)
        self.show_goal = show_goal
        self._sim = _make_sim(self.image_size)
        self._scratch: PushTEnv | None = None  # renders other states without touching _sim
        self._frame: np.ndarray | None = None
        self._sim.reset(seed=0)
        _write_state(self._sim, _read_state(self._sim), self._goal_pose())

    def _goal_pose(self) -> np.ndarray:
        return self._goal_state[2:5].copy() if self.show_goal else _HIDDEN_GOAL_POSE.copy()

    # ---- simulator ----------------------------------------------------------------------------
    def raw_stepper(self, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
        """The module's :func:`raw_stepper` at this env's settings (``GoalEnv.raw_stepper``)."""
        return raw_stepper(self.image_size, seed)

    def _reset_sim(self, rng: np.random.Generator) -> np.ndarray:
        while True:
            self._sim.reset(seed=int(rng.integers(2**31 - 1)))
            start = _read_state(self._sim)
            if _valid_start(start):
                break
        self._set_sim_state(start)
        return sample_goal(start, rng)

    def _apply_action(self, action: np.ndarray) -> None:
        agent = np.array(self._sim.agent.position)
        target = np.clip(agent + action * MAX_DELTA_PX, 0.0, CANVAS_PX)
        self._frame = self._sim.step(target)[0]

    def get_state(self) -> np.ndarray:
        return _read_state(self._sim)

    def _set_sim_state(self, state: np.ndarray) -> None:
        for name, xy in (("agent", state[0:2]), ("block", state[2:4])):
            if np.any(np.abs(xy - CANVAS_PX / 2) > CANVAS_PX / 2 + _STATE_BOUND_PX):
                raise ValueError(f"PushT: {name} position {xy} is far outside the 512 px canvas")
        _write_state(self._sim, state, self._goal_pose())
        self._frame = None

    def set_goal(self, goal_state: Any) -> None:
        super().set_goal(goal_state)
        self._sim.goal_pose = self._goal_pose()
        if self.show_goal:
            self._frame = None

    def _render_pixels(self) -> np.ndarray:
        if self._frame is None:
            self._frame = self._sim.get_obs()
        return self._frame

    def render_state(self, state: np.ndarray) -> np.ndarray:
        """Renders ``state`` in a scratch simulator: the episode's contact cache is untouched."""
        state = self._check_state(state, "state")
        if self._scratch is None:
            self._scratch = _make_sim(self.image_size)
            self._scratch.reset(seed=0)
        _write_state(self._scratch, state, self._goal_pose())
        return self._scratch.get_obs()

    def _proprio(self) -> np.ndarray:
        a = self._sim.agent
        return np.array([*a.position, *a.velocity], dtype=np.float32)

    def close(self) -> None:
        self._sim.close()
        if self._scratch is not None:
            self._scratch.close()

    # ---- task ---------------------------------------------------------------------------------
    def distance(self, state: np.ndarray, goal_state: np.ndarray) -> float:
        """Norm of (agent_xy, block_xy) to the goal's, px; the angle clause is separate."""
        return float(np.linalg.norm(np.asarray(state)[:4] - np.asarray(goal_state)[:4]))

    def is_success(self, state: np.ndarray, goal_state: np.ndarray) -> bool:
        return is_success(state, goal_state)

    def _make_expert(self, rng: np.random.Generator, noise: float) -> PushTExpert:
        return PushTExpert(rng, noise)


def is_success(state: np.ndarray, goal_state: np.ndarray) -> bool:
    """DINO-WM / LeWM Push-T success: position norm < 20 px and angle error < pi / 9."""
    state, goal_state = np.asarray(state), np.asarray(goal_state)
    close = np.linalg.norm(state[:4] - goal_state[:4]) < SUCCESS_POSITION_PX
    return bool(close and angle_error(state[4], goal_state[4]) < SUCCESS_ANGLE_RAD)


# ---- the scripted expert ----------------------------------------------------------------------
_GAP_PX = 10.0  # approach stand-off from the contact point
_ORBIT_PX = 102.0  # > farthest T point from the centre of gravity (76.5) + pusher radius
_BLOCK_DONE = (8.0, 0.12)  # px / rad: block close enough, go and park the pusher
_BLOCK_LOST = (14.0, 0.22)  # leave parking when the block was bumped this far off


class PushTExpert:
    """Noisy scripted pusher: picks the contact whose quasi-static push best moves the block
    toward the target pose (:func:`rank_pushes`), walks around the block to stand behind it,
    pushes, re-plans, and finally parks the pusher at the goal's pusher position. After a
    success it draws a new target with :func:`sample_goal`, so data keeps showing pushes.
    Gaussian noise of std ``noise`` is added to every action.
    """

    def __init__(self, rng: np.random.Generator, noise: float):
        self.rng, self.noise = rng, noise
        self._target = np.zeros(10)
        self._choice = -1
        self._parking = False

    def reset(self, info: dict[str, Any]) -> None:
        self._target = np.asarray(info["goal_state"], dtype=np.float64).copy()
        self._choice, self._parking = -1, False

    def _route(self, state: np.ndarray, dest: np.ndarray) -> np.ndarray:
        """Next waypoint toward ``dest`` that does not cross the block (orbits around it)."""
        agent = state[:2]
        steps = int(np.linalg.norm(dest - agent) // 5) + 2
        path = agent + np.linspace(0, 1, steps)[1:, None] * (dest - agent)
        # A goal pusher position can touch the block (it was pushing): the path then only has
        # to keep the clearance the destination itself has, or the pusher orbits forever.
        clearance = min(AGENT_RADIUS_PX, float(t_sdf(dest[None], state[2:4], state[4])[0])) - 0.5
        if t_sdf(path, state[2:4], state[4]).min() > clearance:
            return dest
        cog = block_cog(state)
        out = agent - cog
        radius = np.linalg.norm(out)
        if radius < _ORBIT_PX - 8:
            return cog + out / max(radius, 1e-6) * _ORBIT_PX
        here = np.arctan2(out[1], out[0])
        there = np.arctan2(*(dest - cog)[::-1])
        turn = (there - here + np.pi) % (2 * np.pi) - np.pi
        ahead = here + np.clip(turn, -0.7, 0.7)
        return cog + _ORBIT_PX * np.array([np.cos(ahead), np.sin(ahead)])

    def _push_target(self, state: np.ndarray) -> np.ndarray:
        cos, length = rank_pushes(state, self._target)
        points, normals, _, _ = push_response(state)
        stand = points + normals * (AGENT_RADIUS_PX + _GAP_PX)
        cos = np.where(in_arena(stand, AGENT_RADIUS_PX), cos, -np.inf)
        best = int(np.argmax(cos))
        if self._choice < 0 or cos[self._choice] < 0.3 or cos[best] > cos[self._choice] + 0.25:
            self._choice = best
        k = self._choice
        agent, normal = state[:2], normals[k]
        offset = agent - points[k]
        along, lateral = offset @ normal, offset - (offset @ normal) * normal
        lined_up = np.linalg.norm(lateral) < 6.0 and AGENT_RADIUS_PX - 4 < along
        if lined_up and along < AGENT_RADIUS_PX + _GAP_PX + 6:
            return points[k] + normal * (AGENT_RADIUS_PX - min(length[k], 40.0))
        return self._route(state, stand[k])

    def __call__(self, obs: dict[str, np.ndarray], info: dict[str, Any]) -> np.ndarray:
        state = np.asarray(info["state"], dtype=np.float64)
        if is_success(state, self._target):
            self._target = sample_goal(state, self.rng)
            self._choice, self._parking = -1, False
        off = np.linalg.norm(block_error(state, self._target)[:2])
        turn = angle_error(state[4], self._target[4])
        if off < _BLOCK_DONE[0] and turn < _BLOCK_DONE[1]:
            self._parking = True
        elif off > _BLOCK_LOST[0] or turn > _BLOCK_LOST[1]:
            self._parking = False
        if self._parking:
            waypoint = self._route(state, self._target[:2])
        else:
            waypoint = self._push_target(state)
        action = (waypoint - state[:2]) / MAX_DELTA_PX
        action = action / max(1.0, np.abs(action).max())
        action = action + self.rng.normal(0.0, self.noise, 2)
        return np.clip(action, -1, 1).astype(np.float32)


def raw_stepper(image_size: int, seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """Steps gym-pusht's ``PushTEnv`` directly (pixel observations at ``image_size``, goal drawing
    hidden the same way): the reference the speed benchmark compares :class:`PushT` against.

    Returns:
        ``step(action (2,) in [-1, 1]) -> frame uint8 (image_size, image_size, 3)``.
    """
    sim = _make_sim(image_size)
    sim.reset(seed=seed)
    sim.goal_pose = _HIDDEN_GOAL_POSE.copy()

    def step(action: np.ndarray) -> np.ndarray:
        agent = np.array(sim.agent.position)
        target = np.clip(agent + np.clip(action, -1, 1) * MAX_DELTA_PX, 0.0, CANVAS_PX)
        return sim.step(target)[0]

    step.close = sim.close
    return step
