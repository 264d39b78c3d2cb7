"""DreamerV3-style RSSM: sizes, the feature layout, imagination, the loss, training through
the shared trainer, checkpoints, and planning an episode. The seam every model meets (shapes,
step = one-frame rollout, frames encoded on their own, gradients to the actions, action
statistics, checkpoints, every planner on it) is tests/test_contracts.py."""

from __future__ import annotations

import json

import pytest
import torch
from contracts import window_batch

from agents import world_models
from agents.world_models.modules import count_parameters
from benchmark.checkpoint import load_model
from benchmark.evaluate import EvalConfig, evaluate
from benchmark.train import read_history, train


def tiny(**kw):
    torch.manual_seed(0)
    return world_models.make("dreamer", image_size=32, action_dim=6, preset="smoke", **kw)


def batch(b=4, t=3):
    return window_batch(b, t, image_size=32, action_dim=6)


@pytest.fixture(scope="module")
def trained(trained_run):
    return trained_run("dreamer")


def test_preset_sizes():
    paper = world_models.make("dreamer", image_size=224, action_dim=10, preset="paper")
    n = count_parameters(paper)
    assert abs(n - 18.0e6) / 18.0e6 < 0.10, n  # comparable to LeWM's 18.0M
    assert (paper.cfg.stoch, paper.cfg.classes, paper.cfg.deter) == (32, 32, 512)
    assert paper.latent_dim == 512 + 32 * 32 and paper.res == 64
    quick = world_models.make("dreamer", image_size=64, action_dim=10, preset="quick")
    assert 1.5e6 < count_parameters(quick) < 2.5e6


def test_seam_shapes_and_feature_layout():
    model = tiny().eval()
    z = model.encode(batch()["pixels"])
    assert z.shape == (4, 3, model.latent_dim) == (4, 3, 64 + 8 * 8)
    probs = z[..., 64:].reshape(4, 3, 8, 8)
    torch.testing.assert_close(probs.sum(-1), torch.ones(4, 3, 8))
    assert probs.min() >= 0.01 / 8 - 1e-6  # unimix keeps every class alive
    out = model.rollout(z, torch.rand(4, 5, 7, 6) * 2 - 1)
    assert out.shape == (4, 5, 7, model.latent_dim)
    assert model.step(z[:, -1], torch.rand(4, 6)).shape == (4, model.latent_dim)


def test_rollouts_are_deterministic_and_candidates_independent():
    model = tiny().train()  # even in training mode, imagination uses the mode, not samples
    z = torch.randn(2, 1, model.latent_dim)
    a = torch.rand(2, 6, 3, 6) * 2 - 1
    first = model.rollout(z, a)
    torch.testing.assert_close(first, model.rollout(z, a))
    torch.testing.assert_close(first[:, 2:3], model.rollout(z, a[:, 2:3]))


def test_loss_terms_and_free_bits():
    model = tiny().train()
    loss, logs = model.loss(batch())
    assert set(logs) >= {"recon", "kl_dyn", "kl_rep", "kl", "consistency"}
    expected = logs["recon"] + 0.5 * logs["kl_dyn"] + 0.1 * logs["kl_rep"] + logs["consistency"]
    assert loss.item() == pytest.approx(expected, rel=1e-4)
    assert logs["kl_dyn"] >= 1.0 and logs["kl_rep"] >= 1.0  # clipped below at 1 nat
    # Below the free bits the KL terms give no gradient (by design); without them every part
    # of the model gets one.
    model = tiny(free_nats=0.0).train()
    model.loss(batch())[0].backward()
    for name in ("encoder", "decoder", "gru", "prior_net", "post_net", "h_obs", "img_in"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name


def test_resolution_resizes_frames():
    model = world_models.make(
        "dreamer", image_size=48, action_dim=6, preset="smoke", resolution=16
    ).eval()
    assert model.encode(torch.zeros(1, 2, 48, 48, 3, dtype=torch.uint8)).shape[:2] == (1, 2)
    with pytest.raises(ValueError, match="resolution"):
        world_models.make("dreamer", image_size=48, action_dim=6, preset="smoke")


def test_bad_input():
    model = tiny().eval()
    with pytest.raises(ValueError, match="pixels must be"):
        model.encode(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        model.encode(torch.zeros(1, 1, 32, 32, 3))
    with pytest.raises(ValueError, match="actions must be"):
        model.rollout(torch.randn(1, 1, model.latent_dim), torch.rand(1, 2, 3, 5))
    with pytest.raises(ValueError, match="z_context must be"):
        model.rollout(torch.randn(1, 1, 7), torch.rand(1, 2, 3, 6))
    bad = batch()
    bad["actions"] = bad["actions"][:, :1]
    with pytest.raises(ValueError, match="action blocks"):
        model.loss(bad)
    with pytest.raises(ValueError, match="unknown dreamer option"):
        tiny(layers=3)


def test_training_run_loss_falls_and_checkpoint_loads(trained):
    ckpt, out, cfg = trained
    hist = read_history(out)
    assert hist[-1]["recon"] < 0.5 * hist[0]["recon"], (hist[0], hist[-1])
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]
    meta = json.loads((ckpt / "config.json").read_text())
    assert meta["model"] == "dreamer" and meta["complete"] and meta["step"] == 120
    assert meta["model_config"]["action_dim"] == 10  # frameskip 5 x TwoRoom's 2
    a, _ = load_model(ckpt)
    b, _ = load_model(ckpt)
    px = torch.randint(0, 255, (2, 1, 32, 32, 3), dtype=torch.uint8)
    torch.testing.assert_close(a.eval().encode(px), b.eval().encode(px))
    assert train(cfg, progress=False) == ckpt  # a finished run is returned as is


def test_planning_episode_with_cem(trained, tworoom_dataset, tmp_path):
    ckpt = trained.checkpoint
    cfg = EvalConfig(
        planner="cem",
        planner_options={"samples": 16, "elites": 4, "iterations": 2},
        n_tasks=3,
        goal_offset=20,
        budget=10,
        pred_horizon=2,
        pred_windows=16,
        videos=0,
    )
    r = evaluate(ckpt, tworoom_dataset, cfg, device="cpu", tasks_file=tmp_path / "tasks.json")
    assert r["model"] == "dreamer" and len(r["outcomes"]) == 3
    assert len(r["prediction"]["cos"]) == 2 and r["solve_time_s"] > 0
    again = evaluate(ckpt, tworoom_dataset, cfg, device="cpu", tasks_file=tmp_path / "tasks.json")
    assert again["outcomes"] == r["outcomes"]  # eval mode is deterministic
