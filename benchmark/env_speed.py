"""Env steps per second with rendering: the raw simulator vs the wmbench wrapper.

For every env id and image size, times ``raw_stepper`` (the underlying simulator driven
directly, same render settings) and ``env.step`` through ``envs.make`` (the wrapper with
gymnasium's checks and time limit) in alternating rounds after a warm-up, keeping the best
round of each. The wrapper's resets at truncation are not counted as step time (the raw
simulator never resets). The two follow the same actions from different start states, so
short runs vary by a few percent either way. Overhead = raw fps / wrapper fps - 1; the target
is under 10 %. The last two columns time the env's own simulator step + render against
``env.step`` from the same start state: the wrapper's cost alone.

Usage:
    python -m benchmark.env_speed [--sizes 64 224] [--steps 300] [--envs wmbench/TwoRoom-v0 ...]
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import time

import numpy as np
from tabulate import tabulate

import envs
from benchmark.provenance import banner

WARMUP_STEPS = 20


def _fps(step, actions: np.ndarray) -> float:
    t0 = time.perf_counter()
    for a in actions:
        step(a)
    return len(actions) / (time.perf_counter() - t0)


def measure(env_id: str, image_size: int, steps: int, repeats: int = 5) -> dict:
    """Best-of-``repeats`` fps of the raw stepper and of the wrapper, timed in alternating
    rounds so that load from other processes hits both alike."""
    module = importlib.import_module(envs.spec(env_id).entry_point.split(":")[0])
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

    accepted = inspect.signature(module.raw_stepper).parameters
    kwargs = {k: v for k, v in envs.spec(env_id).kwargs.items() if k in accepted}
    raw = module.raw_stepper(image_size, seed=0, **kwargs)
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
    """fps of the env's own simulator step + render (``_apply_action`` + ``_render_pixels``)
    and of ``env.step`` through every wrapper, from the SAME start state with the same actions:
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
            u._apply_action(a.astype(np.float64))
            u._render_pixels()
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


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=envs.ids(), help="env ids to time")
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 224], help="image sizes")
    parser.add_argument("--steps", type=int, default=300, help="timed steps per repeat")
    parser.add_argument("--repeats", type=int, default=5, help="alternating rounds (best kept)")
    args = parser.parse_args(argv)
    print(banner(), flush=True)
    rows = [measure(e, s, args.steps, args.repeats) for e in args.envs for s in args.sizes]
    print(tabulate(rows, headers="keys", tablefmt="github"))
    return rows


if __name__ == "__main__":
    main()
