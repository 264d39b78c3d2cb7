"""A toy world model for the "add a world model" recipe: a linear encoder of 8x8-pooled
pixels and an MLP predictor, with a variance hinge against collapse. It uses the documented
two-argument rollout (history 1) and the ``TrainableModel`` hooks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from agents.world_models import TrainableModel


@dataclass
class PoolConfig:
    image_size: int = 64
    """Side of the input frames."""
    action_dim: int = 10
    """Action-block size."""
    history: int = 1
    """Context frames (this toy uses only the last)."""
    latent_dim: int = 16
    """Latent size."""


class PoolModel(TrainableModel):
    """Toy model: 8x8-pooled pixels through a linear encoder, an MLP predictor."""

    Config = PoolConfig

    def __init__(self, cfg: PoolConfig):
        super().__init__(cfg.action_dim)
        self.latent_dim, self.action_dim, self.history = cfg.latent_dim, cfg.action_dim, 1
        self.enc = nn.Linear(8 * 8 * 3, cfg.latent_dim)
        self.dyn = nn.Sequential(
            nn.Linear(cfg.latent_dim + cfg.action_dim, 64), nn.GELU(), nn.Linear(64, cfg.latent_dim)
        )

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        b, t, s = pixels.shape[:3]
        x = pixels.reshape(b * t, s, s, 3).movedim(-1, 1).float() / 255
        return self.enc(F.adaptive_avg_pool2d(x, 8).flatten(1)).reshape(b, t, -1)

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return z + self.dyn(torch.cat([z, self.normalise_actions(a)], -1))

    def rollout(self, z_context: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        b, n, h, _ = actions.shape
        z = z_context[:, -1:].expand(b, n, -1).reshape(b * n, -1)
        out = []
        for k in range(h):
            z = self.step(z, actions[:, :, k].reshape(b * n, -1))
            out.append(z)
        return torch.stack(out, 1).reshape(b, n, h, -1)

    def loss(self, batch):
        z = self.encode(batch["pixels"])
        pred = self.rollout(z[:, :1], batch["actions"][:, None])[:, 0]
        mse = F.mse_loss(pred, z[:, 1:])
        var = F.relu(1 - z.flatten(0, 1).std(0)).mean()
        return mse + var, {"pred_loss": mse.item(), "reg": var.item()}
