"""Analytic world models with known optima, for planner tests (WorldModel protocol, history 1).

- ``PointMass``: z' = z + gain * E a, a 2-d point mass embedded in D dims by a fixed matrix E
  with orthonormal columns (D = A = 2 and E = I by default).
- ``WallPointMass``: a 2-d point mass with a wall at x = 0 that blocks motion along x except
  through a gap around y = ``gap_y``; straight-line (greedy) plans get stuck on the wall.
- ``NaNModel``: a diverged model, predicts NaN.
- ``TinyMLP``: a residual MLP with parameters, to check that planners leave gradients alone.
"""

from __future__ import annotations

import torch
from torch import nn

from agents.world_models.base import check_rollout_inputs


def rollout_by_steps(model, z_context: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Autoregressive rollout from the last context frame: (B, N, H, A) -> (B, N, H, D)."""
    check_rollout_inputs(model, z_context, actions)
    b, n, h, a = actions.shape
    z = z_context[:, -1:].expand(b, n, -1).reshape(b * n, -1)
    flat = actions.reshape(b * n, h, a)
    out = []
    for t in range(h):
        z = model.step(z, flat[:, t])
        out.append(z)
    return torch.stack(out, dim=1).reshape(b, n, h, -1)


class _Analytic:
    history = 1

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("analytic test models have no encoder")

    def loss(self, batch):
        raise NotImplementedError("analytic test models are not trained")

    def rollout(self, z_context, actions, a_context=None):
        return rollout_by_steps(self, z_context, actions)


class PointMass(_Analytic):
    """Linear point mass: z' = z + gain * a @ E^T with E (D, 2) orthonormal columns."""

    action_dim = 2

    def __init__(self, gain: float = 0.25, latent_dim: int = 2, seed: int = 0) -> None:
        self.gain, self.latent_dim = gain, latent_dim
        if latent_dim == 2:
            self.embedding = torch.eye(2)
        else:
            gen = torch.Generator().manual_seed(seed)
            self.embedding = torch.linalg.qr(torch.randn(latent_dim, 2, generator=gen))[0]

    def embed(self, xy: torch.Tensor) -> torch.Tensor:
        """Positions (..., 2) -> latents (..., D)."""
        return xy @ self.embedding.T.to(xy)

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return z + self.gain * (a @ self.embedding.T.to(a))


class WallPointMass(_Analytic):
    """Point mass (D = A = 2) with a wall at x = 0 and a gap around y = gap_y.

    The x-motion is scaled by a passability p = 1 - w(x) (1 - gap(y)) evaluated at the current
    state, with w a bump of width ``wall_width`` around x = 0 and gap(y) ~ 1 inside
    |y - gap_y| < gap_half_width, ~ 0 outside. Outside the gap the point stalls at the wall.
    """

    latent_dim = 2
    action_dim = 2

    def __init__(
        self,
        gain: float = 0.25,
        gap_y: float = 1.0,
        gap_half_width: float = 0.3,
        wall_width: float = 0.15,
    ) -> None:
        self.gain, self.gap_y = gain, gap_y
        self.gap_half_width, self.wall_width = gap_half_width, wall_width

    def passability(self, z: torch.Tensor) -> torch.Tensor:
        """p in [0, 1] for states (..., 2)."""
        x, y = z[..., 0], z[..., 1]
        wall = torch.exp(-((x / self.wall_width) ** 2))
        offset = (y - self.gap_y).abs()
        gap = torch.sigmoid((self.gap_half_width - offset) / 0.03)
        return 1 - wall * (1 - gap)

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        move = self.gain * a
        return z + torch.stack([move[..., 0] * self.passability(z), move[..., 1]], dim=-1)


class SpyPointMass(PointMass):
    """A ``PointMass`` that records the ``a_context`` every rollout call receives."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_a_context: list[torch.Tensor | None] = []

    def rollout(self, z_context, actions, a_context=None):
        self.seen_a_context.append(a_context)
        return super().rollout(z_context, actions, a_context)


class NaNModel(PointMass):
    """A diverged model: every prediction is NaN."""

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return super().step(z, a) * float("nan")


class TinyMLP(nn.Module, _Analytic):
    """Residual MLP z' = z + f([z, a]) with trainable parameters (D = 4, A = 2)."""

    latent_dim = 4
    action_dim = 2

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.net = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 4))

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return z + self.net(torch.cat([z, a], dim=-1))
