"""Toy plugins that the README recipes register: an env, a world model and a planner; and
``tiny_run``, the grid run of the three (registered by the ``plugins`` fixture)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tiny_run(tmp_path: Path, **kw: Any):
    """The smoke suite's grid on the toys of ``tests/plugins`` (registered by the ``plugins``
    fixture):
    a ``RunConfig`` writing under ``tmp_path``; ``kw`` overrides its fields."""
    from benchmark.grid import RunConfig

    base = dict(
        suite="smoke",
        envs=("wmbench/Dot-v0",),
        models=("pool",),
        planners=("shooting",),
        out=tmp_path / "results",
        data=tmp_path / "data",
        device="cpu",
        workers=1,
    )
    return RunConfig(**{**base, **kw})
