"""The WorldModel seam (README: "World models"): what planners and metrics may use, nothing else."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch


@runtime_checkable
class WorldModel(Protocol):
    """A latent world model that planners roll out toward a goal latent.

    Shapes: B batch, T frames, H/W image side, D ``latent_dim``, A ``action_dim`` (one action
    block: ``frameskip`` env actions concatenated), N candidate sequences, Hp planning horizon.

    Action alignment: ``actions[:, k]`` is the block executed after frame ``k``, leading to
    frame ``k + 1``. A model with ``history > 1`` conditions context frames on the blocks that
    were executed between them (``a_context``, (B, Tc - 1, A)); a context of one frame needs none.

    Optional: a class attribute ``compile_step`` naming the smallest pure function a rollout
    calls once per step (default ``step``); planning with ``compile`` compiles that function
    (``agents.speed``), so ``rollout`` and ``step`` must call it through ``self``.
    """

    latent_dim: int
    action_dim: int
    history: int

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels (B, T, H, W, 3) -> latents (B, T, D)."""
        ...

    def rollout(
        self,
        z_context: torch.Tensor,
        actions: torch.Tensor,
        a_context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Autoregressive prediction: z_context (B, Tc, D), actions (B, N, Hp, A) ->
        predicted latents (B, N, Hp, D) of the frames after each block."""
        ...

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The one-step map from a single frame: z (B, D), a (B, A) -> z_next (B, D)."""
        ...

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Training loss on a batch of windows; returns (scalar, logged terms).

        ``batch`` holds ``pixels`` uint8 (B, T, H, W, 3), ``actions`` float32 (B, T - 1, A)
        (the blocks between consecutive frames, in the env's normalised box), ``proprio``
        float32 (B, T, P) and ``state`` float64 (B, T, S).
        """
        ...


def check_rollout_inputs(model: Any, z_context: torch.Tensor, actions: torch.Tensor) -> None:
    """Clear errors for the shapes every rollout needs (shared by all models)."""
    if z_context.ndim != 3 or z_context.shape[-1] != model.latent_dim:
        raise ValueError(
            f"z_context must be (B, Tc, {model.latent_dim}), got {tuple(z_context.shape)}"
        )
    if actions.ndim != 4 or actions.shape[-1] != model.action_dim:
        raise ValueError(
            f"actions must be (B, N, H, {model.action_dim}), got {tuple(actions.shape)}"
        )
    if actions.shape[0] != z_context.shape[0]:
        raise ValueError(
            f"batch mismatch: z_context has B={z_context.shape[0]}, actions B={actions.shape[0]}"
        )
    if actions.shape[2] < 1:
        raise ValueError("actions must have a horizon of at least 1 block")
