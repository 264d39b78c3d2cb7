"""LeWM: sizes, train/plan consistency, options, the released modules and bad input. The seam
every model meets (shapes with a context of two frames, step = one-frame rollout, candidates
independent, action statistics, checkpoints, every planner on it) is tests/test_contracts.py."""

from __future__ import annotations

import pytest
import torch

from agents import regularizers, world_models
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


def test_training_and_planning_use_the_same_predictions():
    """Teacher-forced training predictions equal rollouts from the same ground-truth windows."""
    model = tiny(history=2).eval()
    z = torch.randn(3, 5, model.latent_dim)
    actions = torch.rand(3, 4, 6) * 2 - 1
    c = model.action_encoder(model.normalise_actions(actions))
    tf = model._teacher_forced(z[:, :4], c)
    for k in range(4):
        lo = max(0, k - 1)
        ctx = actions[:, lo:k] if k > lo else None
        pred = model.rollout(z[:, lo : k + 1], actions[:, None, k : k + 1], a_context=ctx)
        torch.testing.assert_close(tf[:, k], pred[:, 0, 0], atol=1e-5, rtol=1e-5)


def test_loss_terms():
    model = tiny().train()
    batch = {
        "pixels": torch.randint(0, 255, (8, 3, 32, 32, 3), dtype=torch.uint8),
        "actions": torch.rand(8, 2, 6),
    }
    loss, logs = model.loss(batch)
    assert set(logs) >= {"pred_loss", "reg", "emb_std"}
    assert loss.item() == pytest.approx(logs["pred_loss"] + 0.09 * logs["reg"], rel=1e-4)
    loss.backward()
    assert model.encoder.fc.weight.grad.abs().sum() > 0  # (the target: test_the_target_is_...)


@pytest.mark.parametrize("reg", list(regularizers.REGULARIZERS))
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


# ---- the released predictor, block by block ----------------------------------------------------
def _released_block(x, c, sd, heads, dim_head):
    """The released ConditionalBlock's equations, written out from its parameters alone:
    x + gate_msa * Attention(modulate(LN(x))), x + gate_mlp * FeedForward(modulate(LN(x))),
    where Attention = affine LN -> to_qkv (no bias) -> causal SDPA -> to_out and FeedForward =
    affine LN -> Linear -> GELU -> Linear; the outer LN has no affine part, eps 1e-6."""
    F = torch.nn.functional
    d = x.shape[-1]
    mod = F.linear(F.silu(c), sd["ada.1.weight"], sd["ada.1.bias"])
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod.chunk(6, -1)
    h = F.layer_norm(x, (d,), eps=1e-6) * (1 + scale_msa) + shift_msa
    h = F.layer_norm(h, (d,), sd["attn.norm.weight"], sd["attn.norm.bias"])
    q, k, v = (h @ sd["attn.qkv.weight"].T).chunk(3, -1)
    b, t, _ = x.shape
    q, k, v = (z.reshape(b, t, heads, dim_head).transpose(1, 2) for z in (q, k, v))
    att = (q @ k.transpose(-1, -2)) / dim_head**0.5
    att = att.masked_fill(torch.ones(t, t, dtype=torch.bool).triu(1), float("-inf"))
    h = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, heads * dim_head)
    x = x + gate_msa * F.linear(h, sd["attn.out.weight"], sd["attn.out.bias"])
    h = F.layer_norm(x, (d,), eps=1e-6) * (1 + scale_mlp) + shift_mlp
    h = F.layer_norm(h, (d,), sd["mlp.net.0.weight"], sd["mlp.net.0.bias"])
    h = F.linear(
        F.gelu(F.linear(h, sd["mlp.net.1.weight"], sd["mlp.net.1.bias"])),
        sd["mlp.net.4.weight"],
        sd["mlp.net.4.bias"],
    )
    return x + gate_mlp * h


def test_predictor_block_matches_the_released_equations():
    from agents.world_models.modules import AdaLNBlock

    torch.manual_seed(0)
    block = AdaLNBlock(dim=24, heads=4, dim_head=8, mlp_dim=40, dropout=0.1).eval()
    with torch.no_grad():  # zero-init modulation makes every block the identity: perturb it
        for p in block.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x, c = torch.randn(5, 3, 24), torch.randn(5, 3, 24)
    mask = torch.ones(3, 3, dtype=torch.bool).tril()
    sd = block.state_dict()
    torch.testing.assert_close(block(x, c, mask), _released_block(x, c, sd, 4, 8))


def test_paper_predictor_and_action_encoder_are_the_released_modules():
    """Parameter for parameter: the shapes the released layers have (Attention: affine LN,
    to_qkv without bias, to_out; FeedForward: LN, 192 -> 2048 -> 192; adaLN 192 -> 6 x 192;
    positions (1, 3, 192); final LN; Embedder: Conv1d(10, 10, 1), 10 -> 768 -> 192)."""
    model = world_models.make("lewm", image_size=224, action_dim=10, preset="paper")
    d, inner, mlp = 192, 16 * 64, 2048
    block = {
        "attn.norm.weight": (d,),
        "attn.norm.bias": (d,),
        "attn.qkv.weight": (3 * inner, d),
        "attn.out.weight": (d, inner),
        "attn.out.bias": (d,),
        "mlp.net.0.weight": (d,),
        "mlp.net.0.bias": (d,),
        "mlp.net.1.weight": (mlp, d),
        "mlp.net.1.bias": (mlp,),
        "mlp.net.4.weight": (d, mlp),
        "mlp.net.4.bias": (d,),
        "ada.1.weight": (6 * d, d),
        "ada.1.bias": (6 * d,),
    }
    want = {"pos": (1, 3, d), "norm.weight": (d,), "norm.bias": (d,)}
    for i in range(6):
        want.update({f"blocks.{i}.{k}": v for k, v in block.items()})
    got = {k: tuple(v.shape) for k, v in model.predictor.state_dict().items()}
    assert got == want
    got = {k: tuple(v.shape) for k, v in model.action_encoder.state_dict().items()}
    assert got == {
        "smooth.weight": (10, 10, 1),
        "smooth.bias": (10,),
        "mlp.0.weight": (4 * d, 10),
        "mlp.0.bias": (4 * d,),
        "mlp.2.weight": (d, 4 * d),
        "mlp.2.bias": (d,),
    }


def test_released_initialisation():
    torch.manual_seed(0)
    model = world_models.make("lewm", image_size=224, action_dim=10, preset="paper")
    # positions ~ N(0, 1), not the ViT's 0.02
    assert 0.9 < model.predictor.pos.std().item() < 1.1
    # PyTorch's default Linear init (uniform, std 1 / sqrt(3 fan_in)) outside the ViT
    for layer, fan_in in ((model.pred_proj.fc1, 192), (model.action_encoder.mlp[2], 768)):
        assert layer.weight.std().item() == pytest.approx(1 / (3 * fan_in) ** 0.5, rel=0.05)
    # the action embedding of z-scored actions is not shrunk (a blanket std-0.02 init made
    # its output ~100x smaller, so actions barely reached the AdaLN modulation)
    a = torch.randn(256, 10)
    assert model.action_encoder(a).std().item() > 0.05
    # the ViT keeps its own initialisation (truncated normal, std 0.02)
    assert model.encoder.blocks[0].mlp[0].weight.std().item() == pytest.approx(0.02, rel=0.1)
    # modulation starts at zero: every predictor block is the identity at init
    assert all(b.ada[1].weight.abs().sum() == 0 for b in model.predictor.blocks)


def test_paper_preset_preprocesses_pixels_as_released():
    from agents.world_models.modules import pixels_to_float

    px = torch.full((1, 2, 2, 3), 255, dtype=torch.uint8)
    x = pixels_to_float(px, "imagenet")
    torch.testing.assert_close(
        x[:, :, 0, 0],
        ((1 - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225]))[None],
    )
    assert world_models.build_config("lewm", "paper").pixel_norm == "imagenet"
    assert world_models.build_config("lewm", "quick").pixel_norm == "symmetric"
    with pytest.raises(ValueError, match="valid: imagenet, symmetric"):
        tiny(pixel_norm="zscore")


def test_the_target_is_not_detached():
    """The encoder's gradient is that of the loss WITH gradients through the target, and
    differs from the one with a detached target (through context frames and SIGReg the encoder
    gets gradients either way, so a non-zero gradient alone proves nothing)."""
    from agents import regularizers

    model = tiny(history=2).train()
    torch.manual_seed(1)
    batch = {
        "pixels": torch.randint(0, 255, (16, 3, 32, 32, 3), dtype=torch.uint8),
        "actions": torch.rand(16, 2, 6),
    }

    def grads(detach):
        model.zero_grad()
        torch.manual_seed(2)  # same SIGReg directions
        if detach is None:
            loss, _ = model.loss(batch)
        else:
            emb = model.encode(batch["pixels"])
            c = model.action_encoder(model.normalise_actions(batch["actions"]))
            pred = model._teacher_forced(emb[:, :-1], c)
            target = emb[:, 1:].detach() if detach else emb[:, 1:]
            reg = regularizers.get("sigreg")(emb.transpose(0, 1))
            loss = torch.nn.functional.mse_loss(pred, target) + 0.09 * reg
        loss.backward()
        return torch.cat([p.grad.flatten() for p in model.encoder.parameters()])

    model_grad, through, detached = grads(None), grads(False), grads(True)
    torch.testing.assert_close(model_grad, through)
    assert (through - detached).norm() > 0.05 * through.norm()


def test_a_checkpoint_of_the_old_predictor_layout_is_refused(tmp_path):
    """Checkpoints saved before the released layout (qkv bias, no inner LayerNorms, a Linear
    action smoother) fail with the mismatched tensors named, never a partial load."""
    from benchmark import checkpoint

    model = tiny()
    state = model.state_dict()
    old = {k: v for k, v in state.items() if ".attn.norm." not in k and ".mlp.net.0." not in k}
    old["action_encoder.smooth.weight"] = state["action_encoder.smooth.weight"][..., 0]
    old["predictor.blocks.0.attn.qkv.bias"] = torch.zeros(
        model.predictor.blocks[0].attn.qkv.out_features
    )
    with pytest.raises(checkpoint.CheckpointError) as err:
        checkpoint.check_shapes(model, old, tmp_path)
    msg = str(err.value)
    assert "missing predictor.blocks.0.attn.norm.weight" in msg
    assert "action_encoder.smooth.weight: checkpoint (10, 6) vs config (10, 6, 1)" in msg


def test_projector_bn_eps_is_an_option_with_the_released_default():
    assert tiny().projector.norm.eps == 1e-5  # PyTorch's default, as released
    assert tiny(projector_bn_eps=1e-9).projector.norm.eps == 1e-9
    assert tiny().pred_proj.norm.eps == 1e-5  # only the encoder's projector changes


def test_encoder_spread_sees_an_encoder_that_ignores_its_input(
    tworoom_dataset, tiny_checkpoint, tmp_path
):
    """The collapse diagnostic of benchmark/scripts/lewm_ab.py: a CNN encoder's output varies across
    frames; the same checkpoint with the encoder's last layer zeroed (a constant output) has no
    spread and no variance left for the BatchNorm to amplify."""
    import shutil

    from safetensors.torch import load_file, save_file

    from benchmark.scripts.lewm_ab import encoder_spread

    spread, ratio = encoder_spread(tiny_checkpoint, tworoom_dataset)
    assert spread > 0.01 and ratio > 1, (spread, ratio)
    dead = tmp_path / "dead"
    shutil.copytree(tiny_checkpoint, dead)
    state = load_file(dead / "model.safetensors")
    state["encoder.fc.weight"].zero_()
    save_file(state, dead / "model.safetensors")
    spread, ratio = encoder_spread(dead, tworoom_dataset)
    assert spread == 0 and ratio == 0
