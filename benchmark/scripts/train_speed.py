"""Training throughput of the world-model presets: samples (windows) per second.

Times full optimiser steps (encode every frame, predict, loss with the regulariser, backward,
AdamW, fused on CUDA) on random batches of the preset's window shape, after warm-up steps.
TFLOP/s is the FLOPs of one forward and backward (``torch.utils.flop_counter``) over the step
time; ``--compile`` compiles the loss as ``train --compile`` does.

Usage:
    python -m benchmark.scripts.train_speed [--models lewm] [--presets quick paper] [--device auto]
        [--compile] [--compile-backend inductor]
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import tyro
from tabulate import tabulate

from agents import world_models
from agents.speed import compile_fn
from agents.world_models.modules import count_parameters
from benchmark import suites
from benchmark.device import resolve_device
from benchmark.provenance import banner
from benchmark.scripts.flops import count_flops, tflops_per_s
from benchmark.train import make_optimizer


def measure(
    model_name: str,
    preset: str,
    device: torch.device,
    batch_size: int | None,
    steps: int,
    warmup: int = 2,
    compile: bool = False,
    compile_backend: str | None = None,
) -> dict:
    """Seconds per optimiser step, throughput and TFLOP/s of one model at one preset."""
    torch.manual_seed(0)
    size = suites.get(preset).image_size
    cfg = world_models.build_config(model_name, preset, image_size=size, action_dim=10)
    model = world_models.from_config(model_name, cfg).to(device).train()
    training = suites.training(model_name, preset)
    b = batch_size or training["batch_size"]
    t = cfg.history + training["num_preds"]
    batch = {
        "pixels": torch.randint(0, 255, (b, t, size, size, 3), dtype=torch.uint8, device=device),
        "actions": torch.rand(b, t - 1, 10, device=device) * 2 - 1,
        "proprio": torch.zeros(b, t, 4, device=device),
        "state": torch.zeros(b, t, 4, dtype=torch.float64, device=device),
    }
    opt = make_optimizer(model.parameters(), 1e-4, 0.0, device)
    use_bf16 = device.type == "cuda"
    loss_fn = compile_fn(model.loss, compile_backend) if compile else model.loss

    def forward_backward(fn) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            loss, _ = fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()

    def one_step() -> None:
        forward_backward(loss_fn)
        opt.step()

    flops = count_flops(lambda: forward_backward(model.loss))  # uncompiled: ops are visible

    for _ in range(warmup):
        one_step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        one_step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / steps
    return {
        "model": model_name,
        "preset": preset,
        "compile": compile,
        "params_M": round(count_parameters(model) / 1e6, 2),
        "px": size,
        "window frames": t,
        "batch": b,
        "s/step": round(dt, 3),
        "samples/s": round(b / dt, 1),
        "frames/s": round(b * t / dt, 1),
        "GFLOP/step": float(f"{flops / 1e9:.4g}"),
        "TFLOP/s": tflops_per_s(flops, dt),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
    }


@dataclass
class TrainSpeedConfig:
    """Which models and presets to time, where and how."""

    models: tuple[str, ...] = ("lewm",)
    """World models."""
    presets: tuple[str, ...] = ("quick", "paper")
    """Model presets (each at its image size)."""
    device: str = "auto"
    """auto, cpu or cuda[:i]."""
    steps: int = 5
    """Timed optimiser steps (after 2 warm-up steps)."""
    paper_cpu_batch: int = 8
    """Batch for the paper preset on CPU (its 128 takes minutes a step)."""
    compile: bool = False
    """torch.compile the loss."""
    compile_backend: str | None = None
    """torch.compile backend (default: $WMBENCH_COMPILE_BACKEND or inductor)."""


def run(cfg: TrainSpeedConfig) -> list[dict]:
    """One row per model and preset; prints the table."""
    print(banner(str(resolve_device(cfg.device))), flush=True)
    device = resolve_device(cfg.device)
    rows = []
    for m in cfg.models:
        for p in cfg.presets:
            b = cfg.paper_cpu_batch if p == "paper" and device.type == "cpu" else None
            rows.append(
                measure(
                    m,
                    p,
                    device,
                    b,
                    cfg.steps,
                    compile=cfg.compile,
                    compile_backend=cfg.compile_backend,
                )
            )
    print(tabulate(rows, headers="keys", tablefmt="github"))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    return run(tyro.cli(TrainSpeedConfig, args=argv, description=__doc__.splitlines()[0]))


if __name__ == "__main__":
    main()
