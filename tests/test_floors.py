"""Floors (no-op, random policy) and the expert ceiling on a toy env, and their cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

import envs
from benchmark import floors
from benchmark.floors import BASELINES, floors_for, floors_path, run_baseline
from benchmark.tasks import Task


@pytest.fixture(scope="module")
def dot():
    envs.register("wmbench/FloorDot-v0", "tests.plugins.dot_env:Dot", 100)
    env = envs.make("wmbench/FloorDot-v0", image_size=16).unwrapped
    yield env
    env.close()
    envs.REGISTRY.pop("wmbench/FloorDot-v0")


def _tasks(n: int = 8) -> list[Task]:
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        start = rng.uniform(0.2, 0.4, 2)
        goal = start + np.array([0.3, 0.0])  # within 0.08 of it after 5 steps of 0.05
        out.append(Task(i, 0, tuple(start), tuple(goal)))
    return out


def test_noop_never_moves_and_the_expert_reaches_every_goal(dot):
    tasks = _tasks()
    noop = run_baseline(dot, "noop", tasks, budget=20, frameskip=5)
    assert not any(o.success for o in noop)
    assert all(o.final_distance == pytest.approx(0.3) == o.initial_distance for o in noop)
    expert = run_baseline(dot, "expert", tasks, budget=20, frameskip=5)
    assert all(o.success and o.steps_to_success == 5 for o in expert)
    # a budget shorter than the way there is a failure, for the expert too
    assert not any(o.success for o in run_baseline(dot, "expert", tasks, 4, 5))


def test_random_policy_holds_each_action_for_one_block(dot, monkeypatch):
    seen = []
    step = dot.step_state

    def spy(action):
        seen.append(np.array(action))
        return step(action)

    monkeypatch.setattr(dot, "step_state", spy)
    run_baseline(dot, "random", _tasks(1), budget=12, frameskip=4)
    actions = np.stack(seen)
    assert np.all(np.abs(actions) <= 1)
    for block in (actions[0:4], actions[4:8], actions[8:12]):
        assert np.all(block == block[0])
    assert not np.allclose(actions[0], actions[4]) and not np.allclose(actions[4], actions[8])


def test_random_outcomes_depend_on_seed_and_task_index_only(dot):
    tasks = _tasks()
    a = run_baseline(dot, "random", tasks, 30, 5, seed=0)
    b = run_baseline(dot, "random", tasks, 30, 5, seed=0)
    c = run_baseline(dot, "random", tasks, 30, 5, seed=1)
    assert a == b
    assert [o.final_distance for o in a] != [o.final_distance for o in c]


def test_floors_are_cached_per_task_file_and_recomputed_when_the_protocol_changes(
    dot, tmp_path, monkeypatch
):
    tasks = _tasks()
    tasks_file = tmp_path / "tasks.json"
    first = floors_for(dot, tasks, tasks_file, budget=20, frameskip=5)
    assert set(first) == set(BASELINES) and all(len(v) == len(tasks) for v in first.values())
    assert [o["success"] for o in first["expert"]] == [True] * len(tasks)
    path = floors_path(tasks_file, 20, 5)
    assert json.loads(path.read_text())["outcomes"] == first

    def boom(*args, **kwargs):
        raise AssertionError("recomputed instead of reading the cache")

    monkeypatch.setattr(floors, "run_baseline", boom)
    assert floors_for(dot, tasks, tasks_file, budget=20, frameskip=5) == first
    # other tasks under the same file name: the cache does not match, so it is rebuilt
    with pytest.raises(AssertionError, match="recomputed"):
        floors_for(dot, tasks[:4], tasks_file, budget=20, frameskip=5)
    with pytest.raises(AssertionError, match="recomputed"):
        floors_for(dot, tasks, tasks_file, budget=20, frameskip=5, seed=1)
    # a corrupt cache is rebuilt, never trusted
    monkeypatch.undo()
    path.write_text("{not json")
    assert floors_for(dot, tasks, tasks_file, budget=20, frameskip=5) == first


def test_unknown_baseline(dot):
    with pytest.raises(ValueError, match="valid: noop, random, expert"):
        run_baseline(dot, "oracle", _tasks(1), 5, 5)
