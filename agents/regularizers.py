"""Anti-collapse regularisers over embeddings, plus collapse diagnostics, behind one registry.

Every regulariser is a pure function ``fn(z, **options) -> scalar tensor``:

- ``z`` has shape (T, B, D): T time steps, each a batch of B embeddings of dimension D. A (B, D)
  input is treated as T = 1. A world model's ``encode`` returns (B, T, D), so the trainer passes
  ``z.transpose(0, 1)``. Statistics are taken across the batch, separately per time step, and
  averaged over time steps (LeWM's convention).
- The result is a float32 (or float64 for float64 input) scalar that keeps the autograd graph.
  Statistics are computed with autocast disabled and in at least float32, so the functions are
  safe inside ``torch.autocast(dtype=torch.bfloat16)``.
- Random parts (SIGReg's directions, RDMReg's directions and target samples) are drawn fresh on
  every call from ``generator`` if one is given, else from torch's global RNG.

Only SIGReg is distributed-aware (its statistic is global over ranks). VICReg, the spectral
regulariser and RDMReg are per-rank statistics: under DDP each rank regularises its own shard.

Example:
    >>> import torch
    >>> from agents import regularizers
    >>> z = torch.randn(4, 128, 64)  # (T, B, D)
    >>> reg = regularizers.get("sigreg")
    >>> float(reg(z, generator=torch.Generator().manual_seed(0))) < 3.0
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from scipy.special import gammainc, gammaincinv

__all__ = [
    "REGULARIZERS",
    "condition_number",
    "effective_rank",
    "get",
    "gn_scale",
    "none",
    "rdmreg",
    "rectified_gn_mu",
    "rectified_gn_zero_fraction",
    "sample_generalized_gaussian",
    "sigreg",
    "spectral",
    "vicreg",
]


def _as_tbd(z: torch.Tensor, name: str, min_batch: int = 1) -> torch.Tensor:
    """Validates an embedding tensor and returns it as (T, B, D)."""
    if not isinstance(z, torch.Tensor) or not z.is_floating_point():
        raise ValueError(f"{name}: z must be a floating-point tensor, got {type(z).__name__}")
    if z.dim() == 2:
        z = z.unsqueeze(0)
    if z.dim() != 3:
        raise ValueError(f"{name}: z must have shape (T, B, D) or (B, D), got {tuple(z.shape)}")
    if z.shape[1] < min_batch or z.shape[0] < 1 or z.shape[2] < 1:
        raise ValueError(
            f"{name}: needs T >= 1, B >= {min_batch}, D >= 1, got (T, B, D) = {tuple(z.shape)}"
        )
    return z


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    # bf16/fp16 statistics (means of cosines, variances, spectra) lose too many digits.
    return torch.promote_types(dtype, torch.float32)


def _random_directions(
    dim: int, num: int, like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """(dim, num) Gaussian directions drawn on the generator's device, moved to ``like``."""
    device = generator.device if generator is not None else like.device
    a = torch.randn(dim, num, generator=generator, device=device, dtype=like.dtype)
    return a.to(like.device)


def _world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


class _AllReduceSum(torch.autograd.Function):
    """Differentiable all-reduce (sum) whose backward also all-reduces (sums) the gradients.

    The backward computes the gradient of the SUM of all ranks' losses with respect to this
    rank's input. (torch.distributed.nn.functional.all_reduce has the same semantics but is
    deprecated in torch 2.13.)
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad


def sigreg(
    z: torch.Tensor,
    num_directions: int = 1024,
    num_knots: int = 17,
    t_max: float = 3.0,
    generator: torch.Generator | None = None,
    distributed: bool = True,
) -> torch.Tensor:
    """SIGReg (LeJEPA arXiv 2511.08544, as used by LeWM): Epps-Pulley test on random 1-D slices.

    Per call: draw ``num_directions`` Gaussian directions A (D, M) and normalise each column;
    project x = z A (T, B, M); on knots t_k = linspace(0, t_max, num_knots) with trapezoid
    weights [d, 2d, ..., 2d, d] (d = t_max / (num_knots - 1); doubled because only t >= 0 is
    integrated and the integrand is even) and phi(t) = exp(-t^2 / 2),
    err_k = (mean_b cos(t_k x) - phi(t_k))^2 + (mean_b sin(t_k x))^2,
    stat = B * sum_k w_k phi(t_k) err_k per (time step, direction); return the mean over both.
    Scale at B=128, D=192, T=4: N(0, I) ~ 1.1, N(0, 4I) ~ 32, rank 2 (total variance D) ~ 13,
    all zeros ~ 51.5. The expected value under N(0, I) does not depend on B; off it, it grows
    linearly with B.

    Distributed (torch.distributed initialised, world size W > 1, ``distributed=True``):
    - Directions: rank 0 draws them (from its ``generator`` or global RNG) and broadcasts them,
      so every rank uses the same directions; the other ranks' generators are not consumed.
    - The per-rank sums of cos and sin (and the batch counts) are all-reduced, so the
      statistic, with B = the global batch, is exactly the single-process full-batch value and
      is identical on every rank. Local batch sizes may differ between ranks.
    - Gradients: the all-reduce's backward sums the incoming gradients over ranks, so it is the
      gradient of the sum of all ranks' losses. As every rank computes the same statistic S, the
      gradient w.r.t. this rank's rows is W * dS/dz_local. DDP then AVERAGES parameter gradients
      over ranks, which gives exactly dS/dtheta of the single-process full batch. So do NOT
      multiply or divide the SIGReg term by W: ``loss = mse_local_mean + lam * sigreg(z)``
      trained under DDP has the same parameter gradients as the same loss on the full batch
      in one process (the local MSE mean becomes the global mean through DDP's averaging).
    - Every rank must call it with the same T, D and options (it runs collectives); pass
      ``distributed=False`` for a rank-local value (e.g. logging on rank 0 only).

    Args:
        z: embeddings (T, B, D) or (B, D).
        num_directions: M, random slices per call.
        num_knots: quadrature knots on [0, t_max] (>= 2).
        t_max: upper integration limit.
        generator: source of the directions (used on rank 0 only when distributed).
        distributed: all-reduce across ranks when a process group with W > 1 exists.

    Returns:
        Scalar tensor (float32, or float64 for float64 input).
    """
    z = _as_tbd(z, "sigreg")
    if num_directions < 1 or num_knots < 2 or not t_max > 0:
        raise ValueError(
            "sigreg: needs num_directions >= 1, num_knots >= 2, t_max > 0, got "
            f"{num_directions}, {num_knots}, {t_max}"
        )
    world = _world_size() if distributed else 1
    with torch.autocast(device_type=z.device.type, enabled=False):
        x = z.to(_compute_dtype(z.dtype))
        dirs = _random_directions(x.shape[-1], num_directions, x, generator)
        if world > 1:
            dist.broadcast(dirs, src=0)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)

        t = torch.linspace(0.0, t_max, num_knots, device=x.device, dtype=x.dtype)
        dt = t_max / (num_knots - 1)
        weights = torch.full_like(t, 2 * dt)
        weights[0] = weights[-1] = dt
        phi = torch.exp(-0.5 * t.square())

        xt = (x @ dirs).unsqueeze(-1) * t  # (T, B, M, K)
        cos_sum = xt.cos().sum(dim=1)  # (T, M, K)
        sin_sum = xt.sin().sum(dim=1)
        n = torch.tensor(float(x.shape[1]), device=x.device, dtype=x.dtype)
        if world > 1:
            # One collective for both sums and the global batch size.
            packed = torch.cat([cos_sum.reshape(-1), sin_sum.reshape(-1), n.reshape(1)])
            packed = _AllReduceSum.apply(packed)
            k = cos_sum.numel()
            cos_sum = packed[:k].view_as(cos_sum)
            sin_sum = packed[k : 2 * k].view_as(sin_sum)
            n = packed[-1].detach()
        err = (cos_sum / n - phi).square() + (sin_sum / n).square()
        stat = n * (err @ (weights * phi))  # (T, M)
        return stat.mean()


def vicreg(
    z: torch.Tensor,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
    eps: float = 1e-4,
    gamma: float = 1.0,
) -> torch.Tensor:
    """VICReg's variance and covariance terms (Bardes et al. 2022) on one set of embeddings.

    var = mean_d relu(gamma - sqrt(Var_b z_d + eps)); cov = sum_{i != j} C_ij^2 / D with C the
    unbiased batch covariance; result = var_weight * var + cov_weight * cov, per time step and
    averaged over T. VICReg's invariance term is not here: in a JEPA world model it is the
    prediction loss itself. Computed per rank (not all-reduced) under DDP.

    Args:
        z: embeddings (T, B, D) or (B, D), B >= 2.
        var_weight: weight of the variance hinge (VICReg's mu).
        cov_weight: weight of the covariance penalty (VICReg's nu).
        eps: added to the variance before the square root (keeps its gradient finite).
        gamma: target standard deviation per dimension.

    Returns:
        Scalar tensor.
    """
    z = _as_tbd(z, "vicreg", min_batch=2)
    with torch.autocast(device_type=z.device.type, enabled=False):
        x = z.to(_compute_dtype(z.dtype))
        _, b, d = x.shape
        xc = x - x.mean(dim=1, keepdim=True)
        std = torch.sqrt(xc.square().sum(dim=1) / (b - 1) + eps)  # (T, D)
        var_term = F.relu(gamma - std).mean()
        cov = xc.transpose(1, 2) @ xc / (b - 1)  # (T, D, D)
        off_diag = cov.square().sum(dim=(1, 2)) - torch.diagonal(cov, dim1=1, dim2=2).square().sum(
            dim=1
        )
        cov_term = (off_diag / d).mean()
        return var_weight * var_term + cov_weight * cov_term


def spectral(z: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """KL(p || uniform) of the normalised squared spectrum of the centred batch.

    p_k = sigma_k^2 / sum_j sigma_j^2 over the K = min(B - 1, D) singular values of the centred
    (B, D) matrix (centring removes one degree of freedom, so a centred batch has rank at most
    B - 1; for B > D this is the survey's min(B, D)). KL = log K - H(p): 0 when all K singular
    values are equal (isotropic), log K for rank 1. Per time step, averaged over T.

    A fully collapsed batch (all rows equal) centres to zero and has no spectrum. ``eps`` times
    the batch's uncentred energy (detached) is added to the top squared singular value, so such
    a batch scores log K (maximal collapse) with finite gradients, and the value stays invariant
    to rescaling z. Spread smaller than about sqrt(eps) of the batch's offset counts as collapse.
    Computed per rank under DDP.

    Args:
        z: embeddings (T, B, D) or (B, D), B >= 2 (and K >= 2 for a non-trivial value).
        eps: relative floor described above.

    Returns:
        Scalar tensor.
    """
    z = _as_tbd(z, "spectral", min_batch=2)
    with torch.autocast(device_type=z.device.type, enabled=False):
        x = z.to(_compute_dtype(z.dtype))
        _, b, d = x.shape
        k = min(b - 1, d)
        # The value is scale-invariant, so rescale each time step to unit RMS (detached): the
        # floor below is then a fixed number and 1 / sum(energy) cannot overflow.
        rms = x.detach().square().mean(dim=(1, 2), keepdim=True).sqrt()
        x = x / rms.clamp_min(torch.finfo(x.dtype).tiny)
        xc = x - x.mean(dim=1, keepdim=True)
        energy = torch.linalg.svdvals(xc)[:, :k].square()  # (T, K), descending
        floor = eps * b * d  # eps times the uncentred energy of a unit-RMS batch
        energy = torch.cat([energy[:, :1] + floor, energy[:, 1:]], dim=1)
        p = energy / energy.sum(dim=1, keepdim=True)
        # Clamping inside the log keeps d/dp finite where p = 0 (0 * log 0 would give NaN grads).
        kl = (p * torch.log(p.clamp_min(torch.finfo(x.dtype).tiny) * k)).sum(dim=1)
        return kl.mean()


def gn_scale(p: float) -> float:
    """sigma for which GN_p(0, sigma) (density ~ exp(-|x|^p / (p sigma^p))) has unit variance."""
    return math.exp(0.5 * math.lgamma(1 / p) - math.log(p) / p - 0.5 * math.lgamma(3 / p))


def rectified_gn_zero_fraction(p: float, mu: float) -> float:
    """P(ReLU(Y) = 0) for Y ~ GN_p(mu, sigma_p) with unit-variance scale sigma_p.

    P(Y <= 0) = 1/2 - sign(mu)/2 * P(|Y - mu| <= |mu|), and |Y - mu|^p / (p sigma^p) is
    Gamma(1/p, 1), so P(|Y - mu| <= |mu|) = gammainc(1/p, |mu|^p / (p sigma^p)).

    Args:
        p: shape (2: Gaussian, 1: Laplace), > 0.
        mu: location before rectification (0 gives a zero fraction of 1/2).

    Returns:
        The expected fraction of exact zeros, in (0, 1).
    """
    if not p > 0:
        raise ValueError(f"p must be > 0, got {p}")
    mass = float(gammainc(1 / p, abs(mu) ** p / (p * gn_scale(p) ** p)))
    return 0.5 - math.copysign(0.5, mu) * mass


def rectified_gn_mu(p: float, zero_fraction: float) -> float:
    """The mu whose rectified GN_p(mu, sigma_p) has the given fraction of exact zeros.

    Inverse of :func:`rectified_gn_zero_fraction` (via scipy's gammaincinv).

    Args:
        p: shape, > 0.
        zero_fraction: target sparsity in (0, 1); 0.5 gives mu = 0, less gives mu > 0.
    """
    if not p > 0 or not 0 < zero_fraction < 1:
        raise ValueError(f"need p > 0 and 0 < zero_fraction < 1, got {p}, {zero_fraction}")
    mass = abs(1 - 2 * zero_fraction)
    u = float(gammaincinv(1 / p, mass))
    return math.copysign(gn_scale(p) * (p * u) ** (1 / p), 0.5 - zero_fraction)


def _sample_gamma(
    shape: tuple[int, ...],
    alpha: float,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Gamma(alpha, 1) samples with an explicit generator (torch's own sampler takes none).

    Marsaglia-Tsang (2000) rejection for alpha >= 1; alpha < 1 boosts Gamma(alpha + 1) by
    U^(1 / alpha). Acceptance is above 95%, so the loop runs a few times.
    """
    boosted = alpha + 1 if alpha < 1 else alpha
    d = boosted - 1 / 3
    c = 1 / math.sqrt(9 * d)
    n = math.prod(shape)
    out = torch.empty(n, device=device, dtype=dtype)
    todo = torch.arange(n, device=device)
    while todo.numel() > 0:
        g = torch.randn(todo.numel(), generator=generator, device=device, dtype=dtype)
        u = torch.rand(todo.numel(), generator=generator, device=device, dtype=dtype)
        v = (1 + c * g) ** 3
        ok = (v > 0) & (
            torch.log(u) < 0.5 * g.square() + d - d * v + d * torch.log(v.clamp_min(1e-30))
        )
        out[todo[ok]] = (d * v)[ok]
        todo = todo[~ok]
    if alpha < 1:
        u = torch.rand(n, generator=generator, device=device, dtype=dtype)
        out = out * u.pow(1 / alpha)
    return out.view(shape)


def sample_generalized_gaussian(
    shape: tuple[int, ...],
    p: float = 2.0,
    mu: float = 0.0,
    rectify: bool = True,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Samples GN_p(mu, sigma_p) (unit variance before shifting), optionally rectified.

    |Y - mu| = sigma_p * (p G)^(1/p) with G ~ Gamma(1/p, 1) and a random sign, which has
    density ~ exp(-|y - mu|^p / (p sigma_p^p)).

    Args:
        shape: output shape.
        p: shape parameter (2: Gaussian, 1: Laplace).
        mu: location.
        rectify: apply ReLU (the rectified generalised Gaussian of Rectified LpJEPA).
        generator: RNG; its device is used for sampling.
        device: where the result goes.
        dtype: floating dtype.
    """
    if not p > 0:
        raise ValueError(f"p must be > 0, got {p}")
    gen_device = generator.device if generator is not None else torch.device(device)
    g = _sample_gamma(tuple(shape), 1 / p, generator, gen_device, dtype)
    sign = torch.randint(0, 2, tuple(shape), generator=generator, device=gen_device) * 2 - 1
    y = mu + sign.to(dtype) * gn_scale(p) * (p * g).pow(1 / p)
    y = y.to(device)
    return F.relu(y) if rectify else y


def rdmreg(
    z: torch.Tensor,
    target_p: float = 2.0,
    target_mu: float = 0.0,
    target_sparsity: float | None = None,
    num_directions: int = 1024,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """RDMReg (Rectified LpJEPA, arXiv 2602.01456): sliced W2 to a rectified generalised Gaussian.

    Draws ``num_directions`` unit directions A (D, M) and a fresh target batch
    Y = ReLU(GN_p(mu, sigma_p)) of z's shape (i.i.d. coordinates, sigma_p from
    :func:`gn_scale`), projects ReLU(z) and Y on A, sorts both along the batch, and returns the
    mean squared difference (a sliced Wasserstein-2 estimate, squared), per time step and
    averaged over T. The expected zero fraction per coordinate is
    :func:`rectified_gn_zero_fraction` (p, mu) (1/2 at mu = 0); pass ``target_sparsity`` to
    solve for mu instead. Dead coordinates (z < 0 for the whole batch) get no gradient, as in
    any ReLU. Computed per rank under DDP.

    Args:
        z: embeddings (T, B, D) or (B, D); ReLU is applied here (idempotent on rectified input).
        target_p: GN shape (2: rectified Gaussian, 1: rectified Laplace).
        target_mu: GN location; mutually exclusive with ``target_sparsity``.
        target_sparsity: expected fraction of exact zeros in (0, 1); sets mu.
        num_directions: M random slices.
        generator: source of directions and target samples.

    Returns:
        Scalar tensor.
    """
    z = _as_tbd(z, "rdmreg")
    if target_sparsity is not None:
        if target_mu != 0.0:
            raise ValueError("rdmreg: give target_mu or target_sparsity, not both")
        target_mu = rectified_gn_mu(target_p, target_sparsity)
    if num_directions < 1:
        raise ValueError(f"rdmreg: num_directions must be >= 1, got {num_directions}")
    with torch.autocast(device_type=z.device.type, enabled=False):
        x = F.relu(z.to(_compute_dtype(z.dtype)))
        dirs = _random_directions(x.shape[-1], num_directions, x, generator)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        y = sample_generalized_gaussian(
            tuple(x.shape), target_p, target_mu, True, generator, x.device, x.dtype
        )
        xs = (x @ dirs).sort(dim=1).values  # (T, B, M)
        ys = (y @ dirs).sort(dim=1).values
        return (xs - ys).square().mean()


def none(z: torch.Tensor) -> torch.Tensor:
    """No regularisation: 0, still attached to z's graph (so backward and DDP see z)."""
    z = _as_tbd(z, "none")
    return (z.sum() * 0).to(_compute_dtype(z.dtype))


REGULARIZERS: dict[str, Callable[..., torch.Tensor]] = {
    "sigreg": sigreg,
    "vicreg": vicreg,
    "spectral": spectral,
    "rdmreg": rdmreg,
    "none": none,
}


def get(name: str) -> Callable[..., torch.Tensor]:
    """Looks a regulariser up by name; raises ValueError listing the valid names."""
    if name not in REGULARIZERS:
        raise ValueError(f"unknown regulariser {name!r}; valid: {', '.join(sorted(REGULARIZERS))}")
    return REGULARIZERS[name]


def _spectra(z: torch.Tensor, center: bool, rtol: float, name: str) -> torch.Tensor:
    """Singular values (T, K) in float64, with those below rtol * ||z_t||_F set to 0."""
    z = _as_tbd(z, name, min_batch=2 if center else 1)
    with torch.no_grad(), torch.autocast(device_type=z.device.type, enabled=False):
        x = z.detach().to(torch.float64)
        _, b, d = x.shape
        k = min(b - 1, d) if center else min(b, d)
        xc = x - x.mean(dim=1, keepdim=True) if center else x
        s = torch.linalg.svdvals(xc)[:, :k]
        # Centring a collapsed float32 batch leaves rounding noise with a full-rank spectrum.
        tol = rtol * x.square().sum(dim=(1, 2)).sqrt()
        return torch.where(s > tol[:, None], s, torch.zeros_like(s))


def effective_rank(z: torch.Tensor, center: bool = True, rtol: float = 1e-5) -> float:
    """Roy & Vetterli effective rank: exp of the entropy of sigma_k / sum sigma.

    Between 1 (rank 1) and K = min(B - 1, D) (min(B, D) uncentred); 0 for a batch with no
    spread at all (all rows equal when centred). Singular values below rtol * ||z_t||_F of the
    uncentred batch count as 0. For (T, B, D) input: the mean over time steps. No gradient.

    Args:
        z: embeddings (B, D) or (T, B, D).
        center: subtract the batch mean first (collapse to one point reads as rank 0).
        rtol: relative tolerance for zero singular values.

    Returns:
        Python float.
    """
    s = _spectra(z, center, rtol, "effective_rank")
    total = s.sum(dim=1, keepdim=True)
    p = s / total.clamp_min(torch.finfo(s.dtype).tiny)
    entropy = -(p * torch.log(p.clamp_min(torch.finfo(s.dtype).tiny))).sum(dim=1)
    erank = torch.where(total[:, 0] > 0, entropy.exp(), torch.zeros_like(entropy))
    return float(erank.mean())


def condition_number(z: torch.Tensor, center: bool = True, rtol: float = 1e-5) -> float:
    """sigma_max / sigma_min over the K = min(B - 1, D) singular values of the centred batch.

    ``inf`` when sigma_min is 0 (rank-deficient or collapsed; see :func:`effective_rank` for the
    tolerance), never NaN. For (T, B, D) input: the mean over time steps. No gradient.

    Args:
        z: embeddings (B, D) or (T, B, D).
        center: subtract the batch mean first.
        rtol: relative tolerance for zero singular values.

    Returns:
        Python float (possibly inf).
    """
    s = _spectra(z, center, rtol, "condition_number")
    smin = s[:, -1]
    cond = torch.where(smin > 0, s[:, 0] / smin.clamp_min(torch.finfo(s.dtype).tiny), torch.inf)
    return float(cond.mean())
