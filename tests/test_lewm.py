"""LeWM: sizes, the seam's shapes, train/plan consistency, options and bad input."""

from __future__ import annotations

import pytest
import torch

from agents import world_models
from agents.world_models.modules import count_parameters


def tiny(**kw):
    torch.manual_seed(0)
    return world_models.make("lewm", image_size=32, action_dim=6, preset="smoke", **kw)


def test_paper_preset_has_18m_parameters():
    model = world_models.make("lewm", image_size=224, action_dim=10, preset="paper")
    n = count_parameters(model)
    assert abs(n - 18.0e6) / 18.0e6 < 0.05, n
    assert model.encoder.patch.kernel_size == (14, 14)
    assert len(model.predictor.blocks) == 6 and model.history == 3


def test_vit_patch_8_at_64px():
    model = world_models.make(
        "lewm", image_size=64, action_dim=4, preset="smoke", encoder="vit", vit_depth=1
    )
    assert model.encoder.patch.kernel_size == (8, 8)
    z = model.eval().encode(torch.zeros(2, 1, 64, 64, 3, dtype=torch.uint8))
    assert z.shape == (2, 1, 32)


def test_seam_shapes():
    model = tiny(history=2).eval()
    px = torch.randint(0, 255, (3, 2, 32, 32, 3), dtype=torch.uint8)
    z = model.encode(px)
    assert z.shape == (3, 2, model.latent_dim)
    a = torch.rand(3, 7, 4, 6) * 2 - 1
    out = model.rollout(z, a, a_context=torch.zeros(3, 1, 6))
    assert out.shape == (3, 7, 4, model.latent_dim)
    assert model.step(z[:, -1], a[:, 0, 0]).shape == (3, model.latent_dim)


def test_step_equals_a_one_frame_rollout():
    model = tiny().eval()
    z, a = torch.randn(4, model.latent_dim), torch.rand(4, 6)
    torch.testing.assert_close(
        model.step(z, a), model.rollout(z[:, None], a[:, None, None])[:, 0, 0]
    )


def test_candidates_are_independent():
    model = tiny(history=2).eval()
    z, ctx = torch.randn(2, 2, model.latent_dim), torch.rand(2, 1, 6)
    a = torch.rand(2, 5, 3, 6)
    all_at_once = model.rollout(z, a, a_context=ctx)
    one = model.rollout(z, a[:, 3:4], a_context=ctx)
    torch.testing.assert_close(all_at_once[:, 3:4], one)


def test_training_and_planning_use_the_same_predictions():
    """Teacher-forced training predictions equal rollouts from the same ground-truth windows."""
    model = tiny(history=2).eval()
    z = torch.randn(3, 5, model.latent_dim)
    actions = torch.rand(3, 4, 6) * 2 - 1
    c = model.action_encoder(model._normalise(actions))
    tf = model._teacher_forced(z[:, :4], c)
    for k in range(4):
        lo = max(0, k - 1)
        ctx = actions[:, lo:k] if k > lo else None
        pred = model.rollout(z[:, lo : k + 1], actions[:, None, k : k + 1], a_context=ctx)
        torch.testing.assert_close(tf[:, k], pred[:, 0, 0], atol=1e-5, rtol=1e-5)


def test_loss_terms_and_gradient_flow_through_the_target():
    model = tiny().train()
    batch = {
        "pixels": torch.randint(0, 255, (8, 3, 32, 32, 3), dtype=torch.uint8),
        "actions": torch.rand(8, 2, 6),
    }
    loss, logs = model.loss(batch)
    assert set(logs) >= {"pred_loss", "reg", "emb_std"}
    assert loss.item() == pytest.approx(logs["pred_loss"] + 0.09 * logs["reg"], rel=1e-4)
    loss.backward()
    assert model.encoder.fc.weight.grad.abs().sum() > 0  # no stop-gradient on the target


@pytest.mark.parametrize("reg", ["sigreg", "vicreg", "spectral", "rdmreg", "none"])
def test_every_regulariser_trains(reg):
    model = tiny(regularizer=reg).train()
    batch = {
        "pixels": torch.randint(0, 255, (8, 2, 32, 32, 3), dtype=torch.uint8),
        "actions": torch.rand(8, 1, 6),
    }
    loss, _ = model.loss(batch)
    loss.backward()
    assert torch.isfinite(loss)


def test_ema_target_variant():
    model = tiny(ema_target=True, ema_decay=0.5).train()
    before = [p.clone() for p in model.target.parameters()]
    batch = {
        "pixels": torch.randint(0, 255, (8, 2, 32, 32, 3), dtype=torch.uint8),
        "actions": torch.rand(8, 1, 6),
    }
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, _ = model.loss(batch)
    loss.backward()
    assert all(p.grad is None for p in model.target.parameters())
    opt.step()
    model.after_optimizer_step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.target.parameters()))


def test_action_normalisation_is_inside_the_model():
    plain, scaled = tiny().eval(), tiny().eval()  # same seed, same weights
    scaled.set_action_stats(torch.full((6,), 0.5), torch.full((6,), 2.0))
    z, a = torch.randn(2, plain.latent_dim), torch.rand(2, 6)
    torch.testing.assert_close(scaled.step(z, a), plain.step(z, (a - 0.5) / 2.0))


def test_bad_input():
    model = tiny(history=2).eval()
    with pytest.raises(ValueError, match="pixels must be"):
        model.encode(torch.zeros(1, 1, 64, 64, 3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="uint8"):
        model.encode(torch.zeros(1, 1, 32, 32, 3))
    with pytest.raises(ValueError, match="actions must be"):
        model.rollout(torch.randn(1, 1, model.latent_dim), torch.rand(1, 2, 3, 5))
    with pytest.raises(ValueError, match="a_context"):
        model.rollout(torch.randn(1, 2, model.latent_dim), torch.rand(1, 2, 3, 6))
    with pytest.raises(ValueError, match="valid"):
        tiny(regularizer="spectral-kl")
    with pytest.raises(ValueError, match="unknown lewm option"):
        tiny(layers=3)
    with pytest.raises(ValueError, match="unknown world model"):
        world_models.make("jepa9000")
