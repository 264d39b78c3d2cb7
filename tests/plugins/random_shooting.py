"""A toy planner for the "add a planner" recipe: random shooting (best of N samples)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from agents.planners.base import BasePlanner


@dataclass
class ShootingConfig:
    samples: int = 64
    """Random action sequences per episode."""


class RandomShooting(BasePlanner):
    """Random shooting: the lowest-cost of ``samples`` uniform action sequences."""

    name = "shooting"
    Config = ShootingConfig

    def _solve(self, model, z_context, z_goal, init, a_context, gens):
        b, h, a = z_context.shape[0], self.horizon, model.action_dim
        with torch.no_grad():
            cand = self._uniform(gens, (self.config.samples, h, a), like=z_context)
            best = self._costs(model, z_context, cand, a_context, z_goal).argmin(1)
        return cand[torch.arange(b), best]
