"""Cross-entropy method (CEM) as used for world-model planning (DINO-WM, LeWM).

Per episode and iteration: sample N sequences a ~ clip(N(mean, std^2), -1, 1) with sample 0
forced to the mean, roll them all out in one model call, keep the ``elites`` lowest-cost ones,
set mean/std to their mean and population std (optionally blended with the previous values by
``momentum``). Returns the final mean. Warm start: ``init`` is the initial mean; std restarts at
``sigma0`` every solve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from agents.planners.base import Range, SamplingPlanner, check_config, elite_stats


@dataclass
class CEMConfig:
    """CEM settings; defaults are the published ones (300 samples, 30 elites, 30 iterations)."""

    samples: int = 300
    """Candidate action sequences per episode and iteration (N), the mean included."""
    elites: int = 30
    """Lowest-cost candidates whose mean and std become the next sampling distribution."""
    iterations: int = 30
    """Sample-evaluate-refit rounds per solve (one model.rollout call each)."""
    sigma0: float = 1.0
    """Initial std of every action coordinate, in the normalised box [-1, 1]."""
    momentum: float = 0.0
    """Weight of the previous mean/std in the update (0 = plain CEM)."""
    cost: Literal["terminal", "summed"] = "terminal"
    """Goal cost: squared L2 of the last predicted latent to the goal, or summed over steps."""

    def __post_init__(self) -> None:
        check_config(
            "cem",
            self,
            samples=Range(2),
            elites=Range(1, self.samples, high_name="samples"),
            iterations=Range(1),
            sigma0=Range(0, low_open=True),
            momentum=Range(0, 1, high_open=True),
        )


class CEM(SamplingPlanner):
    """CEM planner over the normalised action box; see the module docstring."""

    name = "cem"
    Config = CEMConfig

    def _refit(
        self, mean: torch.Tensor, std: torch.Tensor, candidates: torch.Tensor, costs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg: CEMConfig = self.config
        elite_mean, elite_std = elite_stats(candidates, costs, cfg.elites)
        mean = cfg.momentum * mean + (1 - cfg.momentum) * elite_mean
        std = cfg.momentum * std + (1 - cfg.momentum) * elite_std
        return mean, std
