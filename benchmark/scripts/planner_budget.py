"""Planners compared at equal compute: every planner spends the same one-step predictions per solve.

The quick preset gives the planners very different compute (CEM 300 samples x 10 iterations,
GD 50 iterations, GRASP 150 iterations per solve), so its leaderboard cannot say whether a
planner trails for its algorithm or for its budget. Here, for each env (a trained checkpoint and
its dataset), each horizon and each planner, the planner options are solved so that one
episode-solve costs the same BUDGET of one-step predictions, then the planner is evaluated with
``benchmark.evaluate.evaluate`` on the env's quick protocol and the same task file for every
cell, so outcomes pair per task (exact McNemar tests against CEM and between horizons).

Budget convention. The cost of a solve is counted in one-step predictions per episode: every
forward one-step prediction (``planner.stats["rollout_steps"]``) costs 1, and every one-step
prediction that is also back-propagated through costs ``1 + backward_cost`` (default 3), since a
backward pass costs about twice the forward FLOPs (the usual training-time ratio: a gradient with
respect to the activations and one with respect to the weights, each about one forward). The
planners differentiate with respect to the actions only, so 2 is a conservative charge: it
never favours the gradient planners. The default budget is what the quick CEM spends at that
horizon, 300 samples x 10 iterations x H one-step predictions.

Options per planner (H the horizon, B the budget, g = 1 + backward_cost; each planner keeps its
quick preset options, ``suites.PLANNER_OPTIONS["quick"]``, except the one solved for):

- CEM, MPPI: cost = samples x iterations x H. Iterations stay at the quick preset's 10 and
  samples = round(B / (10 H)) (CEM's elites stay 10 % of the samples); a budget under
  ``MIN_SAMPLES`` samples per iteration lowers the iterations instead. At the default budget
  this is exactly the quick preset.
- GD: cost = restarts x H x (g x iterations + 1) (each Adam step is a differentiated rollout,
  plus a final forward rollout of the last iterate). Iterations stay at the quick 50 and
  restarts = round(B / (H (50 g + 1))); a budget under one restart lowers the iterations.
- GRASP: per iteration one differentiated batched step over the H links (g H); every
  ``sync_every`` iterations a sync of ``sync_steps`` differentiated full rollouts (g H each;
  ``sync="cem"``: ``sync_steps`` x ``sync_samples`` forward rollouts, H each) plus, with
  ``sync_states`` and H > 1, one forward rollout (H); and a final forward rollout (H). The sync
  schedule stays at the quick preset's (every 50 iterations, 10 steps) and the iterations are
  the integer whose cost is closest to B.

Each planned cost is checked by running the planner once on the checkpoint's own model (two
episodes, random latents: the counts do not depend on the data) and counting the forward
predictions and those the planner differentiates; planned and measured budgets are printed and
stored. Only the planning compute per solve is matched: the number of solves per task is the
protocol's (budget / receding), the same for every planner at one horizon.

Writes ``<out>/planner_budget.jsonl`` (one line per (env, horizon, planner): options, planned and
measured cost, success with its interval, floors, solve time, per-task outcomes; resumable: a
cell whose config fingerprint is already there is skipped) and ``<out>/planner_budget.md`` (the
cells of this invocation: a banner, then per env a table and sentences generated from the
numbers).

Usage:
    python -m benchmark.scripts.planner_budget --checkpoints data/runs/<tworoom-run>/checkpoint \\
        data/runs/<pusht-run>/checkpoint        # datasets from each checkpoint's config.json
    python -m benchmark.scripts.planner_budget --checkpoints A B --datasets DA DB --horizons 5 10 \\
        --planners cem mppi gd grasp --budget 0 --n-tasks 50
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from agents import planners
from benchmark import suites
from benchmark.checkpoint import load_model, read_config
from benchmark.device import resolve_device
from benchmark.evaluate import EvalConfig, eval_key, evaluate
from benchmark.provenance import banner, code_version, fingerprint, git_commit, to_jsonable
from benchmark.stats import mcnemar_exact
from benchmark.tasks import default_tasks_file

PRESET = "quick"
"""The planner options (and protocols) the budget is spread over."""
MIN_SAMPLES = 20
"""Fewest samples per CEM / MPPI iteration before the iterations are lowered instead."""
ALPHA = 0.01
"""A paired difference is reported when p < ALPHA (the leaderboard's threshold, no correction
for the number of comparisons)."""
COSTED = ("cem", "mppi", "gd", "grasp")
"""Planners with a cost model here."""
NAMES = {"cem": "CEM", "mppi": "MPPI", "gd": "GD", "grasp": "GRASP"}


@dataclass
class BudgetConfig:
    """Compute-matched planner comparison on trained checkpoints (one per env)."""

    checkpoints: tuple[Path, ...] = ()
    """One trained checkpoint per env (runs/<run>/checkpoint)."""
    datasets: tuple[Path, ...] = ()
    """The dataset of each checkpoint, in the same order; empty: the path each checkpoint's
    config.json records."""
    horizons: tuple[int, ...] = (5, 10)
    """Planning horizons (action blocks per solve); the env's receding stays, capped at H."""
    planners: tuple[str, ...] = ("cem", "mppi", "gd", "grasp")
    """Planners to compare."""
    budget: int = 0
    """One-step predictions per episode-solve (a back-propagated one counts 1 + backward_cost);
    0: quick CEM's at each horizon, 300 x 10 x H."""
    backward_cost: float = 2.0
    """Cost of back-propagating through one one-step prediction, in forward predictions."""
    reference: str = "cem"
    """Planner every other is tested against at the same horizon."""
    n_tasks: int = 50
    """Planning tasks per env (the same task file for every cell of the env)."""
    tasks_dir: Path | None = None
    """Where task files go (one folder per dataset); default: beside each dataset, the quick
    suite's own task file when n_tasks is 50."""
    pred_windows: int = 16
    """Held-out windows of the (1-step) prediction check; prediction is not the point here."""
    device: str = "auto"
    """auto (CUDA when present), cpu or cuda[:i]."""
    out: Path = Path("results/benchmarks")
    """Folder of planner_budget.jsonl and planner_budget.md."""
    progress: bool = True
    """Show a progress bar over the cells."""

    def __post_init__(self) -> None:
        if not self.checkpoints:
            raise SystemExit("error: --checkpoints needs at least one checkpoint")
        if self.datasets and len(self.datasets) != len(self.checkpoints):
            raise SystemExit(
                f"error: --datasets gives {len(self.datasets)} paths for "
                f"{len(self.checkpoints)} checkpoints (one per checkpoint, or none)"
            )
        if not self.horizons or any(h < 1 for h in self.horizons):
            raise SystemExit(f"error: --horizons must be integers >= 1, got {self.horizons}")
        unknown = [p for p in self.planners if p not in COSTED]
        if unknown or not self.planners:
            raise SystemExit(
                f"error: no cost model for planners {unknown}; valid: {', '.join(COSTED)}"
            )
        if self.budget < 0 or self.backward_cost < 0 or self.n_tasks < 1:
            raise SystemExit("error: --budget and --backward-cost must be >= 0, --n-tasks >= 1")


# -- the budget ----------------------------------------------------------------------------


def default_budget(horizon: int) -> int:
    """What the quick CEM spends per episode-solve at ``horizon``.

    >>> default_budget(5), default_budget(10)
    (15000, 30000)
    """
    cem = suites.planner_options(PRESET, "cem")
    return cem["samples"] * cem["iterations"] * horizon


def planned_cost(
    planner: str, options: dict[str, Any], horizon: int, backward_cost: float = 2.0
) -> float:
    """One-step predictions per episode-solve of ``planner`` with ``options`` (its config's
    defaults for the rest), a back-propagated one counting ``1 + backward_cost``.

    >>> planned_cost("cem", {"samples": 300, "iterations": 10}, 5)
    15000.0
    >>> planned_cost("gd", {"iterations": 50}, 5)  # 5 x (3 x 50 + 1)
    755.0
    >>> planned_cost("grasp", {"iterations": 150, "sync_every": 50, "sync_steps": 10}, 5)
    2720.0
    """
    cfg = planners.config_class(planner)(**options)
    h, g = horizon, 1.0 + backward_cost
    if planner in ("cem", "mppi"):
        return float(cfg.samples * cfg.iterations * h)
    if planner == "gd":
        return float(cfg.restarts * h * (g * cfg.iterations + 1))
    if planner == "grasp":
        syncing = cfg.sync != "none" and cfg.sync_steps > 0
        syncs = cfg.iterations // cfg.sync_every if syncing else 0
        if cfg.sync == "gd":
            per_sync = g * cfg.sync_steps * h
        else:
            per_sync = cfg.sync_steps * cfg.sync_samples * h
        if cfg.sync_states and h > 1:
            per_sync += h
        return float(g * cfg.iterations * h + syncs * per_sync + h)
    raise ValueError(f"no cost model for planner {planner!r}; valid: {', '.join(COSTED)}")


def solve_options(
    planner: str, horizon: int, budget: int, backward_cost: float = 2.0
) -> dict[str, Any]:
    """The quick preset's options of ``planner`` with the one knob that sets its cost solved
    so that one episode-solve costs about ``budget`` (see the module docstring).

    >>> solve_options("cem", 5, 15000)
    {'samples': 300, 'elites': 30, 'iterations': 10}
    >>> solve_options("gd", 5, 15000)
    {'iterations': 50, 'restarts': 20}
    >>> grasp = solve_options("grasp", 5, 15000)
    >>> grasp["iterations"], planned_cost("grasp", grasp, 5)  # 16 syncs of 10 steps
    (834, 14995.0)
    """
    base = suites.planner_options(PRESET, planner)
    cfg = planners.config_class(planner)(**base)
    g = 1.0 + backward_cost
    opts = dict(base)
    if planner in ("cem", "mppi"):
        sequences = budget / horizon
        iterations = cfg.iterations
        if sequences / iterations < MIN_SAMPLES:
            iterations = max(1, int(sequences // MIN_SAMPLES))
        samples = max(2, round(sequences / iterations))
        opts.update(samples=samples, iterations=iterations)
        if planner == "cem":
            opts["elites"] = min(samples, max(1, round(samples * cfg.elites / cfg.samples)))
    elif planner == "gd":
        iterations = cfg.iterations
        restarts = round(budget / (horizon * (g * iterations + 1)))
        if restarts < 1:
            restarts, iterations = 1, max(1, round((budget / horizon - 1) / g))
        opts.update(iterations=iterations, restarts=restarts)
    elif planner == "grasp":
        # cost grows with the iterations (in steps at every sync): the closest integer
        top = max(1, math.ceil(budget / (g * horizon)))
        costs = [
            abs(planned_cost(planner, {**base, "iterations": i}, horizon, backward_cost) - budget)
            for i in range(1, top + 1)
        ]
        opts["iterations"] = 1 + int(np.argmin(costs))
    else:
        raise ValueError(f"no cost model for planner {planner!r}; valid: {', '.join(COSTED)}")
    return opts


def measure_cost(
    model: torch.nn.Module,
    planner: str,
    options: dict[str, Any],
    horizon: int,
    backward_cost: float = 2.0,
    episodes: int = 2,
    seed: int = 0,
) -> dict[str, float]:
    """Runs ``planner`` once on ``model`` (``episodes`` episodes, random latents) and counts,
    per episode: the forward one-step predictions (``stats["rollout_steps"]``), those whose
    output the planner back-propagates through, and the cost under the budget convention.

    The back-propagated ones are counted by watching the planner's model passes
    (``_rollout`` / ``_step``): a pass made with gradients on and an input that requires grad
    (the plan variables) is differentiated.
    """
    device = next(model.parameters()).device
    p = planners.make(planner, horizon=horizon, seed=seed, **options)
    differentiated = [0]
    rollout, step = p._rollout, p._step

    def watched_rollout(m, z_context, actions, a_context):
        out = rollout(m, z_context, actions, a_context)
        if torch.is_grad_enabled() and (actions.requires_grad or z_context.requires_grad):
            differentiated[0] += int(np.prod(actions.shape[:3]))
        return out

    def watched_step(m, z, a):
        out = step(m, z, a)
        if torch.is_grad_enabled() and (a.requires_grad or z.requires_grad):
            differentiated[0] += z.shape[0]
        return out

    p._rollout, p._step = watched_rollout, watched_step  # instance attributes shadow the class
    gen = torch.Generator().manual_seed(seed)
    z_context = torch.randn(episodes, 1, model.latent_dim, generator=gen).to(device)
    z_goal = torch.randn(episodes, model.latent_dim, generator=gen).to(device)
    p.plan(model, z_context, z_goal)
    forward = p.stats["rollout_steps"] / episodes
    backward = differentiated[0] / episodes
    return {
        "forward_steps": forward,
        "differentiated_steps": backward,
        "measured": forward + backward_cost * backward,
        "model_calls": float(p.stats["model_calls"]),
        "backward_calls": float(p.stats["backward_calls"]),
        "calibration_s": float(p.stats["solve_time_s"]),
    }


# -- the comparison ------------------------------------------------------------------------


@dataclass
class Env:
    """One env of the comparison: its checkpoint, dataset, protocol and task file."""

    env_id: str
    checkpoint: Path
    dataset: Path
    meta: dict[str, Any]
    protocol: suites.Protocol
    tasks_file: Path

    @property
    def name(self) -> str:
        return self.env_id.split("/")[-1]


def resolve_envs(cfg: BudgetConfig) -> list[Env]:
    """The checkpoints with their datasets, protocols and task files; one checkpoint per env."""
    out: list[Env] = []
    for i, ckpt in enumerate(cfg.checkpoints):
        meta = read_config(ckpt)
        dataset = Path(cfg.datasets[i]) if cfg.datasets else Path(meta["dataset"]["path"])
        if not dataset.exists():
            raise SystemExit(
                f"error: dataset {dataset} of {ckpt} does not exist; pass it with --datasets"
            )
        env_id = meta["dataset"]["env_id"]
        if env_id in [e.env_id for e in out]:
            raise SystemExit(f"error: two checkpoints of {env_id}; give one per env")
        proto = suites.protocol(suites.get(PRESET), env_id)
        root = Path(cfg.tasks_dir) / dataset.name if cfg.tasks_dir else dataset
        tasks_file = default_tasks_file(root, cfg.n_tasks, proto.goal_offset, 0)
        out.append(Env(env_id, Path(ckpt), dataset, meta, proto, tasks_file))
    return out


def eval_config(cfg: BudgetConfig, env: Env, planner: str, horizon: int) -> EvalConfig:
    """The env's quick protocol at ``horizon`` (receding kept, capped at the horizon)."""
    budget = cfg.budget or default_budget(horizon)
    proto = dataclasses.replace(
        env.protocol, horizon=horizon, receding=min(env.protocol.receding, horizon)
    )
    return EvalConfig(
        planner=planner,
        planner_options=solve_options(planner, horizon, budget, cfg.backward_cost),
        n_tasks=cfg.n_tasks,
        **dataclasses.asdict(proto),
        task_seed=0,
        planner_seed=0,
        pred_horizon=1,
        pred_windows=cfg.pred_windows,
        videos=0,
    )


def cell_fingerprint(
    cfg: BudgetConfig, env: Env, ecfg: EvalConfig, budget: int, device: str
) -> str:
    """What identifies a cell's numbers: the checkpoint, the dataset, the protocol with the
    solved options, the budget convention, the task file and the device type. The code version
    is stored beside it but left out (delete lines of the jsonl to recompute them)."""
    return fingerprint(
        {
            "env": env.env_id,
            "checkpoint": [env.meta.get("run_fingerprint"), env.meta.get("step")],
            "dataset": env.meta["dataset"]["fingerprint"],
            "eval": eval_key(ecfg),
            "budget": budget,
            "backward_cost": cfg.backward_cost,
            "tasks_file": env.tasks_file.name,
            "device": device,
        }
    )


def read_lines(path: Path) -> dict[str, dict[str, Any]]:
    """The jsonl lines by fingerprint (the last one wins); unreadable lines are skipped."""
    lines: dict[str, dict[str, Any]] = {}
    if path.exists():
        for text in path.read_text().splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if isinstance(line, dict) and "fingerprint" in line:
                lines[line["fingerprint"]] = line
    return lines


def run_cell(
    cfg: BudgetConfig,
    env: Env,
    ecfg: EvalConfig,
    budget: int,
    model: torch.nn.Module,
    device: torch.device,
) -> dict[str, Any]:
    """Measures the cell's cost per solve, then evaluates it on the env's task file."""
    cost = measure_cost(model, ecfg.planner, ecfg.planner_options, ecfg.horizon, cfg.backward_cost)
    rec = evaluate(env.checkpoint, env.dataset, ecfg, device=str(device), tasks_file=env.tasks_file)
    return {
        "env": env.env_id,
        "horizon": ecfg.horizon,
        "planner": ecfg.planner,
        "budget": budget,
        "backward_cost": cfg.backward_cost,
        "options": ecfg.planner_options,
        "planned_per_solve": planned_cost(
            ecfg.planner, ecfg.planner_options, ecfg.horizon, cfg.backward_cost
        ),
        "measured_per_solve": cost["measured"],
        "forward_steps_per_solve": cost["forward_steps"],
        "differentiated_steps_per_solve": cost["differentiated_steps"],
        "model_calls_per_solve": cost["model_calls"],
        "eval_model_calls_per_solve": rec["model_calls_per_solve"],
        "planner_description": rec["planner_description"],
        "success_rate": rec["success_rate"],
        "success_ci95": rec["success_ci95"],
        "success_final_rate": rec["success_final_rate"],
        "noop_success_rate": rec["noop_success_rate"],
        "random_success_rate": rec["random_success_rate"],
        "expert_success_rate": rec["expert_success_rate"],
        "better_floor": rec["better_floor"],
        "p_vs_floor": rec["p_vs_floor"],
        "solve_time_per_episode_s": rec["solve_time_per_episode_s"],
        "solves_per_episode": rec["solves_per_episode"],
        "eval_wall_s": rec["eval_wall_s"],
        "n_tasks": rec["n_tasks"],
        "success": [bool(o["success"]) for o in rec["outcomes"]],
        "outcomes": rec["outcomes"],
        "tasks": rec["tasks"],
        "tasks_file": rec["tasks_file"],
        "tasks_digest": rec["tasks_digest"],
        "eval_config": rec["eval_config"],
        "checkpoint": {**rec["checkpoint"], "dataset": str(env.dataset)},
        "cos_1": rec["prediction"]["cos"][0] if rec["prediction"] else None,
        "device": rec["device"],
        "commit": git_commit(),
        "code_version": code_version("eval"),
    }


def run(cfg: BudgetConfig) -> list[dict[str, Any]]:
    """Runs (or reuses) every (env, horizon, planner) cell and writes the jsonl and the md."""
    dev = resolve_device(cfg.device)
    todo = resolve_envs(cfg)
    cfg.out.mkdir(parents=True, exist_ok=True)
    jsonl = cfg.out / "planner_budget.jsonl"
    done = read_lines(jsonl)
    cells = [(env, h, p) for env in todo for h in cfg.horizons for p in cfg.planners]
    lines: list[dict[str, Any]] = []
    bar = tqdm(total=len(cells), desc="planner budget", unit="cell", disable=not cfg.progress)
    models: dict[str, torch.nn.Module] = {}
    for env, horizon, planner in cells:
        budget = cfg.budget or default_budget(horizon)
        ecfg = eval_config(cfg, env, planner, horizon)
        fp = cell_fingerprint(cfg, env, ecfg, budget, dev.type)
        bar.set_postfix_str(f"{env.name} H{horizon} {planner}")
        if fp in done:
            lines.append(done[fp])
            bar.update(1)
            continue
        if env.env_id not in models:
            models.clear()  # one model in memory at a time
            model, _ = load_model(env.checkpoint, dev)
            models[env.env_id] = model.eval()
        t0 = time.perf_counter()
        line = {
            "fingerprint": fp,
            **run_cell(cfg, env, ecfg, budget, models[env.env_id], dev),
            "cell_wall_s": 0.0,
        }
        line["cell_wall_s"] = time.perf_counter() - t0
        with jsonl.open("a") as f:
            f.write(json.dumps(to_jsonable(line)) + "\n")
        lines.append(line)
        tqdm.write(
            f"{env.name} H{horizon} {planner}: budget {budget}, planned "
            f"{line['planned_per_solve']:.0f}, measured {line['measured_per_solve']:.0f} "
            f"({100 * (line['measured_per_solve'] / budget - 1):+.1f} %), success "
            f"{100 * line['success_rate']:.0f} %",
            file=sys.stderr,
        )
        bar.update(1)
    bar.close()
    text = report(lines, cfg, str(dev))
    (cfg.out / "planner_budget.md").write_text(text)
    print(text)
    return lines


# -- the report ----------------------------------------------------------------------------


def _p(p: float) -> str:
    return f"{p:.0e}" if p < 0.001 else f"{p:.2g}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}"


def verdict(name_a: str, rate_a: float, name_b: str, rate_b: float, p: float) -> str:
    """What the paired test says, in words, at ``ALPHA``.

    >>> verdict("GRASP", 0.42, "CEM", 0.38, 0.6)
    'no difference detected'
    >>> verdict("GRASP", 0.2, "CEM", 0.8, 1e-5)
    'CEM higher'
    """
    if p >= ALPHA or rate_a == rate_b:
        return "no difference detected"
    return f"{name_a if rate_a > rate_b else name_b} higher"


def _options(planner: str, options: dict[str, Any]) -> str:
    keys = {
        "cem": ("samples", "elites", "iterations"),
        "mppi": ("samples", "iterations"),
        "gd": ("restarts", "iterations"),
        "grasp": ("iterations", "sync_every", "sync_steps"),
    }[planner]
    return ", ".join(f"{k} {options[k]}" for k in keys if k in options)


def env_section(env_id: str, lines: list[dict[str, Any]], cfg: BudgetConfig) -> list[str]:
    """One env's table, settings and generated sentences."""
    by = {(ln["horizon"], ln["planner"]): ln for ln in lines}
    horizons = [h for h in cfg.horizons if any(k[0] == h for k in by)]
    names = [p for p in cfg.planners if any(k[1] == p for k in by)]
    first = lines[0]
    ref = cfg.reference if cfg.reference in names else None
    digests = {ln["tasks_digest"] for ln in lines}
    out = [f"## {env_id.split('/')[-1]}", ""]
    episodes = len({t["episode"] for t in first["tasks"]})
    ec = first["eval_config"]
    out.append(
        f"Checkpoint `{first['checkpoint']['path']}` (step {first['checkpoint']['step']}); "
        f"{first['n_tasks']} tasks from {episodes} held-out episodes (`{first['tasks_file']}`), "
        f"goal offset {ec['goal_offset']}, budget {ec['budget']} env steps; floors on these "
        f"tasks: no-op {_pct(first['noop_success_rate'])} %, random "
        f"{_pct(first['random_success_rate'])} %, expert {_pct(first['expert_success_rate'])} %."
        + ("" if len(digests) == 1 else " WARNING: the cells ran on different task sets.")
    )
    out.append("")
    out.append(
        "Budget per episode-solve (one-step predictions, a back-propagated one counting "
        f"{1 + cfg.backward_cost:g}): "
        + "; ".join(
            f"H {h}: {next(ln['budget'] for k, ln in by.items() if k[0] == h)}, "
            f"{next(ln['solves_per_episode'] for k, ln in by.items() if k[0] == h)} solve(s) "
            f"per task (receding "
            f"{next(ln['eval_config']['receding'] for k, ln in by.items() if k[0] == h) or h})"
            for h in horizons
        )
        + "."
    )
    out.append("")
    rows = []
    for p in names:
        row: dict[str, Any] = {"planner": p}
        for h in horizons:
            ln = by.get((h, p))
            if ln is None:
                row.update({f"H{h} success % [95% CI]": "-"})
                continue
            low, high = ln["success_ci95"]
            row[f"H{h} success % [95% CI]"] = (
                f"{_pct(ln['success_rate'])} [{_pct(low)}, {_pct(high)}]"
            )
            row[f"H{h} budget (measured)"] = f"{ln['measured_per_solve']:.0f}"
            row[f"H{h} solve s/ep"] = f"{ln['solve_time_per_episode_s']:.3f}"
            if ref is not None:
                base = by.get((h, ref))
                row[f"H{h} p vs {ref}"] = (
                    "-"
                    if base is None or p == ref
                    else _p(mcnemar_exact(ln["success"], base["success"]))
                )
        for h in horizons[1:]:
            a, b = by.get((h, p)), by.get((horizons[0], p))
            row[f"p H{h} vs H{horizons[0]}"] = (
                "-" if a is None or b is None else _p(mcnemar_exact(a["success"], b["success"]))
            )
        rows.append(row)
    out += [pd.DataFrame(rows).to_markdown(index=False), ""]
    settings = []
    for p in names:
        row = {"planner": p}
        for h in horizons:
            ln = by.get((h, p))
            row[f"H{h} options"] = _options(p, ln["options"]) if ln else "-"
            row[f"H{h} planned / measured"] = (
                f"{ln['planned_per_solve']:.0f} / {ln['measured_per_solve']:.0f}" if ln else "-"
            )
        settings.append(row)
    out += [pd.DataFrame(settings).to_markdown(index=False), ""]
    for h in horizons:
        for p in names:
            a, b = by.get((h, p)), by.get((h, ref)) if ref else None
            if a is None or b is None or p == ref:
                continue
            pv = mcnemar_exact(a["success"], b["success"])
            out.append(
                f"- at horizon {h}, {NAMES[p]} vs {NAMES[ref]}: {_pct(a['success_rate'])} % vs "
                f"{_pct(b['success_rate'])} %, p {_p(pv)}: "
                f"{verdict(NAMES[p], a['success_rate'], NAMES[ref], b['success_rate'], pv)}"
            )
    for p in names:
        for h in horizons[1:]:
            a, b = by.get((h, p)), by.get((horizons[0], p))
            if a is None or b is None:
                continue
            pv = mcnemar_exact(a["success"], b["success"])
            ha, hb = f"horizon {h}", f"horizon {horizons[0]}"
            out.append(
                f"- {NAMES[p]}, {ha} vs {hb}: {_pct(a['success_rate'])} % vs "
                f"{_pct(b['success_rate'])} %, p {_p(pv)}: "
                f"{verdict(ha, a['success_rate'], hb, b['success_rate'], pv)}"
            )
    return [*out, ""]


def report(lines: list[dict[str, Any]], cfg: BudgetConfig, device: str) -> str:
    """The markdown: a banner, then one section per env."""
    out = [
        banner(device),
        "Planners at equal compute per episode-solve (`benchmark/scripts/planner_budget.py`): "
        "success with its 95 % interval (Wilson's, widened by a bootstrap over held-out "
        "episodes), the measured budget (one-step predictions per episode-solve), the wall time "
        "of one solve "
        "per episode (a batched solve over the tasks) and exact paired McNemar p-values against "
        f"{NAMES.get(cfg.reference, cfg.reference)} at the same horizon and between horizons; "
        "a difference is stated at "
        f"p < {ALPHA} (no correction for the number of comparisons). One training seed, planner "
        "seed 0.",
        "",
    ]
    envs_seen: list[str] = []
    for ln in lines:
        if ln["env"] not in envs_seen:
            envs_seen.append(ln["env"])
    for env_id in envs_seen:
        out += env_section(env_id, [ln for ln in lines if ln["env"] == env_id], cfg)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    import tyro

    return run(tyro.cli(BudgetConfig, args=argv))


if __name__ == "__main__":
    main()
