"""Statistics for success rates: honest intervals and paired tests (small pure functions).

A success rate over n tasks is a binomial proportion only when every task is an independent
draw. Planning tasks are not: several can come from one held-out episode, and the same tasks
are run for every training seed. So the interval of a cell is the hull of

- the Wilson score interval of k successes in n trials (never narrower than this), and
- a percentile bootstrap that resamples whole held-out episodes and whole seeds (clusters),
  never single tasks,

and is never of zero width. Two methods run on the same tasks are compared paired, task by
task, with an exact McNemar test (a binomial test on the discordant pairs).

Example:
    >>> from benchmark.stats import wilson_interval, mcnemar_exact
    >>> [round(100 * x, 1) for x in wilson_interval(27, 30)]
    [74.4, 96.5]
    >>> mcnemar_exact([1, 1, 1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0, 0, 0])
    0.0078125
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` trials (scipy.stats.binomtest).

    Returns:
        (low, high) in [0, 1]; (nan, nan) when ``n == 0``.

    Example (0 of 30 still allows up to 11.4 %, where a bootstrap would give [0, 0]):
        >>> [round(100 * x, 1) for x in wilson_interval(0, 30)]
        [0.0, 11.4]
        >>> wilson_interval(0, 0)
        (nan, nan)
    """
    if n == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence, method="wilson")
    return float(ci.low), float(ci.high)


def cluster_bootstrap_interval(
    success: np.ndarray,
    clusters: np.ndarray,
    confidence: float = 0.95,
    n_resamples: int = 4000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap of the mean success, resampling seeds and clusters (episodes).

    Each replicate draws seeds with replacement and clusters with replacement, independently,
    and averages every task of the drawn clusters under every drawn seed.

    Args:
        success: (S, n) 0/1 outcomes of n tasks under S seeds (the same tasks for every seed).
        clusters: (n,) cluster id of each task (its held-out episode).

    Returns:
        (low, high) of the mean success rate.
    """
    x = np.atleast_2d(np.asarray(success, np.float64))
    ids, inverse = np.unique(np.asarray(clusters), return_inverse=True)
    n_seeds, n_clusters = x.shape[0], len(ids)
    # successes per (seed, cluster) and tasks per cluster
    per = np.zeros((n_seeds, n_clusters))
    np.add.at(per, (slice(None), inverse), x)
    size = np.bincount(inverse, minlength=n_clusters).astype(np.float64)
    rng = np.random.default_rng(seed)
    w_seed = rng.multinomial(n_seeds, np.full(n_seeds, 1 / n_seeds), n_resamples)
    w_clu = rng.multinomial(n_clusters, np.full(n_clusters, 1 / n_clusters), n_resamples)
    hits = np.einsum("rs,sc,rc->r", w_seed, per, w_clu)
    trials = w_seed.sum(1) * (w_clu @ size)
    means = hits / trials
    alpha = 1 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def success_interval(
    success: np.ndarray, clusters: np.ndarray | None = None, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Mean success and its interval: the hull of Wilson's and the cluster bootstrap's.

    Args:
        success: (S, n) or (n,) 0/1 outcomes (seeds x tasks).
        clusters: (n,) held-out episode of each task; None = every task its own episode.

    Returns:
        (mean, low, high); never zero-width for n >= 1 (Wilson's is not), never narrower than
        Wilson's for the pooled k / (S n).

    Example (40 of 50 tasks solved):
        >>> hits = np.r_[np.ones(40), np.zeros(10)]
        >>> [round(x, 2) for x in success_interval(hits)]  # 50 episodes: Wilson's interval
        [0.8, 0.67, 0.89]
        >>> episodes = np.repeat([0, 1, 2, 3], [10, 10, 10, 20])  # all from 4 episodes
        >>> [round(x, 2) for x in success_interval(hits, episodes)]  # the bootstrap widens it
        [0.8, 0.57, 1.0]
    """
    x = np.atleast_2d(np.asarray(success, np.float64))
    if x.size == 0:
        return float("nan"), float("nan"), float("nan")
    k, n = int(round(x.sum())), x.size
    low, high = wilson_interval(k, n, confidence)
    if clusters is None:
        clusters = np.arange(x.shape[1])
    if x.shape[0] > 1 or len(np.unique(clusters)) < x.shape[1]:
        b_low, b_high = cluster_bootstrap_interval(x, clusters, confidence)
        low, high = min(low, b_low), max(high, b_high)
    return float(x.mean()), low, high


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided exact McNemar test of two methods on the same tasks, paired per task.

    Only discordant pairs count: ``n10`` tasks that ``a`` solves and ``b`` does not, ``n01``
    the reverse; under "no difference" each discordant pair falls either way with
    probability 1/2 (scipy.stats.binomtest).

    Args:
        a, b: (n,) 0/1 outcomes on the same tasks in the same order (seeds flattened alike).

    Returns:
        The p-value; 1.0 when there is no discordant pair.

    Example (``a`` solves 6 tasks that ``b`` misses, ``b`` none that ``a`` misses):
        >>> round(mcnemar_exact([1] * 6 + [0] * 4, [0] * 10), 4)
        0.0312
        >>> mcnemar_exact([1, 0, 1], [1, 0, 1])
        1.0
    """
    a, b = np.asarray(a, bool).ravel(), np.asarray(b, bool).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes must have the same shape, got {a.shape} and {b.shape}")
    n10, n01 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    if n10 + n01 == 0:
        return 1.0
    return float(stats.binomtest(n10, n10 + n01, 0.5).pvalue)
