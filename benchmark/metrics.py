"""Small pure metric functions: open-loop prediction quality (success-rate statistics live in
``benchmark.stats``)."""

from __future__ import annotations

import numpy as np
import torch

from agents.world_models.base import rollout

WINDOW_KEYS = ("cos", "mse", "cos_copy", "mse_copy", "cos_floor")
"""Per-window errors :func:`window_errors` returns, each (windows, horizon)."""


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity over the last dimension: (..., D), (..., D) -> (...)."""
    return torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1, eps=1e-8)


@torch.no_grad()
def window_errors(
    model, batch: dict[str, torch.Tensor], horizon: int, generator: torch.Generator | None = None
) -> dict[str, np.ndarray]:
    """Open-loop prediction errors of every window of ``history + horizon`` frames.

    The model encodes the first ``history`` frames and rolls out on the true action blocks
    for ``h = 1..horizon`` blocks; predictions are compared with the encoded true frames.

    Args:
        model: a WorldModel (in eval mode).
        batch: windows with ``pixels`` (B, history + horizon, H, W, 3) and ``actions``
            (B, history + horizon - 1, A).
        horizon: number of predicted blocks.
        generator: seeds the random pairing of the floor.

    Returns:
        Arrays of shape (B, horizon), one row per window: ``cos``, ``mse`` (model; MSE is
        the mean over latent dimensions), ``cos_copy``, ``mse_copy`` (the copy-last baseline:
        predict the last context latent), ``cos_floor`` (the window's true latent against
        another window's, a random pairing). :func:`summarize_windows` reduces them.
    """
    hist = model.history
    if batch["pixels"].shape[1] != hist + horizon:
        raise ValueError(
            f"windows must hold history + horizon = {hist + horizon} frames, got "
            f"{batch['pixels'].shape[1]}"
        )
    z = model.encode(batch["pixels"])
    ctx, true = z[:, :hist], z[:, hist:]
    actions = batch["actions"]
    a_context = actions[:, : hist - 1] if hist > 1 else None
    pred = rollout(model, ctx, actions[:, None, hist - 1 :], a_context)[:, 0]
    copy = ctx[:, -1:].expand_as(true)
    perm = torch.randperm(len(true), generator=generator, device="cpu").to(true.device)
    out = {
        "cos": cosine(pred, true),
        "mse": (pred - true).float().pow(2).mean(2),
        "cos_copy": cosine(copy, true),
        "mse_copy": (copy - true).float().pow(2).mean(2),
        "cos_floor": cosine(true[perm], true),
    }
    return {k: v.cpu().numpy().astype(np.float64) for k, v in out.items()}


def summarize_windows(
    errors: dict[str, np.ndarray], n_boot: int = 1000, seed: int = 0
) -> dict[str, np.ndarray]:
    """Per-horizon summary of :func:`window_errors` (rows of several batches concatenated).

    Returns arrays of shape (horizon,):

    - ``cos``, ``mse``, ``cos_copy``, ``mse_copy``, ``cos_floor``: means over windows.
    - ``skill`` = :func:`skill_score` of the mean cosines, (cos - cos_copy) / (1 - cos_copy).
    - ``cos_q25``, ``cos_q75``: the 25th and 75th percentiles over windows of the per-window
      model cosine (numpy's linear interpolation): the spread of prediction quality across
      windows. (A per-window skill or MSE ratio is not used: a window whose copy-last error
      is ~0, an agent standing still, makes it blow up.)
    - ``skill_lo``, ``skill_hi``: the 2.5th and 97.5th percentiles of ``skill`` recomputed on
      ``n_boot`` bootstrap resamples of the windows (the ratio of the resampled means, seeded
      by ``seed``, so the same windows give the same interval): a 95 % interval of the skill.
    """
    cos, copy = errors["cos"], errors["cos_copy"]
    out = {k: errors[k].mean(0) for k in WINDOW_KEYS}
    out["skill"] = skill_score(out["cos"], out["cos_copy"])
    out["cos_q25"], out["cos_q75"] = np.percentile(cos, [25, 75], axis=0)
    n = len(cos)
    rng = np.random.default_rng(seed)
    boot = []
    for start in range(0, n_boot, 100):  # resample weights in blocks: memory ~ 100 x windows
        w = rng.multinomial(n, np.full(n, 1.0 / n), size=min(100, n_boot - start)) / n
        boot.append(skill_score(w @ cos, w @ copy))
    out["skill_lo"], out["skill_hi"] = np.percentile(np.concatenate(boot), [2.5, 97.5], axis=0)
    return {k: np.asarray(v, np.float64) for k, v in out.items()}


def prediction_metrics(
    model, batch: dict[str, torch.Tensor], horizon: int, generator: torch.Generator | None = None
) -> dict[str, np.ndarray]:
    """Open-loop prediction quality on one batch of windows: :func:`summarize_windows` of
    :func:`window_errors` (the per-horizon means, ``skill`` and their spread)."""
    return summarize_windows(window_errors(model, batch, horizon, generator))


def skill_score(cos: np.ndarray, cos_copy: np.ndarray) -> np.ndarray:
    """(cos - cos_copy) / (1 - cos_copy): 0 = no better than copying the last frame, 1 = exact."""
    return (np.asarray(cos) - cos_copy) / np.maximum(1.0 - np.asarray(cos_copy), 1e-8)
