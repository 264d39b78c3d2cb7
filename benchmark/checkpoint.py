"""Checkpoints: safetensors tensors + a JSON config; loading never unpickles code.

A checkpoint directory holds ``config.json`` (model name and config, training config,
dataset fingerprint, step, provenance), ``model.safetensors`` (parameters and buffers) and,
for resuming, ``optimizer.safetensors`` + ``trainer.json``. It is written into
``<dir>.tmp`` and swapped in, so an interrupted save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from agents import world_models
from benchmark.datasets import Windows
from benchmark.provenance import to_jsonable

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, damaged, or does not match what it is loaded for."""


def save(
    path: str | Path,
    model: nn.Module,
    config: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    trainer_state: dict[str, Any] | None = None,
) -> Path:
    """Writes a checkpoint directory atomically (see the module docstring)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, tmp / "model.safetensors")
    meta = {
        **to_jsonable(config),
        "format_version": FORMAT_VERSION,
        "param_shapes": {k: list(v.shape) for k, v in state.items()},
    }
    (tmp / "config.json").write_text(json.dumps(meta, indent=1))
    if optimizer is not None:
        tensors, layout = _flatten_optimizer(optimizer)
        save_file(tensors, tmp / "optimizer.safetensors")
        (tmp / "trainer.json").write_text(
            json.dumps({**to_jsonable(trainer_state or {}), "optimizer_layout": layout})
        )
    old = path.with_name(path.name + ".old")
    if path.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def _resolve(path: Path) -> Path:
    if (path / "config.json").exists():
        return path
    old = path.with_name(path.name + ".old")  # interrupted between the two renames
    if (old / "config.json").exists():
        return old
    raise CheckpointError(f"no checkpoint at {path} (missing {path / 'config.json'})")


def read_config(path: str | Path) -> dict[str, Any]:
    path = _resolve(Path(path))
    try:
        meta = json.loads((path / "config.json").read_text())
    except ValueError as err:
        raise CheckpointError(f"{path / 'config.json'} is corrupt ({err})") from err
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {meta.get('format_version')}, "
            f"this wmbench reads {FORMAT_VERSION}"
        )
    return meta


LEGACY_WINDOW_KEYS = ("frameskip", "num_preds")
"""Model-config keys of checkpoints written before the window settings had their own entry."""


def windows(meta: dict[str, Any]) -> Windows:
    """The window settings a checkpoint was trained with (its ``windows`` entry; older
    checkpoints kept frameskip and num_preds in the model config)."""
    if "windows" in meta:
        return Windows(**meta["windows"])
    cfg = meta["model_config"]
    return Windows(cfg.get("frameskip", 5), cfg.get("history", 1), cfg.get("num_preds", 1))


def load_model(
    path: str | Path, device: str | torch.device = "cpu", dataset_fingerprint: str | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuilds the model from ``config.json`` and loads its weights strictly.

    Raises:
        CheckpointError: the config names an unknown model or bad options, the tensors do not
            match the shapes the config implies, or the checkpoint was trained on another
            dataset than ``dataset_fingerprint``.
    """
    path = _resolve(Path(path))
    meta = read_config(path)
    if dataset_fingerprint is not None and meta["dataset"]["fingerprint"] != dataset_fingerprint:
        raise CheckpointError(
            f"{path} was trained on dataset {meta['dataset']['fingerprint']} "
            f"({meta['dataset'].get('path')}), not on {dataset_fingerprint}"
        )
    options = {k: v for k, v in meta["model_config"].items() if k not in LEGACY_WINDOW_KEYS}
    try:
        cfg = world_models.build_config(meta["model"], "quick", **options)
        model = world_models.from_config(meta["model"], cfg)
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"{path}: its config does not build a model ({err})") from err
    try:
        tensors = load_file(path / "model.safetensors")
    except Exception as err:  # safetensors raises its own SafetensorError for damaged files
        raise CheckpointError(f"{path / 'model.safetensors'} is unreadable ({err})") from err
    check_shapes(model, tensors, path)
    model.load_state_dict(tensors, strict=True)
    return model.to(device), meta


def check_shapes(model: nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Lists every missing, unexpected or mis-shaped tensor instead of a partial load."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in tensors.items()}
    problems = [f"missing {k}" for k in expected.keys() - got.keys()]
    problems += [f"unexpected {k}" for k in got.keys() - expected.keys()]
    problems += [
        f"{k}: checkpoint {got[k]} vs config {expected[k]}"
        for k in expected.keys() & got.keys()
        if got[k] != expected[k]
    ]
    if problems:
        shown = "; ".join(sorted(problems)[:8])
        more = f" (+{len(problems) - 8} more)" if len(problems) > 8 else ""
        raise CheckpointError(f"{path} does not match its config: {shown}{more}")


def load_training_state(path: str | Path, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restores the optimizer of a checkpoint and returns the trainer state saved with it."""
    path = _resolve(Path(path))
    state = json.loads((path / "trainer.json").read_text())
    tensors = load_file(path / "optimizer.safetensors")
    _unflatten_optimizer(optimizer, tensors, state.pop("optimizer_layout"))
    return state


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{idx}.{key}"] = value.detach().contiguous().cpu()
            else:
                scalars[f"{idx}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _unflatten_optimizer(
    opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], layout: dict
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in list(tensors.items()) + list(layout["scalars"].items()):
        idx, key = name.split(".", 1)
        state.setdefault(int(idx), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": layout["param_groups"]})
