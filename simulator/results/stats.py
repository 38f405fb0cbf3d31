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


def summarize_replications(
    summaries: Sequence[Mapping[str, float]], confidence: float = 0.95
) -> pd.DataFrame:
    """One row per metric: mean, ci_low, ci_high, half_width, n over the replications' summaries.

    Metrics come in METRICS order, then any other keys in the order first seen. The health flags
    of the means (`simulator.results.health.flags`) are in `frame.attrs["flags"]`.
    """
    names = [name for name in METRICS if any(name in s for s in summaries)]
    for s in summaries:
        names += [k for k in s if k not in METRICS and k not in names]
    rows = []
    for name in names:
        mean, half, n = mean_ci((s.get(name, NAN) for s in summaries), confidence)
        rows.append((name, mean, mean - half, mean + half, half, n))
    frame = pd.DataFrame(rows, columns=["metric", "mean", "ci_low", "ci_high", "half_width", "n"])
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

