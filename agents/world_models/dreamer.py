"""DreamerV3-style RSSM world model, trained offline and reward-free, planned on its prior.

The recurrent state-space model of DreamerV3 (Hafner et al., arXiv 2301.04104), without
reward, value and actor heads (planning uses the shared latent goal cost, like every wmbench model):

- a conv encoder (k4 s2, channel LayerNorm, SiLU) of the frame, resized (area) to
  ``resolution`` px as DreamerV3 always works at 64 px, and a transposed-conv decoder trained
  with pixel MSE summed over the image (DreamerV3's image loss);
- a LayerNorm GRU deterministic state h and a stochastic state z of ``stoch`` categoricals with
  ``classes`` classes each, sampled one-hot with straight-through gradients, with 1 % unimix;
- prior p(z_t | h_t) (imagination) and posterior q(z_t | h_t, e_t) (filter);
- KL balancing: 0.5 * max(1, KL(sg(q) || p)) + 0.1 * max(1, KL(q || sg(p))), 1 nat free bits
  per sample, summed over the categoricals.

Symlog: DreamerV3 applies it to vector inputs and to reward / value targets. This model sees
pixels only (the same information as LeWM) and has no reward, so no quantity here is symlogged.

What the planner sees. The latent is the flat feature ``[h, probs(z)]`` of size ``deter + stoch
* classes``: the deterministic state and the categorical probabilities (smooth, unlike one-hot
samples). ``rollout`` and ``step`` imagine with the PRIOR from the last context feature: the z
part of an input feature is turned into the one-hot mode of each categorical (so interpolated
features, as GRASP makes, are valid inputs), and each imagined step feeds the one-hot mode of
the prior back into the GRU (straight-through, so gradients reach the actions). Rollouts never
sample: planning and evaluation are deterministic in any mode.

How ``encode`` makes features without actions. The seam's ``encode`` gets frames but no
actions, and the MPC loop encodes the goal, the start and every later context frame ONE FRAME
AT A TIME; a filter run with zero actions would give a frame a different feature depending on
what was encoded with it. So each frame is encoded on its own: an observation-only network
``h_obs(e_t)`` infers the deterministic state from the frame, then z comes from the posterior
``q(z | h_obs(e_t), e_t)``. Training makes this consistent with the filter: every training
sequence starts from h_0 = h_obs(e_0) (as a planning rollout starts from an encoded frame), and
a latent-consistency loss regresses h_obs(e_t) onto sg(h_t), the filtered state after t steps.
Goal, context and ground-truth features therefore all come from the same map and are
comparable with imagined features. ``history`` is 1: the feature of one frame is the context.

Parameters (``action_dim`` 10): smoke (32 px) 0.20M, quick (64 px) 1.9M, paper 17.7M at any
image size, frames being resized to 64 px (LeWM's paper preset has 18.0M; this is DreamerV3's
"S" size: GRU 512, CNN multiplier 32, 32 x 32 categoricals, with 640-wide dense layers instead
of 512 standing in for its actor, critic and reward heads, which a reward-free model lacks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from agents.world_models.base import TrainableModel, check_rollout_inputs
from agents.world_models.modules import pixels_to_float


@dataclass
class DreamerConfig:
    """RSSM hyper-parameters (defaults: the ``quick`` CPU preset)."""

    image_size: int = 64
    """Side of the square input frames."""
    action_dim: int = 10
    """Action-block size: frameskip x the env's action dimension."""
    resolution: int = 64
    """Frames are resized (area) to this side for the encoder and the decoder target (DreamerV3
    works at 64 px); 0 keeps ``image_size``. Must be 4 times a power of two."""
    cnn_depth: int = 16
    """Channels of the first conv layer (doubled at each stride-2 layer; DreamerV3 "S": 32)."""
    deter: int = 128
    """Size of the GRU deterministic state h."""
    units: int = 128
    """Width of the dense layers around the GRU."""
    stoch: int = 16
    """Number of categorical variables in z (DreamerV3: 32)."""
    classes: int = 16
    """Classes per categorical variable (DreamerV3: 32)."""
    unimix: float = 0.01
    """Mixture weight of the uniform distribution in every categorical (DreamerV3: 1 %)."""
    free_nats: float = 1.0
    """Free bits: each KL term is clipped below at this many nats per sample."""
    dyn_scale: float = 0.5
    """Weight of the dynamics KL, KL(sg(posterior) || prior)."""
    rep_scale: float = 0.1
    """Weight of the representation KL, KL(posterior || sg(prior))."""
    consistency_scale: float = 1.0
    """Weight of the regression of h_obs(e_t) onto the filtered sg(h_t) (see the docstring)."""
    history: int = 1
    """Context frames a rollout uses (1: the filter state summarises the past)."""


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(resolution=0, cnn_depth=8, deter=64, units=64, stoch=8, classes=8),
    "quick": {},
    "paper": dict(resolution=64, cnn_depth=32, deter=512, units=640, stoch=32, classes=32),
}


class ChannelNorm(nn.Module):
    """LayerNorm over the channels of every pixel (DreamerV3's conv normalisation)."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels, eps=1e-3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


def _dense(dim_in: int, dim_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim_in, dim_out), nn.LayerNorm(dim_out, eps=1e-3), nn.SiLU())


def conv_layers(resolution: int) -> int:
    """Stride-2 layers from ``resolution`` down to 4 px; raises when halving never gives 4."""
    n, side = 0, resolution
    while side > 4 and side % 2 == 0:
        n, side = n + 1, side // 2
    if side != 4 or n == 0:
        raise ValueError(
            f"dreamer: the conv resolution must be 4 times a power of two (8, 16, 32, 64, ...), "
            f"got {resolution}; set resolution (e.g. 64) to resize the frames"
        )
    return n


class ConvEncoder(nn.Module):
    """(N, 3, r, r) in [-0.5, 0.5] -> (N, E): k4 s2 convs doubling the channels down to 4x4."""

    def __init__(self, resolution: int, depth: int):
        super().__init__()
        layers, c = [], 3
        for i in range(conv_layers(resolution)):
            w = depth * 2**i
            layers += [nn.Conv2d(c, w, 4, 2, 1), ChannelNorm(w), nn.SiLU()]
            c = w
        self.convs = nn.Sequential(*layers)
        self.out_dim = c * 16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x).flatten(1)


class ConvDecoder(nn.Module):
    """(N, F) -> (N, 3, r, r): a linear map to 4x4 then k4 s2 transposed convs (mirror of
    ``ConvEncoder``); the output is the predicted image in [-0.5, 0.5] units."""

    def __init__(self, feat_dim: int, resolution: int, depth: int):
        super().__init__()
        n = conv_layers(resolution)
        self.top = depth * 2 ** (n - 1)
        self.fc = nn.Linear(feat_dim, self.top * 16)
        layers, c = [], self.top
        for i in reversed(range(n)):
            last = i == 0
            w = 3 if last else depth * 2 ** (i - 1)
            layers.append(nn.ConvTranspose2d(c, w, 4, 2, 1))
            if not last:
                layers += [ChannelNorm(w), nn.SiLU()]
            c = w
        self.deconvs = nn.Sequential(*layers)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return self.deconvs(self.fc(feat).view(-1, self.top, 4, 4))


class NormGRUCell(nn.Module):
    """DreamerV3's GRU: one linear map of [x, h] with LayerNorm, update gate biased to keep h."""

    def __init__(self, dim_in: int, deter: int):
        super().__init__()
        self.linear = nn.Linear(dim_in + deter, 3 * deter)
        self.norm = nn.LayerNorm(3 * deter, eps=1e-3)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        reset, cand, update = self.norm(self.linear(torch.cat([x, h], -1))).chunk(3, -1)
        cand = torch.tanh(torch.sigmoid(reset) * cand)
        update = torch.sigmoid(update - 1.0)
        return update * cand + (1 - update) * h


class Dreamer(TrainableModel):
    """DreamerV3-style RSSM implementing the WorldModel seam (see the module docstring)."""

    Config = DreamerConfig
    compile_step: ClassVar[str] = "_imagine"  # the one-step map rollouts call per step

    def __init__(self, cfg: DreamerConfig):
        super().__init__(cfg.action_dim)
        self.cfg = cfg
        res = cfg.resolution or cfg.image_size
        self.res = res
        self.encoder = ConvEncoder(res, cfg.cnn_depth)
        e, s = self.encoder.out_dim, cfg.stoch * cfg.classes
        self.decoder = ConvDecoder(cfg.deter + s, res, cfg.cnn_depth)
        self.img_in = _dense(s + cfg.action_dim, cfg.units)
        self.gru = NormGRUCell(cfg.units, cfg.deter)
        self.prior_net = nn.Sequential(_dense(cfg.deter, cfg.units), nn.Linear(cfg.units, s))
        self.post_net = nn.Sequential(_dense(cfg.deter + e, cfg.units), nn.Linear(cfg.units, s))
        self.h_obs = nn.Sequential(_dense(e, cfg.units), nn.Linear(cfg.units, cfg.deter), nn.Tanh())

    # ---- the WorldModel seam --------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.cfg.deter + self.cfg.stoch * self.cfg.classes

    @property
    def action_dim(self) -> int:
        return self.cfg.action_dim

    @property
    def history(self) -> int:
        return self.cfg.history

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels (B, T, H, W, 3) -> features [h_obs(e), probs(q(z | h_obs(e), e))]
        (B, T, D), every frame encoded on its own."""
        e, _ = self._embed(pixels)
        h = self.h_obs(e)
        return torch.cat([h, self._probs(self.post_net(torch.cat([h, e], -1))).flatten(-2)], -1)

    def rollout(
        self, z_context: torch.Tensor, actions: torch.Tensor, a_context: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Imagination with the prior from the last context feature: z_context (B, Tc, D),
        actions (B, N, Hp, A) -> features (B, N, Hp, D). ``a_context`` is unused (history 1)."""
        check_rollout_inputs(self, z_context, actions)
        b, n, horizon, a_dim = actions.shape
        feat = z_context[:, -1, None].expand(b, n, self.latent_dim).reshape(b * n, -1)
        h, z = self._split(feat)
        a = self.normalise_actions(actions).reshape(b * n, horizon, a_dim)
        out = []
        for t in range(horizon):
            h, probs = self._imagine(h, z, a[:, t])
            z = self._mode(probs).flatten(-2)
            out.append(torch.cat([h, probs.flatten(-2)], -1))
        return torch.stack(out, 1).reshape(b, n, horizon, -1)

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """One imagined step: feature (B, D), action block (B, A) -> next feature (B, D)."""
        h, zs = self._split(z)
        h, probs = self._imagine(h, zs, self.normalise_actions(a))
        return torch.cat([h, probs.flatten(-2)], -1)

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """recon + dyn_scale * KL_dyn + rep_scale * KL_rep + consistency_scale * consistency."""
        pixels, actions = batch["pixels"], batch["actions"]
        if pixels.ndim != 5 or actions.ndim != 3 or pixels.shape[1] != actions.shape[1] + 1:
            raise ValueError(
                f"a window of T frames (B, T, H, W, 3) needs T - 1 action blocks (B, T - 1, A), "
                f"got pixels {tuple(pixels.shape)} and actions {tuple(actions.shape)}"
            )
        cfg = self.cfg
        e, target = self._embed(pixels)
        a = self.normalise_actions(actions)
        h = self.h_obs(e[:, 0])
        hs, zs, posts, priors = [], [], [], []
        for t in range(pixels.shape[1]):
            if t > 0:
                h = self.gru(self.img_in(torch.cat([zs[-1], a[:, t - 1]], -1)), h)
            post = self._probs(self.post_net(torch.cat([h, e[:, t]], -1)))
            hs.append(h)
            posts.append(post)
            priors.append(self._probs(self.prior_net(h)))
            zs.append(self._sample(post).flatten(-2))
        hs, post, prior = torch.stack(hs, 1), torch.stack(posts, 1), torch.stack(priors, 1)
        recon = self.decoder(torch.cat([hs, torch.stack(zs, 1)], -1).flatten(0, 1))
        recon_loss = (recon.float() - target.float()).square().sum((1, 2, 3)).mean()
        kl_dyn = _categorical_kl(post.detach(), prior)
        kl_rep = _categorical_kl(post, prior.detach())
        dyn = kl_dyn.clamp_min(cfg.free_nats).mean()
        rep = kl_rep.clamp_min(cfg.free_nats).mean()
        if hs.shape[1] > 1:
            consistency = (self.h_obs(e[:, 1:]) - hs[:, 1:].detach()).square().sum(-1).mean()
        else:
            consistency = hs.new_zeros(())
        loss = (
            recon_loss
            + cfg.dyn_scale * dyn
            + cfg.rep_scale * rep
            + cfg.consistency_scale * consistency
        )
        return loss, {
            "recon": recon_loss.item(),
            "kl_dyn": dyn.item(),
            "kl_rep": rep.item(),
            "kl": kl_dyn.detach().mean().item(),
            "consistency": consistency.item(),
            "deter_std": hs.detach().float().std(0).mean().item(),
        }

    # ---- internals ------------------------------------------------------------------------
    def _embed(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B, T, H, W, 3) -> embeddings (B, T, E) and decoder targets (B*T, 3, r, r)."""
        s = self.cfg.image_size
        if pixels.ndim != 5 or tuple(pixels.shape[2:]) != (s, s, 3):
            raise ValueError(f"pixels must be (B, T, {s}, {s}, 3) uint8, got {tuple(pixels.shape)}")
        b, t = pixels.shape[:2]
        x = pixels_to_float(pixels.reshape(b * t, s, s, 3)) * 0.5  # [-0.5, 0.5] like DreamerV3
        if self.res != s:
            x = F.interpolate(x, size=(self.res, self.res), mode="area")
        return self.encoder(x).reshape(b, t, -1), x

    def _split(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature (R, D) -> h (R, deter) and the one-hot mode of its z part (R, stoch*classes)."""
        cfg = self.cfg
        h, z = feat.split([cfg.deter, cfg.stoch * cfg.classes], -1)
        z = z.reshape(-1, cfg.stoch, cfg.classes)
        return h, F.one_hot(z.argmax(-1), cfg.classes).to(z.dtype).flatten(-2)

    def _imagine(self, h, z, a) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.gru(self.img_in(torch.cat([z, a], -1)), h)
        return h, self._probs(self.prior_net(h))

    def _probs(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits (..., stoch*classes) -> unimix probabilities (..., stoch, classes)."""
        cfg = self.cfg
        probs = logits.float().reshape(*logits.shape[:-1], cfg.stoch, cfg.classes).softmax(-1)
        return (1 - cfg.unimix) * probs + cfg.unimix / cfg.classes

    def _sample(self, probs: torch.Tensor) -> torch.Tensor:
        """One-hot samples with straight-through gradients: (..., stoch, classes)."""
        idx = torch.multinomial(probs.reshape(-1, self.cfg.classes).detach(), 1)
        onehot = F.one_hot(idx[:, 0], self.cfg.classes).to(probs.dtype).reshape(probs.shape)
        return onehot + probs - probs.detach()

    def _mode(self, probs: torch.Tensor) -> torch.Tensor:
        """One-hot argmax with straight-through gradients: (..., stoch, classes)."""
        onehot = F.one_hot(probs.argmax(-1), self.cfg.classes).to(probs.dtype)
        return onehot + probs - probs.detach()


def _categorical_kl(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) of independent categoricals (..., stoch, classes), summed over them: (...)."""
    return (p * (p.log() - q.log())).sum((-2, -1))
