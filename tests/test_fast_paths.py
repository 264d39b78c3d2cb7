"""The GPU speed paths on CPU: bf16 / tf32 planning, compiled planning and training, fused AdamW,
prefetched batches. Compilation uses the ``eager`` backend (``WMBENCH_COMPILE_BACKEND``), which
runs the dynamo-captured graphs without inductor's compile time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

from agents import planners, world_models
from agents.planners.base import goal_cost
from agents.speed import BACKEND_ENV, SolveSpeed, compile_backend, tf32_matmuls
from benchmark.checkpoint import load_model
from benchmark.datasets import Recording
from benchmark.evaluate import EvalConfig, eval_key
from benchmark.train import Prefetcher, make_optimizer, read_history, train
from tests.toy_models import TinyMLP

# Small budgets per planner (a planner without an entry runs with its defaults).
BUDGETS = {
    "cem": dict(samples=32, elites=4, iterations=3),
    "mppi": dict(samples=32, iterations=3),
    "grasp": dict(iterations=4, sync_every=2, sync_steps=2),
    "gd": dict(iterations=4, restarts=2),
}


# Three logged steps: what the compiled-training test compares.
THREE_STEPS = dict(steps=3, warmup_steps=1, log_every=1, ckpt_every=3, eval_every=1000)


@pytest.fixture(scope="module")
def trained(tworoom_dataset, tmp_path_factory, smoke_cfg):
    """A tiny trained TwoRoom LeWM (smoke preset, 240 steps: enough for actions to move its
    predictions well beyond bf16 rounding) and planning problems from the held-out episodes:
    context latents (B, 1, D) and goal latents (B, D) of the frame 15 env steps later."""
    cfg = smoke_cfg(
        tworoom_dataset,
        tmp_path_factory.mktemp("run"),
        steps=240,
        batch_size=16,
        warmup_steps=1,
        log_every=80,
        ckpt_every=240,
        eval_every=1000,
    )
    model, _ = load_model(train(cfg, progress=False))
    model.eval()
    rec = Recording.open(tworoom_dataset, progress=False)
    starts = [rec.episode_start[e] + 5 for e in rec.episodes("test")[:4]]
    px = rec.arrays["pixels"]
    with torch.no_grad():
        z_context = model.encode(torch.from_numpy(np.stack([px[s] for s in starts]))[:, None])
        z_goal = model.encode(torch.from_numpy(np.stack([px[s + 15] for s in starts]))[:, None])
    return model, z_context, z_goal[:, 0]


def fp32_cost(model, z_context, z_goal, actions) -> torch.Tensor:
    """Terminal goal cost (B,) of plans (B, H, A), always from an fp32 rollout."""
    with torch.no_grad():
        return goal_cost(model.rollout(z_context, actions[:, None]), z_goal)[:, 0]


def plan(model, z_context, z_goal, name: str, speed: SolveSpeed | None = None) -> torch.Tensor:
    planner = planners.make(name, horizon=3, seed=0, speed=speed, **BUDGETS.get(name, {}))
    return planner.plan(model, z_context, z_goal)


@pytest.mark.parametrize("name", planners.names())
def test_default_speed_options_change_nothing(name, trained):
    """fp32 and uncompiled, given explicitly, or tf32 on a CPU (a no-op there), plan exactly
    what a planner built without speed options plans."""
    model, z_context, z_goal = trained
    plain = plan(model, z_context, z_goal, name)
    explicit = plan(model, z_context, z_goal, name, SolveSpeed("fp32", compile=False))
    tf32 = plan(model, z_context, z_goal, name, SolveSpeed("tf32"))
    assert torch.equal(plain, explicit) and torch.equal(plain, tf32)
    toy = TinyMLP()
    g = torch.Generator().manual_seed(0)
    zc, zg = torch.randn(2, 1, toy.latent_dim, generator=g), torch.randn(2, toy.latent_dim)
    assert torch.equal(plan(toy, zc, zg, name), plan(toy, zc, zg, name, SolveSpeed("fp32")))


@pytest.mark.parametrize("name", planners.names())
def test_bf16_plans_stay_in_the_box_and_near_the_fp32_cost(name, trained):
    """bf16 autocast planning returns finite actions in the box whose goal cost (evaluated in
    fp32) is within a tolerance of the fp32 plan's: |cost_bf16 - cost_fp32| <= 0.1 * cost_noop
    per episode, where cost_noop, the cost of doing nothing, sets the scale (the fp32 plans
    reach 25-60 % of it; the gaps seen are below 4 % of it). bf16 keeps ~3 significant digits,
    so planners may rank candidates differently: the tolerance admits another plan of similar
    quality, not a broken one."""
    model, z_context, z_goal = trained
    fp32 = plan(model, z_context, z_goal, name)
    bf16 = plan(model, z_context, z_goal, name, SolveSpeed("bf16"))
    assert bf16.dtype == torch.float32 and torch.isfinite(bf16).all()
    assert bf16.abs().max() <= 1.0
    noop = fp32_cost(model, z_context, z_goal, torch.zeros_like(fp32))
    gap = fp32_cost(model, z_context, z_goal, bf16) - fp32_cost(model, z_context, z_goal, fp32)
    assert (gap.abs() <= 0.1 * noop).all(), (gap, noop)


@pytest.mark.parametrize("name", ["cem", "grasp"])
def test_compiled_planning_gives_the_uncompiled_actions(name, trained, monkeypatch):
    """compile=True (eager backend) plans the fp32 actions: CEM covers batched no-grad
    rollouts, GRASP one-step calls with a backward and gradient syncs through rollouts. The
    compiled function is bound to the model only during the solve."""
    monkeypatch.setenv(BACKEND_ENV, "eager")
    model, z_context, z_goal = trained
    calls = {"n": 0}
    real = type(model)._predict_last

    def counted(self, *args):
        calls["n"] += 1
        return real(self, *args)

    monkeypatch.setattr(type(model), "_predict_last", counted)
    plain = plan(model, z_context, z_goal, name)
    uncompiled_calls, calls["n"] = calls["n"], 0
    graphs = counters["stats"]["unique_graphs"]
    compiled = plan(model, z_context, z_goal, name, SolveSpeed(compile=True))
    torch.testing.assert_close(compiled, plain, rtol=0, atol=1e-6)
    assert counters["stats"]["unique_graphs"] > graphs  # dynamo captured the one-step function
    assert calls["n"] == uncompiled_calls > 0  # every step went through the compiled function
    assert "_predict_last" not in model.__dict__


def test_compiled_planning_with_a_three_frame_history(monkeypatch):
    """A LeWM with history 3 (the paper's) compiles one graph per window length and plans the
    uncompiled actions from a 3-frame context, with and without gradients."""
    monkeypatch.setenv(BACKEND_ENV, "eager")
    torch.manual_seed(0)
    model = world_models.make("lewm", image_size=32, action_dim=4, preset="smoke", history=3)
    with torch.no_grad():
        for p in model.predictor.parameters():  # break AdaLN-zero: actions must matter
            p.normal_(0, 0.2)
    model.eval()
    g = torch.Generator().manual_seed(0)
    z_context = torch.randn(2, 3, model.latent_dim, generator=g)
    z_goal = torch.randn(2, model.latent_dim, generator=g)
    a_context = torch.rand(2, 2, 4, generator=g) * 2 - 1
    for name in ("cem", "gd"):
        runs = [
            planners.make(name, horizon=4, seed=0, speed=speed, **BUDGETS[name]).plan(
                model, z_context, z_goal, a_context=a_context
            )
            for speed in (None, SolveSpeed(compile=True))
        ]
        torch.testing.assert_close(runs[1], runs[0], rtol=0, atol=1e-6)


def test_the_compile_backend_comes_from_the_option_or_the_environment(monkeypatch):
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    assert compile_backend() == "inductor"
    monkeypatch.setenv(BACKEND_ENV, "aot_eager")
    assert compile_backend() == "aot_eager" and compile_backend("eager") == "eager"
    assert SolveSpeed("bf16", compile=True).describe() == "precision=bf16, compile=aot_eager"
    assert SolveSpeed().describe() == "" and SolveSpeed().is_default
    # stored planner descriptions change only when an option is on
    assert planners.make("cem").describe() == planners.make("cem", speed=SolveSpeed()).describe()
    assert planners.make("cem", speed=SolveSpeed("bf16")).describe().endswith("precision=bf16)")


def test_tf32_flags_are_set_for_the_block_only():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    with tf32_matmuls():
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
    assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == before


def test_eval_config_checks_the_speed_options_and_keeps_old_fingerprints():
    with pytest.raises(ValueError, match=r"precision \(--eval.precision\) must be one of"):
        EvalConfig(precision="fp16")
    with pytest.raises(ValueError, match=r"--eval.compile"):
        EvalConfig(compile="yes")
    default = eval_key(EvalConfig())
    assert "precision" not in default and "compile" not in default
    assert eval_key(EvalConfig(compile=True)) == default  # how, not what, is computed
    assert eval_key(EvalConfig(precision="bf16"))["precision"] == "bf16"
    assert EvalConfig(precision="bf16").speed() == SolveSpeed("bf16")


def test_fused_adamw_only_on_cuda():
    params = [torch.nn.Parameter(torch.zeros(3))]
    assert make_optimizer(params, 1e-3, 0.0, torch.device("cuda")).defaults["fused"] is True
    assert not make_optimizer(params, 1e-3, 0.0, torch.device("cpu")).defaults["fused"]


def test_prefetcher_serves_the_batches_of_each_step_in_order():
    built: list[int] = []

    def load(step: int) -> dict[str, torch.Tensor]:
        built.append(step)
        return {"x": torch.full((2,), step)}

    prefetch = Prefetcher(load, stop=5, depth=2)
    try:
        for step in range(2, 5):  # a resumed run starts mid-way
            assert prefetch.get(step)["x"].tolist() == [step, step]
    finally:
        prefetch.close()
    assert built == [2, 3, 4] and prefetch.wait_s >= 0


def test_compiled_training_matches_uncompiled(tworoom_dataset, tmp_path, monkeypatch, smoke_cfg):
    """3 steps with the loss compiled (eager backend) log the uncompiled losses (within 1e-5),
    and every logged row says what fraction of its wall time waited for data."""
    monkeypatch.setenv(BACKEND_ENV, "eager")
    train(smoke_cfg(tworoom_dataset, tmp_path / "plain", **THREE_STEPS), progress=False)
    compiled = smoke_cfg(tworoom_dataset, tmp_path / "compiled", compile=True, **THREE_STEPS)
    train(compiled, progress=False)
    plain, compiled = read_history(tmp_path / "plain"), read_history(tmp_path / "compiled")
    assert [r["step"] for r in compiled] == [1, 2, 3]
    np.testing.assert_allclose(
        [r["loss"] for r in compiled], [r["loss"] for r in plain], rtol=0, atol=1e-5
    )
    assert all(0 <= r["data_wait_frac"] <= 1 for r in plain + compiled)
