"""Data faults: atomic finalisation, the collect lock, option checks, unsafe dataset metadata."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.envs import registration

import envs
from benchmark import collect as collect_mod
from benchmark.collect import CollectConfig, collect
from benchmark.datasets import DatasetError, Recording


@pytest.fixture
def cfg(tmp_path) -> CollectConfig:
    return CollectConfig(
        env_id="wmbench/TwoRoom-v0",
        episodes=3,
        steps=6,
        image_size=16,
        seed=5,
        workers=1,
        root=tmp_path / "datasets",
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    """A complete tiny dataset, collected once; tests copy it before changing it."""
    root = tmp_path_factory.mktemp("tiny")
    return collect(
        CollectConfig(episodes=2, steps=4, image_size=16, seed=1, workers=1, root=root),
        progress=False,
    )


def _no_rolls(content, index):
    raise AssertionError(f"episode {index} was collected again")


def _pixels(path: Path) -> np.ndarray:
    return np.array(Recording.open(path, progress=False).arrays["pixels"])


# ---- 1. the final rename ----------------------------------------------------------------------
def test_damaged_target_is_moved_aside_not_merged(cfg, capsys):
    junk = cfg.path / "data" / "1" / "junk.arrow"  # a half-deleted dataset: no metadata.json
    junk.parent.mkdir(parents=True)
    junk.write_bytes(b"old bytes")
    path = collect(cfg, progress=False)
    (aside,) = cfg.root.glob(f"{cfg.name}.damaged-*")
    assert (aside / "data" / "1" / "junk.arrow").read_bytes() == b"old bytes"  # kept as is
    assert not (path / "data" / "1" / "junk.arrow").exists()  # not merged
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(cfg.path) in err[0] and str(aside) in err[0]
    fresh = collect(replace(cfg, root=cfg.root / "fresh"), progress=False)
    np.testing.assert_array_equal(_pixels(path), _pixels(fresh))


def test_failed_final_rename_resumes_without_recollecting(cfg, monkeypatch):
    real_replace = os.replace

    def failing(src, dst, *a, **k):
        if Path(dst) == cfg.path:
            raise OSError(39, "Directory not empty", str(dst))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(OSError, match="not empty"):
        collect(cfg, progress=False)
    monkeypatch.setattr(os, "replace", real_replace)
    assert not cfg.path.exists()
    monkeypatch.setattr(collect_mod, "roll_episode", _no_rolls)
    path = collect(cfg, progress=False)
    assert not (path / "collect.json").exists()
    assert not Path(str(cfg.path) + ".partial").exists()
    monkeypatch.undo()
    fresh = collect(replace(cfg, root=cfg.root / "fresh"), progress=False)
    np.testing.assert_array_equal(_pixels(path), _pixels(fresh))


def test_partial_left_by_the_old_finalise_is_renamed_not_recollected(cfg, monkeypatch):
    path = collect(cfg, progress=False)
    path.rename(Path(str(path) + ".partial"))  # complete metadata, marker already gone
    monkeypatch.setattr(collect_mod, "roll_episode", _no_rolls)
    assert Recording.open(collect(cfg, progress=False), progress=False).info["complete"]


def test_marker_left_by_a_crash_after_the_rename_is_tidied(cfg):
    path = collect(cfg, progress=False)
    (path / "collect.json").write_text(json.dumps(cfg.content()))
    assert collect(cfg, progress=False) == path
    assert not (path / "collect.json").exists()


# ---- 1. the lock ------------------------------------------------------------------------------
_HOLD = """
import fcntl, os, sys, time
f = open(sys.argv[1], "a+")
fcntl.flock(f, fcntl.LOCK_EX)
f.truncate(0); f.write(str(os.getpid())); f.flush()
print("locked", flush=True)
time.sleep(60)
"""


def test_second_identical_collect_names_the_lock_and_its_pid(cfg):
    lock = Path(str(cfg.path) + ".lock")
    lock.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(lock)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RuntimeError, match=re.escape(str(lock))) as err:
            collect(cfg, progress=False)
        assert f"PID {holder.pid}" in str(err.value)
        assert not Path(str(cfg.path) + ".partial").exists()  # nothing of the holder touched
    finally:
        holder.kill()
        holder.wait()
    assert collect(cfg, progress=False) == cfg.path  # the killed holder's lock is taken over
    assert not lock.exists()


def test_stale_lock_of_a_dead_pid_is_taken_over(cfg, monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = Path(str(cfg.path) + ".lock")
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{dead.pid}\n")
    seen = []
    real = collect_mod.roll_episode

    def spy(content, index):
        seen.append(lock.read_text().strip())
        return real(content, index)

    monkeypatch.setattr(collect_mod, "roll_episode", spy)
    collect(cfg, progress=False)
    assert seen and set(seen) == {str(os.getpid())}  # held by this process while collecting
    assert not lock.exists()


# ---- 1. option checks -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"noise": -1.0}, r"--noise.*>= 0, got -1"),
        ({"noise": math.nan}, r"--noise.*>= 0, got nan"),
        ({"episodes": 1}, r"--episodes.*at least 2.*got 1"),
        ({"steps": 0}, r"--steps.*at least 1, got 0"),
        ({"held_out": 0.0}, r"--held-out.*\(0, 1\), got 0"),
        ({"held_out": 1.5}, r"--held-out.*\(0, 1\), got 1.5"),
        ({"workers": -2}, r"--workers.*>= 0.*got -2"),
        ({"seed": -1}, r"--seed.*>= 0, got -1"),
    ],
)
def test_out_of_range_options_name_the_option_and_range(cfg, change, message):
    with pytest.raises(ValueError, match=message):
        collect(replace(cfg, **change), progress=False)
    assert not cfg.root.exists()  # refused before anything is written


# ---- 2. unsafe dataset metadata ---------------------------------------------------------------
def _guard_env_building(monkeypatch, any_env: bool = True) -> None:
    """Fails the test if an entry point outside ``envs`` is loaded (or, with ``any_env``, if
    any env is made at all)."""

    def no_make(*args, **kwargs):
        pytest.fail(f"an environment was built while opening a dataset: {args}")

    real_load = registration.load_env_creator

    def guarded_load(name):
        if not (isinstance(name, str) and name.startswith("envs.")):
            pytest.fail(f"the entry point {name!r} from a dataset file was loaded")
        return real_load(name)

    if any_env:
        monkeypatch.setattr(gymnasium, "make", no_make)
    monkeypatch.setattr(registration, "load_env_creator", guarded_load)


def _craft(tiny: Path, path: Path, *changes) -> Path:
    """A copy of ``tiny`` at ``path`` with each ``change(meta, env_spec)`` applied."""
    shutil.copytree(tiny, path)
    meta_file = path / "data" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    spec = json.loads(meta["env_spec"])
    for change in changes:
        change(meta, spec)
    meta["env_spec"] = json.dumps(spec)
    meta_file.write_text(json.dumps(meta))
    return path


def _no_spaces(meta, spec):
    del meta["observation_space"], meta["action_space"]


def _os_system(meta, spec):
    spec["entry_point"] = "os:system"
    spec["kwargs"] = {"command": "touch pwned"}


def _unregistered(meta, spec):
    spec["id"] = "evil/Env-v0"


def _unfinished(meta, spec):
    del meta["wmbench"]


def _wrapper(meta, spec):
    spec["additional_wrappers"] = [{"name": "W", "entry_point": "os:system", "kwargs": {}}]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ((_no_spaces, _os_system), r"observation_space is missing.*'os:system'"),
        ((_no_spaces,), r"action_space is missing"),
        ((_os_system,), r"entry point 'os:system' is outside"),
        ((_unregistered,), r"env id 'evil/Env-v0' is not a registered"),
        ((_wrapper,), r"entry point 'os:system' is outside"),
    ],
)
def test_unsafe_metadata_is_refused_without_building_an_env(
    tiny, tmp_path, monkeypatch, changes, problem
):
    path = _craft(tiny, tmp_path / tiny.name, *changes)
    _guard_env_building(monkeypatch)
    meta_file = re.escape(str(path / "data" / "metadata.json"))
    with pytest.raises(DatasetError, match=rf"{meta_file}.*{problem}"):
        Recording.open(path, progress=False)
    assert not (path / "cache").exists()


def test_unsafe_partial_collection_is_restarted_not_opened(cfg, tiny, monkeypatch):
    partial = _craft(tiny, Path(str(cfg.path) + ".partial"), _no_spaces, _os_system, _unfinished)
    (partial / "collect.json").write_text(json.dumps(cfg.content()))
    _guard_env_building(monkeypatch, any_env=False)  # collect makes its own env
    with pytest.warns(UserWarning, match="restarting collection.*refusing"):
        path = collect(cfg, progress=False)
    assert Recording.open(path, progress=False).info["config"] == cfg.content()


def test_a_plugin_env_registered_at_run_time_still_opens(tiny, tmp_path, monkeypatch):
    def to_dot(meta, spec):
        meta["wmbench"]["config"]["env_id"] = spec["id"] = "wmbench/Dot-v0"
        spec["entry_point"] = "plugins.dot_env:Dot"

    path = _craft(tiny, tmp_path / tiny.name, to_dot)
    with pytest.raises(DatasetError, match="'wmbench/Dot-v0' is not a registered"):
        Recording.open(path, progress=False)
    monkeypatch.setattr(envs, "REGISTRY", dict(envs.REGISTRY))
    monkeypatch.setitem(envs.REGISTRY, "wmbench/Dot-v0", envs.Spec("plugins.dot_env:Dot", 60))
    assert Recording.open(path, progress=False).env_id == "wmbench/Dot-v0"
