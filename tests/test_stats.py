"""Success-rate statistics: intervals on known binomials, coverage, and the paired test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from benchmark.stats import (
    cluster_bootstrap_interval,
    mcnemar_exact,
    success_interval,
    wilson_interval,
)


@pytest.mark.parametrize(
    "k, n, wilson, exact",
    [
        # Wilson by its closed form, Clopper-Pearson ("exact") from the beta quantiles
        (0, 30, (0.0, 11.35), (0.0, 11.57)),
        (30, 30, (88.65, 100.0), (88.43, 100.0)),
        (27, 30, (74.38, 96.54), (73.47, 97.89)),
    ],
)
def test_intervals_on_known_binomials(k, n, wilson, exact):
    low, high = wilson_interval(k, n)
    assert (100 * low, 100 * high) == pytest.approx(wilson, abs=0.01)
    cp = sps.binomtest(k, n).proportion_ci(method="exact")
    assert (100 * cp.low, 100 * cp.high) == pytest.approx(exact, abs=0.01)
    x = np.r_[np.ones(k), np.zeros(n - k)]
    mean, lo, hi = success_interval(x)
    assert mean == k / n and lo <= k / n <= hi
    assert hi - lo >= high - low - 1e-12 and hi - lo > 0.1  # never narrower, never zero-width
    # the old percentile bootstrap printed "0 [0, 0]", "100 [100, 100]" and "90 [77, 100]"
    assert lo < k / n or hi > k / n
    if k == 27:
        assert lo < 0.75


def test_wilson_covers_about_95_percent():
    rng = np.random.default_rng(0)
    for p in (0.05, 0.3, 0.6, 0.9):
        ks = rng.binomial(30, p, 2000)
        covered = np.mean([lo <= p <= hi for lo, hi in (wilson_interval(k, 30) for k in ks)])
        assert covered >= 0.92, (p, covered)


def test_clustered_tasks_get_a_wider_interval_that_still_covers():
    """Tasks from one episode share its difficulty: 50 tasks from 5 episodes hold far less
    information than 50 independent draws. Wilson alone then under-covers; the hull with the
    episode bootstrap keeps (close to) its nominal coverage."""
    rng = np.random.default_rng(1)
    truth, n_ep, per = 0.5, 10, 5
    cover_wilson, cover_hull, width_wilson, width_hull = [], [], [], []
    for _ in range(300):
        p_ep = rng.beta(0.5, 0.5, n_ep)  # episodes are mostly easy or mostly hard
        x = rng.random((n_ep, per)) < p_ep[:, None]
        clusters = np.repeat(np.arange(n_ep), per)
        lo_w, hi_w = wilson_interval(int(x.sum()), x.size)
        _, lo, hi = success_interval(x.ravel(), clusters)
        cover_wilson.append(lo_w <= truth <= hi_w)
        cover_hull.append(lo <= truth <= hi)
        width_wilson.append(hi_w - lo_w)
        width_hull.append(hi - lo)
    assert np.mean(cover_wilson) < 0.8  # the independent-draw interval is overconfident here
    assert np.mean(cover_hull) >= 0.85
    assert np.mean(width_hull) > 1.5 * np.mean(width_wilson)


def test_cluster_bootstrap_resamples_seeds_too():
    # seed 0 solves everything, seed 1 nothing: the seed spread must show in the interval
    x = np.stack([np.ones(40), np.zeros(40)])
    low, high = cluster_bootstrap_interval(x, np.arange(40))
    assert low == 0.0 and high == 1.0
    mean, lo, hi = success_interval(x)
    assert mean == 0.5 and (lo, hi) == (0.0, 1.0)


def test_mcnemar_on_a_hand_made_example():
    # 10 tasks: a solves 8 that b misses, b solves 1 that a misses, both solve 1 (concordant)
    a = [1, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    b = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    # discordant 8 vs 1: two-sided binomial P(X <= 1 or X >= 8 | 9, 1/2) = 2 * 10 / 512
    assert mcnemar_exact(a, b) == pytest.approx(20 / 512)
    assert mcnemar_exact(b, a) == pytest.approx(20 / 512)
    # concordant pairs never matter
    assert mcnemar_exact(a + [1] * 20, b + [1] * 20) == pytest.approx(20 / 512)
    assert mcnemar_exact([1, 0, 1], [1, 0, 1]) == 1.0
    # 8 wins and no loss: 2 / 2^8
    assert mcnemar_exact([1] * 8, [0] * 8) == pytest.approx(0.0078125)
    with pytest.raises(ValueError, match="same shape"):
        mcnemar_exact([1, 0], [1])
