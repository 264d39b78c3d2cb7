"""Shooting gradient descent: Adam on the action sequence through the full model rollout.

R restarts per episode run in parallel (restart 0 starts from the warm start or zeros, the others
uniformly in the box). Each iteration is one ``model.rollout`` over (B, R, H, A) and one backward
pass w.r.t. the actions only; actions are clipped into the box after every step. Every evaluated
sequence is a candidate: the lowest-cost one per episode (including a final evaluation of the
last iterate) is returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from agents.planners.base import Adam, BasePlanner, BestPlan, Range, check_config
from agents.world_models.base import WorldModel


@dataclass
class GDConfig:
    """Gradient-descent (shooting) settings."""

    iterations: int = 100
    """Adam steps per solve (one rollout + one backward each)."""
    lr: float = 0.05
    """Adam learning rate in normalised action units (the box is [-1, 1])."""
    restarts: int = 1
    """Parallel restarts per episode; the best final-cost one is returned."""
    cost: Literal["terminal", "summed"] = "terminal"
    """Goal cost: squared L2 of the last predicted latent to the goal, or summed over steps."""

    def __post_init__(self) -> None:
        check_config("gd", self, iterations=Range(1), lr=Range(0, low_open=True), restarts=Range(1))


class GD(BasePlanner):
    """Gradient-descent shooting planner; see the module docstring."""

    name = "gd"
    Config = GDConfig

    def _solve(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        z_goal: torch.Tensor,
        init: torch.Tensor | None,
        a_context: torch.Tensor | None,
        gens: list[torch.Generator],
    ) -> torch.Tensor:
        cfg: GDConfig = self.config
        b, h, a = z_context.shape[0], self.horizon, model.action_dim
        with torch.inference_mode(False), torch.enable_grad():
            # Clones turn inference-mode tensors from the caller into ones autograd may save.
            z_context, z_goal = z_context.clone(), z_goal.clone()
            first = init.clone() if init is not None else z_context.new_zeros(b, h, a)
            starts = [first[:, None]]
            if cfg.restarts > 1:
                starts.append(self._uniform(gens, (cfg.restarts - 1, h, a), like=first))
            actions = torch.cat(starts, dim=1).requires_grad_(True)
            adam = Adam([actions], [cfg.lr])
            best = BestPlan(first)
            for _ in range(cfg.iterations):
                costs = self._costs(model, z_context, actions, a_context, z_goal)
                best.update(actions, costs)
                (grad,) = self._grad(costs.sum(), [actions])
                adam.step([grad])
                with torch.no_grad():
                    actions.clamp_(-1.0, 1.0)
                self.stats["iterations"] += 1
            with torch.no_grad():
                # A NaN/inf cost on the way makes the gradient, hence the Adam moments and the
                # actions, non-finite for good, so the final costs' check catches it.
                costs = self._costs(model, z_context, actions, a_context, z_goal)
                best.update(actions, costs)
        return best.actions
