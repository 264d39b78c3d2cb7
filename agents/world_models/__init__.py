"""World models behind one seam (``base.WorldModel``, plus ``base.Trainable`` for the
trainer), looked up by name.

Adding a model: one module with a ``Config`` dataclass (fields ``image_size``, ``action_dim``,
``history`` and the model's own) and a ``base.TrainableModel`` subclass implementing
``encode``, ``rollout``, ``step`` and ``loss``; optionally a ``PRESETS`` dict (preset ->
``Config`` overrides); then one line in ``REGISTRY``. The trainer's settings (learning rate,
window length) are not the model's: they live in ``benchmark/suites.py``.

Example:
    >>> from agents import world_models
    >>> model = world_models.make("lewm", image_size=64, action_dim=10, preset="smoke")
    >>> model.latent_dim
    32
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
from typing import Any

from torch import nn

from agents.world_models.base import (
    Trainable,
    TrainableModel,
    WorldModel,
    missing_members,
    rollout,
)

# name -> "module:Class"; imported on first use so `import agents.world_models` stays cheap.
REGISTRY: dict[str, str] = {
    "lewm": "agents.world_models.lewm:LeWM",
    "dreamer": "agents.world_models.dreamer:Dreamer",
    "tdmpc2": "agents.world_models.tdmpc2:TDMPC2",
    # TD-MPC2 with SIGReg on its encoder features: the leaderboard's working TD-MPC2 row.
    "tdmpc2-sigreg": "agents.world_models.tdmpc2:TDMPC2SigReg",
}


def register(name: str, target: str) -> None:
    """Adds a model at run time (``target`` = ``"module:Class"``); permanent ones get a
    REGISTRY line."""
    REGISTRY[name] = target


def names() -> list[str]:
    """The registered world-model names.

    >>> names()
    ['lewm', 'dreamer', 'tdmpc2', 'tdmpc2-sigreg']
    """
    return list(REGISTRY)


def model_class(name: str) -> type[nn.Module]:
    if name not in REGISTRY:
        hit = difflib.get_close_matches(str(name).lower(), REGISTRY, n=1)
        hint = f" (did you mean {hit[0]!r}?)" if hit else ""
        raise ValueError(f"unknown world model {name!r}{hint}; valid: {', '.join(REGISTRY)}")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def presets(name: str) -> dict[str, dict[str, Any]]:
    """The model's ``PRESETS`` (preset -> ``Config`` overrides); {} when its module has none."""
    return getattr(importlib.import_module(model_class(name).__module__), "PRESETS", {})


def build_config(name: str, preset: str = "quick", **overrides: Any) -> Any:
    """The config dataclass of ``name`` from a preset plus overrides (unknown keys rejected).

    >>> cfg = build_config("lewm", "paper")  # the released LeWM: ViT at 224 px, SIGReg 0.09
    >>> cfg.encoder, cfg.image_size, cfg.history, cfg.latent_dim, cfg.regularizer, cfg.lam
    ('vit', 224, 3, 192, 'sigreg', 0.09)
    >>> build_config("lewm", "quick", regularizer="vicreg").regularizer
    'vicreg'
    """
    cls = model_class(name)
    table = presets(name)
    if table and preset not in table:
        raise ValueError(f"unknown preset {preset!r} for {name}; valid: {', '.join(table)}")
    if not dataclasses.is_dataclass(getattr(cls, "Config", None)):
        raise ValueError(f"world model {name!r}: its class needs a Config dataclass")
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    values = {**table.get(preset, {}), **overrides}
    unknown = sorted(set(values) - fields)
    if unknown:
        moved = sorted(set(unknown) & {"frameskip", "num_preds"})
        flags = ", ".join("--" + m.replace("_", "-") for m in moved)
        hint = f" ({flags}: training options, not the model's)" if moved else ""
        raise ValueError(
            f"unknown {name} option(s) {unknown}{hint}; valid: {', '.join(sorted(fields))}"
        )
    for key, value in values.items():  # JSON round trips turn tuples into lists
        if isinstance(value, list):
            values[key] = tuple(value)
    return cls.Config(**values)


KEY_OMIT_DEFAULT = "key_omit_default"
"""Field metadata flag: an option added after runs were made, left out of run and cell
fingerprints while it has its default (which reproduces the older runs), so adding it does not
invalidate every existing checkpoint and record."""


def config_key(config: Any) -> dict[str, Any]:
    """The fields of a model config that identify a run: all of them, except options flagged
    ``KEY_OMIT_DEFAULT`` that hold their default."""
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if not (f.metadata.get(KEY_OMIT_DEFAULT) and getattr(config, f.name) == f.default)
    }


def make(
    name: str, image_size: int = 64, action_dim: int = 10, preset: str = "quick", **overrides: Any
) -> nn.Module:
    """Builds a world model from a preset, with ``image_size``/``action_dim`` and overrides."""
    cfg = build_config(
        name, preset, **{**overrides, "image_size": image_size, "action_dim": action_dim}
    )
    return from_config(name, cfg)


def from_config(name: str, cfg: Any) -> nn.Module:
    return model_class(name)(cfg)


__all__ = [
    "REGISTRY",
    "Trainable",
    "TrainableModel",
    "WorldModel",
    "build_config",
    "from_config",
    "make",
    "missing_members",
    "model_class",
    "names",
    "presets",
    "rollout",
]
