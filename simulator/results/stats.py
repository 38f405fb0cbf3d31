"""Statistics over replications: Student-t confidence intervals of per-run summary metrics."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats

from simulator.results import health
from simulator.results.metrics import METRICS

NAN = float("nan")


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, int]:
    """(mean, half-width, n) of the Student-t interval of the mean over replications.

    NaN values are ignored (a metric undefined in some run) and n counts the rest. The half-width is
    NaN when n < 2 (no spread to estimate); the mean is NaN when n = 0.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    x = np.asarray(list(values), dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return NAN, NAN, 0
    mean = float(x.mean())
    if n < 2:
        return mean, NAN, n
    sem = float(x.std(ddof=1)) / math.sqrt(n)
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sem
    return mean, half, n


BOOTSTRAP_RESAMPLES = 9999
"""Resamples of the percentile bootstrap used where the t interval leaves a metric's range."""

BOOTSTRAP_SEED = 20240613
"""Seed of the bootstrap's generator: the same values always give the same interval."""


def range_interval(
    values: Iterable[float],
    low: float = -math.inf,
    high: float = math.inf,
    confidence: float = 0.95,
    count: bool = False,
) -> tuple[float, float, float, int, str]:
    """(mean, ci_low, ci_high, n, method): an interval of the mean that stays in [low, high].

    - "t": the Student-t interval, when it lies inside [low, high] (or n < 2: NaN bounds).
    - "bootstrap": otherwise, the percentile bootstrap of the mean (`scipy.stats.bootstrap`,
      `BOOTSTRAP_RESAMPLES` resamples, generator seeded with `BOOTSTRAP_SEED`). A mean of values
      in the range is in the range, so its bounds are too, and it follows the skew of values
      that pile up at a bound (a count that is mostly 0, a fraction near 0 or 1).
    - "bootstrap+poisson": a whole-number count (`count`) with low = 0: the bootstrap interval
      widened to contain Garwood's exact Poisson interval of the total, because the bootstrap
      alone is too short when only one or two replications are non-zero.
    """
    x = np.asarray(list(values), dtype=float)
    x = x[~np.isnan(x)]
    mean, half, n = mean_ci(x, confidence)
    if n < 2 or not math.isfinite(half):
        return mean, mean - half, mean + half, n, "t"
    lo, hi = mean - half, mean + half
    if low <= lo and hi <= high:
        return mean, lo, hi, n, "t"
    res = _scipy_stats.bootstrap(
        (x,), np.mean, confidence_level=confidence, n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile", vectorized=True, rng=np.random.default_rng(BOOTSTRAP_SEED),
    )  # fmt: skip
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    method = "bootstrap"
    whole = bool(np.all(x == np.round(x))) and bool(np.all(x >= 0))
    if count and low == 0 and whole:
        p_lo, p_hi = poisson_interval(mean, n, confidence)
        lo, hi = min(lo, p_lo), max(hi, p_hi)
        method = "bootstrap+poisson"
    lo, hi = min(max(lo, low), mean), max(min(hi, high), mean)
    return mean, lo, hi, n, method


def summarize_replications(
    summaries: Sequence[Mapping[str, float]], confidence: float = 0.95
) -> pd.DataFrame:
    """One row per metric: mean, ci_low, ci_high, half_width, n, method over the replications.

    The interval is Student t (`method` "t") unless it leaves the metric's range (`Metric.range`:
    counts and rates >= 0, fractions in [0, 1]); then it is a percentile bootstrap, widened to
    the exact Poisson interval for counts (see `range_interval`). `half_width` is the larger
    distance from the mean to a bound. Metrics come in METRICS order, then any other keys in the
    order first seen (unbounded). The health flags of the means
    (`simulator.results.health.flags`) are in `frame.attrs["flags"]`.
    """
    names = [name for name in METRICS if any(name in s for s in summaries)]
    for s in summaries:
        names += [k for k in s if k not in METRICS and k not in names]
    rows = []
    for name in names:
        metric = METRICS.get(name)
        low, high = metric.range if metric else (-math.inf, math.inf)
        mean, lo, hi, n, method = range_interval(
            (s.get(name, NAN) for s in summaries), low, high, confidence,
            count=metric.count if metric else False,
        )  # fmt: skip
        half = max(mean - lo, hi - mean)
        rows.append((name, mean, lo, hi, half, n, method))
    columns = ["metric", "mean", "ci_low", "ci_high", "half_width", "n", "method"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs["flags"] = health.flags(dict(zip(frame["metric"], frame["mean"], strict=True)))
    return frame


def poisson_interval(mean: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Garwood's exact interval for the mean count per replication, from n replications.

    For a count that came out the same in every replication, where the t interval has no width.
    """
    total = round(mean * n)
    alpha = 1.0 - confidence
    low = _scipy_stats.chi2.ppf(alpha / 2, 2 * total) / 2 if total > 0 else 0.0
    high = _scipy_stats.chi2.ppf(1 - alpha / 2, 2 * (total + 1)) / 2
    return float(low) / n, float(high) / n


def binomial_interval(p: float, trials: float, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of a proportion p observed over `trials` trials."""
    n = max(round(trials), 1)
    k = min(max(round(p * n), 0), n)
    alpha = 1.0 - confidence
    low = _scipy_stats.beta.ppf(alpha / 2, k, n - k + 1) if k > 0 else 0.0
    high = _scipy_stats.beta.ppf(1 - alpha / 2, k + 1, n - k) if k < n else 1.0
    return float(low), float(high)

