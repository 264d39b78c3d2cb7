"""Model-predictive path integral (MPPI) with min-max normalised costs.

The published MPPI implementations (stable-worldmodel, TD-MPC2, EB-JEPA, the original MPPI
papers) disagree on what "temperature" means. This one, per episode and iteration:

    a_n     ~ clip(N(mean, std^2), -1, 1),  n = 0..N-1, a_0 = mean
    S_n     = goal cost of a_n
    S'_n    = (S_n - min_m S_m) / (max_m S_m - min_m S_m + 1e-8)          in [0, 1]
    w_n     = softmax_n(-S'_n / temperature)
    mean    = sum_n w_n a_n
    std     = clamp(sqrt(sum_n w_n (a_n - mean)^2), std_min, std_max)

and returns the final mean. The min-max normalisation makes the weights invariant to the scale
and offset of the latent space, so one temperature serves every model.

Why temperature 0.05: if the normalised costs of the N samples spread roughly uniformly over
[0, 1], the weights exp(-x / T) give an effective sample size of about 2 N T, so T = 0.05 with
N = 300 averages over ~30 samples, matching CEM's 30 elites. std starts at ``sigma0`` = 1 (the
box half-width); the floor ``std_min`` = 0.05 keeps exploring without making the averaged mean
noisy (its noise is about std_min / sqrt(30) < 0.01 of the box).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from agents.planners.base import Range, SamplingPlanner, check_config

FORMULA = (
    "S'=(S-min S)/(max S-min S+1e-8) per episode; w=softmax(-S'/temperature); "
    "mean=sum w a; std=clamp(sqrt(sum w (a-mean)^2), std_min, std_max); a_0=mean; return mean"
)


@dataclass
class MPPIConfig:
    """MPPI settings; defaults match CEM's compute (300 samples x 30 iterations)."""

    samples: int = 300
    """Candidate action sequences per episode and iteration (N), the mean included."""
    iterations: int = 30
    """Sample-evaluate-reweight rounds per solve (one model.rollout call each)."""
    temperature: float = 0.05
    """Softmax temperature over min-max normalised costs in [0, 1]; ~30 effective samples."""
    sigma0: float = 1.0
    """Initial std of every action coordinate, in the normalised box [-1, 1]."""
    std_min: float = 0.05
    """Floor of the std after each update (keeps exploring)."""
    std_max: float = 1.0
    """Ceiling of the std after each update."""
    cost: Literal["terminal", "summed"] = "terminal"
    """Goal cost: squared L2 of the last predicted latent to the goal, or summed over steps."""

    def __post_init__(self) -> None:
        check_config(
            "mppi",
            self,
            samples=Range(2),
            iterations=Range(1),
            temperature=Range(0, low_open=True),
            sigma0=Range(0, low_open=True),
            std_max=Range(0),
            std_min=Range(0, self.std_max, high_name="std_max"),
        )


class MPPI(SamplingPlanner):
    """MPPI planner over the normalised action box; the update is ``FORMULA``."""

    name = "mppi"
    Config = MPPIConfig

    def describe(self) -> str:
        """Settings plus the exact update rule, so stored results say which MPPI this was."""
        return f"{super().describe()}; update: {FORMULA}"

    def _refit(
        self, mean: torch.Tensor, std: torch.Tensor, candidates: torch.Tensor, costs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg: MPPIConfig = self.config
        low = costs.min(dim=1, keepdim=True).values
        high = costs.max(dim=1, keepdim=True).values
        normalised = (costs - low) / (high - low + 1e-8)
        w = torch.softmax(-normalised / cfg.temperature, dim=1)[:, :, None, None]
        mean = (w * candidates).sum(dim=1)
        var = (w * (candidates - mean[:, None]).square()).sum(dim=1)
        return mean, var.sqrt().clamp(cfg.std_min, cfg.std_max)
