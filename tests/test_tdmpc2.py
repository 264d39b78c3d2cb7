"""TD-MPC2-style latent model: sizes, the seam's shapes, SimNorm, hindsight-goal reward labels
(from the window indices, never from states), the two variants, training through the shared
trainer (without batch["state"]), checkpoints, and planning an episode. The seam every model
meets (step = one-frame rollout, candidates independent, gradients to the actions, action
statistics, checkpoints, every planner on it) is tests/test_contracts.py."""

from __future__ import annotations

import json

import pytest
import torch
from contracts import window_batch

from agents import world_models
from agents.world_models.tdmpc2 import TDMPC2
from benchmark import datasets
from benchmark.checkpoint import load_model
from benchmark.evaluate import EvalConfig, evaluate
from benchmark.train import read_history, train


def tiny(**kw):
    torch.manual_seed(0)
    return world_models.make("tdmpc2", image_size=32, action_dim=6, preset="smoke", **kw)


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def batch(b=6, t=4):
    return window_batch(b, t, image_size=32, action_dim=6)


@pytest.fixture(scope="module")
def trained(trained_run):
    return trained_run("tdmpc2")


def test_preset_sizes():
    paper = world_models.make("tdmpc2", image_size=64, action_dim=10, preset="paper")
    assert abs(trainable(paper) - 5.0e6) / 5.0e6 < 0.10, trainable(paper)  # TD-MPC2's 5M
    assert paper.latent_dim == 512 and isinstance(paper.encoder.proj, torch.nn.Identity)
    free = world_models.make(
        "tdmpc2", image_size=64, action_dim=10, preset="paper", variant="reward_free"
    )
    assert 0.7e6 < trainable(free) < 1.0e6 and free.q_heads is None
    quick = world_models.make("tdmpc2", image_size=64, action_dim=10, preset="quick")
    assert 0.9e6 < trainable(quick) < 1.5e6  # TD-MPC2's 1M size
    big = world_models.make("tdmpc2", image_size=224, action_dim=10, preset="paper")
    assert abs(trainable(big) - 5.0e6) / 5.0e6 < 0.10


def test_seam_shapes_and_simnorm():
    model = tiny().eval()
    z = model.encode(batch()["pixels"])
    assert z.shape == (6, 4, 32)
    groups = z.reshape(6, 4, 4, 8)
    torch.testing.assert_close(groups.sum(-1), torch.ones(6, 4, 4))
    assert z.min() >= 0
    out = model.rollout(z, torch.rand(6, 5, 7, 6) * 2 - 1)
    assert out.shape == (6, 5, 7, 32)
    torch.testing.assert_close(out.reshape(6, 5, 7, 4, 8).sum(-1), torch.ones(6, 5, 7, 4))
    assert model.step(z[:, -1], torch.rand(6, 6)).shape == (6, 32)


@pytest.mark.parametrize("size", [16, 32, 64, 96])
def test_encoder_adapts_to_image_size(size):
    model = world_models.make("tdmpc2", image_size=size, action_dim=4, preset="smoke").eval()
    z = model.encode(torch.zeros(2, 1, size, size, 3, dtype=torch.uint8))
    assert z.shape == (2, 1, 32)


def test_hindsight_reward_labels_on_a_hand_made_window():
    # Four windows of 4 frames (3 blocks): goals at frames 1, 3, 2 of their own window, and one
    # goal from another window (window 0, frame 2).
    goal_b, goal_t = torch.tensor([0, 1, 2, 0]), torch.tensor([1, 3, 2, 2])
    rewards, reached = TDMPC2.hindsight_rewards(goal_b, goal_t, horizon=3)
    want = torch.tensor(
        [
            [0.0, -1.0, -1.0],  # block 0 leads to frame 1, the goal: reached
            [-1.0, -1.0, 0.0],  # block 2 leads to frame 3
            [-1.0, 0.0, -1.0],  # block 1 leads to frame 2; block 2 moves past it
            [-1.0, -1.0, -1.0],  # another window's frame is never reached
        ]
    )
    torch.testing.assert_close(rewards, want)
    assert torch.equal(reached, want == 0)
    with pytest.raises(ValueError, match=r"\(B,\)"):
        TDMPC2.hindsight_rewards(goal_b[:, None], goal_t[:, None], horizon=3)


def test_hindsight_goals_are_later_frames_or_other_windows():
    goal_b, goal_t = tiny(goal_other_prob=0.0).hindsight_goals(64, 4)
    assert torch.equal(goal_b, torch.arange(64))  # goals from the window itself ...
    assert goal_t.min() >= 1 and goal_t.max() <= 3  # ... at a later frame
    rewards, _ = TDMPC2.hindsight_rewards(goal_b, goal_t, 3)
    assert torch.all(rewards.sum(1) == -2)  # exactly one block reaches its goal
    other_b, other_t = tiny(goal_other_prob=1.0).hindsight_goals(64, 4)
    assert torch.all(other_b != torch.arange(64)) and other_t.max() <= 3
    assert torch.all(TDMPC2.hindsight_rewards(other_b, other_t, 3)[0] == -1)


def test_two_hot_round_trip():
    model = tiny()
    x = torch.tensor([-3.0, -0.5, 0.0, 0.7, 5.0])
    target = model.two_hot.encode(x)
    torch.testing.assert_close(target.sum(-1), torch.ones(5))
    logits = torch.where(target > 0, target.log(), torch.full_like(target, -1e9))
    torch.testing.assert_close(model.two_hot.decode(logits), x, atol=1e-4, rtol=1e-4)


def test_variants_losses_and_gradients():
    goal = tiny().train()
    loss, logs = goal.loss(batch())
    assert set(logs) >= {"consistency", "reward_loss", "value_loss", "reward_mae", "emb_std"}
    expected = 20 * logs["consistency"] + 0.1 * logs["reward_loss"] + 0.1 * logs["value_loss"]
    assert loss.item() == pytest.approx(expected, rel=1e-4)
    loss.backward()
    for name in ("encoder", "dynamics", "reward_head", "q_heads"):
        assert all(p.grad is not None for p in getattr(goal, name).parameters()), name
    assert all(p.grad is None for p in goal.target_q.parameters())
    free = tiny(variant="reward_free").train()
    loss, logs = free.loss(batch())
    assert set(logs) == {"consistency", "emb_std"} and free.reward_head is None
    assert loss.item() == pytest.approx(20 * logs["consistency"], rel=1e-5)


def test_target_q_follows_by_ema():
    model = tiny(tau=0.5).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    before = [p.clone() for p in model.target_q.parameters()]
    model.loss(batch())[0].backward()
    opt.step()
    model.after_optimizer_step()
    for b, t, q in zip(before, model.target_q.parameters(), model.q_heads.parameters()):
        torch.testing.assert_close(t, 0.5 * b + 0.5 * q)
    assert any(not torch.equal(b, t) for b, t in zip(before, model.target_q.parameters()))


def test_bad_input():
    model = tiny().eval()
    with pytest.raises(ValueError, match="pixels must be"):
        model.encode(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        model.encode(torch.zeros(1, 1, 32, 32, 3))
    with pytest.raises(ValueError, match="actions must be"):
        model.rollout(torch.rand(1, 1, 32), torch.rand(1, 2, 3, 5))
    bad = batch()
    bad["actions"] = bad["actions"][:, :1]
    with pytest.raises(ValueError, match="action blocks"):
        model.loss(bad)
    with pytest.raises(ValueError, match="variant"):
        tiny(variant="reward")
    with pytest.raises(ValueError, match="multiple of simnorm_dim"):
        tiny(latent_dim=30)
    with pytest.raises(ValueError, match="unknown tdmpc2 option"):
        tiny(layers=3)
    # The state-based reward options are gone: rewards come from the window indices alone.
    gone = ("env_id", "reward", "reward_scale", "goal_state_dims", "success_radius")
    for option in gone:
        with pytest.raises(ValueError, match="unknown tdmpc2 option"):
            tiny(**{option: 1})


def test_goal_variant_trains_without_the_recorded_state(
    tworoom_dataset, tmp_path, monkeypatch, smoke_cfg
):
    read = datasets.WindowDataset.__getitems__

    def stateless(self, indices):
        batch = read(self, indices)
        del batch["state"]  # the goal variant must label its rewards from the data alone
        return batch

    monkeypatch.setattr(datasets.WindowDataset, "__getitems__", stateless)
    cfg = smoke_cfg(tworoom_dataset, tmp_path, model="tdmpc2", steps=4, log_every=2, eval_every=4)
    ckpt = train(cfg, progress=False)
    hist = read_history(tmp_path)
    assert hist[-1]["step"] == 4 and all(h["reward_loss"] > 0 for h in hist)
    assert json.loads((ckpt / "config.json").read_text())["model_config"]["variant"] == "goal"


def test_training_run_loss_falls_and_checkpoint_loads(trained):
    ckpt, out, _ = trained
    hist = read_history(out)
    first, last = hist[0], hist[-1]
    assert last["reward_loss"] < 0.5 * first["reward_loss"], (first, last)
    assert last["loss"] < first["loss"]
    meta = json.loads((ckpt / "config.json").read_text())
    assert meta["model"] == "tdmpc2" and meta["complete"] and meta["step"] == 120
    a, _ = load_model(ckpt)
    b, _ = load_model(ckpt)
    px = torch.randint(0, 255, (2, 1, 32, 32, 3), dtype=torch.uint8)
    torch.testing.assert_close(a.eval().encode(px), b.eval().encode(px))
    for x, y in zip(a.target_q.parameters(), b.target_q.parameters()):
        torch.testing.assert_close(x, y)


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
    assert r["model"] == "tdmpc2" and len(r["outcomes"]) == 3
    assert len(r["prediction"]["cos"]) == 2 and r["solve_time_s"] > 0
    again = evaluate(ckpt, tworoom_dataset, cfg, device="cpu", tasks_file=tmp_path / "tasks.json")
    assert again["outcomes"] == r["outcomes"]


# ---- the anti-collapse regulariser (tdmpc2-sigreg) ---------------------------------------


@pytest.mark.parametrize("regularizer", ["sigreg", "vicreg"])
def test_regularizer_option_adds_a_term_on_the_pre_simnorm_features(regularizer):
    x = batch()  # tiny() seeds the RNG, so every model below draws the same weights and goals
    base, logs = tiny().loss(x)
    assert "reg" not in logs  # "none" is the faithful model: no term, no log
    model = tiny(regularizer=regularizer, lam=1.0)
    loss, logs = model.loss(x)
    same, _ = tiny(regularizer="none", lam=1.0).loss(x)
    assert logs["reg"] > 0 and not torch.isclose(loss, base)
    torch.testing.assert_close(same, base)  # lam alone changes nothing when there is no term
    loss.backward()  # the term reaches the encoder through the features before SimNorm
    assert model.encoder.convs[0].weight.grad.abs().sum() > 0


def test_unknown_regularizer_is_rejected_listing_the_valid_ones():
    with pytest.raises(ValueError, match="valid: .*none.*sigreg.*vicreg"):
        tiny(regularizer="sigrag")


def test_sigreg_variant_is_its_own_model_name():
    model = world_models.make("tdmpc2-sigreg", image_size=32, action_dim=6, preset="smoke")
    assert isinstance(model, TDMPC2) and model.cfg.regularizer == "sigreg" and model.cfg.lam > 0
    assert world_models.make("tdmpc2", image_size=32, action_dim=6).cfg.regularizer == "none"
    # the faithful model's run fingerprint is unchanged by the new options at their defaults
    assert "regularizer" not in world_models.config_key(tiny().cfg)


def test_sigreg_variant_trains_two_steps_and_reloads(tworoom_dataset, tmp_path, smoke_cfg):
    cfg = smoke_cfg(
        tworoom_dataset, tmp_path, model="tdmpc2-sigreg", steps=2, log_every=1, eval_every=2
    )
    ckpt = train(cfg, progress=False)
    hist = [h for h in read_history(tmp_path) if "reg" in h]
    assert hist and all(h["reg"] > 0 for h in hist)
    meta = json.loads((ckpt / "config.json").read_text())
    assert meta["model"] == "tdmpc2-sigreg" and meta["model_config"]["regularizer"] == "sigreg"
    model, _ = load_model(ckpt)
    assert model.cfg.regularizer == "sigreg"
