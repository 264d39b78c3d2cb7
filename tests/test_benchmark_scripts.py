"""The benchmark scripts' code paths at tiny sizes (their figures come from real runs)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from agents import world_models
from benchmark.scripts import gpu_check, planning_speed, train_speed
from benchmark.scripts.flops import count_flops


def positive_finite(x) -> bool:
    return isinstance(x, float) and math.isfinite(x) and x > 0


def test_planning_speed_builds_the_paper_lewm_at_its_image_size():
    model = planning_speed.make_world_model("lewm-paper")
    assert model.cfg.image_size == 224 and model.history == 3
    row = planning_speed.measure(
        model, "cem", 1, 2, planning_speed.BUDGETS["tiny"], torch.device("cpu"), repeats=1
    )
    assert row["model calls"] == 2 and row["solve s"] > 0
    assert positive_finite(row["TFLOP/s"]) and positive_finite(row["GFLOP / solve"])


def test_planning_speed_times_a_model_with_the_two_argument_rollout():
    from plugins.mean_model import PoolConfig, PoolModel

    model = PoolModel(PoolConfig(image_size=32, action_dim=4))
    row = planning_speed.measure(
        model, "cem", 2, 2, planning_speed.BUDGETS["tiny"], torch.device("cpu"), repeats=1
    )
    assert row["model calls"] == 2 and row["solve s"] > 0


def test_planning_speed_cli_measures_bf16_and_compiled_solves(capsys):
    """The same script measures before and after: --precision and --compile (eager backend)
    rows carry their settings and a TFLOP/s column."""
    argv = ["--device", "cpu", "--model", "mlp", "--budget", "tiny", "--batch-sizes", "2"]
    argv += ["--planners", "cem", "gd", "--repeats", "1", "--horizon", "3"]
    rows = planning_speed.main(
        [*argv, "--precision", "bf16", "--compile"] + ["--compile-backend", "eager"]
    )
    assert [(r["precision"], r["compile"]) for r in rows] == [("bf16", True)] * 2
    assert all(positive_finite(r["TFLOP/s"]) for r in rows)
    assert "TFLOP/s" in capsys.readouterr().out


def test_planning_flops_count_the_attention_and_the_backward():
    """FLOPs of the replayed calls: a backward adds more than a forward, repeats multiply, and
    attention (SDPA's CPU flash kernel, which the counter does not know) is counted."""
    q = torch.randn(2, 4, 8, 16)
    assert count_flops(lambda: F.scaled_dot_product_attention(q, q, q)) == 4 * 2 * 4 * 8 * 8 * 16
    torch.manual_seed(0)
    model = world_models.make("lewm", image_size=32, action_dim=10, preset="smoke", history=3)
    cpu = torch.device("cpu")
    shapes = ((1, 1, 32), (1, 8, 3, 10), None)
    calls = [planning_speed.Call("rollout", shapes, False, (False, False, False))]
    forward = planning_speed.replay_flops(model, calls, cpu)
    grad = [planning_speed.Call("rollout", shapes, True, (False, True, False))]
    assert planning_speed.replay_flops(model, grad, cpu) > 2 * forward > 0
    assert planning_speed.replay_flops(model, calls * 3, cpu) == 3 * forward


def test_train_speed_reports_tflops_with_and_without_compile():
    cpu = torch.device("cpu")
    for compile in (False, True):
        row = train_speed.measure(
            "lewm", "smoke", cpu, 4, steps=1, warmup=1, compile=compile, compile_backend="eager"
        )
        assert row["compile"] is compile and positive_finite(row["TFLOP/s"])


def test_gpu_check_dry_run_on_cpu(tmp_path):
    """The GPU owner's one command, end to end at tiny sizes: speed rows for the three paper
    models, its planners at two batch sizes, and a TwoRoom run with floors."""
    parts = gpu_check.run(
        gpu_check.GPUCheckConfig(
            device="cpu", dry_run=True, data=tmp_path / "data", out=tmp_path / "gpu_check.md"
        )
    )
    speed = parts["train_speed"]
    assert [(r["model"], r["compile"]) for r in speed] == [
        ("lewm", False),
        ("dreamer", False),
        ("tdmpc2", False),
        ("lewm", True),
    ]
    planning = parts["planning"]
    assert {r["planner"] for r in planning} == set(gpu_check.PLANNERS)
    settings = {(r["planner"], r["precision"], r["compile"]) for r in planning}
    assert {("gd", "bf16", False), ("cem", "fp32", True), ("mppi", "bf16", True)} <= settings
    assert all(positive_finite(r["TFLOP/s"]) for r in speed + planning)
    assert isinstance(parts["tworoom"]["data wait %"], float)
    tworoom = parts["tworoom"]
    assert tworoom["train steps"] == 3 and "CEM success %" in tworoom
    assert tworoom["no-op / random / expert %"].endswith("/100")  # the expert ceiling ran
    text = (tmp_path / "gpu_check.md").read_text()
    assert "TwoRoom end to end" in text and "commit" in text


def test_planner_budget_solves_every_planner_to_the_budget(tiny_checkpoint):
    """Each planner's solved options cost the budget (+-15 %) as counted by running it: forward
    one-step predictions plus 2 per back-propagated one, and the count matches the formula."""
    from benchmark.checkpoint import load_model
    from benchmark.scripts import planner_budget

    model, _ = load_model(tiny_checkpoint)
    budget, horizon = 3000, 3
    for name in planner_budget.COSTED:
        options = planner_budget.solve_options(name, horizon, budget)
        cost = planner_budget.measure_cost(model.eval(), name, options, horizon)
        assert cost["measured"] == planner_budget.planned_cost(name, options, horizon), name
        assert abs(cost["measured"] / budget - 1) <= 0.15, (name, options, cost)
        assert (cost["differentiated_steps"] > 0) == (name in ("gd", "grasp")), name


def test_planner_budget_main_end_to_end(tiny_checkpoint, tworoom_dataset, tmp_path):
    """2 tasks, 1 horizon, 2 planners: the jsonl and the md are written, and a second run
    reuses every cell."""
    import json

    from benchmark.scripts import planner_budget

    cfg = planner_budget.BudgetConfig(
        checkpoints=(tiny_checkpoint,),
        datasets=(tworoom_dataset,),
        horizons=(2,),
        planners=("cem", "gd"),
        budget=600,
        n_tasks=2,
        tasks_dir=tmp_path / "tasks",
        device="cpu",
        out=tmp_path / "out",
        progress=False,
    )
    lines = planner_budget.run(cfg)
    assert [(ln["planner"], ln["horizon"], ln["n_tasks"]) for ln in lines] == [
        ("cem", 2, 2),
        ("gd", 2, 2),
    ]
    assert all(len(ln["success"]) == 2 for ln in lines)
    assert all(ln["model_calls_per_solve"] == ln["eval_model_calls_per_solve"] for ln in lines)
    jsonl = tmp_path / "out" / "planner_budget.jsonl"
    assert len(jsonl.read_text().splitlines()) == 2
    text = (tmp_path / "out" / "planner_budget.md").read_text()
    assert "commit" in text and "## TwoRoom-v0" in text and "H2 p vs cem" in text
    assert "at horizon 2, GD vs CEM:" in text
    again = planner_budget.run(cfg)
    assert len(jsonl.read_text().splitlines()) == 2  # resumed: nothing recomputed
    assert [json.dumps(a["success"]) for a in again] == [json.dumps(b["success"]) for b in lines]
