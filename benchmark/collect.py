"""Collect trajectories into lossless Minari datasets.

Episodes are rolled by a data-collection policy in parallel worker processes; episode ``i``
depends only on ``(seed, i)``, so a dataset is the same whatever the worker count. Episodes are
written one by one into ``<name>.partial/``; an interrupted collection resumes from the last
complete episode, and only a finished dataset is renamed to ``<name>/`` (the only form that
loads). Nothing is deleted before the dataset is in place: a damaged folder in the way is moved
aside to ``<name>.damaged-<time>/``. ``<name>.lock`` beside them keeps two identical collections
from running at once.

Layout of a dataset directory::

    <root>/<name>/data/            a Minari (arrow, jpeg_encoding=False) storage
    <root>/<name>/data/metadata.json["wmbench"]   config, split, statistics, versions, commit

Usage:
    python run_benchmark.py collect --env-id wmbench/TwoRoom-v0 --episodes 200 --steps 100
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import multiprocessing as mp
import os
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

import envs
from benchmark.provenance import code_version, fingerprint, git_commit, package_versions

DATASET_FORMAT_VERSION = 1
PARTIAL_SUFFIX = ".partial"
LOCK_SUFFIX = ".lock"
MARKER = "collect.json"


@dataclass(frozen=True)
class CollectConfig:
    """What to collect. Every field but ``workers`` and ``root`` changes the data."""

    env_id: str = "wmbench/TwoRoom-v0"
    """Benchmark environment id (see ``envs.ids()``)."""
    policy: str = "expert"
    """Data-collection policy living beside the env: ``expert`` (noisy scripted) or ``random``."""
    episodes: int = 100
    """Number of episodes."""
    steps: int = 100
    """Env steps per episode (episodes never terminate early)."""
    image_size: int = 64
    """Side of the square pixel observations."""
    noise: float = 0.3
    """Action-noise std of the expert policy."""
    held_out: float = 0.1
    """Fraction of episodes kept out of training (the planning tasks come from them)."""
    seed: int = 0
    """Seed of the episodes (episode ``i`` is seeded by ``(seed, i)``) and of the split."""
    workers: int = 0
    """Worker processes; 0 picks one per CPU core for large jobs, 1 runs in this process."""
    root: Path = Path("data/datasets")
    """Directory that holds datasets."""

    def content(self) -> dict[str, Any]:
        """The fields that determine the data (for the fingerprint and the metadata)."""
        d = asdict(self)
        d.pop("workers")
        d.pop("root")
        return d

    def fingerprint(self) -> str:
        """The dataset's identity: its content and the code version that collects it."""
        return fingerprint({**self.content(), "code": code_version("data")})

    @property
    def name(self) -> str:
        short = self.env_id.split("/")[-1].split("-v")[0].lower()
        return (
            f"{short}-{self.policy}-{self.image_size}px-{self.episodes}x{self.steps}"
            f"-s{self.seed}-{self.fingerprint()[:8]}"
        )

    @property
    def path(self) -> Path:
        # absolute: Minari's size accounting breaks on relative storage paths
        return Path(self.root).resolve() / self.name


class CollectionLocked(RuntimeError):
    """Another process is collecting the same dataset."""


def validate(cfg: CollectConfig) -> None:
    """Raises a ``ValueError`` naming the option when a field of ``cfg`` is out of range."""
    envs.spec(cfg.env_id)
    envs.check_image_size(cfg.image_size)
    if cfg.episodes < 2:
        raise ValueError(
            f"episodes (--episodes) must be at least 2 (one for training, one held out), "
            f"got {cfg.episodes}"
        )
    if cfg.steps < 1:
        raise ValueError(f"steps (--steps) must be at least 1, got {cfg.steps}")
    if not 0.0 < cfg.held_out < 1.0:
        raise ValueError(f"held_out (--held-out) must be in (0, 1), got {cfg.held_out}")
    if not (math.isfinite(cfg.noise) and cfg.noise >= 0.0):
        raise ValueError(
            f"noise (--noise, the expert's action-noise std) must be a finite number >= 0, "
            f"got {cfg.noise}"
        )
    if cfg.seed < 0:
        raise ValueError(f"seed (--seed) must be >= 0, got {cfg.seed}")
    if cfg.workers < 0:
        raise ValueError(
            f"workers (--workers) must be >= 0 (0: automatic, 1: in this process), "
            f"got {cfg.workers}"
        )


# ---- the worker side ------------------------------------------------------------------------
_ENV_CACHE: dict[tuple[str, int], Any] = {}


def _env(env_id: str, image_size: int):
    key = (env_id, image_size)
    if key not in _ENV_CACHE:
        for old in _ENV_CACHE.values():  # one GL context per process (OGBench pitfall)
            old.close()
        _ENV_CACHE.clear()
        _ENV_CACHE[key] = envs.make(env_id, image_size=image_size).unwrapped
    return _ENV_CACHE[key]


def episode_seeds(seed: int, index: int) -> tuple[int, int]:
    """(env seed, policy seed) of episode ``index``: independent of the worker layout."""
    env_seed, policy_seed = np.random.SeedSequence([seed, index]).generate_state(2)
    return int(env_seed), int(policy_seed)


def roll_episode(content: dict[str, Any], index: int) -> dict[str, Any]:
    """Rolls episode ``index`` of a collection and returns its arrays."""
    env = _env(content["env_id"], content["image_size"])
    env_seed, policy_seed = episode_seeds(content["seed"], index)
    obs, info = env.reset(seed=env_seed)
    policy = env.make_policy(
        content["policy"], np.random.default_rng(policy_seed), noise=content["noise"]
    )
    policy.reset(info)
    steps = content["steps"]
    pixels = np.empty((steps + 1, *obs["pixels"].shape), np.uint8)
    proprio = np.empty((steps + 1, *obs["proprio"].shape), np.float32)
    states = np.empty((steps + 1, info["state"].shape[0]), np.float64)
    actions = np.empty((steps, env.action_dim), np.float32)
    success = np.zeros((steps + 1, 1), bool)
    distance = np.zeros((steps + 1, 1), np.float64)
    moved = np.zeros((steps + 1, 1), bool)

    def record(t: int) -> None:
        pixels[t], proprio[t], states[t] = obs["pixels"], obs["proprio"], info["state"]
        success[t, 0], distance[t, 0] = info["success"], info["distance"]

    record(0)
    for t in range(steps):
        action = np.clip(np.asarray(policy(obs, info), np.float32), -1.0, 1.0)
        obs, reward, _, _, info = env.step(action)
        actions[t] = action
        record(t + 1)
        moved[t + 1, 0] = env.moved(states[t], states[t + 1])
    goal = np.broadcast_to(info["goal_state"], states.shape).copy()
    return {
        "index": index,
        "seed": env_seed,
        "pixels": pixels,
        "proprio": proprio,
        "actions": actions,
        "state": states,
        "goal_state": goal,
        "success": success,
        "distance": distance,
        "moved": moved,
    }


# ---- the writer side ------------------------------------------------------------------------
def _episode_buffer(ep: dict[str, Any]):
    from minari.data_collector import EpisodeBuffer

    steps = ep["actions"].shape[0]
    truncations = np.zeros(steps, bool)
    truncations[-1] = True
    return EpisodeBuffer(
        id=ep["index"],
        seed=ep["seed"],
        observations={"pixels": ep["pixels"], "proprio": ep["proprio"]},
        actions=ep["actions"],
        rewards=ep["success"][1:, 0].astype(np.float64),
        terminations=np.zeros(steps, bool),
        truncations=truncations,
        # Minari's arrow storage cannot decode 1-D info arrays: scalars are stored as (T+1, 1).
        infos={k: ep[k] for k in ("state", "goal_state", "success", "distance", "moved")},
    )


def _partial_path(cfg: CollectConfig) -> Path:
    return Path(str(cfg.path) + PARTIAL_SUFFIX)


def _partial_config(partial: Path) -> Any:
    """The config a partial collection was started with: its marker, else its final metadata
    (a collection finalised by an older version that lost the marker before the rename)."""
    marker = partial / MARKER
    if marker.exists():
        return json.loads(marker.read_text())
    meta = json.loads((partial / "data" / "metadata.json").read_text())
    return meta["wmbench"]["config"]


def _resume(cfg: CollectConfig, partial: Path) -> tuple[Any, int] | None:
    """The partial storage of ``cfg`` and its complete episode count; None to start afresh."""
    from minari.dataset.minari_storage import MinariStorage

    from benchmark.datasets import DatasetError, check_env_metadata

    data = partial / "data"
    try:
        if _partial_config(partial) != cfg.content():
            return None
        meta_file = data / "metadata.json"
        check_env_metadata(json.loads(meta_file.read_text()), meta_file, cfg.env_id)
        storage = MinariStorage.read(data)
        done = int(storage.total_episodes)
    except (OSError, ValueError, KeyError, TypeError, DatasetError) as err:
        warnings.warn(f"restarting collection: {partial} is unreadable ({err})", stacklevel=3)
        return None
    for child in data.iterdir():  # an episode written after the last metadata update
        if child.is_dir() and child.name.isdigit() and int(child.name) >= done:
            shutil.rmtree(child)
    return storage, done


def _open_partial(cfg: CollectConfig, env) -> tuple[Any, int]:
    """Opens (or creates) the partial storage; returns it and the number of complete episodes."""
    from minari.dataset.minari_storage import MinariStorage

    partial = _partial_path(cfg)
    data = partial / "data"
    if partial.exists():
        resumed = _resume(cfg, partial)
        if resumed is not None:
            return resumed
        shutil.rmtree(partial)
    data.mkdir(parents=True)
    (partial / MARKER).write_text(json.dumps(cfg.content()))
    storage = MinariStorage.new(
        data,
        observation_space=env.observation_space,
        action_space=env.action_space,
        env_spec=env.spec,
        data_format="arrow",
        jpeg_encoding=False,
    )
    storage.update_metadata(
        {
            "dataset_id": f"wmbench/{cfg.name}-v0",
            "minari_version": _minari_version(),
            "algorithm_name": f"wmbench-{cfg.policy}",
            "author": {"wmbench"},
            "description": f"{cfg.episodes} episodes of {cfg.policy} policy on {cfg.env_id}",
        }
    )
    return storage, 0


def _minari_version() -> str:
    import minari

    return minari.__version__


def split_episodes(episodes: int, held_out: float, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic train / held-out split by episode (at least one of each)."""
    n_test = min(episodes - 1, max(1, int(round(episodes * held_out))))
    perm = np.random.default_rng([seed, 1_000_003]).permutation(episodes)
    return sorted(perm[n_test:].tolist()), sorted(perm[:n_test].tolist())


def _finalise(cfg: CollectConfig, storage, stats: dict[str, Any]) -> Path:
    train, test = split_episodes(cfg.episodes, cfg.held_out, cfg.seed)
    actions = stats.pop("actions")
    train_actions = np.concatenate([actions[i] for i in train])
    storage.update_metadata(
        {
            "wmbench": {
                "format_version": DATASET_FORMAT_VERSION,
                "complete": True,
                "config": cfg.content(),
                "fingerprint": cfg.fingerprint(),
                "code_version": code_version("data"),
                "split": {"train": train, "test": test},
                "action_mean": train_actions.mean(0).tolist(),
                "action_std": train_actions.std(0).tolist(),
                "state_dim": stats["state_dim"],
                "proprio_dim": stats["proprio_dim"],
                "action_dim": int(train_actions.shape[1]),
                "success_fraction": stats["success"] / stats["frames"],
                "moving_fraction": stats["moved"] / stats["steps"],
                "versions": package_versions(),
                "git_commit": git_commit(),
            }
        }
    )
    _move_aside(cfg.path)
    os.replace(_partial_path(cfg), cfg.path)
    # Only now: a crash before this line resumes from the partial (or finds the dataset).
    (cfg.path / MARKER).unlink(missing_ok=True)
    return cfg.path


def _move_aside(path: Path) -> None:
    """Renames a non-empty folder (or file) in the way of the final rename to
    ``<name>.damaged-<time>``, with a warning; nothing is merged or deleted."""
    if not os.path.lexists(path):
        return
    if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
        return  # an empty folder: the rename replaces it
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while os.path.lexists(aside):
        aside, n = path.with_name(f"{path.name}.damaged-{stamp}-{n}"), n + 1
    os.rename(path, aside)
    print(
        f"warning: {path} held an incomplete or damaged dataset; moved it to {aside}",
        file=sys.stderr,
        flush=True,
    )


# ---- one collection at a time ---------------------------------------------------------------
def _lock_path(cfg: CollectConfig) -> Path:
    return Path(str(cfg.path) + LOCK_SUFFIX)


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _holder(lock: Path) -> str:
    try:
        return lock.read_text().strip() or "unknown"
    except OSError:
        return "unknown"


def _acquire(lock: Path) -> int:
    """Opens and flocks ``lock`` and writes this PID into it; returns its descriptor.

    The kernel drops the lock of a dead process, so a stale lock file is simply taken over.
    """
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise CollectionLocked(
                f"another collection of this dataset is running: the lock file {lock} is held "
                f"by PID {_holder(lock)}. Wait for it to finish (re-running this command then "
                "returns its dataset) or stop that process."
            ) from None
        if _same_file(fd, lock):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            return fd
        os.close(fd)  # its holder removed it as we opened it: lock the new one


@contextmanager
def _locked(cfg: CollectConfig) -> Iterator[None]:
    """Holds ``<name>.lock`` beside the dataset; raises :class:`CollectionLocked` if taken."""
    lock = _lock_path(cfg)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(lock)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)  # while still held (see _same_file)
        os.close(fd)


def _episode_stats(storage, done: int) -> dict[str, Any]:
    """Statistics of already written episodes (resume): actions, success and moving counts."""
    from minari import MinariDataset

    stats = {"actions": {}, "success": 0, "moved": 0, "frames": 0, "steps": 0}
    if done:
        for ep in MinariDataset(storage).iterate_episodes(range(done)):
            _accumulate(
                stats,
                ep.id,
                ep.actions,
                ep.infos["success"],
                ep.infos["moved"],
                ep.infos["state"].shape[1],
                ep.observations["proprio"].shape[1],
            )
    return stats


def _accumulate(stats, index, actions, success, moved, state_dim, proprio_dim) -> None:
    stats["actions"][int(index)] = np.asarray(actions)
    stats["success"] += int(np.sum(success))
    stats["moved"] += int(np.sum(moved))
    stats["frames"] += len(success)
    stats["steps"] += len(actions)
    stats["state_dim"], stats["proprio_dim"] = int(state_dim), int(proprio_dim)


def _worker_count(cfg: CollectConfig, remaining: int) -> int:
    if cfg.workers > 0:
        return min(cfg.workers, max(remaining, 1))
    # Spawning a worker costs seconds of imports: only worth it for long jobs.
    big = remaining * cfg.steps * envs.env_class(cfg.env_id).collect_cost >= 20_000
    return min(os.cpu_count() or 1, remaining) if big and remaining > 1 else 1


def _complete(cfg: CollectConfig) -> bool:
    """Whether ``cfg.path`` holds the finished dataset (a damaged one raises a clear error)."""
    if not (cfg.path / "data" / "metadata.json").exists():
        return False
    from benchmark.datasets import read_metadata

    read_metadata(cfg.path)
    stray = cfg.path / MARKER  # left by a crash between the final rename and its removal
    if stray.exists():
        stray.unlink(missing_ok=True)
    return True


def collect(cfg: CollectConfig, progress: bool = True) -> Path:
    """Collects the dataset of ``cfg`` (or resumes it) and returns its directory.

    A complete dataset at ``cfg.path`` is returned as is.

    Raises:
        CollectionLocked: another process is collecting the same dataset.
    """
    validate(cfg)
    if _complete(cfg):
        return cfg.path
    with _locked(cfg):
        if _complete(cfg):  # finished by a collection that held the lock a moment ago
            return cfg.path
        return _collect_locked(cfg, progress)


def _collect_locked(cfg: CollectConfig, progress: bool) -> Path:
    env = envs.make(cfg.env_id, image_size=cfg.image_size)
    if cfg.policy not in env.unwrapped.policy_names():
        env.close()
        raise ValueError(
            f"unknown policy {cfg.policy!r} for {cfg.env_id}; valid: "
            f"{', '.join(env.unwrapped.policy_names())}"
        )
    storage, done = _open_partial(cfg, env)
    env.close()
    stats = _episode_stats(storage, done)
    remaining = list(range(done, cfg.episodes))
    workers = _worker_count(cfg, len(remaining))
    content = cfg.content()
    bar = tqdm(
        total=cfg.episodes,
        initial=done,
        desc=f"collect {cfg.name}",
        unit="ep",
        disable=not progress,
    )
    pool = None
    try:
        if workers > 1:
            pool = mp.get_context("spawn").Pool(workers)  # fork hangs MuJoCo/EGL
            episodes = pool.imap(_roll_star, [(content, i) for i in remaining])
        else:
            episodes = (roll_episode(content, i) for i in remaining)
        for ep in episodes:
            storage.update_episodes([_episode_buffer(ep)])
            _accumulate(
                stats,
                ep["index"],
                ep["actions"],
                ep["success"],
                ep["moved"],
                ep["state"].shape[1],
                ep["proprio"].shape[1],
            )
            bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
        for cached in _ENV_CACHE.values():
            cached.close()
        _ENV_CACHE.clear()
    return _finalise(cfg, storage, stats)


def _roll_star(args: tuple[dict[str, Any], int]) -> dict[str, Any]:
    return roll_episode(*args)
