"""GRASP: gradient planning over lifted virtual states (arXiv 2602.00475).

Variables per episode: virtual states s_1..s_{H-1} and actions a_0..a_{H-1}; s_0 = z_context[:, -1]
and s_H = g = z_goal are fixed. With F = ``model.step`` and sg the stop-gradient on its STATE
input,

    p_t = F(sg(s_t), a_t),  t = 0..H-1        (all H calls as ONE batched step on B*H rows)
    L   = sum_t ||p_t - s_{t+1}||^2 + gamma * sum_t ||p_t - g||^2

so the states are pulled toward what the model predicts from their predecessors, and the
actions toward the next virtual state and the goal. Adam updates states (lr_s) and actions
(lr_a); Gaussian noise (std ``state_noise``) is added to the states only after each step;
actions are clipped into the box. Every ``sync_every`` iterations a sync refines the actions on
the true full-rollout cost ||rollout(z_context, a)_H - g||^2 (or the summed cost): ``sync="gd"``
runs ``sync_steps`` plain gradient steps (lr ``sync_lr``), ``sync="cem"`` runs ``sync_steps`` CEM
iterations around the current actions (``sync_samples`` samples, top ``sync_elites``). With
``sync_states`` (our choice; the reference leaves it open) the virtual states are then reset
to the rollout of the synced actions, so the lifted problem restarts from a dynamically
consistent trajectory. States start on the straight line s_0 -> g; actions start at zero or the
warm start. Every action sequence whose full-rollout cost is evaluated (sync steps and a final
rollout) is a candidate; the best one is returned. ``gamma`` is not given by the reference: 0.1
keeps the greedy goal pull weaker than the dynamics links.

Latent scale: lr_s and state_noise are in latent units and the sync gradient grows with the
square of the latent scale, so the author's LeWM settings assume latents of about unit
per-dimension scale (SIGReg) and need rescaling for other models. ``latent_scale`` multiplies
lr_s and state_noise and divides sync_lr by its square. The default, -1, is the model's own
scale: the evaluation measures it (the RMS over dimensions of the per-dimension std of the
model's encoded held-out frames, ``benchmark.evaluate.latent_scale``) and passes it in; called
directly with -1, GRASP assumes unit scale. 0
estimates it per episode as the RMS coordinate of s_0 and g (a poor estimate when the goal is
very far); a positive value is used as given. Only s_0 conditions the
one-step map: a model with ``history > 1`` gets its full context in the sync rollouts only.

Where gradients give no signal (a hard wall with a gap: tests/test_planners.py), the GD sync
cannot find the detour and ``sync="cem"`` is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from agents.planners.base import (
    Adam,
    BasePlanner,
    BestPlan,
    Range,
    check_config,
    elite_stats,
    goal_cost,
)
from agents.world_models.base import WorldModel

# State noise is drawn this many iterations at a time per episode (fewer generator calls).
NOISE_CHUNK = 50


@dataclass
class GRASPConfig:
    """GRASP settings; defaults are the author's LeWM settings (gamma is our choice)."""

    iterations: int = 750
    """Adam steps on the lifted problem per solve (one batched model.step + backward each)."""
    lr_s: float = 0.1
    """Adam learning rate of the virtual states, in latent units times ``latent_scale``."""
    lr_a: float = 0.005
    """Adam learning rate of the actions, in normalised action units."""
    gamma: float = 0.1
    """Weight of the dense goal term pulling every predicted state toward the goal."""
    state_noise: float = 0.005
    """Std of the Gaussian noise added to the virtual states after each step (x latent_scale)."""
    sync: Literal["gd", "cem", "none"] = "gd"
    """How actions are refined on the full-rollout cost every ``sync_every`` iterations."""
    sync_every: int = 50
    """Iterations between syncs."""
    sync_steps: int = 10
    """Plain gradient steps (sync="gd") or CEM iterations (sync="cem") per sync."""
    sync_lr: float = 0.05
    """Step size of the sync gradient steps (divided by latent_scale squared)."""
    sync_samples: int = 64
    """Samples per CEM-sync iteration (sample 0 is the current actions)."""
    sync_elites: int = 8
    """Elites per CEM-sync iteration."""
    sync_sigma: float = 0.5
    """Initial std of the CEM-sync samples around the current actions."""
    sync_states: bool = True
    """After each sync, reset the virtual states to the rollout of the synced actions."""
    latent_scale: float = -1.0
    """Per-dimension scale of the latents: -1 = the model's own (measured on held-out frames,
    about 1 for LeWM), 0 = per-episode RMS of s_0 and g, > 0 = this value."""
    cost: Literal["terminal", "summed"] = "terminal"
    """Full-rollout cost used by the syncs and for picking the returned plan."""

    def __post_init__(self) -> None:
        positive = Range(0, low_open=True)
        check_config(
            "grasp",
            self,
            iterations=Range(1),
            lr_s=positive,
            lr_a=positive,
            gamma=Range(0),
            state_noise=Range(0),
            sync_every=Range(1),
            sync_steps=Range(0),
            sync_lr=positive,
            sync_samples=Range(1),
            sync_elites=Range(1, self.sync_samples, high_name="sync_samples"),
            sync_sigma=positive,
            latent_scale=Range(-1),
        )


class GRASP(BasePlanner):
    """GRASP planner; see the module docstring for the objective and the schedule."""

    name = "grasp"
    Config = GRASPConfig

    def _solve(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        z_goal: torch.Tensor,
        init: torch.Tensor | None,
        a_context: torch.Tensor | None,
        gens: list[torch.Generator],
    ) -> torch.Tensor:
        cfg: GRASPConfig = self.config
        b, h, a, d = z_context.shape[0], self.horizon, model.action_dim, model.latent_dim
        with torch.inference_mode(False), torch.enable_grad():
            z_context, goal = z_context.clone(), z_goal.clone()
            start = z_context[:, -1]
            scale = self._scale(start, goal)  # (B, 1)
            # One flat buffer per episode holds traj = [s_0, s_1..s_{H-1}, g] and the actions:
            # one Adam update covers both (s_0 and g get zero gradient, so they never move), and
            # the inputs and targets of the H one-step calls are views of traj.
            n_traj = (h + 1) * d
            flat = goal.new_zeros(b, n_traj + h * a)
            traj, actions = flat[:, :n_traj].view(b, h + 1, d), flat[:, n_traj:].view(b, h, a)
            frac = torch.linspace(0, 1, h + 1, device=goal.device, dtype=goal.dtype)[:, None]
            traj.copy_(start[:, None] + frac * (goal - start)[:, None])
            traj[:, -1] = goal
            if init is not None:
                actions.copy_(init)
            states = traj[:, 1:h]
            grad = torch.zeros_like(flat)
            grad_states = grad[:, d : h * d].view(b, h - 1, d)
            grad_actions = grad[:, n_traj:].view(b, h, a)
            lr = torch.full_like(flat, cfg.lr_a)
            lr[:, :n_traj] = cfg.lr_s * scale
            adam = Adam([flat], [lr])
            best = BestPlan(actions)
            noise = goal.new_empty(0)
            for it in range(cfg.iterations):
                a_in = actions.contiguous().requires_grad_(True)
                pred = self._step(model, traj[:, :h].reshape(b * h, d), a_in.view(b * h, a))
                # Gradients of L / 2 by hand (Adam ignores a constant factor). The state input
                # is not differentiated (the stop-gradient), so the model's backward runs
                # toward the actions only; the states' gradient is s_{t+1} - p_t.
                p = pred.detach().view(b, h, d)
                grad_pred = torch.add(p - traj[:, 1:], p - goal[:, None], alpha=cfg.gamma)
                torch.sub(traj[:, 1:h], p[:, : h - 1], out=grad_states)
                (grad_a,) = self._grad(pred, [a_in], grad_pred.view(b * h, d))
                grad_actions.copy_(grad_a)
                adam.step([grad])
                with torch.no_grad():
                    actions.clamp_(-1.0, 1.0)
                    if cfg.state_noise > 0 and h > 1:
                        k = it % NOISE_CHUNK
                        if k == 0:
                            count = min(NOISE_CHUNK, cfg.iterations - it)
                            noise = self._randn(gens, (count, h - 1, d), like=states)
                            noise.mul_(cfg.state_noise * scale[:, :, None, None])
                        states.add_(noise[:, k])
                self.stats["iterations"] += 1
                if (it + 1) % cfg.sync_every == 0 and cfg.sync != "none" and cfg.sync_steps > 0:
                    self._sync(
                        model, z_context, goal, a_context, actions, states, scale, gens, best
                    )
            # NaN/inf from the model sticks in the Adam moments, so checking the end suffices.
            self._watch(flat)
            with torch.no_grad():
                costs, _ = self._full_cost(model, z_context, goal, a_context, actions[:, None])
                best.update(actions[:, None], costs)
        return best.actions

    def _scale(self, start: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        cfg: GRASPConfig = self.config
        if cfg.latent_scale != 0:
            # -1 without the evaluation's measurement: unit scale (never a statistic of the
            # batch, so that an episode's plan does not depend on the others planned with it)
            return start.new_full((start.shape[0], 1), abs(cfg.latent_scale))
        rms = torch.cat([start, goal], dim=1).square().mean(dim=1, keepdim=True).sqrt()
        return rms.clamp_min(1e-6)

    def _full_cost(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        goal: torch.Tensor,
        a_context: torch.Tensor | None,
        candidates: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-rollout costs (B, N) of candidates (B, N, H, A), and the predictions."""
        z_pred = self._rollout(model, z_context, candidates, a_context)
        costs = goal_cost(z_pred, goal, self.summed)
        self._watch(costs)
        return costs, z_pred

    def _sync(
        self,
        model: WorldModel,
        z_context: torch.Tensor,
        goal: torch.Tensor,
        a_context: torch.Tensor | None,
        actions: torch.Tensor,
        states: torch.Tensor,
        scale: torch.Tensor,
        gens: list[torch.Generator],
        best: BestPlan,
    ) -> None:
        """Refine ``actions`` in place on the full-rollout cost; optionally re-sync the states."""
        cfg: GRASPConfig = self.config
        if cfg.sync == "gd":
            step_size = cfg.sync_lr / scale[:, :, None].square()
            for _ in range(cfg.sync_steps):
                a_in = actions.detach()[:, None].requires_grad_(True)
                costs, _ = self._full_cost(model, z_context, goal, a_context, a_in)
                best.update(a_in, costs)
                (grad,) = self._grad(costs.sum(), [a_in])
                with torch.no_grad():
                    actions.sub_(step_size * grad[:, 0]).clamp_(-1.0, 1.0)
        else:
            with torch.no_grad():
                mean = actions.clone()
                std = torch.full_like(mean, cfg.sync_sigma)
                for _ in range(cfg.sync_steps):
                    noise = self._randn(gens, (cfg.sync_samples, *mean.shape[1:]), like=mean)
                    candidates = (mean[:, None] + std[:, None] * noise).clamp_(-1.0, 1.0)
                    candidates[:, 0] = mean
                    costs, _ = self._full_cost(model, z_context, goal, a_context, candidates)
                    best.update(candidates, costs)
                    mean, std = elite_stats(candidates, costs, cfg.sync_elites)
                actions.copy_(mean)
        if cfg.sync_states and states.shape[1] > 0:
            with torch.no_grad():
                costs, z_pred = self._full_cost(model, z_context, goal, a_context, actions[:, None])
                best.update(actions[:, None], costs)
                states.copy_(z_pred[:, 0, :-1])
