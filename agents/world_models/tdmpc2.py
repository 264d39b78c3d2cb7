"""TD-MPC2-style latent world model, trained offline, in two variants, optionally regularised.

The latent model of TD-MPC2 (Hansen et al., arXiv 2310.16828), as its code builds it for pixels:

- encoder: convs 32ch k7 s2, k5 s2, k3 s2, k3 s1 with ReLU on frames scaled to [-0.5, 0.5]
  (64 px -> 32 x 4 x 4 = 512 features); other sizes: zero padding below 64 px, extra k3 s2
  layers above until the map is at most 8 px; a linear map when the flat size differs from
  ``latent_dim``; then LayerNorm (``encoder_norm``, see below) and SimNorm (softmax over groups
  of ``simnorm_dim`` = 8);
- dynamics: MLP on [z, a] of LayerNorm + Mish layers, the last one LayerNorm + SimNorm;
- consistency loss: a multi-step latent rollout from enc(o_0) on the window's action blocks,
  sum_t rho^t * MSE(z_t, sg(enc(o_t))) / horizon, weighted 20, rho = 0.5.

``variant`` picks the training signal on top of the consistency loss:

- ``"reward_free"``: consistency only. Nothing stops the encoder from mapping every frame to the
  same latent, so this is expected to collapse (DINO-WM reports TD-MPC2 at 0 % reward-free);
  kept as the published negative result.
- ``"goal"``: goal-conditioned with HINDSIGHT goals (the offline variant of stable-worldmodel's
  "TD-MPC2, reward + hindsight goal"), labelled from the data alone: no simulator state, no
  env. Each window of T frames gets one goal frame: with probability ``goal_other_prob`` a
  random frame of another window of the batch, otherwise a random later frame k (1..T-1) of
  the same window. The reward of block t (the block from frame t to frame t+1) is HER's sparse
  goal reward (Andrychowicz et al. 2017, arXiv 1707.01495): 0 when the block reaches the goal,
  t + 1 == k, else -1; every block gets -1 for a goal from another window. Reaching ends the
  episode for the value: the Q target of the reaching block is its reward alone, so the value
  is a discounted temporal distance to the goal, -(1 - discount^d) / (1 - discount) for a goal
  d blocks ahead. A reward head r(z_t, a_t, z_goal) on the rolled-out latents and an ensemble
  of ``num_q`` Q heads Q(z_t, a_t, z_goal) (SARSA targets r_t + discount * (1 - reached_t) *
  mean Q_target(sg(enc(o_{t+1})), a_{t+1}, sg(z_goal)) on the dataset's next action, EMA target
  heads) are trained with two-hot cross-entropy over ``num_bins`` symlog bins, weighted
  ``reward_coef`` / ``value_coef`` and rho-discounted like the consistency loss. The goal
  latent is enc(goal frame) with gradients, so the heads shape the encoder.

  Why this label: with no task reward, all hindsight relabelling knows is "the goal is frame k
  of this trajectory", and HER's reward for it is the indicator of having reached it (0
  reached, -1 otherwise); a shaped temporal distance would be a second, hand-made reward for
  what the value already computes by bootstrapping (and, tried, it collapsed the same way). No
  model in wmbench reads the recorded states or the env's success rule to train, and nothing
  under ``agents/`` imports ``envs``.

  Result: it still collapses on TwoRoom at the quick preset (2000 steps, batch 64, lr 3e-4):
  held-out embedding std 0.0012 from step 250 on, uncentred effective rank 1.35, cos@1 = copy
  = 1.0000, the reward loss at the entropy of its label marginal (nothing learned); CEM at the
  random floor. The state-labelled reward of earlier versions collapsed too (std 0.0003), so
  this is not an artefact of the labels. Why: only a 2-3 px dot moves in TwoRoom frames, so
  the random encoder's latents barely differ (std 0.0027 at init, copy cos 0.9996); the
  hindsight reward is relational (is the next frame the goal?), which the heads take ~400
  steps to learn at lr 1e-3 even from an oracle position code and do not learn in 700 steps
  from the frozen random encoder; meanwhile the consistency loss and optimiser drift shrink the
  spread. Ten-fold reward / value weights, a tenth of the consistency weight, heads only,
  ``goal_other_prob`` 0.5, lr 1e-3, ``tau`` 0.1, the shaped reward and eight goals per window
  each left the latent collapsed after 300-400 steps. Planned with CEM (300 samples, 30 elites,
  10 iterations; goal 25 env steps ahead, budget 50, horizon 5; 50 tasks): 12 % [4, 24] vs the
  random floor's 16 %, p 0.73.

``regularizer`` / ``lam`` add ``lam * regularizers.get(regularizer)(h)`` to the loss, as LeWM
does, with h the encoder's features of every frame of the window AFTER its LayerNorm and BEFORE
its SimNorm, (T, B, D) with statistics across the batch per frame. ``"none"`` (the default) adds
nothing and is the faithful model: the same loss and random draws, and the new options stay out
of its config key. Why that tensor: SimNorm outputs are non-negative and every group of 8 sums
to 1, so they live on a product of simplices with mean 1/8, not on anything an isotropic
Gaussian target (SIGReg) can match; pushing their spread up drives the groups toward one-hot,
the saturated softmax the encoder LayerNorm was added to avoid. The LayerNorm'd features are
what a sample of N(0, I) already looks like per frame (zero mean, unit variance over D), so
SIGReg's target is reachable there; SimNorm of logits with unit spread is far from saturation,
so their spread passes to the latent; and an isotropic spread cannot hide in the per-group
constant directions SimNorm discards (1/8 of them). The consistency, reward and value losses
still act on the SimNorm latent, which is also what the planners see.

The model name ``tdmpc2-sigreg`` (``TDMPC2SigReg``: this class with the defaults
``regularizer="sigreg"``, ``lam=0.09``, LeWM's weight; same presets) is the leaderboard's
working TD-MPC2 beside the faithful ``tdmpc2``. Measured on TwoRoom at the quick preset (the
same data and trainer as above, 2000 steps, 592 s on a shared CPU core): it does not collapse;
held-out embedding std 0.109 at step 250, 0.1225 at 2000 (vs 0.0012), effective rank 86.0
(uncentred 75.2) of 128, SIGReg 2.01 -> 1.20, and cos@1 0.845 vs copy-last 0.536 (held-out
windows; the evaluation's 0.853 vs 0.529). The reward loss stays near its label entropy (0.63
-> 0.58): the hindsight heads still learn little, and the spread comes from the regulariser.
CEM with the settings above: 70 % [55.8, 83.3] vs random 16 %, p 1.5e-08.

What the planner sees. The latent is the SimNorm vector z (``latent_dim``, non-negative, every
group of 8 sums to 1); ``rollout`` / ``step`` apply the dynamics MLP from the last context
latent (``history`` 1; deterministic, differentiable). Planners use the shared goal cost,
||z_H - enc(goal)||^2, not the reward or Q heads: the heads matter only through the latent
geometry they shape. (TD-MPC2's own planner would maximise r + Q; that is not measured here.)

One deviation: TD-MPC2's pixel encoder applies SimNorm to the raw conv features. Trained offline
on TwoRoom that softmax saturated (one-hot groups, zero gradient, an exactly constant latent) by
step ~100 in every variant, so ``encoder_norm`` puts a LayerNorm before it, as TD-MPC2 does
before every other SimNorm (dynamics output, state encoders).

Not carried over: TD-MPC2's policy prior (planning here is the shared planners'), its random
shift augmentation, and its 0.3x encoder learning rate (the shared trainer owns the optimiser).

Trainable parameters (``action_dim`` 10; the EMA target Q heads excluded, as TD-MPC2 counts):
smoke (32 px) 0.05M (reward-free 0.02M); quick (64 px) 1.24M, reward-free 0.37M (TD-MPC2's 1M
size: latent 128, MLP 384, 2 Q heads); paper (64 px) 5.08M, reward-free 0.85M (TD-MPC2's 5M
size: latent 512, MLP 512, with 4 instead of 5 Q heads because every head also takes the
512-d goal latent); paper at 224 px 5.24M (extra conv layers and a linear map to 512).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from agents import regularizers
from agents.world_models import KEY_OMIT_DEFAULT
from agents.world_models.base import TrainableModel, check_rollout_inputs

VARIANTS = ("reward_free", "goal")


@dataclass
class TDMPC2Config:
    """TD-MPC2 hyper-parameters (defaults: the ``quick`` CPU preset)."""

    image_size: int = 64
    """Side of the square input frames."""
    action_dim: int = 10
    """Action-block size: frameskip x the env's action dimension."""
    variant: str = "goal"
    """``goal`` (hindsight goals, reward and Q heads) or ``reward_free`` (consistency only)."""
    latent_dim: int = 128
    """Size of the SimNorm latent (a multiple of ``simnorm_dim``; 512 in TD-MPC2's 5M model)."""
    simnorm_dim: int = 8
    """Group size of the SimNorm softmax."""
    conv_channels: int = 32
    """Channels of every encoder conv layer."""
    encoder_norm: bool = True
    """LayerNorm before the encoder's SimNorm, as TD-MPC2's other SimNorm layers have (its pixel
    encoder has none; without it the softmax saturates and the latent freezes offline)."""
    mlp_dim: int = 384
    """Hidden width of the dynamics, reward and Q MLPs."""
    num_q: int = 2
    """Q heads in the ensemble (0: no value loss; goal variant only)."""
    num_bins: int = 101
    """Two-hot bins of the reward / Q heads, spaced evenly in symlog space."""
    vmin: float = -10.0
    """Lowest bin (symlog units)."""
    vmax: float = 10.0
    """Highest bin (symlog units)."""
    consistency_coef: float = 20.0
    """Weight of the latent consistency loss."""
    reward_coef: float = 0.1
    """Weight of the reward loss (goal variant)."""
    value_coef: float = 0.1
    """Weight of the Q loss (goal variant)."""
    rho: float = 0.5
    """Per-step discount of the losses along the training rollout."""
    discount: float = 0.9
    """Discount of the Q targets."""
    tau: float = 0.01
    """EMA rate of the target Q heads."""
    goal_other_prob: float = 0.2
    """Probability that a window's hindsight goal is a frame of another window."""
    history: int = 1
    """Context frames a rollout uses (the dynamics are Markov in z)."""
    regularizer: str = field(default="none", metadata={KEY_OMIT_DEFAULT: True})
    """Anti-collapse regulariser (``agents.regularizers``: sigreg, vicreg, spectral, rdmreg,
    none) on the encoder's pre-SimNorm features of every frame; ``none`` is TD-MPC2 itself."""
    lam: float = field(default=0.09, metadata={KEY_OMIT_DEFAULT: True})
    """Weight of the regulariser (unused with ``none``)."""


PRESETS: dict[str, dict[str, Any]] = {
    "smoke": dict(latent_dim=32, conv_channels=8, mlp_dim=64, num_q=2, num_bins=21),
    "quick": {},
    "paper": dict(latent_dim=512, mlp_dim=512, num_q=4),
}


def symlog(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(x: torch.Tensor) -> torch.Tensor:
    return torch.sign(x) * torch.expm1(x.abs())


class TwoHot(nn.Module):
    """Two-hot encoding of scalars over bins evenly spaced in symlog space (TD-MPC2's)."""

    def __init__(self, num_bins: int, vmin: float, vmax: float):
        super().__init__()
        if num_bins < 2 or vmax <= vmin:
            raise ValueError(f"two-hot needs num_bins >= 2 and vmax > vmin, got {num_bins}")
        self.register_buffer("bins", torch.linspace(vmin, vmax, num_bins), persistent=False)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Scalars (...) -> two-hot targets (..., num_bins)."""
        lo, hi, n = self.bins[0], self.bins[-1], len(self.bins)
        pos = (symlog(x.float()).clamp(lo, hi) - lo) / (hi - lo) * (n - 1)
        left = pos.floor().clamp(max=n - 2)
        frac = (pos - left)[..., None]
        out = F.one_hot(left.long(), n) * (1 - frac)
        return out + F.one_hot(left.long() + 1, n) * frac

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits (..., num_bins) -> expected scalars (...)."""
        return symexp((logits.float().softmax(-1) * self.bins).sum(-1))

    def loss(self, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of logits (..., num_bins) against two-hot(x) (...): (...)."""
        return -(self.encode(x) * logits.float().log_softmax(-1)).sum(-1)


class SimNorm(nn.Module):
    """Softmax over consecutive groups of ``group`` features."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return x.reshape(*shape[:-1], -1, self.group).softmax(-1).reshape(shape)


def _normed(dim_in: int, dim_out: int, act: nn.Module | None = None) -> nn.Sequential:
    """TD-MPC2's NormedLinear: Linear -> LayerNorm -> Mish (or ``act``)."""
    return nn.Sequential(nn.Linear(dim_in, dim_out), nn.LayerNorm(dim_out), act or nn.Mish())


def _head(dim_in: int, hidden: int, dim_out: int) -> nn.Sequential:
    """Two NormedLinear layers and a zero-initialised output layer (TD-MPC2's heads)."""
    out = nn.Linear(hidden, dim_out)
    nn.init.zeros_(out.weight)
    nn.init.zeros_(out.bias)
    return nn.Sequential(_normed(dim_in, hidden), _normed(hidden, hidden), out)


class PixelEncoder(nn.Module):
    """TD-MPC2's conv encoder: uint8 (N, H, W, 3) -> SimNorm latents (N, latent_dim)."""

    def __init__(
        self, image_size: int, channels: int, latent_dim: int, simnorm_dim: int, norm: bool
    ):
        super().__init__()
        pad = image_size < 64  # TD-MPC2's valid convs need 64 px; smaller frames are padded
        spec = [(7, 2), (5, 2), (3, 2)]
        side = image_size
        for k, s in spec:
            side = (side + 2 * (k // 2) * pad - k) // s + 1
        while side > 8:  # larger frames: more k3 s2 layers instead of a huge linear map
            spec.append((3, 2))
            side = (side + 2 * pad - 3) // 2 + 1
        spec.append((3, 1))
        layers, c = [], 3
        for k, s in spec:
            layers += [nn.Conv2d(c, channels, k, s, (k // 2) * pad), nn.ReLU()]
            c = channels
        self.convs = nn.Sequential(*layers[:-1])  # no activation after the last conv
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, 3, image_size, image_size)).numel()
        self.proj = nn.Identity() if flat == latent_dim else nn.Linear(flat, latent_dim)
        self.norm = nn.LayerNorm(latent_dim) if norm else nn.Identity()
        self.simnorm = SimNorm(simnorm_dim)

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) -> the LayerNorm'd features before SimNorm (N, latent_dim)."""
        if pixels.dtype != torch.uint8:
            raise TypeError(f"pixels must be uint8, got {pixels.dtype}")
        x = pixels.movedim(-1, -3).float().div(255.0).sub(0.5)
        return self.norm(self.proj(self.convs(x).flatten(1)))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.simnorm(self.features(pixels))


class TDMPC2(TrainableModel):
    """TD-MPC2-style latent model implementing the WorldModel seam (see the module docstring)."""

    Config = TDMPC2Config
    compile_step: ClassVar[str] = "_next"  # the one-step map rollouts call per step

    def __init__(self, cfg: TDMPC2Config):
        super().__init__(cfg.action_dim)
        if cfg.variant not in VARIANTS:
            raise ValueError(f"unknown tdmpc2 variant {cfg.variant!r}; valid: {VARIANTS}")
        if cfg.latent_dim % cfg.simnorm_dim:
            raise ValueError(
                f"latent_dim {cfg.latent_dim} must be a multiple of simnorm_dim {cfg.simnorm_dim}"
            )
        regularizers.get(cfg.regularizer)  # fail early on an unknown name (ValueError)
        self.cfg = cfg
        d, a, m = cfg.latent_dim, cfg.action_dim, cfg.mlp_dim
        self.encoder = PixelEncoder(
            cfg.image_size, cfg.conv_channels, d, cfg.simnorm_dim, cfg.encoder_norm
        )
        self.dynamics = nn.Sequential(
            _normed(d + a, m), _normed(m, m), _normed(m, d, SimNorm(cfg.simnorm_dim))
        )
        self.reward_head = self.q_heads = self.target_q = None
        if cfg.variant == "goal":
            self.two_hot = TwoHot(cfg.num_bins, cfg.vmin, cfg.vmax)
            self.reward_head = _head(2 * d + a, m, cfg.num_bins)
            if cfg.num_q > 0:
                self.q_heads = nn.ModuleList(
                    _head(2 * d + a, m, cfg.num_bins) for _ in range(cfg.num_q)
                )
                self.target_q = copy.deepcopy(self.q_heads).requires_grad_(False)

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
        """uint8 pixels (B, T, H, W, 3) -> SimNorm latents (B, T, D)."""
        return self.encoder.simnorm(self._features(pixels))

    def _features(self, pixels: torch.Tensor) -> torch.Tensor:
        """uint8 pixels (B, T, H, W, 3) -> pre-SimNorm encoder features (B, T, D)."""
        s = self.cfg.image_size
        if pixels.ndim != 5 or tuple(pixels.shape[2:]) != (s, s, 3):
            raise ValueError(f"pixels must be (B, T, {s}, {s}, 3) uint8, got {tuple(pixels.shape)}")
        b, t = pixels.shape[:2]
        return self.encoder.features(pixels.reshape(b * t, s, s, 3)).reshape(b, t, -1)

    def rollout(
        self, z_context: torch.Tensor, actions: torch.Tensor, a_context: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Latent rollout from the last context latent: z_context (B, Tc, D), actions
        (B, N, Hp, A) -> (B, N, Hp, D). ``a_context`` is unused (history 1)."""
        check_rollout_inputs(self, z_context, actions)
        b, n, horizon, a_dim = actions.shape
        z = z_context[:, -1, None].expand(b, n, self.latent_dim).reshape(b * n, -1)
        a = self.normalise_actions(actions).reshape(b * n, horizon, a_dim)
        out = []
        for t in range(horizon):
            z = self._next(z, a[:, t])
            out.append(z)
        return torch.stack(out, 1).reshape(b, n, horizon, -1)

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """z (B, D), a (B, A) -> z_next (B, D)."""
        return self._next(z, self.normalise_actions(a))

    def _next(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """The latent dynamics on a normalised action block: (R, D), (R, A) -> (R, D)."""
        return self.dynamics(torch.cat([z, a], -1))

    def loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """consistency_coef * consistency (+ reward_coef * reward + value_coef * value)
        (+ lam * regulariser(pre-SimNorm features))."""
        pixels, actions = batch["pixels"], batch["actions"]
        if pixels.ndim != 5 or actions.ndim != 3 or pixels.shape[1] != actions.shape[1] + 1:
            raise ValueError(
                f"a window of T frames (B, T, H, W, 3) needs T - 1 action blocks (B, T - 1, A), "
                f"got pixels {tuple(pixels.shape)} and actions {tuple(actions.shape)}"
            )
        cfg = self.cfg
        horizon = actions.shape[1]
        feats = self._features(pixels)
        emb = self.encoder.simnorm(feats)
        a = self.normalise_actions(actions)
        target = emb[:, 1:].detach()
        weights = cfg.rho ** torch.arange(horizon, device=emb.device, dtype=torch.float32)
        zs, z = [emb[:, 0]], emb[:, 0]
        for t in range(horizon):
            z = self.dynamics(torch.cat([z, a[:, t]], -1))
            zs.append(z)
        zs = torch.stack(zs, 1)  # (B, H + 1, D): z_0 = enc(o_0), then the rollout
        per_step = (zs[:, 1:].float() - target.float()).square().mean((0, 2))
        consistency = (weights * per_step).sum() / horizon
        loss = cfg.consistency_coef * consistency
        logs = {
            "consistency": consistency.item(),
            "emb_std": emb.detach().float().std(0).mean().item(),
        }
        if cfg.regularizer != "none":  # statistics across the batch, per frame (LeWM's way)
            reg = regularizers.get(cfg.regularizer)(feats.transpose(0, 1))
            loss = loss + cfg.lam * reg
            logs["reg"] = reg.item()
        if cfg.variant == "goal":  # labels from the window indices alone (never batch["state"])
            goal_loss, goal_logs = self._goal_losses(emb, zs, a, weights)
            loss = loss + goal_loss
            logs.update(goal_logs)
        return loss, logs

    # ---- hindsight goals and rewards ------------------------------------------------------
    def hindsight_goals(
        self, b: int, t: int, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws one goal frame for each of ``b`` windows of ``t`` frames.

        Returns:
            goal_b (B,) and goal_t (B,): the window and frame of each window's goal; a goal in
            the window itself is a later frame (1..t-1), one in another window any frame.
        """
        if t < 2:
            raise ValueError(f"hindsight goals need windows of at least 2 frames, got {t}")
        goal_b = torch.arange(b, device=device)
        goal_t = torch.randint(1, t, (b,), device=device)
        if b > 1:
            other = torch.rand(b, device=device) < self.cfg.goal_other_prob
            shift = torch.randint(1, b, (b,), device=device)  # never the window itself
            goal_b = torch.where(other, (goal_b + shift) % b, goal_b)
            goal_t = torch.where(other, torch.randint(0, t, (b,), device=device), goal_t)
        return goal_b, goal_t

    @staticmethod
    def hindsight_rewards(
        goal_b: torch.Tensor, goal_t: torch.Tensor, horizon: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """HER's sparse reward of every block, from the goal's position alone.

        Args:
            goal_b, goal_t: (B,) the window and frame of each window's goal (``hindsight_goals``).
            horizon: action blocks per window (frames - 1).

        Returns:
            rewards (B, horizon): 0 for the block t whose next frame is the goal (same window,
            t + 1 == goal_t), else -1; reached (B, horizon): where the reward is 0.
        """
        if goal_b.ndim != 1 or goal_b.shape != goal_t.shape:
            raise ValueError(
                f"goal_b and goal_t must both be (B,), got {tuple(goal_b.shape)} and "
                f"{tuple(goal_t.shape)}"
            )
        own = goal_b == torch.arange(len(goal_b), device=goal_b.device)
        nxt = torch.arange(1, horizon + 1, device=goal_t.device)
        reached = own[:, None] & (nxt[None] == goal_t[:, None])
        return reached.float() - 1.0, reached

    def _goal_losses(self, emb, zs, a, weights) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.cfg
        b, horizon = a.shape[:2]
        goal_b, goal_t = self.hindsight_goals(b, horizon + 1, emb.device)
        rewards, reached = self.hindsight_rewards(goal_b, goal_t, horizon)
        z_goal = emb[goal_b, goal_t]  # with gradients: the heads shape the goal encoding too
        g = z_goal[:, None].expand(-1, horizon, -1)
        inputs = torch.cat([zs[:, :-1], a, g], -1)  # (B, H, 2D + A)
        r_logits = self.reward_head(inputs)
        reward_loss = (weights * self.two_hot.loss(r_logits, rewards).mean(0)).sum() / horizon
        loss = cfg.reward_coef * reward_loss
        logs = {
            "reward_loss": reward_loss.item(),
            "reward_mae": (self.two_hot.decode(r_logits.detach()) - rewards).abs().mean().item(),
            "reward_mean": rewards.mean().item(),
        }
        if self.q_heads is not None and horizon > 1:
            # SARSA targets on the dataset's next block: the planners, not a policy, act here.
            # Reaching the goal ends the episode: no bootstrap after the reaching block.
            with torch.no_grad():
                nxt = torch.cat([emb[:, 1:horizon].detach(), a[:, 1:], g[:, 1:].detach()], -1)
                q_next = torch.stack([self.two_hot.decode(q(nxt)) for q in self.target_q]).mean(0)
                td = rewards[:, :-1] + cfg.discount * (~reached[:, :-1]).float() * q_next
            w = weights[: horizon - 1]
            value_loss = sum(
                (w * self.two_hot.loss(q(inputs[:, :-1]), td).mean(0)).sum() for q in self.q_heads
            ) / (len(self.q_heads) * (horizon - 1))
            loss = loss + cfg.value_coef * value_loss
            logs["value_loss"] = value_loss.item()
        return loss, logs

    # ---- training hooks -------------------------------------------------------------------

    @torch.no_grad()
    def after_optimizer_step(self) -> None:
        """Moves the target Q heads toward the online ones (EMA rate ``tau``)."""
        if self.q_heads is None:
            return
        for p, q in zip(self.q_heads.parameters(), self.target_q.parameters()):
            q.lerp_(p, self.cfg.tau)


@dataclass
class TDMPC2SigRegConfig(TDMPC2Config):
    """TD-MPC2's hyper-parameters with SIGReg on the pre-SimNorm encoder features."""

    regularizer: str = field(default="sigreg", metadata={KEY_OMIT_DEFAULT: True})
    """Anti-collapse regulariser on the pre-SimNorm features (SIGReg here)."""
    lam: float = field(default=0.09, metadata={KEY_OMIT_DEFAULT: True})
    """Weight of the regulariser (LeWM's 0.09)."""


class TDMPC2SigReg(TDMPC2):
    """TD-MPC2 (hindsight-goal variant) plus SIGReg on its pre-SimNorm encoder features."""

    Config = TDMPC2SigRegConfig
