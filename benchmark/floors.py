"""What a success rate is read against: two floors and a ceiling, on the planners' own tasks.

- ``noop``: zero actions (the middle of every normalised action box) for the whole budget;
  not always 0, since a recorded start can be moving toward its goal.
- ``random``: uniform random actions in ``[-1, 1]^A``, each held for one action block
  (``frameskip`` env steps, the planners' unit of control), seeded per task.
- ``expert``: the env's scripted expert with its noise off, handed the task's goal through
  ``set_goal`` and driving from the task's start: the ceiling a competent policy reaches.

Each is run once per (task file, budget, frameskip) and cached in a JSON file beside the task
file, so every model and planner row of a leaderboard reads the same per-task outcomes. None of
them render: they step the simulator with ``GoalEnv.step_state``.

Example:
    >>> import envs
    >>> from benchmark.floors import run_baseline
    >>> from benchmark.tasks import Task
    >>> env = envs.make("wmbench/TwoRoom-v0").unwrapped
    >>> task = Task(0, 0, (0.2, 0.5), (0.3, 0.5))
    >>> [o.success for o in run_baseline(env, "expert", [task], budget=10, frameskip=5)]
    [True]
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.mpc import Outcome
from benchmark.provenance import fingerprint
from benchmark.tasks import Task, tasks_digest

FLOORS_VERSION = 1
BASELINES = ("noop", "random", "expert")
"""The floors (no-op, random policy) and the ceiling (scripted expert), in report order."""


def better_floor(rates: dict[str, float]) -> str:
    """The floor (``noop`` or ``random``) with the higher success rate; ``noop`` on a tie."""
    return "random" if rates["random"] > rates["noop"] else "noop"


def _policy(env, name: str, task_index: int, frameskip: int, seed: int):
    """A callable ``(obs, info) -> action`` for baseline ``name`` on one task."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; valid: {', '.join(BASELINES)}")
    rng = np.random.default_rng([seed, task_index, BASELINES.index(name)])
    if name == "noop":
        zero = np.zeros(env.action_dim)
        return lambda obs, info: zero
    if name == "random":
        state = {"t": 0, "a": None}

        def act(obs, info):
            if state["t"] % frameskip == 0:
                state["a"] = rng.uniform(-1.0, 1.0, env.action_dim)
            state["t"] += 1
            return state["a"]

        return act
    return env.make_policy("expert", rng, noise=0.0)


def run_baseline(
    env, name: str, tasks: list[Task], budget: int, frameskip: int, seed: int = 0
) -> list[Outcome]:
    """Runs baseline ``name`` on every task for ``budget`` env steps (no early stop).

    Args:
        env: the unwrapped wmbench env (teleported between tasks).
        name: ``noop``, ``random`` or ``expert``.
        tasks: the planning tasks.
        budget: env steps per task, as the planners get.
        frameskip: env steps per action block (the random policy holds each action this long).
        seed: seed of the random policy and the expert's own stream (task ``i`` gets
            ``(seed, i)``, so outcomes do not depend on the task order of a call).

    Returns:
        One :class:`~benchmark.mpc.Outcome` per task, in task order.
    """
    if budget < 1 or frameskip < 1:
        raise ValueError(f"budget and frameskip must be >= 1, got {budget}, {frameskip}")
    outcomes = []
    for i, task in enumerate(tasks):
        goal = np.asarray(task.goal_state, np.float64)
        env.set_state(np.asarray(task.start_state, np.float64))
        env.set_goal(goal)
        obs, info = env.observe(render=False)
        initial = info["distance"]
        policy = _policy(env, name, i, frameskip, seed)
        if hasattr(policy, "reset"):
            policy.reset(info)
        hit = None
        for k in range(budget):
            obs, info = env.step_state(policy(obs, info))
            if hit is None and info["success"]:
                hit = k + 1
        outcomes.append(
            Outcome(hit is not None, bool(info["success"]), info["distance"], initial, hit)
        )
    return outcomes


def floors_path(tasks_file: str | Path, budget: int, frameskip: int) -> Path:
    tasks_file = Path(tasks_file)
    return tasks_file.with_name(f"{tasks_file.stem}.floors-b{budget}-fs{frameskip}.json")


def floors_for(
    env,
    tasks: list[Task],
    tasks_file: str | Path,
    budget: int,
    frameskip: int,
    seed: int = 0,
) -> dict[str, list[dict[str, Any]]]:
    """Per-task outcomes of every baseline, read from the cache beside ``tasks_file`` or
    computed and cached there.

    The cache is keyed by the tasks themselves (a digest of their states), the budget, the
    frameskip, the seed and :data:`FLOORS_VERSION`; a cache that does not match is recomputed
    (it holds nothing that cannot be rebuilt).

    Returns:
        ``{"noop": [outcome dict, ...], "random": [...], "expert": [...]}`` in task order.
    """
    key = {
        "version": FLOORS_VERSION,
        "tasks": tasks_digest(tasks),
        "budget": budget,
        "frameskip": frameskip,
        "seed": seed,
    }
    path = floors_path(tasks_file, budget, frameskip)
    try:
        cached = json.loads(path.read_text())
        if cached.get("key") == key:
            return cached["outcomes"]
    except (OSError, ValueError):
        pass
    outcomes = {
        name: [asdict(o) for o in run_baseline(env, name, tasks, budget, frameskip, seed)]
        for name in BASELINES
    }
    payload = {"key": key, "fingerprint": fingerprint(key), "outcomes": outcomes}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)  # concurrent cells write the same bytes; the last rename wins
    return outcomes
