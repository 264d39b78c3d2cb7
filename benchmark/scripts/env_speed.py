"""Env steps per second with rendering: the raw simulator vs the wmbench wrapper.

For every env id and image size, times the env's raw stepper (``GoalEnv.raw_stepper``: the
underlying simulator driven directly, same render settings) and ``env.step`` through
``envs.make`` (the wrapper with gymnasium's checks and time limit) in alternating rounds after a
warm-up, keeping the best round of each. An env without a raw stepper is skipped (a printed
line says so). The wrapper's resets at truncation are not counted as step time (the raw
simulator never resets). The two follow the same actions from different start states, so
short runs vary by a few percent either way. Overhead = raw fps / wrapper fps - 1; the target
is under 10 %. The last two columns time the env's own simulator step + render
(``GoalEnv.sim_step`` + ``render``) against ``env.step`` from the same start state: the
wrapper's cost alone.

Usage:
    python -m benchmark.scripts.env_speed [--sizes 64 224] [--steps 300]
        [--envs wmbench/TwoRoom-v0 ...]
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import tyro
from tabulate import tabulate

import envs
from benchmark.provenance import banner

WARMUP_STEPS = 20


def _fps(step, actions: np.ndarray) -> float:
    t0 = time.perf_counter()
    for a in actions:
        step(a)
    return len(actions) / (time.perf_counter() - t0)


def measure(env_id: str, image_size: int, steps: int, repeats: int = 5) -> dict | None:
    """Best-of-``repeats`` fps of the raw stepper and of the wrapper, timed in alternating
    rounds so that load from other processes hits both alike; None (and a printed line) when
    the env has no raw stepper."""
    env = envs.make(env_id, image_size=image_size)
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, env.action_space.shape[0]))
    actions = actions.astype(np.float32)

    reset_s = [0.0]

    def wrapped(a):
        _, _, _, truncated, _ = env.step(a)
        if truncated:  # resets are not steps: their time is taken out of the wrapper's
            t0 = time.perf_counter()
            env.reset()
            reset_s[0] += time.perf_counter() - t0

    hook = getattr(env.unwrapped, "raw_stepper", None)
    raw = hook(seed=0) if hook is not None else None
    if raw is None:
        print(f"{env_id} {image_size} px skipped: no raw_stepper", flush=True)
        env.close()
        return None
    for a in actions[:WARMUP_STEPS]:  # GL contexts compile shaders on their first frames
        raw(a)
        wrapped(a)
    raw_fps = wrapper_fps = 0.0
    for _ in range(repeats):
        raw_fps = max(raw_fps, _fps(raw, actions))
        reset_s[0] = 0.0
        t0 = time.perf_counter()
        for a in actions:
            wrapped(a)
        wrapper_fps = max(wrapper_fps, len(actions) / (time.perf_counter() - t0 - reset_s[0]))
    bare_fps, same_fps = _same_start(env, actions, repeats)
    env.close()
    if hasattr(raw, "close"):
        raw.close()
    return {
        "env": env_id,
        "px": image_size,
        "raw fps": round(raw_fps, 1),
        "wmbench fps": round(wrapper_fps, 1),
        "overhead %": round(100 * (raw_fps / wrapper_fps - 1), 1),
        "sim+render fps": round(bare_fps, 1),
        "same-start overhead %": round(100 * (bare_fps / same_fps - 1), 1),
    }


def _same_start(env, actions: np.ndarray, repeats: int) -> tuple[float, float]:
    """fps of the env's own simulator step + render (``GoalEnv.sim_step`` + ``render``) and
    of ``env.step`` through every wrapper, from the SAME start state with the same actions:
    the wrapper's own cost, free of the trajectory differences between the raw stepper and the
    env (FetchPush's raw stepper starts with the arm in the air, the env's episodes next to
    the object, and contacts cost physics time)."""
    u = env.unwrapped
    env.reset(seed=0)
    start = u.get_state()
    n = min(len(actions), env.spec.max_episode_steps - 1)

    def bare() -> float:
        u.set_state(start)
        t0 = time.perf_counter()
        for a in actions[:n]:
            u.sim_step(a)
            u.render()
        return n / (time.perf_counter() - t0)

    def wrapped() -> float:
        env.reset(seed=0)  # restarts the time limit's count
        u.set_state(start)
        t0 = time.perf_counter()
        for a in actions[:n]:
            env.step(a)
        return n / (time.perf_counter() - t0)

    best = [0.0, 0.0]
    for _ in range(repeats):
        best = [max(best[0], bare()), max(best[1], wrapped())]
    return best[0], best[1]


@dataclass
class EnvSpeedConfig:
    """Which envs and image sizes to time, and for how long."""

    envs: list[str] = field(default_factory=envs.ids)
    """Env ids to time (default: every registered env)."""
    sizes: tuple[int, ...] = (64, 224)
    """Image sizes."""
    steps: int = 300
    """Timed steps per repeat."""
    repeats: int = 5
    """Alternating rounds (the best is kept)."""


def run(cfg: EnvSpeedConfig) -> list[dict]:
    """One row per env and image size (envs without a raw stepper left out); prints the table."""
    print(banner(), flush=True)
    rows = [measure(e, s, cfg.steps, cfg.repeats) for e in cfg.envs for s in cfg.sizes]
    rows = [r for r in rows if r is not None]
    print(tabulate(rows, headers="keys", tablefmt="github"))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    return run(tyro.cli(EnvSpeedConfig, args=argv, description=__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
