"""Planner speed: wall time per solve and per episode, model work, and planner overhead.

For every planner and batch size (episodes planned in one call) on each device, times a solve
and reports model calls, one-step predictions (rollout_steps) and OVERHEAD = solve time / time
of the bare model passes the planner made. The bare time comes from replaying the recorded model
calls (same shapes, same grad mode, a backward w.r.t. the same inputs where the planner took
one) in isolation. Overhead near 1 means the planner's own bookkeeping is negligible.
TFLOP/s is the FLOPs of those model passes (counted once per distinct call with
``torch.utils.flop_counter``, forward and any backward) over the solve time.

``--precision bf16|tf32`` and ``--compile`` plan with the speed options of ``agents.speed`` (the
replayed bare passes use them too), so one script measures before and after.

Usage:
    python -m benchmark.scripts.planning_speed [--device auto] [--batch-sizes 1 10 50]
        [--planners cem mppi grasp gd] [--budget default] [--model lewm-quick] [--csv out.csv]
        [--precision fp32] [--compile] [--compile-backend inductor]

``--model lewm-quick`` (the default) plans with the LeWM quick preset; any registered model
works as ``<model>-<preset>``; ``--model mlp`` is a stand-in residual MLP (latent 64, action
block 10, hidden 256, ~0.17M parameters).
"""

from __future__ import annotations

import csv
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

import torch
import tyro
from tabulate import tabulate
from torch import nn

from agents import planners, world_models
from agents.speed import DEFAULT_SPEED, Precision, SolveSpeed, model_pass, solve_context
from agents.world_models.base import check_rollout_inputs
from benchmark.provenance import banner
from benchmark.scripts.flops import count_flops, tflops_per_s

# Reduced budgets for a fast look; "default" uses every planner's published defaults.
BUDGETS: dict[str, dict[str, dict]] = {
    "default": {},
    "tiny": {  # a code-path check, seconds on a CPU
        "cem": dict(samples=16, elites=4, iterations=2),
        "mppi": dict(samples=16, iterations=2),
        "grasp": dict(iterations=4, sync_every=2, sync_steps=1),
        "gd": dict(iterations=2),
    },
    "quick": {
        "cem": dict(iterations=10),
        "mppi": dict(iterations=10),
        "grasp": dict(iterations=150),
        "gd": dict(iterations=30),
    },
}


class StandInMLP(nn.Module):
    """Residual MLP world model: z' = z + f([z, a]); rollouts from the last context frame."""

    history = 1

    def __init__(self, latent_dim: int = 64, action_dim: int = 10, hidden: int = 256) -> None:
        super().__init__()
        self.latent_dim, self.action_dim = latent_dim, action_dim
        self.net = nn.Sequential(
            nn.Linear(latent_dim + action_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, latent_dim),
        )

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("the stand-in model plans on given latents only")

    def loss(self, batch):
        raise NotImplementedError("the stand-in model is not trained")

    def step(self, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        return z + self.net(torch.cat([z, a], dim=-1))

    def rollout(self, z_context, actions, a_context=None):
        check_rollout_inputs(self, z_context, actions)
        b, n, h, a = actions.shape
        z = z_context[:, -1:].expand(b, n, -1).reshape(b * n, -1)
        flat = actions.reshape(b * n, h, a)
        out = []
        for t in range(h):
            z = self.step(z, flat[:, t])
            out.append(z)
        return torch.stack(out, dim=1).reshape(b, n, h, -1)


def make_standin_mlp() -> nn.Module:
    return StandInMLP()


def make_world_model(spec: str) -> nn.Module:
    """``mlp`` (the stand-in) or ``<model>-<preset>`` of any registered world model, e.g.
    ``lewm-quick`` or ``lewm-paper``, built untrained at its preset's image size with an action
    block of 10 (latents are given, so the encoder is never called; an untrained model costs
    the same as a trained one)."""
    if spec == "mlp":
        return make_standin_mlp()
    from agents import world_models

    name, _, preset = spec.rpartition("-")
    if not name:
        raise ValueError(f"--model must be mlp or <model>-<preset>, got {spec!r}")
    torch.manual_seed(0)
    size = world_models.build_config(name, preset).image_size
    return world_models.make(name, image_size=size, action_dim=10, preset=preset).eval()


@dataclass(frozen=True)
class Call:
    """One model call a planner made: which method, input shapes, grad mode, grad inputs."""

    method: str
    shapes: tuple[tuple[int, ...] | None, ...]
    grad: bool
    needs_grad: tuple[bool, ...]


class Recorder:
    """Wraps a world model and records every rollout/step call (for the replay)."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.calls = model, []
        self.latent_dim, self.action_dim = model.latent_dim, model.action_dim
        self.history = model.history

    def _record(self, method: str, args: tuple) -> None:
        self.calls.append(
            Call(
                method,
                tuple(None if x is None else tuple(x.shape) for x in args),
                torch.is_grad_enabled(),
                tuple(x is not None and x.requires_grad for x in args),
            )
        )

    def rollout(self, z_context, actions, a_context=None):
        self._record("rollout", (z_context, actions, a_context))
        return world_models.rollout(self.model, z_context, actions, a_context)

    def step(self, z, a):
        self._record("step", (z, a))
        return self.model.step(z, a)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _inputs(calls: list[Call], device: torch.device) -> dict[Call, list]:
    """Random inputs in the box, one set per distinct call."""
    inputs: dict[Call, list] = {}
    for call in calls:
        if call not in inputs:
            args = [
                None if shape is None else torch.rand(shape, device=device) * 2 - 1
                for shape in call.shapes
            ]
            inputs[call] = [
                x.requires_grad_(True) if need else x for x, need in zip(args, call.needs_grad)
            ]
    return inputs


def _run(model: nn.Module, call: Call, args: list) -> None:
    """One recorded call, with its backward w.r.t. the inputs that needed a gradient."""
    with torch.set_grad_enabled(call.grad):
        if call.method == "rollout":  # a_context only where there is one (two-argument models)
            out = world_models.rollout(model, *args)
        else:
            out = getattr(model, call.method)(*args)
        wrt = [x for x in args if x is not None and x.requires_grad]
        if wrt and out.requires_grad:
            torch.autograd.grad(out.square().sum(), wrt)


def replay_time(
    model: nn.Module, calls: list[Call], device: torch.device, speed: SolveSpeed = DEFAULT_SPEED
) -> float:
    """Seconds for the same model calls (and backward passes) made back to back, with the
    planner's speed options."""
    inputs = _inputs(calls, device)
    with solve_context(model, speed, device), model_pass(speed, device):
        sync(device)
        start = time.perf_counter()
        for call in calls:
            _run(model, call, inputs[call])
        sync(device)
    return time.perf_counter() - start


def replay_flops(model: nn.Module, calls: list[Call], device: torch.device) -> int:
    """FLOPs of the recorded calls (and backward passes): each distinct call counted once on
    the uncompiled model, times how often it was made."""
    inputs = _inputs(calls, device)
    return sum(
        times * count_flops(lambda c=call: _run(model, c, inputs[c]))
        for call, times in Counter(calls).items()
    )


def measure(
    model: nn.Module,
    name: str,
    batch: int,
    horizon: int,
    budget: dict,
    device: torch.device,
    repeats: int,
    speed: SolveSpeed = DEFAULT_SPEED,
) -> dict:
    """Times ``repeats`` solves (the fastest counts) of planner ``name`` on ``batch`` episodes."""
    gen = torch.Generator().manual_seed(batch)
    z_context = torch.randn(batch, 1, model.latent_dim, generator=gen).to(device)
    z_goal = torch.randn(batch, model.latent_dim, generator=gen).to(device)
    planner = planners.make(name, horizon=horizon, seed=0, **budget.get(name, {}))
    recorder = Recorder(model)
    planner.plan(recorder, z_context, z_goal)  # warm-up, and the calls to replay
    planner.speed = speed
    if not speed.is_default:
        planner.plan(model, z_context, z_goal)  # warm-up at this speed (compiles)
        replay_time(model, recorder.calls, device, speed)
    solve, bare = [], []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        planner.plan(model, z_context, z_goal)
        sync(device)
        solve.append(time.perf_counter() - start)
        bare.append(replay_time(model, recorder.calls, device, speed))
    # min, not median: the CPU is shared, and noise only ever adds time.
    solve_s, bare_s = min(solve), min(bare)
    flops = replay_flops(model, recorder.calls, device)
    return {
        "device": device.type,
        "planner": name,
        "precision": speed.precision,
        "compile": speed.compile,
        "B": batch,
        "solve s": round(solve_s, 4),
        "TFLOP/s": tflops_per_s(flops, solve_s),
        "GFLOP / solve": float(f"{flops / 1e9:.4g}"),
        "s / episode": round(solve_s / batch, 4),
        "model calls": int(planner.stats["model_calls"]),
        "rollout steps": int(planner.stats["rollout_steps"]),
        "backward": int(planner.stats["backward_calls"]),
        "bare model s": round(bare_s, 4),
        "overhead": round(solve_s / bare_s, 3),
    }


def devices(choice: str) -> list[torch.device]:
    if choice == "auto":
        return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    return [torch.device(choice)]


@dataclass
class PlanningSpeedConfig:
    """Which planners, batch sizes, model and speed options to time, and where."""

    device: str = "auto"
    """auto (CPU, plus CUDA if available), cpu or cuda."""
    batch_sizes: tuple[int, ...] = (1, 10, 50)
    """Episodes planned in one call."""
    planners: list[str] = field(default_factory=planners.names)
    """Planners (default: every registered planner)."""
    horizon: int = 5
    """Planned action blocks."""
    budget: Literal["default", "tiny", "quick"] = "default"
    """Planner budgets (``BUDGETS``): the published defaults, or reduced ones for a fast look."""
    model: str = "lewm-quick"
    """mlp or <model>-<preset>."""
    repeats: int = 3
    """Timed solves (the fastest counts)."""
    threads: int = 0
    """Torch CPU threads (0: keep)."""
    csv: str | None = None
    """Also write the rows to this CSV file."""
    precision: Precision = "fp32"
    """Model passes (tf32: CUDA only)."""
    compile: bool = False
    """torch.compile the model's one-step function."""
    compile_backend: str | None = None
    """torch.compile backend (default: $WMBENCH_COMPILE_BACKEND or inductor)."""


def run(cfg: PlanningSpeedConfig) -> list[dict]:
    """One row per device, planner and batch size; prints the table."""
    print(banner(str(cfg.device)), flush=True)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    speed = SolveSpeed(cfg.precision, cfg.compile, cfg.compile_backend)
    rows = []
    for device in devices(cfg.device):
        model = make_world_model(cfg.model).to(device).eval()
        for name in cfg.planners:
            for batch in cfg.batch_sizes:
                row = measure(
                    model,
                    name,
                    batch,
                    cfg.horizon,
                    BUDGETS[cfg.budget],
                    device,
                    cfg.repeats,
                    speed,
                )
                rows.append(row)
                print(row, file=sys.stderr, flush=True)  # progress; the table goes to stdout
    params = sum(p.numel() for p in make_world_model(cfg.model).parameters())
    print(
        f"\nmodel {cfg.model} ({params / 1e6:.2f}M params), horizon {cfg.horizon}, "
        f"budget {cfg.budget}, torch threads {torch.get_num_threads()}, "
        f"{speed.describe() or 'precision=fp32, uncompiled'}\n"
    )
    print(tabulate(rows, headers="keys", tablefmt="github"))
    if cfg.csv:
        with open(cfg.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    return run(tyro.cli(PlanningSpeedConfig, args=argv, description=__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
