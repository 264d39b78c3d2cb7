"""The world-model seams (README: "World models").

- ``WorldModel``: what planners and metrics may use, nothing else.
- ``Trainable``: what the trainer (``benchmark.train``) calls besides it. ``TrainableModel`` is
  a base class that implements its hooks (z-scored actions, a no-op after each optimiser step),
  so a new model subclasses it and writes the ``WorldModel`` methods and ``loss``.

Callers roll a model out through ``rollout`` below, which passes ``a_context`` only when there
is context, so a model with one frame of history may define the two-argument
``rollout(z_context, actions)``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class WorldModel(Protocol):
    """A latent world model that planners roll out toward a goal latent.

    Shapes: B batch, T frames, H/W image side, D ``latent_dim``, A ``action_dim`` (one action
    block: ``frameskip`` env actions concatenated), N candidate sequences, Hp planning horizon.

    Action alignment: ``actions[:, k]`` is the block executed after frame ``k``, leading to
    frame ``k + 1``. A model with ``history > 1`` conditions context frames on the blocks that
    were executed between them (keyword ``a_context``, (B, Tc - 1, A)); a context of one frame
    needs none, and callers (``rollout`` below) pass ``a_context`` only when it holds at least
    one block, so a history-1 model may define ``rollout(self, z_context, actions)``.

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

    def rollout(self, z_context: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Autoregressive prediction: z_context (B, Tc, D), actions (B, N, Hp, A) ->
        predicted latents (B, N, Hp, D) of the frames after each block (plus the keyword
        ``a_context`` for a model with ``history > 1``)."""
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


@runtime_checkable
class Trainable(WorldModel, Protocol):
    """What ``benchmark.train`` needs of a model besides the ``WorldModel`` seam.

    The class has a ``Config`` dataclass with at least ``image_size``, ``action_dim`` and
    ``history`` fields (the trainer sets the first two from the dataset and the action block),
    and its module may have a ``PRESETS`` dict (preset name -> ``Config`` overrides; without one
    every preset uses the ``Config`` defaults, with one it lists every preset it supports). The
    trainer draws windows of ``history + num_preds`` frames with its own ``frameskip`` and
    ``num_preds`` (``TrainConfig``); the model reads neither. ``TrainableModel`` implements the
    two hooks.
    """

    Config: ClassVar[type]

    def set_action_stats(self, mean: Any, std: Any) -> None:
        """Stores the train split's per-dimension action-block mean and std (A,)."""
        ...

    def after_optimizer_step(self) -> None:
        """Called after every optimiser step (e.g. to move an EMA target)."""
        ...


class TrainableModel(nn.Module):
    """Base class of the world models: the ``Trainable`` hooks.

    Holds the train split's action-block statistics as buffers ``action_mean`` /
    ``action_std`` (saved in checkpoints) and z-scores actions with them
    (``normalise_actions``), so planners search the env's box while networks see unit scale.
    """

    def __init__(self, action_dim: int) -> None:
        super().__init__()
        self.register_buffer("action_mean", torch.zeros(action_dim))
        self.register_buffer("action_std", torch.ones(action_dim))

    def set_action_stats(self, mean: Any, std: Any) -> None:
        """Stores the train-split action-block statistics used to z-score actions."""
        self.action_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.action_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-3))

    def normalise_actions(self, a: torch.Tensor) -> torch.Tensor:
        """Action blocks (..., A) z-scored with the train split's statistics."""
        return (a - self.action_mean) / self.action_std

    def after_optimizer_step(self) -> None:
        """Nothing by default; models with a target network override it."""


def missing_members(obj: Any, protocol: type) -> list[str]:
    """The attributes and methods ``protocol`` declares that ``obj`` lacks (a clearer error
    than ``isinstance(obj, protocol)`` being False)."""
    names: set[str] = set()
    for cls in protocol.__mro__:
        if getattr(cls, "_is_protocol", False) and cls is not Protocol:
            names |= set(getattr(cls, "__annotations__", {}))
            names |= {k for k, v in vars(cls).items() if callable(v) and not k.startswith("_")}
    return sorted(n for n in names if not hasattr(obj, n))


def rollout(
    model: Any,
    z_context: torch.Tensor,
    actions: torch.Tensor,
    a_context: torch.Tensor | None = None,
) -> torch.Tensor:
    """``model.rollout`` with ``a_context`` passed only when there is context (see
    ``WorldModel``): z_context (B, Tc, D), actions (B, N, Hp, A) -> (B, N, Hp, D)."""
    if a_context is None or a_context.shape[1] == 0:
        return model.rollout(z_context, actions)
    return model.rollout(z_context, actions, a_context=a_context)


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
