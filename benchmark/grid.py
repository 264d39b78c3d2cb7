"""A suite as a resumable grid: datasets -> checkpoints -> evaluation records.

Every stage is cached by a fingerprint of its config and skipped when its product exists
(a complete dataset, a finished checkpoint, an ``ok`` record with the same cell fingerprint),
so an interrupted run resumes where it stopped and nothing finished is recomputed. A crashed
cell is recorded as failed with its error and the rest of the grid goes on.
"""

from __future__ import annotations

import dataclasses
import datetime
import fnmatch
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
from tqdm.auto import tqdm

import envs
from agents import planners, world_models
from benchmark import checkpoint, suites
from benchmark.collect import CollectConfig, collect
from benchmark.datasets import DatasetError, read_metadata
from benchmark.device import resolve_device
from benchmark.evaluate import EvalConfig, EvalResult, eval_key, evaluate, format_result
from benchmark.executors import make_executor
from benchmark.provenance import (
    code_version,
    code_versions,
    fingerprint,
    git_commit,
    machine,
    package_versions,
)
from benchmark.results import SCHEMA_VERSION, Cell, read_record, record_path, write_record
from benchmark.train import TrainConfig, train


@dataclass
class RunConfig:
    """``python run_benchmark.py``: run a suite's grid, then build the report."""

    suite: str = "quick"
    """Preset: smoke (about a minute), quick (the default, about 22 min on 2 CPU cores from an
    empty data/) or paper (GPU)."""
    envs: tuple[str, ...] = ()
    """Env ids (comma or space separated); empty = the suite's."""
    models: tuple[str, ...] = ()
    """World models; empty = the suite's."""
    planners: tuple[str, ...] = ()
    """Planners; empty = the suite's."""
    seeds: tuple[str, ...] = ()
    """Training / planning seeds, e.g. 0,1,2; empty = the suite's."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda[:i]."""
    out: Path = Path("data/results")
    """Records (runs/), leaderboard, figures and index.html. The committed leaderboard is
    results/: it is only written when asked for (--out results)."""
    data: Path = Path("data")
    """Datasets and checkpoints (large; not committed)."""
    executor: str = "local"
    """local (processes on this machine) or ray (a Ray cluster)."""
    address: str | None = None
    """Ray cluster address (None: start or join a local Ray instance)."""
    workers: int = 0
    """Local executor processes for training/evaluation; 0 = one per 4 CPU cores (at least 1)."""
    report: bool = True
    """Build the leaderboard and figures after the grid."""
    precision: Literal["fp32", "bf16", "tf32"] = "fp32"
    """Planning model passes: fp32, bf16 (autocast) or tf32 (CUDA only); see EvalConfig."""
    compile: bool = False
    """torch.compile the training loss and the planning one-step function (GPU speed)."""
    rerun: tuple[str, ...] = ()
    """Re-evaluate finished cells: all, or globs of cell names (e.g. 'TwoRoom*',
    '*__cem__*'; a name is <Env>-v0__<model>__<planner>__s<seed>). Without it a finished cell
    whose fingerprint (config, code version, device) matches is kept."""


class TrainKey(NamedTuple):
    """One training of the grid: a model on an env's dataset with a seed."""

    env_id: str
    model: str
    seed: int


@dataclass(frozen=True)
class CellSpec:
    """How one cell is evaluated."""

    eval: EvalConfig
    training: TrainKey
    """The training whose checkpoint it plans with."""
    fingerprint: str
    """Identifies its results: the protocol, the training's key and the evaluation code."""


@dataclass
class Plan:
    """Everything a suite run will do, as plain picklable specs."""

    suite: suites.Suite
    datasets: dict[str, CollectConfig] = field(default_factory=dict)
    trainings: dict[TrainKey, TrainConfig] = field(default_factory=dict)
    cells: dict[Cell, CellSpec] = field(default_factory=dict)


def _split(values: tuple) -> tuple:
    out = []
    for v in values:
        out.extend(x for x in str(v).split(",") if x)
    return tuple(out)


def _seeds(values: tuple[str, ...]) -> tuple[int, ...]:
    """``--seeds`` as non-negative integers, checked before any work."""
    out = []
    for v in _split(values):
        try:
            seed = int(v)
        except ValueError:
            seed = -1
        if seed < 0:
            raise ValueError(f"--seeds: {v!r} is not a non-negative integer (e.g. --seeds 0,1,2)")
        out.append(seed)
    return tuple(out)


def _check_device(device: str) -> None:
    """``--device`` checked before any work: auto, cpu, cuda or cuda:<i>, and CUDA present."""
    if device == "auto":
        return
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"--device {device!r} is not a device; valid: auto, cpu, cuda, cuda:<index>"
        ) from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {device!r}: wmbench runs on auto, cpu, cuda or cuda:<index>")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device!r}: CUDA is not available on this machine (use auto)")


def resolve(
    cfg: RunConfig,
) -> tuple[suites.Suite, tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[int, ...]]:
    """The suite and the grid axes, validated (unknown names list the valid ones)."""
    suite = suites.get(cfg.suite)
    env_ids = _split(cfg.envs) or suite.envs
    models = _split(cfg.models) or suite.models
    plans = _split(cfg.planners) or suite.planners
    seeds = _seeds(cfg.seeds) or suite.seeds
    _check_device(cfg.device)
    for e in env_ids:
        envs.spec(e)
    for m in models:
        world_models.model_class(m)
    for p in plans:
        planners.config_class(p)
    return suite, env_ids, models, plans, seeds


def build_plan(cfg: RunConfig) -> Plan:
    suite, env_ids, models, plans, seeds = resolve(cfg)
    plan = Plan(suite)
    for env_id in env_ids:
        collect_cfg = suites.collect_config(suite, env_id, cfg.data / "datasets")
        plan.datasets[env_id] = collect_cfg
        for model in models:
            for seed in seeds:
                train_cfg, train_key = training(
                    suite, collect_cfg, model, seed, cfg.data, cfg.device, cfg.compile
                )
                key = TrainKey(env_id, model, seed)
                plan.trainings[key] = train_cfg
                for planner in plans:
                    ecfg = EvalConfig(
                        planner=planner,
                        planner_options=suites.planner_options(suite.name, planner),
                        n_tasks=suite.n_tasks,
                        **dataclasses.asdict(suites.protocol(suite, env_id)),
                        planner_seed=seed,
                        pred_horizon=suite.pred_horizon,
                        precision=cfg.precision,
                        compile=cfg.compile,
                    )
                    cell_key = {"eval": eval_key(ecfg), "train": train_key}
                    plan.cells[Cell(env_id, model, planner, seed)] = CellSpec(
                        ecfg, key, fingerprint({**cell_key, "code": code_version("eval")})
                    )
    return plan


def training(
    suite: suites.Suite,
    collect_cfg: CollectConfig,
    model: str,
    seed: int,
    data: Path,
    device: str = "auto",
    compile: bool = False,
    **options: Any,
) -> tuple[TrainConfig, dict[str, Any]]:
    """The training of ``model`` on ``collect_cfg``'s dataset in ``suite`` (the suite's train
    options, then ``options``, e.g. another ``lr``) and its key; the run directory under
    ``data/runs`` is named by the key, so two callers asking for the same training share it."""
    train_cfg = TrainConfig(
        dataset=collect_cfg.path,
        out=Path(),
        model=model,
        preset=suite.name,
        seed=seed,
        device=device,
        compile=compile,
        **{**suites.train_options(suite, model), **options},
    )
    # The resolved optimiser and model presets are part of the key, so editing a preset
    # trains a new run instead of colliding with the old checkpoint.
    resolved = {
        k: v for k, v in train_cfg.record().items() if k not in ("out", "device", "dataset")
    }
    train_key = {
        "dataset": collect_cfg.fingerprint(),
        "code": code_version("train"),
        "device": resolve_device(device).type,  # checkpoints on CPU and on CUDA never mix
        "model": model,
        "train": resolved,
        "model_config": world_models.config_key(world_models.build_config(model, suite.name)),
    }
    short = collect_cfg.env_id.split("/")[-1].split("-v")[0].lower()
    name = f"{short}-{model}-{suite.name}-s{seed}-{fingerprint(train_key, 8)}"
    return dataclasses.replace(train_cfg, out=data / "runs" / name), train_key


# ---- stage functions (plain arguments, so they run in any process or on a Ray worker) ----
def collect_stage(collect_cfg: CollectConfig) -> str:
    return str(collect(collect_cfg, progress=False))


def train_stage(train_cfg: TrainConfig) -> str:
    return str(train(train_cfg, progress=False))


def evaluate_stage(
    checkpoint: str, dataset: str, eval_cfg: EvalConfig, device: str, video_dir: str
) -> EvalResult:
    return evaluate(checkpoint, dataset, eval_cfg, device=device, video_dir=video_dir)


def equivalent_command(cfg: RunConfig) -> str:
    """The ``run_benchmark.py`` command line that reproduces ``cfg`` (non-defaults only)."""
    parts = ["python", "run_benchmark.py"]
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if value == f.default or f.name == "rerun" or (isinstance(value, tuple) and not value):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else f"--no-{f.name}")
        elif isinstance(value, tuple):
            parts += [flag, ",".join(map(str, value))]
        elif isinstance(value, Path):
            # relative to the working directory; a folder outside it is left out (records never
            # store this machine's absolute paths: the command then writes to the default)
            if value.is_absolute():
                if not value.resolve().is_relative_to(Path.cwd().resolve()):
                    continue
                value = value.resolve().relative_to(Path.cwd().resolve())
            parts += [flag, str(value)]
        else:
            parts += [flag, str(value)]
    return shlex.join(parts)


def _finished_dataset(cfg: CollectConfig) -> str | None:
    try:
        read_metadata(cfg.path)
    except DatasetError:
        return None
    return str(cfg.path)


def _finished_checkpoint(cfg: TrainConfig) -> str | None:
    path = Path(cfg.out) / "checkpoint"
    try:
        meta = checkpoint.read_config(path)
    except checkpoint.CheckpointError:
        return None
    return str(path) if meta.get("complete") else None


def _failure(err: BaseException) -> dict[str, Any]:
    return {
        "status": "failed",
        "error": f"{type(err).__name__}: {err}",
        "traceback": "".join(traceback.format_exception(err))[-4000:],
    }


def run(cfg: RunConfig, progress: bool = True) -> dict[Cell, dict[str, Any]]:
    """Runs (or resumes) the grid of ``cfg``; returns the record of every cell."""
    plan = build_plan(cfg)
    records, todo = finished_cells(cfg, plan)
    if progress:
        print(
            f"suite {plan.suite.name}: {len(plan.cells)} cells, {len(records)} already done, "
            f"{len(todo)} to run (records in {cfg.out / 'runs' / plan.suite.name})"
        )
        if records and not todo:
            print("every cell is already done: --rerun all (or a glob of cells) recomputes")
    if not todo:
        return records
    executor = make_executor(cfg.executor, cfg.workers, cfg.address)
    started = time.perf_counter()
    needed_envs = {c.env_id for c in todo}
    needed_trainings = {s.training for s in todo.values()}
    bar = tqdm(
        total=len(needed_envs) + len(needed_trainings) + len(todo),
        desc=f"{plan.suite.name} grid",
        unit="stage",
        disable=not progress,
    )
    try:
        failed: dict[Any, BaseException] = {}
        stage = _Stages(executor, bar, failed, progress)
        datasets = stage.run(
            "collect", {e: plan.datasets[e] for e in needed_envs}, _finished_dataset, collect_stage
        )
        trainings = {
            k: plan.trainings[k] for k in sorted(needed_trainings) if k.env_id not in failed
        }
        checkpoints = stage.run("train", trainings, _finished_checkpoint, train_stage)
        records.update(evaluate_cells(cfg, plan, todo, datasets, checkpoints, stage))
        bar.close()
    finally:
        executor.shutdown()
    if progress:
        print(f"grid finished in {time.perf_counter() - started:.0f} s")
        n_failed = sum(r.get("status") != "ok" for r in records.values())
        if n_failed:
            print(
                f"{n_failed} of {len(records)} cells FAILED (their errors are in the records and "
                "under 'failed cells' in the leaderboard)",
                file=sys.stderr,
            )
    return records


def finished_cells(
    cfg: RunConfig, plan: Plan
) -> tuple[dict[Cell, dict[str, Any]], dict[Cell, CellSpec]]:
    """The records of cells already done (an ``ok`` record with the cell's fingerprint, not
    named by ``--rerun``), and the specs of the cells still to run."""
    records, todo = {}, {}
    for cell, spec in plan.cells.items():
        rec = read_record(record_path(cfg.out, plan.suite.name, cell))
        if (
            rec
            and rec.get("status") == "ok"
            and rec.get("cell_fingerprint") == spec.fingerprint
            and not wants_rerun(cell, cfg.rerun)
        ):
            records[cell] = rec
        else:
            todo[cell] = spec
    return records, todo


@dataclass
class _Stages:
    """Runs one stage's jobs on the executor: products that exist are reused, failures are
    kept in ``failed`` (by job key) and said in one line each."""

    executor: Any
    bar: Any
    failed: dict[Any, BaseException]
    progress: bool

    def run(
        self,
        name: str,
        configs: dict[Any, Any],
        finished: Callable[[Any], str | None],
        stage: Callable[[Any], str],
    ) -> dict[Any, str]:
        """``{key: product path}`` of every config, running ``stage`` where none exists."""
        done, jobs = {}, []
        for key, config in configs.items():
            existing = finished(config)
            if existing:
                done[key] = existing
                self.bar.update(1)
            else:
                jobs.append((key, stage, (config,)))
        for key, result in self.executor.map(jobs):
            self.bar.update(1)
            if isinstance(result, BaseException):
                self.failed[key] = result
                label = key if isinstance(key, str) else " ".join(map(str, key))
                _say_failed(f"{name} {label}", result, self.progress)
            else:
                done[key] = result
        return done


def evaluate_cells(
    cfg: RunConfig,
    plan: Plan,
    todo: dict[Cell, CellSpec],
    datasets: dict[str, str],
    checkpoints: dict[TrainKey, str],
    stage: _Stages,
) -> dict[Cell, dict[str, Any]]:
    """Evaluates the cells still to run and writes their records (a cell whose dataset or
    training failed is recorded as failed with that error)."""
    records, jobs = {}, []
    command = equivalent_command(cfg)
    for cell, spec in todo.items():
        err = stage.failed.get(cell.env_id) or stage.failed.get(spec.training)
        if err is not None:
            records[cell] = _finish(cfg, plan, cell, _failure(err), command)
            stage.bar.update(1)
            continue
        video_dir = str(cfg.out / "videos" / plan.suite.name / cell.key)
        args = (checkpoints[spec.training], datasets[cell.env_id], spec.eval, cfg.device, video_dir)
        jobs.append((cell, evaluate_stage, args))
    for cell, result in stage.executor.map(jobs):
        stage.bar.update(1)
        body = _failure(result) if isinstance(result, BaseException) else {"status": "ok", **result}
        records[cell] = _finish(cfg, plan, cell, body, command)
        if stage.progress:
            tqdm.write(
                format_result(body)
                if body["status"] == "ok"
                else f"{cell.key}: FAILED {body['error']}"
            )
    return records


def wants_rerun(cell: Cell, patterns: tuple[str, ...]) -> bool:
    """Whether ``--rerun`` names ``cell``: ``all``, or a glob of cell names (comma separated
    or repeated), matched case-insensitively against e.g. ``TwoRoom-v0__lewm__cem__s0``."""
    pats = _split(patterns)
    return any(p == "all" or fnmatch.fnmatch(cell.key.lower(), p.lower()) for p in pats)


def relative(path: str | Path, base: str | Path) -> str:
    """``path`` relative to ``base`` when inside it (records never store this machine's
    absolute paths), else its name."""
    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return Path(path).name


def _say_failed(stage: str, err: BaseException, progress: bool) -> None:
    """One line per failed collect/train stage: the stage and the first line of its error."""
    if progress:
        first = (str(err).strip().splitlines() or [""])[0]
        tqdm.write(f"{stage}: FAILED {type(err).__name__}: {first}", file=sys.stderr)


def _finish(
    cfg: RunConfig, plan: Plan, cell: Cell, body: dict[str, Any], command: str
) -> dict[str, Any]:
    """The cell's record (provenance, configs, seeds and ``body``), written to its file."""
    suite, spec = plan.suite, plan.cells[cell]
    train_cfg = plan.trainings[spec.training]
    record = {
        "schema_version": SCHEMA_VERSION,
        "suite": suite.name,
        "cell": dataclasses.asdict(cell),
        "cell_fingerprint": spec.fingerprint,
        "config": {
            "collect": plan.datasets[cell.env_id].content(),
            "train": train_cfg.record(),
            "model_preset": suite.name,
            "eval": dataclasses.asdict(spec.eval),
        },
        "seeds": {
            "data": suite.data_seed,
            "train": cell.seed,
            "planner": cell.seed,
            "tasks": spec.eval.task_seed,
        },
        "versions": package_versions(),
        "git_commit": git_commit(),
        "code_version": code_versions(),
        "device_name": machine(str(resolve_device(cfg.device))),
        "command": command,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **body,
    }
    train_conf = record["config"]["train"]
    train_conf["dataset"] = relative(train_conf["dataset"], cfg.data)
    train_conf["out"] = relative(train_conf["out"], cfg.data)
    if "checkpoint" in record:
        record["checkpoint"]["path"] = relative(record["checkpoint"]["path"], cfg.data)
    record["videos"] = [relative(v, cfg.out) for v in record.get("videos", [])]
    write_record(record_path(cfg.out, suite.name, cell), record)
    return record
