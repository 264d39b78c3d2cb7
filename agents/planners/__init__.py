"""Planners over world-model rollouts: CEM, MPPI, GRASP and gradient-descent shooting.

Example:
    >>> from agents import planners
    >>> planner = planners.make("cem", horizon=5, seed=0, samples=64, iterations=5)
    >>> planner.describe().startswith("cem(horizon=5")
    True

Adding a planner: one file with a ``BasePlanner`` subclass (``name``, ``Config`` dataclass,
``_solve``) and one line in ``REGISTRY``; the parametrised tests pick it up.
"""

from __future__ import annotations

import difflib
from dataclasses import fields
from typing import Any

from agents.planners.base import BasePlanner, Planner, goal_cost, shift_plan
from agents.planners.cem import CEM
from agents.planners.gd import GD
from agents.planners.grasp import GRASP
from agents.planners.mppi import MPPI
from agents.speed import SolveSpeed

REGISTRY: dict[str, type[BasePlanner]] = {
    "cem": CEM,
    "mppi": MPPI,
    "grasp": GRASP,
    "gd": GD,
}

__all__ = [
    "Planner",
    "REGISTRY",
    "SolveSpeed",
    "config_class",
    "goal_cost",
    "make",
    "names",
    "shift_plan",
]


def names() -> list[str]:
    """The registered planner names.

    >>> names()
    ['cem', 'mppi', 'grasp', 'gd']
    """
    return list(REGISTRY)


def config_class(name: str) -> type:
    """The config dataclass of planner ``name`` (its fields are the accepted ``**cfg`` keys).

    >>> cfg = config_class("cem")()  # the published CEM: 300 samples, 30 elites, 30 iterations
    >>> cfg.samples, cfg.elites, cfg.iterations
    (300, 30, 30)
    """
    return _lookup(name).Config


def make(
    name: str, horizon: int = 5, seed: int = 0, speed: SolveSpeed | None = None, **cfg: Any
) -> Planner:
    """Build a planner by name.

    Args:
        name: one of ``names()``.
        horizon: planned action blocks per solve (H >= 1).
        seed: seed of the planner's random streams (``planner.reseed`` restarts them).
        speed: precision and compilation of the model passes (default: fp32, uncompiled).
        **cfg: fields of the planner's config dataclass (``config_class(name)``).

    Returns:
        The planner.
    """
    cls = _lookup(name)
    valid = [f.name for f in fields(cls.Config)]
    unknown = sorted(set(cfg) - set(valid))
    if unknown:
        raise ValueError(f"unknown config keys for planner {name!r}: {unknown}; valid: {valid}")
    return cls(horizon=horizon, seed=seed, config=cls.Config(**cfg), speed=speed)


def planner_class(name: str) -> type[BasePlanner]:
    """The class registered as ``name``; an unknown name lists the valid ones."""
    return _lookup(name)


def _lookup(name: str) -> type[BasePlanner]:
    if name not in REGISTRY:
        hit = difflib.get_close_matches(str(name).lower(), REGISTRY, n=1)
        hint = f" (did you mean {hit[0]!r}?)" if hit else ""
        raise ValueError(f"unknown planner {name!r}{hint}; valid names: {', '.join(REGISTRY)}")
    return REGISTRY[name]
