"""Evaluate a trained world model: closed-loop planning success and open-loop prediction.

Usage:
    python run_benchmark.py evaluate --checkpoint runs/<run>/checkpoint --dataset \\
        data/datasets/<name> --planner cem

Prints the success rate with its 95 % interval beside the floors (doing nothing, a random
policy) and the ceiling (the scripted expert) on the same tasks; ``evaluate()`` returns the
whole record the harness stores (per-task outcomes of the planner and of every baseline, solve
times, per-horizon cos / MSE arrays).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypedDict

import numpy as np
import torch

import envs
from agents import planners
from agents.planners.base import Range
from agents.speed import SolveSpeed, check_precision
from benchmark.checkpoint import CheckpointError, load_model
from benchmark.checkpoint import windows as checkpoint_windows
from benchmark.datasets import Recording, WindowDataset
from benchmark.device import resolve_device
from benchmark.floors import BASELINES, better_floor, floors_for
from benchmark.metrics import summarize_windows, window_errors
from benchmark.mpc import check_action_block, run_mpc
from benchmark.options import check_options, check_writable
from benchmark.stats import mcnemar_exact, success_interval
from benchmark.tasks import default_tasks_file, tasks_digest, tasks_for


@dataclass
class EvalConfig:
    """The evaluation protocol: tasks, budget, receding horizon and what is measured."""

    planner: str = "cem"
    """Planner name (see ``agents.planners.names()``)."""
    planner_options: dict[str, bool | int | float | str] = field(default_factory=dict)
    """Planner config overrides, e.g. `--eval.planner-options samples 300 iterations 30`."""
    horizon: int = 5
    """Planned action blocks per solve."""
    receding: int = 0
    """Blocks executed between solves; 0 = the whole horizon (the stable-worldmodel protocol)."""
    n_tasks: int = 50
    """Planning tasks drawn from the held-out split."""
    goal_offset: int = 25
    """Env steps from the start frame to the goal frame."""
    budget: int = 50
    """Env steps each task may use."""
    task_seed: int = 0
    """Seed of the task draw (the same tasks for every method)."""
    planner_seed: int = 0
    """Seed of the planner's random streams."""
    pred_horizon: int = 8
    """Blocks of open-loop prediction measured (h = 1..pred_horizon)."""
    pred_windows: int = 256
    """Held-out windows the prediction metrics average over."""
    videos: int = 2
    """Episode videos (agent | goal) to write."""
    precision: Literal["fp32", "bf16", "tf32"] = "fp32"
    """Planning model passes: fp32, bf16 (autocast; costs and planner statistics stay fp32) or
    tf32 (CUDA matmuls during the solve; the same as fp32 on CPU)."""
    compile: bool = False
    """torch.compile the model's one-step function for planning (CUDA graphs on GPU; backend
    from $WMBENCH_COMPILE_BACKEND, default inductor)."""

    def __post_init__(self) -> None:
        check_options(
            self,
            "eval.",
            horizon=Range(1),
            receding=Range(0, self.horizon, high_name="horizon"),
            n_tasks=Range(1),
            goal_offset=Range(1),
            budget=Range(1),
            task_seed=Range(0),
            planner_seed=Range(0),
            pred_horizon=Range(0),
            pred_windows=Range(1),
            videos=Range(0),
        )
        check_precision(self.precision, "precision (--eval.precision)")
        if not isinstance(self.compile, bool):
            raise ValueError(
                f"compile (--eval.compile) must be True or False, got {self.compile!r}"
            )
        # the planner's name and options, checked by building it (cheap: no model, no env)
        planners.make(
            self.planner, horizon=self.horizon, seed=self.planner_seed, **self.planner_options
        )

    def speed(self) -> SolveSpeed:
        """The planner's speed options (``agents.speed``)."""
        return SolveSpeed(self.precision, self.compile)


def eval_key(cfg: EvalConfig) -> dict[str, Any]:
    """The protocol fields that identify a cell's results: ``compile`` is left out (like the
    device, it changes how the numbers are computed, not what), ``precision`` too when it is
    fp32, so cells cached before these options existed keep their fingerprints."""
    key = asdict(cfg)
    key.pop("compile")
    if key["precision"] == "fp32":
        key.pop("precision")
    return key


@torch.no_grad()
def prediction_report(
    model,
    rec: Recording,
    frameskip: int,
    horizon: int,
    windows: int,
    device: torch.device,
    seed: int = 0,
    split: str = "test",
) -> dict[str, list[float]]:
    """Per-horizon cos / MSE, copy-last baseline, random-pair floor and skill on windows of
    ``split`` (default the held-out episodes; fewer horizons if its episodes are short)."""
    h = horizon
    while h > 0:
        try:
            ds = WindowDataset(rec, split, model.history, h, frameskip)
            break
        except ValueError:
            h -= 1
    if h == 0:
        return {}
    idx = np.random.default_rng(seed).choice(len(ds), min(windows, len(ds)), replace=False)
    parts = []
    for chunk in np.array_split(idx, max(1, len(idx) // 64)):
        batch = ds.__getitems__(chunk.tolist())
        batch = {k: v.to(device) for k, v in batch.items() if k in ("pixels", "actions")}
        g = torch.Generator().manual_seed(seed)
        parts.append(window_errors(model, batch, h, generator=g))
    # pooled over every window (not averaged per chunk), so quantiles and intervals are exact
    out = summarize_windows({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    return {k: [float(x) for x in v] for k, v in out.items()}


class EvalResult(TypedDict):
    """What ``evaluate`` returns: the evaluation fields of a cell's record (the grid adds the
    provenance; every field is described in docs/records.md)."""

    env_id: str
    model: str
    planner: str
    planner_description: str
    eval_config: dict[str, Any]
    success_rate: float
    success_ci95: list[float]
    success_final_rate: float
    noop_success_rate: float
    random_success_rate: float
    expert_success_rate: float
    better_floor: str
    p_vs_floor: float
    n_tasks: int
    solve_time_s: float
    solve_time_per_episode_s: float
    solves_per_episode: int
    model_calls_per_solve: float
    eval_wall_s: float
    outcomes: list[dict[str, Any]]
    baselines: dict[str, list[dict[str, Any]]]
    tasks: list[dict[str, int]]
    tasks_file: str
    tasks_digest: str
    prediction: dict[str, list[float]]
    checkpoint: dict[str, Any]
    device: str
    videos: list[str]


def evaluate(
    checkpoint: str | Path,
    dataset: str | Path,
    cfg: EvalConfig,
    device: str = "auto",
    tasks_file: str | Path | None = None,
    video_dir: str | Path | None = None,
    tasks_dataset: str | Path | None = None,
) -> EvalResult:
    """Runs the protocol for one (checkpoint, planner) and returns its record fields.

    Args:
        checkpoint: the trained model.
        dataset: the dataset it was trained on (checked against the checkpoint); prediction
            metrics use its held-out windows.
        cfg: the protocol.
        device: auto, cpu or cuda[:i].
        tasks_file: the task file to reuse or create (default: beside the tasks' dataset).
        video_dir: where to write episode GIFs.
        tasks_dataset: draw the planning tasks from this dataset's held-out episodes instead
            (same env; any image size, since tasks are states rendered at the model's size),
            so models trained on different data face the same tasks.
    """
    # the options again (they may have changed since the config was made), before any work
    planners.config_class(cfg.planner)(**cfg.planner_options)
    if video_dir is not None:
        check_writable(video_dir, "--video-dir")
    dev = resolve_device(device)
    rec = Recording.open(dataset, progress=False)
    model, meta = load_model(checkpoint, dev, dataset_fingerprint=rec.info["fingerprint"])
    check_finite_weights(model, checkpoint)
    model.eval()
    options = dict(cfg.planner_options)
    scaled = {f.name for f in fields(planners.config_class(cfg.planner))}
    if "latent_scale" in scaled and options.get("latent_scale", AUTO_SCALE) == AUTO_SCALE:
        # planners whose step sizes are in latent units get this model's own latent scale
        options["latent_scale"] = round(latent_scale(model, rec, dev), 4)
    planner = planners.make(
        cfg.planner, horizon=cfg.horizon, seed=cfg.planner_seed, speed=cfg.speed(), **options
    )
    task_rec = rec
    if tasks_dataset is not None:
        # tasks are states: another image size renders them at the model's
        task_rec = Recording.open(tasks_dataset, env_id=rec.env_id, progress=False)
    env = envs.make(rec.env_id, image_size=rec.image_size).unwrapped
    tasks_file = Path(
        tasks_file or default_tasks_file(task_rec.path, cfg.n_tasks, cfg.goal_offset, cfg.task_seed)
    )
    tasks = tasks_for(task_rec, tasks_file, cfg.n_tasks, cfg.goal_offset, cfg.task_seed)
    receding = cfg.receding or cfg.horizon
    frameskip = checkpoint_windows(meta).frameskip
    check_action_block(model, env, frameskip)  # before the floors spend minutes
    t0 = time.perf_counter()
    try:
        baselines = floors_for(env, tasks, tasks_file, cfg.budget, frameskip, cfg.task_seed)
        mpc = run_mpc(model, planner, env, tasks, cfg.budget, receding, frameskip, dev, cfg.videos)
    finally:
        env.close()
    wall = time.perf_counter() - t0
    pred = prediction_report(model, rec, frameskip, cfg.pred_horizon, cfg.pred_windows, dev)
    n = len(tasks)
    videos = _write_videos(mpc.videos, video_dir) if video_dir else []
    return {
        "env_id": rec.env_id,
        "model": meta["model"],
        "planner": cfg.planner,
        "planner_description": planner.describe(),
        "eval_config": asdict(cfg),
        **summarise([asdict(o) for o in mpc.outcomes], baselines, [t.episode for t in tasks]),
        "n_tasks": n,
        "solve_time_s": float(np.mean(mpc.solve_times_s)),
        "solve_time_per_episode_s": float(np.mean(mpc.solve_times_s)) / n,
        "solves_per_episode": len(mpc.solve_times_s),
        "model_calls_per_solve": float(np.mean([s["model_calls"] for s in mpc.planner_stats])),
        "eval_wall_s": wall,
        "outcomes": [asdict(o) for o in mpc.outcomes],
        "baselines": baselines,
        "tasks": [{"episode": t.episode, "step": t.step} for t in tasks],
        "tasks_file": tasks_file.name,
        "tasks_digest": tasks_digest(tasks),
        "prediction": pred,
        "checkpoint": {
            "path": str(checkpoint),
            "step": meta["step"],
            "run_fingerprint": meta.get("run_fingerprint"),
            "train_wall_s": meta.get("train_wall_s"),
            "beat_copy_at": meta.get("beat_copy_at"),
        },
        "device": str(dev),
        "videos": videos,
    }


AUTO_SCALE = -1.0
"""A planner's ``latent_scale`` that asks for the model's own (see ``latent_scale``)."""


@torch.no_grad()
def latent_scale(
    model: torch.nn.Module, rec: Recording, device: torch.device, frames: int = 512, seed: int = 0
) -> float:
    """The model's latent scale: the RMS over latent dimensions of the per-dimension std of
    its encodings of held-out frames (about 1 for LeWM's SIGReg latents, smaller for bounded
    ones such as Dreamer's or TD-MPC2's simplex groups)."""
    starts = rec.episode_start  # episode e: frames [starts[e], starts[e + 1] - 1), then padding
    rows = np.concatenate([np.arange(starts[e], starts[e + 1] - 1) for e in rec.episodes("test")])
    pick = np.sort(np.random.default_rng(seed).choice(rows, min(frames, len(rows)), replace=False))
    pixels = torch.as_tensor(rec.arrays["pixels"][pick]).to(device)
    z = torch.cat([model.encode(chunk[:, None])[:, -1] for chunk in pixels.split(128)])
    return float(z.float().std(0).square().mean().sqrt().clamp_min(1e-6))


def check_finite_weights(model: torch.nn.Module, checkpoint: str | Path) -> None:
    """Raises CheckpointError naming the tensors of a checkpoint that hold NaN or inf (a run
    that diverged before saving), instead of a NaN latent error at planning time."""
    bad = [
        name
        for name, t in model.state_dict().items()
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
    if bad:
        more = f", +{len(bad) - 8} more" if len(bad) > 8 else ""
        raise CheckpointError(
            f"checkpoint {checkpoint} has non-finite weights ({', '.join(bad[:8])}{more})"
        )


def summarise(
    outcomes: list[dict[str, Any]],
    baselines: dict[str, list[dict[str, Any]]],
    episodes: list[int],
) -> dict[str, Any]:
    """Success, its interval, final-step success, the floors and ceiling, and the paired test
    against the better floor, for one cell on one seed (the report pools seeds the same way).

    Args:
        outcomes: the planner's per-task outcomes.
        baselines: per-task outcomes of ``noop``, ``random`` and ``expert`` on the same tasks.
        episodes: the held-out episode of each task (tasks of one episode are one cluster).
    """
    success = np.array([o["success"] for o in outcomes], bool)
    mean, low, high = success_interval(success, np.asarray(episodes))
    rates = {b: float(np.mean([o["success"] for o in baselines[b]])) for b in BASELINES}
    floor = better_floor(rates)
    floor_success = np.array([o["success"] for o in baselines[floor]], bool)
    return {
        "success_rate": mean,
        "success_ci95": [low, high],
        "success_final_rate": float(np.mean([o["success_final"] for o in outcomes])),
        **{f"{b}_success_rate": rates[b] for b in BASELINES},
        "better_floor": floor,
        "p_vs_floor": mcnemar_exact(success, floor_success),
    }


@dataclass
class EvaluateCommand:
    """Evaluate one checkpoint with one planner and print its success rate."""

    checkpoint: Path
    """Checkpoint directory (runs/<run>/checkpoint)."""
    dataset: Path
    """The dataset the checkpoint was trained on (tasks come from its held-out split)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """The evaluation protocol."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda[:i]."""
    tasks_file: Path | None = None
    """Task file to reuse or create (default: beside the dataset)."""
    video_dir: Path | None = None
    """Where to write episode GIFs (agent | goal)."""
    out: Path | None = None
    """Also write the full record as JSON here."""

    def __post_init__(self) -> None:
        # output paths checked before any work, so that a bad one does not lose the results
        if self.video_dir is not None:
            check_writable(self.video_dir, "--video-dir")
        if self.out is not None:
            check_writable(self.out, "--out", folder=False)

    def run(self) -> dict[str, Any]:
        record = evaluate(
            self.checkpoint, self.dataset, self.eval, self.device, self.tasks_file, self.video_dir
        )
        print(format_result(record))
        if self.out:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            self.out.write_text(json.dumps(record, indent=1))
        return record


def _write_videos(videos: list[np.ndarray], video_dir: str | Path) -> list[str]:
    import imageio.v3 as iio

    out = []
    video_dir = Path(video_dir)
    video_dir.mkdir(parents=True, exist_ok=True)
    for i, frames in enumerate(videos):
        scale = max(1, 128 // frames.shape[1])
        frames = frames.repeat(scale, 1).repeat(scale, 2)
        path = video_dir / f"episode{i}.gif"
        iio.imwrite(path, frames, duration=80, loop=0)
        out.append(str(path))
    return out


def format_result(r: dict[str, Any]) -> str:
    low, high = r["success_ci95"]
    line = (
        f"{r['env_id']} {r['model']} + {r['planner']}: success {100 * r['success_rate']:.1f}% "
        f"[95% CI {100 * low:.1f}-{100 * high:.1f}] over {r['n_tasks']} tasks "
        f"(no-op {100 * r['noop_success_rate']:.0f}%, random {100 * r['random_success_rate']:.0f}%"
        f", expert {100 * r['expert_success_rate']:.0f}%; p vs {r['better_floor']} "
        f"{r['p_vs_floor']:.2g}), {r['solve_time_per_episode_s']:.3f} s per episode-solve"
    )
    if r["prediction"]:
        cos = r["prediction"]["cos"]
        line += f", cos@1 {cos[0]:.3f} (copy {r['prediction']['cos_copy'][0]:.3f})"
    return line
