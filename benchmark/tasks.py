"""Planning tasks: (start, goal) pairs from the HELD-OUT split, saved to and reloaded from JSON.

Protocol (DESIGN.md): start = a recorded state of a held-out episode, goal = the recorded
state ``goal_offset`` env steps later in the same episode, starts that already satisfy the
success criterion are rejected. Every method evaluated on a dataset faces the same task file.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import envs
from benchmark.datasets import Recording

TASKS_FORMAT_VERSION = 1


@dataclass(frozen=True)
class Task:
    """One planning task: teleport to ``start_state``, reach ``goal_state``."""

    episode: int
    step: int
    start_state: tuple[float, ...]
    goal_state: tuple[float, ...]


def sample_tasks(rec: Recording, n_tasks: int, goal_offset: int, seed: int) -> list[Task]:
    """Draws up to ``n_tasks`` tasks from the held-out episodes of ``rec``.

    Args:
        rec: the dataset.
        n_tasks: tasks wanted (fewer are returned, with a warning, if the split is too small).
        goal_offset: env steps between the start and the goal frames.
        seed: seed of the draw.
    """
    if goal_offset < 1:
        raise ValueError(f"goal_offset must be >= 1, got {goal_offset}")
    env = envs.make(rec.env_id, image_size=rec.image_size).unwrapped
    states = rec.arrays["state"]
    candidates = [
        (e, t)
        for e in rec.episodes("test")
        for t in range(rec.episode_start[e + 1] - rec.episode_start[e] - goal_offset)
    ]
    rng = np.random.default_rng([seed, 7919])
    tasks: list[Task] = []
    for i in rng.permutation(len(candidates)):
        e, t = candidates[i]
        g = rec.episode_start[e] + t
        start, goal = states[g], states[g + goal_offset]
        if env.is_success(start, goal):
            continue
        tasks.append(Task(int(e), int(t), tuple(map(float, start)), tuple(map(float, goal))))
        if len(tasks) == n_tasks:
            break
    env.close()
    if not tasks:
        raise ValueError(f"no held-out task with goal_offset {goal_offset} in {rec.path}")
    if len(tasks) < n_tasks:
        warnings.warn(f"only {len(tasks)} of {n_tasks} tasks available in {rec.path}", stacklevel=2)
    return tasks


def save_tasks(
    path: str | Path, tasks: list[Task], rec: Recording, goal_offset: int, seed: int, n_tasks: int
) -> None:
    payload = {
        "format_version": TASKS_FORMAT_VERSION,
        "env_id": rec.env_id,
        "dataset_fingerprint": rec.info["fingerprint"],
        "goal_offset": goal_offset,
        "seed": seed,
        "n_tasks": n_tasks,
        "tasks": [asdict(t) for t in tasks],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    tmp.replace(path)


def load_tasks(path: str | Path, env_id: str | None = None) -> tuple[list[Task], dict[str, Any]]:
    """Reads a task file; ``env_id`` guards against evaluating one env on another's tasks."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read task file {path} ({err}); delete it to redraw") from err
    if payload.get("format_version") != TASKS_FORMAT_VERSION:
        raise ValueError(f"{path} has task format {payload.get('format_version')}")
    if env_id is not None and payload["env_id"] != env_id:
        raise ValueError(f"{path} holds tasks of {payload['env_id']}, not {env_id}")
    tasks = [
        Task(d["episode"], d["step"], tuple(d["start_state"]), tuple(d["goal_state"]))
        for d in payload["tasks"]
    ]
    return tasks, {k: v for k, v in payload.items() if k != "tasks"}


def tasks_for(
    rec: Recording, path: str | Path, n_tasks: int, goal_offset: int, seed: int
) -> list[Task]:
    """The task file at ``path`` if it matches this dataset and protocol, else a fresh draw
    saved there."""
    path = Path(path)
    if path.exists():
        tasks, meta = load_tasks(path, rec.env_id)
        if (
            meta["dataset_fingerprint"] == rec.info["fingerprint"]
            and meta["goal_offset"] == goal_offset
            and meta["seed"] == seed
            and meta["n_tasks"] == n_tasks
        ):
            return tasks
    tasks = sample_tasks(rec, n_tasks, goal_offset, seed)
    save_tasks(path, tasks, rec, goal_offset, seed, n_tasks)
    return tasks
