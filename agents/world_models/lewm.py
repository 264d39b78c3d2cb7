"""LeWorldModel (LeWM): a JEPA world model trained end to end from pixels with SIGReg.

As the released code (lucas-maes/le-wm, and stable-worldmodel's ``wm/lewm``) is:

- one latent vector per frame: encoder (ViT CLS token, or a small CNN for CPU presets) ->
  projector MLP (Linear -> BatchNorm1d -> GELU -> Linear);
- a causal transformer predictor over the last ``history`` frame latents (learned positions,
  ``torch.randn``), each frame conditioned by AdaLN-zero on the embedding of the action block
  taken after it; every block is ``x + gate * Attention(modulate(LN(x)))`` and the same for
  the MLP, where ``Attention`` and ``FeedForward`` begin with their own affine LayerNorm and
  ``to_qkv`` has no bias; a final affine LayerNorm, then a BatchNorm MLP head;
- the action encoder: Conv1d(kernel 1) to 10 channels -> Linear(10, 4D) -> SiLU -> Linear(4D, D);
- the ViT keeps its own (HF) initialisation, everything else PyTorch's defaults;
- the target is the SAME online encoder's embedding of the next frame, gradients flow through
  it (no EMA, no stop-gradient);
- loss = MSE(pred, emb[:, 1:]) + lam * regulariser(emb) with SIGReg (lam = 0.09) on the
  embeddings of all frames, per time step across the batch.

Deliberate differences, as options (the ``paper`` preset uses the released value): pixel
preprocessing ``pixel_norm`` (ImageNet mean/std as released; the CPU presets map to [-1, 1]),
and the encoder (``cnn`` for the CPU presets). The pieces the seed papers argue about are
options too: ``regularizer`` (sigreg, vicreg, spectral, rdmreg, none), ``lam``, ``ema_target``
(the seed survey's EMA-target variant) and ``history``.

Actions enter in the env's normalised box and are z-scored inside the model with train-split
statistics (``set_action_stats``), so planners search the box while the network sees unit scale
(the released code z-scores the action columns of its dataset the same way).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from agents import regularizers
from agents.world_models.base import TrainableModel, check_rollout_inputs
from agents.world_models.modules import (
    ActionEncoder,
    CausalPredictor,
    CNNEncoder,
    MLPHead,
    ViTEncoder,
    cnn_widths_for,
    pixels_to_float,
)


@dataclass
class LeWMConfig:
    """LeWM hyper-parameters (defaults: the ``quick`` CPU preset)."""

    image_size: int = 64
    """Side of the square input frames."""
    pixel_norm: str = "symmetric"
    """Pixel preprocessing: ``imagenet`` (per-channel ImageNet mean/std, as released) or
    ``symmetric`` ([0, 255] -> [-1, 1])."""
    action_dim: int = 10
    """Action-block size: frameskip x the env's action dimension."""
    encoder: str = "cnn"
    """``vit`` (ViT-tiny as released) or ``cnn`` (a small conv net, the fast CPU default)."""
    latent_dim: int = 64
    """Dimension of the per-frame latent (and of the ViT and the predictor)."""
    patch_size: int = 0
    """ViT patch side; 0 picks 14 at 224 px, 8 at 64 px, otherwise image_size // 8."""
    vit_depth: int = 12
    """ViT layers."""
    vit_heads: int = 3
    """ViT attention heads."""
    vit_mlp_dim: int = 768
    """ViT MLP width."""
    cnn_widths: tuple[int, ...] = (16, 32, 64, 64)
    """Channels of the stride-2 conv layers (extended until the map is 4x4)."""
    projector_hidden: int = 256
    """Hidden width of the projector and predictor heads (2048 as released)."""
    projector_bn_eps: float = field(default=1e-5, metadata={"key_omit_default": True})
    """eps of the projector's BatchNorm (PyTorch's 1e-5 as released). A ViT's output varies by
    ~0.1 % across TwoRoom frames, so the BatchNorm's input variance sits below eps; an option to
    test that (``benchmark/scripts/lewm_ab.py``, variant ``paper-vit-lr5e-4-eps1e-9``)."""
    pred_depth: int = 2
    """Predictor transformer layers (6 as released)."""
    pred_heads: int = 4
    """Predictor attention heads (16 as released)."""
    pred_dim_head: int = 16
    """Predictor head dimension (64 as released)."""
    pred_mlp_dim: int = 256
    """Predictor MLP width (2048 as released)."""
    dropout: float = 0.0
    """Predictor dropout (0.1 as released)."""
    history: int = 1
    """Context frames the predictor sees (3 as released)."""
    regularizer: str = "sigreg"
    """Anti-collapse regulariser: sigreg, vicreg, spectral, rdmreg or none."""
    lam: float = 0.09
    """Regulariser weight."""
    reg_kwargs: dict[str, float] = field(default_factory=dict)
    """Extra keyword arguments of the regulariser (e.g. rdmreg's target_p)."""
    ema_target: bool = False
    """Predict an EMA copy of the encoder with stop-gradient (the seed survey's variant)."""
    ema_decay: float = 0.996
    """EMA decay of the target encoder when ema_target is on."""


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(
        latent_dim=32,
        cnn_widths=(8, 16, 32),
        projector_hidden=64,
        pred_depth=1,
        pred_heads=2,
        pred_dim_head=16,
        pred_mlp_dim=64,
    ),
    "quick": {},
    "paper": dict(
        encoder="vit",
        image_size=224,
        latent_dim=192,
        patch_size=14,
        vit_depth=12,
        vit_heads=3,
        vit_mlp_dim=768,
        projector_hidden=2048,
        pred_depth=6,
        pred_heads=16,
        pred_dim_head=64,
        pred_mlp_dim=2048,
        dropout=0.1,
        history=3,
        pixel_norm="imagenet",
    ),
}
# The paper architecture for a short single-GPU run (`python -m benchmark.scripts.gpu_check`); the
# trainer's "gpu" preset sets its optimisation.
PRESETS["gpu"] = dict(PRESETS["paper"])


class LeWM(TrainableModel):
    """LeWorldModel implementing the WorldModel seam (see the module docstring)."""

    Config = LeWMConfig
    compile_step: ClassVar[str] = "_predict_last"  # the one-step map rollouts call per step

    def __init__(self, cfg: LeWMConfig):
        super().__init__(cfg.action_dim)
        self.cfg = cfg
        regularizers.get(cfg.regularizer)  # fail early on an unknown name
        pixels_to_float(torch.zeros(1, 1, 1, 3, dtype=torch.uint8), cfg.pixel_norm)
        d = cfg.latent_dim
        if cfg.encoder == "vit":
            patch = cfg.patch_size or {224: 14, 64: 8}.get(cfg.image_size, cfg.image_size // 8)
            self.encoder = ViTEncoder(
                cfg.image_size, patch, d, cfg.vit_depth, cfg.vit_heads, cfg.vit_mlp_dim
            )
        elif cfg.encoder == "cnn":
            self.encoder = CNNEncoder(
                cfg.image_size, cnn_widths_for(cfg.image_size, cfg.cnn_widths), d
            )
        else:
            raise ValueError(f"unknown encoder {cfg.encoder!r}; valid: vit, cnn")
        self.projector = MLPHead(d, cfg.projector_hidden, d, eps=cfg.projector_bn_eps)
        self.action_encoder = ActionEncoder(cfg.action_dim, d)
        self.predictor = CausalPredictor(
            d,
            cfg.pred_depth,
            cfg.pred_heads,
            cfg.pred_dim_head,
            cfg.pred_mlp_dim,
            cfg.dropout,
            max_len=cfg.history,
            history=cfg.history,
        )
        self.pred_proj = MLPHead(d, cfg.projector_hidden, d)
        self.target = None
        if cfg.ema_target:
            self.target = nn.ModuleDict(
                {"encoder": copy.deepcopy(self.encoder), "projector": copy.deepcopy(self.projector)}
            ).requires_grad_(False)

    # ---- the WorldModel seam --------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    @property
    def action_dim(self) -> int:
        return self.cfg.action_dim

    @property
    def history(self) -> int:
        return self.cfg.history

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels (B, T, H, W, 3) -> latents (B, T, D)."""
        return self._embed(pixels, self.encoder, self.projector)

    def rollout(
        self, z_context: torch.Tensor, actions: torch.Tensor, a_context: torch.Tensor | None = None
    ) -> torch.Tensor:
        """z_context (B, Tc, D), actions (B, N, H, A), a_context (B, Tc - 1, A) ->
        predicted latents (B, N, H, D)."""
        check_rollout_inputs(self, z_context, actions)
        b, n, horizon, a_dim = actions.shape
        z = z_context[:, -self.history :]
        tc = z.shape[1]
        if tc > 1:
            if a_context is None or a_context.shape[1] < tc - 1:
                raise ValueError(
                    f"a context of {tc} frames needs a_context (B, {tc - 1}, {a_dim}) with the "
                    "action blocks executed between them"
                )
            past = a_context[:, -(tc - 1) :, None].expand(b, tc - 1, n, a_dim).transpose(1, 2)
            actions = torch.cat([past, actions], 2)
        c = self.action_encoder(self.normalise_actions(actions)).reshape(
            b * n, tc - 1 + horizon, -1
        )
        z = z[:, None].expand(b, n, tc, self.latent_dim).reshape(b * n, tc, -1)
        preds = []
        for _ in range(horizon):
            t = z.shape[1]
            lo = max(0, t - self.history)
            nxt = self._predict_last(z[:, lo:], c[:, lo:t])
            preds.append(nxt)
            z = torch.cat([z, nxt[:, None]], 1)
        return torch.stack(preds, 1).reshape(b, n, horizon, -1)

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """One-frame context: z (B, D), a (B, A) -> z_next (B, D)."""
        c = self.action_encoder(self.normalise_actions(a))
        return self._predict_last(z[:, None], c[:, None])

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """Prediction MSE + lam * regulariser(all frame embeddings); see the module docstring."""
        pixels, actions = batch["pixels"], batch["actions"]
        if pixels.shape[1] != actions.shape[1] + 1:
            raise ValueError(
                f"a window of {pixels.shape[1]} frames needs {pixels.shape[1] - 1} action "
                f"blocks, got {actions.shape[1]}"
            )
        emb = self.encode(pixels)
        c = self.action_encoder(self.normalise_actions(actions))
        pred = self._teacher_forced(emb[:, :-1], c)
        if self.target is None:
            target = emb[:, 1:]
        else:
            with torch.no_grad():
                target = self._embed(
                    pixels[:, 1:], self.target["encoder"], self.target["projector"]
                )
        pred_loss = F.mse_loss(pred.float(), target.float())
        reg = regularizers.get(self.cfg.regularizer)(emb.transpose(0, 1), **self.cfg.reg_kwargs)
        loss = pred_loss + self.cfg.lam * reg
        return loss, {
            "pred_loss": pred_loss.item(),
            "reg": reg.item(),
            "emb_std": emb.detach().float().std(0).mean().item(),
        }

    # ---- training hooks -------------------------------------------------------------------

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """Updates the EMA target (no-op for the released LeWM, which has none)."""
        if self.target is None:
            return
        decay = self.cfg.ema_decay
        for online, ema in (
            (self.encoder, self.target["encoder"]),
            (self.projector, self.target["projector"]),
        ):
            for p, q in zip(online.parameters(), ema.parameters()):
                q.lerp_(p, 1 - decay)
            for b, bt in zip(online.buffers(), ema.buffers()):
                bt.copy_(b)

    # ---- internals ------------------------------------------------------------------------
    def _embed(self, pixels: torch.Tensor, encoder: nn.Module, projector: nn.Module):
        s = self.cfg.image_size
        if pixels.ndim != 5 or tuple(pixels.shape[2:]) != (s, s, 3):
            raise ValueError(f"pixels must be (B, T, {s}, {s}, 3) uint8, got {tuple(pixels.shape)}")
        b, t = pixels.shape[:2]
        x = pixels_to_float(pixels.reshape(b * t, s, s, 3), self.cfg.pixel_norm)
        return projector(encoder(x)).reshape(b, t, -1)

    def _predict_last(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The prediction for the frame after the last of a window: (N, T, D) -> (N, D)."""
        return self.pred_proj(self.predictor(z, c)[:, -1])

    def _teacher_forced(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Next-frame predictions for every frame of a ground-truth sequence, each from the
        same window of at most ``history`` frames a rollout would use: (B, T, D) -> (B, T, D)."""
        h, t = self.history, z.shape[1]
        first = self.pred_proj(self.predictor(z[:, :h], c[:, :h]))
        if t <= h:
            return first
        zw = z.unfold(1, h, 1)[:, 1:].movedim(-1, -2)  # (B, t - h, h, D)
        cw = c.unfold(1, h, 1)[:, 1:].movedim(-1, -2)
        b = z.shape[0]
        rest = self._predict_last(zw.reshape(-1, h, z.shape[-1]), cw.reshape(-1, h, c.shape[-1]))
        return torch.cat([first, rest.reshape(b, t - h, -1)], 1)
