"""Spread of the open-loop prediction metrics over windows: known quantiles, a known bootstrap
interval, and pooling chunks of windows gives what one batch gives."""

from __future__ import annotations

import numpy as np
import torch

from benchmark.metrics import prediction_metrics, summarize_windows, window_errors


def _errors(cos: np.ndarray, copy: np.ndarray) -> dict[str, np.ndarray]:
    zeros = np.zeros_like(cos)
    return {"cos": cos, "mse": zeros, "cos_copy": copy, "mse_copy": zeros, "cos_floor": zeros}


def test_quantiles_of_the_per_window_cosine():
    cos = np.array([[0.0, 1.0], [0.25, 1.0], [0.5, 1.0], [0.75, 1.0], [1.0, 1.0]])
    out = summarize_windows(_errors(cos, np.zeros_like(cos)))
    np.testing.assert_allclose(out["cos"], [0.5, 1.0])
    np.testing.assert_allclose(out["cos_q25"], [0.25, 1.0])
    np.testing.assert_allclose(out["cos_q75"], [0.75, 1.0])
    assert all(v.shape == (2,) for v in out.values())


def test_bootstrap_interval_of_the_skill():
    # windows all alike: every resample gives the skill itself
    cos, copy = np.full((8, 1), 0.9), np.full((8, 1), 0.5)
    out = summarize_windows(_errors(cos, copy))
    np.testing.assert_allclose([out["skill_lo"], out["skill"], out["skill_hi"]], 0.8)
    # two windows, cosine 0 and 1, copy 0: resampled means are 0, 0.5, 1 with odds 1:2:1, so
    # the 2.5th and 97.5th percentiles of 1000 resamples are 0 and 1
    out = summarize_windows(_errors(np.array([[0.0], [1.0]]), np.zeros((2, 1))))
    np.testing.assert_allclose([out["skill_lo"], out["skill"], out["skill_hi"]], [[0], [0.5], [1]])
    # a noisy set: the interval holds the skill, narrows with more windows, and is seeded
    rng = np.random.default_rng(1)
    few, many = (_errors(rng.random((n, 3)), 0.3 * rng.random((n, 3))) for n in (20, 2000))
    a, b = summarize_windows(few), summarize_windows(many)
    assert np.all(a["skill_lo"] <= a["skill"]) and np.all(a["skill"] <= a["skill_hi"])
    assert np.all(b["skill_hi"] - b["skill_lo"] < a["skill_hi"] - a["skill_lo"])
    np.testing.assert_array_equal(summarize_windows(few)["skill_lo"], a["skill_lo"])


def test_pooled_chunks_equal_one_batch():
    """evaluate.prediction_report computes window errors chunk by chunk and summarises them
    pooled: the same numbers as one batch (the random-pair floor aside, paired per chunk)."""

    class Drift:
        history, latent_dim, action_dim = 1, 3, 3

        def encode(self, pixels):
            return pixels[..., 0, 0, :3].float()

        def rollout(self, z_context, actions, a_context=None):
            return z_context[:, -1, None, None] + 0.9 * actions.cumsum(2)

    gen = torch.Generator().manual_seed(0)
    z0, steps = torch.randn(40, 1, 3, generator=gen), torch.randn(40, 3, 3, generator=gen)
    pixels = torch.zeros(40, 4, 2, 2, 3)
    pixels[..., 0, 0, :3] = torch.cat([z0, z0 + steps.cumsum(1)], 1)
    batch = {"pixels": pixels, "actions": steps}
    whole = prediction_metrics(Drift(), batch, 3)
    parts = [
        window_errors(Drift(), {k: v[i : i + 16] for k, v in batch.items()}, 3) for i in (0, 16, 32)
    ]
    pooled = summarize_windows({k: np.concatenate([p[k] for p in parts]) for k in parts[0]})
    assert set(whole) == set(pooled)
    for k in set(whole) - {"cos_floor"}:
        np.testing.assert_allclose(pooled[k], whole[k], rtol=1e-6, err_msg=k)
    assert np.all(whole["cos_q25"] < whole["cos_q75"])
    assert np.all(whole["skill_lo"] < whole["skill"]) and np.all(whole["skill"] < whole["skill_hi"])
