"""Regularisers and collapse diagnostics: values on known inputs, gradients, shapes, DDP."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from scipy.stats import kurtosis, norm

from agents import regularizers as R

RANDOM = ("sigreg", "rdmreg")  # regularisers that take a generator
ACTIVE = ("sigreg", "vicreg", "spectral", "rdmreg")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _call(name: str, z: torch.Tensor, seed: int = 0, **kw) -> torch.Tensor:
    if name in RANDOM:
        kw.setdefault("generator", _gen(seed))
    return R.get(name)(z, **kw)


def _isotropic(t: int, b: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(t, b, d, generator=_gen(seed))


def _low_rank(t: int, b: int, d: int, rank: int, seed: int) -> torch.Tensor:
    """Rank-`rank` Gaussian batch with the same total variance (trace D) as N(0, I)."""
    g = _gen(seed)
    basis = torch.linalg.qr(torch.randn(d, rank, generator=g))[0]
    return torch.randn(t, b, rank, generator=g) @ basis.T * math.sqrt(d / rank)


def _anisotropic(t: int, b: int, d: int, seed: int) -> torch.Tensor:
    return _isotropic(t, b, d, seed) * torch.linspace(0.1, 2.0, d)


def _sigreg_weights(num_knots: int = 17, t_max: float = 3.0):
    t = np.linspace(0, t_max, num_knots)
    w = np.full(num_knots, 2 * t_max / (num_knots - 1))
    w[[0, -1]] /= 2
    return t, w, np.exp(-(t**2) / 2)


# --- SIGReg -----------------------------------------------------------------------------------


def test_sigreg_reference_scale():
    """The released SIGReg's scale at B=128, D=192, T=4 gives ~1.1, ~32, ~13, ~51.5."""
    t, w, phi = _sigreg_weights()

    # Exact expectations: under N(0, s^2) the ECF is exp(-s^2 t^2 / 2) and the per-knot
    # sampling variances of cos and sin sum to 1 - ECF^2, so
    # E[stat] = sum_k w phi (B (ECF - phi)^2 + 1 - ECF^2).
    def expected(s2: float, b: int = 128) -> float:
        ecf = np.exp(-s2 * t**2 / 2)
        return float(np.sum(w * phi * (b * (ecf - phi) ** 2 + 1 - ecf**2)))

    iso = np.mean(
        [float(R.sigreg(_isotropic(4, 128, 192, s), generator=_gen(s))) for s in range(3)]
    )
    wide = float(R.sigreg(2 * _isotropic(4, 128, 192, 7), generator=_gen(7)))
    rank2 = np.mean(
        [float(R.sigreg(_low_rank(4, 128, 192, 2, s), generator=_gen(s))) for s in range(3)]
    )
    zeros = float(R.sigreg(torch.zeros(4, 128, 192), generator=_gen(0)))

    assert abs(iso - expected(1.0)) < 0.1 and 0.95 < iso < 1.25
    assert abs(wide - expected(4.0)) < 1.5 and 30 < wide < 34
    assert 12.0 < rank2 < 14.5
    assert zeros == pytest.approx(128 * np.sum(w * phi * (1 - phi) ** 2), rel=1e-5)
    assert zeros == pytest.approx(51.5, abs=0.1)


def test_sigreg_matches_two_sided_epps_pulley():
    """An independent float64 reimplementation integrating over [-3, 3] with the complex ECF.

    The doubled one-sided trapezoid weights make SIGReg equal the two-sided integral.
    """
    z = _isotropic(2, 24, 6, 3) * 1.5 + 0.3
    m = 16
    dirs = torch.randn(6, m, generator=_gen(11)).double()  # what sigreg draws from the seed
    dirs = dirs / dirs.norm(dim=0)
    x = (z.double() @ dirs).numpy()  # (T, B, M)
    ts = np.linspace(-3, 3, 33)
    phi = np.exp(-(ts**2) / 2)
    stats = []
    for ti in range(x.shape[0]):
        for mi in range(m):
            ecf = np.exp(1j * ts[:, None] * x[ti, :, mi][None, :]).mean(axis=1)
            stats.append(x.shape[1] * np.trapezoid(np.abs(ecf - phi) ** 2 * phi, ts))
    ours = R.sigreg(z, num_directions=m, generator=_gen(11))
    # float32 directions vs float64: agree to float32 precision.
    assert float(ours) == pytest.approx(float(np.mean(stats)), rel=1e-4)


def test_sigreg_grows_linearly_with_batch_off_target():
    small = R.sigreg(torch.zeros(2, 32, 8), generator=_gen(0))
    large = R.sigreg(torch.zeros(2, 128, 8), generator=_gen(0))
    assert float(large / small) == pytest.approx(4.0, rel=1e-5)


def test_sigreg_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_knots"):
        R.sigreg(torch.randn(8, 4), num_knots=1)
    with pytest.raises(ValueError, match=r"\(T, B, D\)"):
        R.sigreg(torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="floating-point"):
        R.sigreg(torch.ones(8, 4, dtype=torch.long))


# --- all regularisers ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ACTIVE)
def test_ordering_isotropic_anisotropic_collapsed(name):
    t, b, d = 2, 128, 32
    iso = float(_call(name, _isotropic(t, b, d, 0)))
    aniso = float(_call(name, _anisotropic(t, b, d, 0)))
    collapsed = float(_call(name, _low_rank(t, b, d, 1, 0)))
    assert iso < aniso < collapsed, (iso, aniso, collapsed)


@pytest.mark.parametrize("name", ACTIVE)
def test_gradient_step_decreases_value_on_collapsed_batch(name):
    g = _gen(5)
    # Nearly collapsed: every row is the same positive vector plus a small rank-1 spread.
    base = torch.rand(32, generator=g) + 0.5
    z = (base + 0.05 * torch.randn(2, 64, 1, generator=g) * torch.randn(32, generator=g)).clone()
    z.requires_grad_(True)
    before = _call(name, z, seed=9)
    (grad,) = torch.autograd.grad(before, z)
    assert torch.isfinite(grad).all() and grad.norm() > 0
    step = 0.02 * z.detach().norm() * grad / grad.norm()
    after = _call(name, z.detach() - step, seed=9)
    before = float(before.detach())
    assert float(after) < before * 0.999, (before, float(after))


@pytest.mark.parametrize("name", [*ACTIVE, "none"])
@pytest.mark.parametrize("kind", ["zeros", "constant", "rank1"])
def test_degenerate_inputs_give_finite_values_and_gradients(name, kind):
    z = {
        "zeros": torch.zeros(2, 16, 8),
        "constant": torch.full((2, 16, 8), 3.0),
        "rank1": _low_rank(2, 16, 8, 1, 0),
    }[kind].requires_grad_(True)
    value = _call(name, z)
    value.backward()
    assert value.dim() == 0 and torch.isfinite(value)
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("name", [*ACTIVE, "none"])
def test_bd_input_is_one_time_step_and_time_steps_are_averaged(name):
    z = _anisotropic(3, 48, 12, 1)
    assert torch.allclose(_call(name, z[0]), _call(name, z[:1]))
    if name == "rdmreg":
        return  # its target samples differ per time step, so per-step calls draw differently
    per_step = torch.stack([_call(name, z[i]) for i in range(3)]).mean()
    assert torch.allclose(_call(name, z), per_step, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", [*ACTIVE, "none"])
def test_bf16_autocast_and_bf16_input(name):
    z = _anisotropic(2, 64, 16, 2)
    reference = _call(name, z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = _call(name, z)
    # Statistics run with autocast off in float32, so autocast changes nothing.
    assert under_autocast.dtype == torch.float32
    assert torch.allclose(under_autocast, reference, rtol=1e-6, atol=1e-7)

    zb = z.bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        value = _call(name, zb)
    value.backward()
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert zb.grad.dtype == torch.bfloat16 and torch.isfinite(zb.grad.float()).all()
    assert float(value.detach()) == pytest.approx(float(reference), rel=0.05, abs=1e-3)


@pytest.mark.parametrize("name", RANDOM)
def test_generator_determinism(name):
    z = _anisotropic(2, 32, 8, 3)
    assert torch.equal(_call(name, z, seed=4), _call(name, z, seed=4))
    assert not torch.equal(_call(name, z, seed=4), _call(name, z, seed=5))


def test_none_is_zero_and_keeps_the_graph():
    z = torch.randn(2, 8, 4, requires_grad=True)
    value = R.none(z)
    assert value.requires_grad and float(value.detach()) == 0.0
    value.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))


def test_registry_and_get():
    assert set(R.REGULARIZERS) == {"sigreg", "vicreg", "spectral", "rdmreg", "none"}
    assert R.get("sigreg") is R.sigreg
    with pytest.raises(ValueError, match="valid: none, rdmreg, sigreg, spectral, vicreg"):
        R.get("barlow")


# --- VICReg ---------------------------------------------------------------------------------------


def _whitened(b: int, d: int, seed: int) -> torch.Tensor:
    """(B, D) batch with zero mean, per-dim unbiased variance 1 and zero covariance."""
    x = torch.randn(b, d, generator=_gen(seed), dtype=torch.float64)
    q = torch.linalg.qr(x - x.mean(0))[0]
    return (q * math.sqrt(b - 1)).float()


def test_vicreg_known_values():
    assert float(R.vicreg(_whitened(64, 8, 0))) == pytest.approx(0.0, abs=1e-5)
    # Constant batch: std = sqrt(eps) on every dim, no covariance.
    assert float(R.vicreg(torch.full((16, 8), 2.0))) == pytest.approx(25 * (1 - 1e-2), rel=1e-5)
    z = _anisotropic(1, 40, 6, 8)[0].double()
    zc = (z - z.mean(0)).numpy()
    cov = zc.T @ zc / 39
    var = np.maximum(0, 1 - np.sqrt(np.diag(cov) + 1e-4)).mean()
    off = (cov**2).sum() - (np.diag(cov) ** 2).sum()
    assert float(R.vicreg(z)) == pytest.approx(25 * var + off / 6, rel=1e-10)


# --- spectral -------------------------------------------------------------------------------------


def test_spectral_known_values():
    b, d = 64, 8
    assert float(R.spectral(_whitened(b, d, 0))) == pytest.approx(0.0, abs=1e-4)
    rank1 = _low_rank(1, b, d, 1, 0)
    assert float(R.spectral(rank1)) == pytest.approx(math.log(d), abs=1e-4)
    assert float(R.spectral(torch.full((b, d), 5.0))) == pytest.approx(math.log(d), abs=1e-4)
    # B <= D: a centred batch has rank <= B - 1, so K = B - 1 and rank 1 scores log(B - 1).
    assert float(R.spectral(_low_rank(1, 8, 32, 1, 0))) == pytest.approx(math.log(7), abs=1e-4)
    z = _anisotropic(2, b, d, 1)
    assert float(R.spectral(z * 1e-3)) == pytest.approx(float(R.spectral(z * 1e3)), rel=1e-4)


# --- RDMReg and its rectified generalised Gaussian ------------------------------------------------


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_generalized_gaussian_sampler_has_unit_variance_and_right_shape(p):
    y = R.sample_generalized_gaussian((400_000,), p=p, rectify=False, generator=_gen(0))
    assert abs(float(y.mean())) < 0.01
    assert float(y.var()) == pytest.approx(1.0, abs=0.015)
    # Excess kurtosis of GN_p: Gamma(5/p) Gamma(1/p) / Gamma(3/p)^2 - 3 (3 Laplace, 0 Gaussian).
    k = math.exp(math.lgamma(5 / p) + math.lgamma(1 / p) - 2 * math.lgamma(3 / p)) - 3
    assert float(kurtosis(y.numpy())) == pytest.approx(k, abs=0.1)


def test_zero_fraction_formula_against_closed_forms():
    for mu in (-0.7, 0.0, 0.4):
        # p = 2: N(mu, 1), so P(Y <= 0) = Phi(-mu); p = 1: Laplace with b = 1/sqrt(2).
        assert R.rectified_gn_zero_fraction(2.0, mu) == pytest.approx(norm.cdf(-mu), abs=1e-12)
        laplace = 0.5 * math.exp(-abs(mu) * math.sqrt(2))
        expected = laplace if mu >= 0 else 1 - laplace
        assert R.rectified_gn_zero_fraction(1.0, mu) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("p", "mu"), [(1.0, 0.5), (2.0, -0.3), (1.5, 0.0)])
def test_sampler_zero_fraction_matches_formula(p, mu):
    y = R.sample_generalized_gaussian((200_000,), p=p, mu=mu, generator=_gen(1))
    assert float(y.min()) == 0.0
    assert float((y == 0).float().mean()) == pytest.approx(
        R.rectified_gn_zero_fraction(p, mu), abs=0.005
    )


def test_rectified_gn_mu_inverts_zero_fraction():
    for p in (1.0, 2.0):
        for s in (0.1, 0.5, 0.8):
            assert R.rectified_gn_zero_fraction(p, R.rectified_gn_mu(p, s)) == pytest.approx(s)


def test_rdmreg_target_sparsity():
    sparse_mu = R.rectified_gn_mu(1.0, 0.8)
    z = R.sample_generalized_gaussian((2, 256, 16), 1.0, sparse_mu, False, _gen(3))

    def rdm(**kw) -> float:
        return float(R.rdmreg(z, target_p=1.0, generator=_gen(4), **kw))

    assert rdm(target_sparsity=0.8) < rdm(target_sparsity=0.5) < rdm(target_sparsity=0.2)
    assert rdm(target_mu=sparse_mu) == pytest.approx(rdm(target_sparsity=0.8), rel=1e-6)
    with pytest.raises(ValueError, match="not both"):
        R.rdmreg(z, target_mu=0.1, target_sparsity=0.5)


# --- diagnostics ----------------------------------------------------------------------------------


def test_effective_rank_and_condition_number():
    b, d = 64, 8
    whitened = _whitened(b, d, 0)
    assert R.effective_rank(whitened) == pytest.approx(d, rel=1e-4)
    assert R.condition_number(whitened) == pytest.approx(1.0, rel=1e-4)
    assert R.effective_rank(_low_rank(1, b, d, 2, 0)) <= 2.0 + 1e-6
    assert R.condition_number(_low_rank(1, b, d, 2, 0)) == math.inf
    iso = _isotropic(2, b, d, 1)
    assert 1 < R.condition_number(iso) < 20 and d / 2 < R.effective_rank(iso) < d
    # Collapse to one point, also through float32 rounding of a large offset: rank 0, never NaN.
    offset = 1000 * (1 + 1e-7 * torch.randn(b, d, generator=_gen(2)))
    for z in (torch.zeros(b, d), torch.full((b, d), 3.0), offset):
        assert R.effective_rank(z) == 0.0
        assert R.condition_number(z) == math.inf
    leaf = iso.clone().requires_grad_(True)
    assert isinstance(R.effective_rank(leaf), float)
    with torch.no_grad():
        assert R.effective_rank(iso) == pytest.approx(
            R.effective_rank(iso[:1]) / 2 + R.effective_rank(iso[1:]) / 2
        )


# --- distributed SIGReg ---------------------------------------------------------------------------

T, B, D, M = 2, 32, 8, 64


def _ddp_inputs():
    g = _gen(0)
    z = torch.randn(T, B, D, generator=g) * 1.3 + 0.2
    x = torch.randn(T, B, D, generator=g)
    target = torch.randn(T, B, D, generator=g)
    return z, x, target


def _linear() -> torch.nn.Linear:
    torch.manual_seed(1)
    return torch.nn.Linear(D, D)


def _jepa_like_loss(out: torch.Tensor, target: torch.Tensor, seed: int) -> torch.Tensor:
    return torch.nn.functional.mse_loss(out, target) + 0.09 * R.sigreg(
        out, num_directions=M, generator=_gen(seed)
    )


def _ddp_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        z, x, target = _ddp_inputs()
        rows = slice(rank * B // world, (rank + 1) * B // world)
        # Each rank seeds differently: only rank 0's directions may be used (broadcast).
        local = z[:, rows].clone().requires_grad_(True)
        value = R.sigreg(local, num_directions=M, generator=_gen(100 + rank))
        value.backward()

        model = torch.nn.parallel.DistributedDataParallel(_linear())
        loss = _jepa_like_loss(model(x[:, rows]), target[:, rows], seed=200 + rank)
        loss.backward()
        torch.save(
            {
                "value": value.detach(),
                "grad": local.grad,
                "loss": loss.detach(),
                "weight_grad": model.module.weight.grad,
                "bias_grad": model.module.bias.grad,
            },
            os.path.join(out_dir, f"rank{rank}.pt"),
        )
    finally:
        dist.destroy_process_group()


def test_ddp_two_ranks_match_one_process(tmp_path):
    """2 gloo ranks on half batches == 1 process on the full batch (value and gradients)."""
    world = 2
    start = time.monotonic()
    ctx = mp.spawn(
        _ddp_worker,
        args=(world, str(tmp_path / "rendezvous"), str(tmp_path)),
        nprocs=world,
        join=False,
    )
    while not ctx.join(timeout=1):
        if time.monotonic() - start > 60:
            for proc in ctx.processes:
                proc.kill()
            pytest.fail("DDP workers did not finish within 60 s")
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(world)]

    z, x, target = _ddp_inputs()
    full = z.clone().requires_grad_(True)
    value = R.sigreg(full, num_directions=M, generator=_gen(100))
    value.backward()
    for r, res in enumerate(results):
        rows = slice(r * B // world, (r + 1) * B // world)
        assert torch.allclose(res["value"], value.detach(), rtol=1e-5, atol=1e-6)
        # Documented convention: a rank's gradient w.r.t. its own rows is W times the
        # single-process gradient (the backward sums all ranks' identical losses); DDP's
        # averaging over ranks then restores the single-process parameter gradient.
        assert torch.allclose(res["grad"] / world, full.grad[:, rows], rtol=1e-4, atol=1e-7)

    model = _linear()
    loss = _jepa_like_loss(model(x), target, seed=200)
    loss.backward()
    for res in results:
        assert torch.allclose(res["weight_grad"], model.weight.grad, rtol=1e-4, atol=1e-7)
        assert torch.allclose(res["bias_grad"], model.bias.grad, rtol=1e-4, atol=1e-7)
    # The per-rank loss holds the local MSE, so it differs from the global one; the rank mean
    # equals the single-process loss.
    mean_loss = torch.stack([res["loss"] for res in results]).mean()
    assert torch.allclose(mean_loss, loss.detach(), rtol=1e-5)
