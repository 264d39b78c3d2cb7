"""Offline world-model training: AdamW with warmup + cosine, grad clipping, bf16 autocast on
GPU, TensorBoard scalars, atomic safetensors checkpoints, resume, and torchrun/DDP.

GPU speed: fused AdamW on CUDA (a resumed run keeps the setting it was saved with), optional
``torch.compile`` of the loss (``--compile``), and batches built ``PREFETCH`` steps ahead on a
background thread (pinned, copied with ``non_blocking``); the history logs ``data_wait_frac``,
the fraction of wall time the loop waited for a batch.

Usage:
    python run_benchmark.py train --dataset data/datasets/<name> --model lewm --preset quick
    torchrun --nproc-per-node 2 -m benchmark.train --dataset ... --out ...   # data parallel

Each run directory holds ``checkpoint/`` (the last good state, see ``benchmark.checkpoint``),
``tb/`` (TensorBoard) and ``history.jsonl`` (the logged scalars). Re-running the same command
resumes from the checkpoint; a finished run is returned as is.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from agents import regularizers, world_models
from agents.planners.base import Range
from agents.speed import compile_fn
from benchmark import checkpoint, suites
from benchmark.datasets import Recording, Windows
from benchmark.device import resolve_device
from benchmark.metrics import cosine
from benchmark.options import check_options, check_writable
from benchmark.provenance import code_version, fingerprint, git_commit, machine, package_versions

# TrainConfig fields that only change speed; recorded in the checkpoint's "speed" entry.
SPEED_OPTIONS = ("compile",)
# Batches built ahead of the step that trains on them.
PREFETCH = 2


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """One training run: a model, a dataset, and how to optimise."""

    dataset: Path
    """Dataset directory made by ``collect``."""
    out: Path
    """Run directory (checkpoint, TensorBoard, history)."""
    model: str = "lewm"
    """World model name (see ``agents.world_models.names()``)."""
    preset: str = "quick"
    """Model and optimisation preset: smoke, quick or paper."""
    model_options: dict[str, bool | int | float | str] = field(default_factory=dict)
    """Overrides of the model preset, e.g. `--model-options regularizer none lam 0.1`."""
    steps: int | None = None
    """Optimiser steps (None: the preset's)."""
    batch_size: int | None = None
    """Global batch size in windows (None: the preset's); split across DDP ranks."""
    frameskip: int = 5
    """Env steps between the frames of a window (the action block is frameskip env actions)."""
    num_preds: int | None = None
    """Frames predicted per window; windows hold the model's history + num_preds frames
    (None: the preset's)."""
    lr: float | None = None
    """Peak learning rate (None: the preset's)."""
    weight_decay: float = 1e-3
    """AdamW weight decay."""
    warmup_steps: int | None = None
    """Linear warmup steps before the cosine decay (None: the preset's)."""
    grad_clip: float = 1.0
    """Gradient-norm clip."""
    seed: int = 0
    """Seed of the initialisation and the batch order."""
    device: str = "auto"
    """``auto`` (CUDA when present), ``cpu`` or ``cuda[:i]``."""
    log_every: int | None = None
    """Steps between logged scalars."""
    ckpt_every: int | None = None
    """Steps between checkpoints."""
    eval_every: int | None = None
    """Steps between held-out 1-step cosine checks (model vs copy-last)."""
    compile: bool = False
    """torch.compile the model's loss (backend from $WMBENCH_COMPILE_BACKEND, default
    inductor); a speed option, not part of the run's fingerprint."""

    def __post_init__(self) -> None:
        check_options(
            self,
            steps=Range(1),
            batch_size=Range(1),
            frameskip=Range(1),
            num_preds=Range(1),
            lr=Range(0, low_open=True),
            weight_decay=Range(0),
            warmup_steps=Range(0),
            grad_clip=Range(0, math.inf, low_open=True),
            seed=Range(0),
            log_every=Range(1),
            ckpt_every=Range(1),
            eval_every=Range(1),
        )
        if self.frameskip is None:
            raise ValueError("frameskip (--frameskip) must be an integer >= 1, got None")
        if not isinstance(self.compile, bool):
            raise ValueError(f"compile (--compile) must be True or False, got {self.compile!r}")

    def resolved(self) -> TrainConfig:
        """The config with the preset's values (``benchmark.suites.training``) in place of
        every None: what the run really uses."""
        preset = suites.training(self.model, self.preset)
        filled = {k: v for k, v in preset.items() if getattr(self, k) is None}
        return dataclasses.replace(self, **filled)

    def record(self) -> dict[str, Any]:
        """The resolved config as recorded with runs and cells, without the speed options
        (``SPEED_OPTIONS``): they change how fast, not what is computed, so run fingerprints
        and grid keys stay those of runs made before they existed."""
        d = dataclasses.asdict(self.resolved())
        for key in SPEED_OPTIONS:
            d.pop(key)
        return d

    def windows(self, history: int) -> Windows:
        """How this run cuts its windows, for a model with ``history`` context frames."""
        return Windows(self.frameskip, history, self.resolved().num_preds)


def lr_at(step: int, peak: float, warmup: int, total: int) -> float:
    """Linear warmup to ``peak`` then cosine decay to 0 at ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class _LossModule(torch.nn.Module):
    """DDP syncs gradients of ``forward``; the world model's seam method is ``loss``."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch):
        return self.model.loss(batch)


def make_optimizer(
    params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW, fused (one kernel for all parameters) on CUDA; PyTorch's default elsewhere."""
    fused = True if device.type == "cuda" else None
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused)


class Prefetcher:
    """Builds the batches of the next steps on a background thread while a step trains.

    ``load(step)`` must depend on the step alone (``BatchOrder`` does), so batches, and a
    resumed run, are the same as when they are built in the loop. ``pin`` pins them in page-
    locked memory, so that the copy to the GPU can be ``non_blocking``.
    """

    def __init__(
        self,
        load: Callable[[int], dict[str, torch.Tensor]],
        stop: int,
        pin: bool = False,
        depth: int = PREFETCH,
    ) -> None:
        self.load, self.stop, self.pin, self.depth = load, stop, pin, depth
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wmbench-prefetch")
        self._pending: dict[int, Future] = {}
        self.wait_s = 0.0
        """Seconds ``get`` blocked waiting for a batch (reset by whoever reads it)."""

    def _build(self, step: int) -> dict[str, torch.Tensor]:
        batch = self.load(step)
        return {k: v.pin_memory() for k, v in batch.items()} if self.pin else batch

    def get(self, step: int) -> dict[str, torch.Tensor]:
        """The batch of ``step``; the next ``depth`` are queued behind it."""
        for s in range(step, min(step + self.depth + 1, self.stop)):
            if s not in self._pending:
                self._pending[s] = self._pool.submit(self._build, s)
        start = time.perf_counter()
        batch = self._pending.pop(step).result()
        self.wait_s += time.perf_counter() - start
        return batch

    def close(self) -> None:
        """Drops the queued batches and stops the thread."""
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=True)


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in batch.items():
        v = v.to(device, non_blocking=True)
        out[k] = v.float() if v.dtype == torch.float64 and k != "state" else v
    return out


@torch.no_grad()
def heldout_check(model, batch: dict[str, torch.Tensor]) -> dict[str, float]:
    """1-step cosine of the model vs the copy-last baseline, and embedding diagnostics."""
    was_training = model.training
    model.eval()
    z = model.encode(batch["pixels"])
    h = model.history
    a_ctx = batch["actions"][:, : h - 1] if h > 1 else None
    pred = world_models.rollout(model, z[:, :h], batch["actions"][:, None, h - 1 : h], a_ctx)
    true = z[:, h]
    flat = z[:, 0].float()
    model.train(was_training)
    return {
        "cos_1": cosine(pred[:, 0, 0], true).mean().item(),
        "cos_copy_1": cosine(z[:, h - 1], true).mean().item(),
        "effective_rank": float(regularizers.effective_rank(flat)),
        "effective_rank_uncentred": float(regularizers.effective_rank(flat, center=False)),
        "condition_number": float(regularizers.condition_number(flat)),
        "emb_std": flat.std(0).mean().item(),
    }


def _setup_distributed(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world


@dataclass
class Run:
    """One training run being set up: what ``train`` builds before its loop."""

    cfg: TrainConfig
    """The resolved config."""
    out: Path
    device: torch.device
    rank: int
    world: int
    recording: Recording
    model: torch.nn.Module
    windows: Windows
    meta: dict[str, Any]
    """What the checkpoint records about the run (config, fingerprints, dataset, windows)."""

    @property
    def ckpt_dir(self) -> Path:
        return self.out / "checkpoint"


def train(cfg: TrainConfig, progress: bool = True) -> Path:
    """Trains (or resumes, or returns a finished) run; returns its checkpoint directory."""
    run = setup(cfg, progress)
    opt = make_optimizer(run.model.parameters(), run.cfg.lr, run.cfg.weight_decay, run.device)
    state = resume(run, opt)
    if state["step"] >= run.cfg.steps:
        return run.ckpt_dir
    fit(run, opt, state, progress)
    return run.ckpt_dir


def setup(cfg: TrainConfig, progress: bool = True) -> Run:
    """Checks the options, picks the device (and DDP rank), opens the dataset and builds the
    seeded model with the dataset's action statistics."""
    c = cfg.resolved()
    check_writable(cfg.out, "--out")
    device = resolve_device(cfg.device)
    rank, world = _setup_distributed(device)
    if c.batch_size < world:
        raise ValueError(
            f"batch_size (--batch-size) must be >= the {world} DDP ranks, got {c.batch_size}"
        )
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    rec = Recording.open(cfg.dataset, progress=progress and rank == 0)
    model_cfg = world_models.build_config(
        cfg.model,
        cfg.preset,
        **{
            **cfg.model_options,
            "image_size": rec.image_size,
            "action_dim": c.frameskip * rec.info["action_dim"],
        },
    )
    windows = c.windows(model_cfg.history)
    record = c.record()
    run_key = {
        "train": {k: v for k, v in record.items() if k not in ("out", "device", "dataset")},
        "model_config": world_models.config_key(model_cfg),
        "dataset": rec.info["fingerprint"],
        "code": code_version("train"),
    }
    meta = {
        "model": cfg.model,
        "model_config": asdict(model_cfg),
        "train_config": record,
        "windows": asdict(windows),
        "run_fingerprint": fingerprint(run_key),
        "code_version": code_version("train"),
        "device_name": machine(str(device)),
        "dataset": {
            "path": str(cfg.dataset),
            "fingerprint": rec.info["fingerprint"],
            "env_id": rec.env_id,
            "image_size": rec.image_size,
        },
    }
    torch.manual_seed(cfg.seed)
    model = world_models.from_config(cfg.model, model_cfg)
    missing = world_models.missing_members(model, world_models.Trainable)
    if missing:
        raise TypeError(
            f"world model {cfg.model!r} cannot be trained: it lacks {', '.join(missing)} "
            "(see agents.world_models.Trainable; TrainableModel implements the hooks)"
        )
    model.set_action_stats(*rec.action_stats(windows.frameskip))
    model.to(device)
    return Run(c, Path(cfg.out), device, rank, world, rec, model, windows, meta)


def resume(run: Run, opt: torch.optim.Optimizer) -> dict[str, Any]:
    """The loop state to start from: a fresh one, or the checkpoint's (model, optimiser and
    RNG restored) when ``run.out`` holds the same run; another run there is an error."""
    state: dict[str, Any] = {"step": 0, "wall_s": 0.0, "history_lines": 0, "beat_copy_at": None}
    ckpt_dir = run.ckpt_dir
    if (
        not (ckpt_dir / "config.json").exists()
        and not ckpt_dir.with_name("checkpoint.old").exists()
    ):
        return state
    prev = checkpoint.read_config(ckpt_dir)
    if prev.get("run_fingerprint") != run.meta["run_fingerprint"]:
        raise checkpoint.CheckpointError(
            f"{run.out} holds a run with a different config, dataset or code version; pass "
            "another --out or delete it"
        )
    loaded, _ = checkpoint.load_model(ckpt_dir, run.device, run.recording.info["fingerprint"])
    run.model.load_state_dict(loaded.state_dict())
    state = checkpoint.load_training_state(ckpt_dir, opt)
    torch.set_rng_state(torch.tensor(state.pop("rng"), dtype=torch.uint8))
    return state


def fit(run: Run, opt: torch.optim.Optimizer, state: dict[str, Any], progress: bool) -> None:
    """The optimisation loop from ``state["step"]`` to ``steps``: logs, held-out checks and
    checkpoints on their schedules; a non-finite loss raises ``TrainingDiverged``."""
    c, model, device = run.cfg, run.model, run.device
    windows = run.windows.dataset(run.recording, "train")
    eval_batch = heldout_batch(run)
    loss_fn = _loss_fn(run)
    batches = BatchOrder(len(windows), c.batch_size, c.seed, run.rank, run.world)
    prefetch = Prefetcher(
        lambda s: windows.__getitems__(batches.indices(s)), c.steps, pin=device.type == "cuda"
    )
    save_meta = {
        **run.meta,
        "speed": {"compile": c.compile, "fused_adamw": bool(opt.param_groups[0].get("fused"))},
        "device": str(device),
        "world_size": run.world,
        "versions": package_versions(),
        "git_commit": git_commit(),
    }
    log = TrainLog(run, state, progress)
    step = state["step"]
    model.train()
    try:
        while step < c.steps:
            batch = _to(prefetch.get(step), device)
            loss, logs, grad_norm = optimise(run, opt, loss_fn, batch, step)
            step += 1
            log.count(batch["pixels"].shape[0] * run.world)
            if run.rank != 0:
                continue
            evaluate = step % c.eval_every == 0 or step == c.steps
            if step % c.log_every == 0 or evaluate:
                row = {"step": step, "loss": loss.item(), **logs, "grad_norm": float(grad_norm)}
                row["lr"] = opt.param_groups[0]["lr"]
                check = (lambda: heldout_check(model, eval_batch)) if evaluate else None
                log.write(row, prefetch, check)
            if step % c.ckpt_every == 0 or step == c.steps:
                state["step"] = step
                log.flush()
                checkpoint.save(
                    run.ckpt_dir,
                    model,
                    {
                        **save_meta,
                        "step": step,
                        "complete": step >= c.steps,
                        "train_wall_s": state["wall_s"],
                        "beat_copy_at": state["beat_copy_at"],
                    },
                    opt,
                    {**state, "rng": torch.get_rng_state().tolist()},
                )
    finally:
        prefetch.close()
        log.close()


def heldout_batch(run: Run) -> dict[str, torch.Tensor]:
    """The fixed held-out windows (256 at most, one predicted frame) of the 1-step checks."""
    heldout = run.windows.dataset(run.recording, "test", num_preds=1)
    pick = np.random.default_rng(0).choice(len(heldout), min(256, len(heldout)), replace=False)
    return _to(heldout.__getitems__(pick.tolist()), run.device)


def _loss_fn(run: Run) -> Callable[[dict[str, torch.Tensor]], Any]:
    """The model's loss as one module (wrapped in DDP over several ranks, compiled on ask)."""
    wrapped: torch.nn.Module = _LossModule(run.model)
    if run.world > 1:
        device = run.device
        wrapped = torch.nn.parallel.DistributedDataParallel(
            wrapped, device_ids=[device.index] if device.type == "cuda" else None
        )
    return compile_fn(wrapped) if run.cfg.compile else wrapped


def optimise(
    run: Run,
    opt: torch.optim.Optimizer,
    loss_fn: Callable[[dict[str, torch.Tensor]], Any],
    batch: dict[str, torch.Tensor],
    step: int,
) -> tuple[torch.Tensor, dict[str, float], torch.Tensor]:
    """One optimiser step at ``step``'s learning rate (bf16 autocast on GPU, clipped
    gradients, then the model's ``after_optimizer_step``): (loss, logged terms, grad norm)."""
    c, model, device = run.cfg, run.model, run.device
    for group in opt.param_groups:
        group["lr"] = lr_at(step, c.lr, c.warmup_steps, c.steps)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        loss, logs = loss_fn(batch)
    if not torch.isfinite(loss):
        raise TrainingDiverged(
            f"loss is {loss.item()} at step {step}; stopped. "
            f"{_last_checkpoint(run.ckpt_dir, min(c.ckpt_every, c.steps))}. "
            "Try a lower lr."
        )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), c.grad_clip)
    opt.step()
    model.after_optimizer_step()
    return loss, logs, grad_norm


class TrainLog:
    """What a run reports: ``history.jsonl`` and TensorBoard rows (rank 0; rows logged after
    the checkpoint a run resumes from are dropped), the progress bar, throughput and the wall
    time in ``state``."""

    def __init__(self, run: Run, state: dict[str, Any], progress: bool) -> None:
        self.state, self.writer, self.history = state, None, None
        if run.rank == 0:
            _truncate_history(run.out / "history.jsonl", state["history_lines"])
            self.writer = _tensorboard(run.out / "tb")
            self.history = (run.out / "history.jsonl").open("a")
        self.bar = tqdm(
            total=run.cfg.steps,
            initial=state["step"],
            desc=f"train {run.cfg.model}",
            unit="step",
            disable=not progress or run.rank != 0,
        )
        self.t_last, self.samples = time.perf_counter(), 0

    def count(self, samples: int) -> None:
        """One optimiser step on ``samples`` windows (all ranks) is done."""
        self.samples += samples
        self.bar.update(1)

    def write(
        self,
        row: dict[str, Any],
        prefetch: Prefetcher,
        check: Callable[[], dict[str, float]] | None = None,
    ) -> None:
        """Logs ``row`` with the throughput since the last row and, when given, the held-out
        check (run after the interval is timed, so training time leaves it out; remembering
        when the model first beat copy-last)."""
        now = time.perf_counter()
        state = self.state
        state["wall_s"] += now - self.t_last
        row["samples_per_s"] = self.samples / (now - self.t_last)
        row["data_wait_frac"] = prefetch.wait_s / (now - self.t_last)
        row["wall_s"] = state["wall_s"]
        if check is not None:
            row.update(check())
            if state["beat_copy_at"] is None and row["cos_1"] > row["cos_copy_1"]:
                state["beat_copy_at"] = {"step": row["step"], "wall_s": state["wall_s"]}
        _log(self.writer, self.history, row)
        state["history_lines"] += 1
        self.bar.set_postfix(loss=f"{row['loss']:.4f}")
        self.t_last, self.samples, prefetch.wait_s = time.perf_counter(), 0, 0.0

    def flush(self) -> None:
        if self.history is not None:
            self.history.flush()

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()
            self.history.close()


def _last_checkpoint(ckpt_dir: Path, first_due: int) -> str:
    """What a diverged run leaves behind: the checkpoint that really exists on disk, if any."""
    try:
        step = checkpoint.read_config(ckpt_dir)["step"]
    except checkpoint.CheckpointError:
        return f"No checkpoint was written yet (the first is due at step {first_due})"
    return f"The last good checkpoint ({ckpt_dir}, step {step}) is kept"


class BatchOrder:
    """Which windows form the batch of each step: a fresh seeded shuffle per pass, so a run
    resumed at step k draws exactly the batches an uninterrupted run would. Under DDP each
    rank takes its own slice of every global batch."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if n < batch_size:
            raise ValueError(f"{n} training windows cannot fill a batch of {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world = rank, world
        self.per_epoch = n // batch_size
        self._epoch, self._perm = -1, None

    def indices(self, step: int) -> list[int]:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=g)
        batch = self._perm[i * self.batch_size : (i + 1) * self.batch_size]
        per_rank = self.batch_size // self.world
        return batch[self.rank * per_rank : (self.rank + 1) * per_rank].tolist()


def _tensorboard(path: Path):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(path))


def _log(writer, history, row: dict[str, Any]) -> None:
    for key, value in row.items():
        if key != "step" and isinstance(value, (int, float)):
            writer.add_scalar(key, value, row["step"])
    history.write(json.dumps(row) + "\n")


def _truncate_history(path: Path, lines: int) -> None:
    """Drops history rows logged after the checkpoint a run resumes from."""
    if path.exists():
        rows = path.read_text().splitlines()[:lines]
        path.write_text("".join(r + "\n" for r in rows))


def read_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """The logged scalars of a run, one dict per logged step."""
    path = Path(run_dir) / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> Path:
    import tyro

    cfg = tyro.cli(TrainConfig, args=argv)
    return train(cfg)


if __name__ == "__main__":
    main()
