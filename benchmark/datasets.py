"""Serve training windows from a collected dataset, fast.

The Minari arrow files are decoded once into a cache of flat ``.npy`` arrays next to the
dataset (``<dataset>/cache/``), memory-mapped on later loads, so a CPU training loop gathers
a batch of windows with a few fancy-indexing calls instead of decoding episodes.

A window is ``history + num_preds`` frames spaced ``frameskip`` env steps apart, with the
action block between each pair of consecutive frames (the ``frameskip`` raw actions
concatenated): ``pixels`` (L, H, W, 3) uint8, ``actions`` (L - 1, frameskip * A) float32,
``proprio`` (L, P), ``state`` (L, S).

Example:
    >>> rec = Recording.open("data/datasets/tworoom-expert-...")     # doctest: +SKIP
    >>> ds = WindowDataset(rec, "train", history=1, num_preds=3, frameskip=5)  # doctest: +SKIP
    >>> batch = ds.__getitems__([0, 5, 9])  # 3 windows, one gather per array  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

import envs

CACHE_VERSION = 1
_ARRAYS = ("pixels", "actions", "proprio", "state", "success", "distance", "moved")


class DatasetError(RuntimeError):
    """A dataset is missing, incomplete, corrupt, or not the one a run asks for."""


def _fix(path: Path) -> str:
    return (
        f"Delete {path} and collect it again (python run_benchmark.py collect ...); "
        "an interrupted collection resumes by re-running the same command."
    )


def _entry_points(spec: dict[str, Any]) -> list[Any]:
    """Every ``*entry_point`` value of a serialised env spec (its wrappers' included)."""
    found = [v for k, v in spec.items() if k.endswith("entry_point")]
    for wrapper in spec.get("additional_wrappers") or []:
        if isinstance(wrapper, dict):
            found += [v for k, v in wrapper.items() if k.endswith("entry_point")]
        else:
            found.append(wrapper)
    return found


def _trusted_entry_point(entry_point: Any, env_id: str | None) -> bool:
    """In the ``envs`` package, or the one registered for ``env_id`` (a plugin env)."""
    if entry_point is None:
        return True
    if not isinstance(entry_point, str):
        return False
    module = entry_point.split(":")[0]
    if module == "envs" or module.startswith("envs."):
        return True
    return env_id in envs.REGISTRY and envs.REGISTRY[env_id].entry_point == entry_point


def _env_spec(meta: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """The parsed ``env_spec`` of Minari metadata (None when absent), and its problems."""
    raw = meta.get("env_spec")
    if raw is None:
        return None, []
    try:
        spec = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return None, ["its env_spec is not valid JSON"]
    if not isinstance(spec, dict):
        return None, ["its env_spec is not a JSON object"]
    return spec, []


def env_metadata_problems(meta: dict[str, Any], env_id: str | None = None) -> list[str]:
    """Why Minari metadata is unsafe to open: missing spaces (Minari would then build an env
    from the file's env spec), an env id not registered in ``envs``, a foreign entry point.

    Args:
        meta: the parsed ``data/metadata.json``.
        env_id: the env id recorded in the ``wmbench`` config, when there is one.
    """
    problems = [
        f"its {key} is missing (Minari would build an environment from the file to get it)"
        for key in ("observation_space", "action_space")
        if not isinstance(meta.get(key), str) or not meta[key]
    ]
    spec, spec_problems = _env_spec(meta)
    problems += spec_problems
    ids = [env_id] if env_id is not None else []
    if spec is not None:
        ids.append(spec.get("id"))
    if not ids:
        problems.append("it records no env id")
    for i in dict.fromkeys(ids):
        if i not in envs.REGISTRY:
            problems.append(f"its env id {i!r} is not a registered wmbench env")
    if len(set(ids)) > 1:
        problems.append(f"its env_spec id {ids[1]!r} differs from its config env id {ids[0]!r}")
    if spec is not None:
        problems += [
            f"its env_spec entry point {entry_point!r} is outside the wmbench envs package"
            for entry_point in _entry_points(spec)
            if not _trusted_entry_point(entry_point, spec.get("id"))
        ]
    return problems


def check_env_metadata(meta: dict[str, Any], meta_file: Path, env_id: str | None = None) -> None:
    """Raises :class:`DatasetError` naming ``meta_file`` when it is unsafe to hand to Minari."""
    problems = env_metadata_problems(meta, env_id)
    if problems:
        raise DatasetError(
            f"refusing to open {meta_file}: {'; '.join(problems)}. Only datasets collected by "
            "wmbench for a registered env are opened."
        )


def _open_minari(data: Path, env_id: str):
    """A ``MinariDataset`` of ``data``, its metadata checked again just before (see
    :func:`check_env_metadata`) so that Minari never builds an environment from the file."""
    from minari import MinariDataset

    meta_file = data / "metadata.json"
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{meta_file} is corrupt ({err}). {_fix(data.parent)}") from err
    check_env_metadata(meta, meta_file, env_id)
    return MinariDataset(data)


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``wmbench`` metadata of a complete dataset; raises :class:`DatasetError` otherwise
    (also when the file is unsafe to open, see :func:`check_env_metadata`)."""
    path = Path(path)
    meta_file = path / "data" / "metadata.json"
    if not meta_file.exists():
        partial = Path(str(path) + ".partial")
        if partial.exists():
            raise DatasetError(
                f"{path} is an interrupted collection ({partial} exists); re-run the collect "
                "command to resume it."
            )
        raise DatasetError(
            f"no dataset at {path} (missing {meta_file}); create it with "
            "python run_benchmark.py collect ..."
        )
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as err:
        raise DatasetError(f"{meta_file} is corrupt ({err}). {_fix(path)}") from err
    info = meta.get("wmbench")
    if not isinstance(info, dict) or not info.get("complete"):
        raise DatasetError(f"{path} is not a complete wmbench dataset. {_fix(path)}")
    check_env_metadata(meta, meta_file, info["config"]["env_id"])
    n = info["config"]["episodes"]
    if meta.get("total_episodes") != n:
        raise DatasetError(
            f"{meta_file} lists {meta.get('total_episodes')} episodes, its config {n}. {_fix(path)}"
        )
    for i in range(n):
        if not (path / "data" / str(i)).is_dir():
            raise DatasetError(
                f"episode directory {path / 'data' / str(i)} is missing. {_fix(path)}"
            )
    info["total_steps"] = int(meta["total_steps"])
    return info


def check_matches(
    info: dict[str, Any], path: Path, env_id: str | None, image_size: int | None
) -> None:
    """Raises a clear error when a dataset is not for the env / image size a run asks for."""
    cfg = info["config"]
    if env_id is not None and cfg["env_id"] != env_id:
        raise DatasetError(f"{path} holds {cfg['env_id']} data, but the run asks for {env_id}")
    if image_size is not None and cfg["image_size"] != image_size:
        raise DatasetError(
            f"{path} holds {cfg['image_size']} px frames, but the run asks for {image_size} px"
        )


@dataclass
class Recording:
    """All frames of a dataset as flat arrays (memory-mapped), indexed by global frame.

    Attributes:
        path: the dataset directory.
        info: its ``wmbench`` metadata (config, split, action statistics, versions).
        arrays: ``pixels`` (N, H, W, 3) uint8, ``actions`` (N, A) (the action taken AFTER each
            frame; zero after an episode's last frame), ``proprio`` (N, P), ``state`` (N, S),
            ``success`` / ``moved`` (N,) bool, ``distance`` (N,).
        episode_start: (E + 1,) offsets: episode e holds frames [start[e], start[e + 1]).
    """

    path: Path
    info: dict[str, Any]
    arrays: dict[str, np.ndarray]
    episode_start: np.ndarray

    @classmethod
    def open(
        cls,
        path: str | Path,
        env_id: str | None = None,
        image_size: int | None = None,
        progress: bool = True,
    ) -> Recording:
        """Opens a dataset, building its array cache on first use.

        Raises:
            DatasetError: missing, incomplete or corrupt data, or a different env / image size.
        """
        path = Path(path)
        info = read_metadata(path)
        check_matches(info, path, env_id, image_size)
        cache = path / "cache"
        arrays = _load_cache(cache, info)
        if arrays is None:
            _build_cache(path, info, progress)
            arrays = _load_cache(cache, info)
            if arrays is None:
                raise DatasetError(f"could not build the array cache at {cache}")
        starts = np.load(cache / "episode_start.npy")
        return cls(path, info, arrays, starts)

    @property
    def env_id(self) -> str:
        return self.info["config"]["env_id"]

    @property
    def image_size(self) -> int:
        return self.info["config"]["image_size"]

    def episodes(self, split: str) -> list[int]:
        """Episode ids of ``"train"``, ``"test"`` (held out) or ``"all"``."""
        if split == "all":
            return list(range(len(self.episode_start) - 1))
        if split not in self.info["split"]:
            raise ValueError(f"unknown split {split!r}; valid: train, test, all")
        return list(self.info["split"][split])

    def action_stats(self, frameskip: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Train-split per-dimension action mean and std, tiled over a block of ``frameskip``."""
        mean = np.asarray(self.info["action_mean"], np.float32)
        std = np.asarray(self.info["action_std"], np.float32)
        return np.tile(mean, frameskip), np.tile(std, frameskip)


def _cache_key(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": CACHE_VERSION,
        "fingerprint": info["fingerprint"],
        "total_steps": info["total_steps"],
    }


def _load_cache(cache: Path, info: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The memory-mapped cache, or None when it is absent, stale or damaged (it is rebuilt)."""
    try:
        if json.loads((cache / "key.json").read_text()) != _cache_key(info):
            return None
        arrays = {k: np.load(cache / f"{k}.npy", mmap_mode="r") for k in _ARRAYS}
    except (OSError, ValueError):
        return None
    n = info["total_steps"] + info["config"]["episodes"]
    if any(len(a) != n for a in arrays.values()):
        return None
    return arrays


def _build_cache(path: Path, info: dict[str, Any], progress: bool) -> None:
    import pyarrow as pa

    cfg = info["config"]
    n_ep = cfg["episodes"]
    n = info["total_steps"] + n_ep
    tmp = path / "cache.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    s = cfg["image_size"]
    shapes = {
        "pixels": ((n, s, s, 3), np.uint8),
        "actions": ((n, info["action_dim"]), np.float32),
        "proprio": ((n, info["proprio_dim"]), np.float32),
        "state": ((n, info["state_dim"]), np.float64),
        "success": ((n,), bool),
        "distance": ((n,), np.float64),
        "moved": ((n,), bool),
    }
    out = {
        k: np.lib.format.open_memmap(tmp / f"{k}.npy", "w+", dt, shp)
        for k, (shp, dt) in shapes.items()
    }
    starts = np.zeros(n_ep + 1, np.int64)
    try:
        data = _open_minari(path / "data", cfg["env_id"])
    except DatasetError:
        raise
    except Exception as err:  # minari raises bare ValueError/KeyError/ArrowInvalid here
        raise DatasetError(f"cannot open {path / 'data'} ({err}). {_fix(path)}") from err
    pos = 0
    for i in tqdm(range(n_ep), desc=f"decode {path.name}", unit="ep", disable=not progress):
        episode_file = path / "data" / str(i)
        try:
            ep = data[i]
        except (pa.ArrowException, OSError, ValueError, KeyError, IndexError) as err:
            raise DatasetError(
                f"episode file {episode_file} is corrupt or truncated ({err}). {_fix(path)}"
            ) from err
        t = len(ep.actions)
        sl = slice(pos, pos + t + 1)
        out["pixels"][sl] = ep.observations["pixels"]
        out["proprio"][sl] = ep.observations["proprio"]
        out["actions"][pos : pos + t] = ep.actions
        out["actions"][pos + t] = 0.0
        for key in ("state", "success", "distance", "moved"):
            value = ep.infos[key]
            out[key][sl] = value.reshape(len(value), -1) if key == "state" else value[:, 0]
        pos += t + 1
        starts[i + 1] = pos
    if pos != n:
        raise DatasetError(f"{path} holds {pos} frames, its metadata says {n}. {_fix(path)}")
    for a in out.values():
        a.flush()
    np.save(tmp / "episode_start.npy", starts)
    (tmp / "key.json").write_text(json.dumps(_cache_key(info)))
    del out
    shutil.rmtree(path / "cache", ignore_errors=True)
    os.replace(tmp, path / "cache")


@dataclass(frozen=True)
class Windows:
    """How a run cuts its data: frames ``frameskip`` env steps apart (one action block of
    ``frameskip`` env actions between them), ``history`` context frames and ``num_preds``
    predicted ones per training window.

    The trainer records them once in the checkpoint (``benchmark.checkpoint.windows``); the
    evaluation and the MPC loop read them from there.
    """

    frameskip: int
    history: int
    num_preds: int

    def dataset(self, recording: Recording, split: str, num_preds: int | None = None):
        """The ``WindowDataset`` of ``split`` (``num_preds`` overrides the training value)."""
        preds = self.num_preds if num_preds is None else num_preds
        return WindowDataset(recording, split, self.history, preds, self.frameskip)


class WindowDataset(torch.utils.data.Dataset):
    """Windows of ``history + num_preds`` frames ``frameskip`` env steps apart, with the action
    blocks between them, from one split of a :class:`Recording`.

    Every start step whose window fits inside its episode is one item.
    """

    def __init__(
        self, recording: Recording, split: str, history: int, num_preds: int, frameskip: int
    ):
        if history < 1 or num_preds < 1 or frameskip < 1:
            raise ValueError("history, num_preds and frameskip must be >= 1")
        self.recording, self.split = recording, split
        self.history, self.num_preds, self.frameskip = history, num_preds, frameskip
        self.length = history + num_preds
        span = (self.length - 1) * frameskip  # env steps from the first to the last frame
        starts = []
        for e in recording.episodes(split):
            first, end = recording.episode_start[e], recording.episode_start[e + 1]
            if end - first - 1 >= span:
                starts.append(np.arange(first, end - span))
        if not starts:
            raise ValueError(
                f"no {split} episode of {recording.path} is long enough for windows of "
                f"{self.length} frames x frameskip {frameskip} ({span} env steps)"
            )
        self.starts = np.concatenate(starts)
        self._frame_offsets = np.arange(self.length) * frameskip
        self._action_offsets = np.arange(span)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        """A whole batch in one gather per array: how training draws its batches (on the
        indices of ``benchmark.train.BatchOrder``)."""
        starts = self.starts[np.asarray(indices)]
        frames = starts[:, None] + self._frame_offsets
        act_rows = starts[:, None] + self._action_offsets
        a = self.recording.arrays
        b = len(starts)
        actions = a["actions"][act_rows.ravel()].reshape(b, self.length - 1, -1)
        return {
            "pixels": torch.from_numpy(
                a["pixels"][frames.ravel()].reshape(b, self.length, *a["pixels"].shape[1:])
            ),
            "actions": torch.from_numpy(actions),
            "proprio": torch.from_numpy(a["proprio"][frames]),
            "state": torch.from_numpy(a["state"][frames]),
        }
