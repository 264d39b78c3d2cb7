"""Planning tasks: (start, goal) pairs from the HELD-OUT split, saved to and reloaded from JSON.

Protocol: start = a recorded state of a held-out episode (through the env's ``task_start``,
which may bring it to rest), goal = the recorded state ``goal_offset`` env steps later in the
same episode; starts that already satisfy the success criterion are rejected. Tasks are spread
over the held-out episodes (round robin: a second task comes from an episode only once every
episode has given one), since tasks of one episode are not independent draws. Every method
evaluated on a dataset faces the same task file, and a task file is never redrawn in place:
one that does not match the dataset or the protocol asked for is an error naming both.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

import envs
from benchmark.datasets import Recording

TASKS_FORMAT_VERSION = 2


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
    order = rng.permutation(len(candidates))
    seen: dict[int, int] = {}
    rank = np.empty(len(order), int)  # how many earlier draws came from the same episode
    for pos, i in enumerate(order):
        e = candidates[i][0]
        rank[pos] = seen.get(e, 0)
        seen[e] = rank[pos] + 1
    tasks: list[Task] = []
    for pos in np.argsort(rank, kind="stable"):
        e, t = candidates[order[pos]]
        g = rec.episode_start[e] + t
        start, goal = env.task_start(states[g]), states[g + goal_offset]
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
        raise ValueError(
            f"{path} has task format version {payload.get('format_version')}, this wmbench "
            f"reads version {TASKS_FORMAT_VERSION}; draw a new task file (another --tasks-file)"
        )
    if env_id is not None and payload["env_id"] != env_id:
        raise ValueError(f"{path} holds tasks of {payload['env_id']}, not {env_id}")
    tasks = [
        Task(d["episode"], d["step"], tuple(d["start_state"]), tuple(d["goal_state"]))
        for d in payload["tasks"]
    ]
    return tasks, {k: v for k, v in payload.items() if k != "tasks"}


def tasks_digest(tasks: list[Task]) -> str:
    """A short digest of the tasks' episodes, steps and states (keys caches built on them)."""
    blob = json.dumps([asdict(t) for t in tasks]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def default_tasks_file(dataset: str | Path, n_tasks: int, goal_offset: int, seed: int) -> Path:
    """Where a dataset's task file for one protocol lives; the name encodes the protocol, so
    another draw never lands on top of this one."""
    return Path(dataset) / f"tasks-v{TASKS_FORMAT_VERSION}-o{goal_offset}-n{n_tasks}-s{seed}.json"


def tasks_for(
    rec: Recording, path: str | Path, n_tasks: int, goal_offset: int, seed: int
) -> list[Task]:
    """The tasks in ``path``, drawn and saved there first if the file does not exist.

    Raises:
        ValueError: ``path`` holds tasks of another env, dataset, format version, goal offset,
            count or seed; the message names both sides. The file is left as it is.
    """
    path = Path(path)
    if not path.exists():
        tasks = sample_tasks(rec, n_tasks, goal_offset, seed)
        save_tasks(path, tasks, rec, goal_offset, seed, n_tasks)
        return tasks
    tasks, meta = load_tasks(path, rec.env_id)
    wanted = {
        "dataset_fingerprint": rec.info["fingerprint"],
        "goal_offset": goal_offset,
        "n_tasks": n_tasks,
        "seed": seed,
    }
    diff = [f"{k} {meta.get(k)!r} (asked: {v!r})" for k, v in wanted.items() if meta.get(k) != v]
    if diff:
        raise ValueError(
            f"task file {path} was drawn for another protocol or dataset: {'; '.join(diff)}. "
            f"Use another --tasks-file (or none: the default name encodes the protocol) "
            f"instead of overwriting it."
        )
    return tasks
