"""Small pure metric functions: open-loop prediction quality (success-rate statistics live in
``benchmark.stats``)."""

from __future__ import annotations

import numpy as np
import torch


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity over the last dimension: (..., D), (..., D) -> (...)."""
    return torch.nn.functional.cosine_similarity(a.float(), b.float(), dim=-1, eps=1e-8)


@torch.no_grad()
def prediction_metrics(
    model, batch: dict[str, torch.Tensor], horizon: int, generator: torch.Generator | None = None
) -> dict[str, np.ndarray]:
    """Open-loop prediction quality on windows of ``history + horizon`` frames.

    The model encodes the first ``history`` frames and rolls out on the true action blocks
    for ``h = 1..horizon`` blocks; predictions are compared with the encoded true frames.

    Args:
        model: a WorldModel (in eval mode).
        batch: windows with ``pixels`` (B, history + horizon, H, W, 3) and ``actions``
            (B, history + horizon - 1, A).
        horizon: number of predicted blocks.
        generator: seeds the random pairing of the floor.

    Returns:
        Per-horizon arrays of shape (horizon,): ``cos``, ``mse`` (model), ``cos_copy``,
        ``mse_copy`` (the copy-last baseline: predict the last context latent), ``cos_floor``
        (random pairs of true latents), ``skill`` = (cos - cos_copy) / (1 - cos_copy).
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
    pred = model.rollout(ctx, actions[:, None, hist - 1 :], a_context=a_context)[:, 0]
    copy = ctx[:, -1:].expand_as(true)
    perm = torch.randperm(len(true), generator=generator, device="cpu").to(true.device)
    out = {
        "cos": cosine(pred, true).mean(0),
        "mse": (pred - true).float().pow(2).mean((0, 2)),
        "cos_copy": cosine(copy, true).mean(0),
        "mse_copy": (copy - true).float().pow(2).mean((0, 2)),
        "cos_floor": cosine(true[perm], true).mean(0),
    }
    out = {k: v.cpu().numpy().astype(np.float64) for k, v in out.items()}
    out["skill"] = skill_score(out["cos"], out["cos_copy"])
    return out


def skill_score(cos: np.ndarray, cos_copy: np.ndarray) -> np.ndarray:
    """(cos - cos_copy) / (1 - cos_copy): 0 = no better than copying the last frame, 1 = exact."""
    return (np.asarray(cos) - cos_copy) / np.maximum(1.0 - np.asarray(cos_copy), 1e-8)
