"""Moments, survival functions and bounds of the scenario's distribution specs, for estimates.

`simulator.distributions` draws samples; the estimates need the distributions themselves: the
chance a duration exceeds x (work outlasting a report time, a pause outlasting a lease), the first
two moments (queueing formulas) and the largest possible value (can a lease ever run out?).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from simulator.distributions import Z95, mean
from simulator.scenario.schema import DistSpec, Empirical, Exponential, Fixed, Lognormal, Uniform

__all__ = ["mean", "nodes", "quantile", "scv", "second_moment", "survival", "upper_bound"]


def _sigma(spec: Lognormal) -> float:
    return (math.log(spec.p95) - math.log(spec.median)) / Z95


def survival(spec: DistSpec, x: np.ndarray | float) -> np.ndarray:
    """P(X > x), elementwise."""
    x = np.asarray(x, dtype=float)
    if isinstance(spec, Fixed):
        return (spec.value > x).astype(float)
    if isinstance(spec, Exponential):
        return np.exp(-np.maximum(x, 0.0) / spec.mean)
    if isinstance(spec, Lognormal):
        return stats.lognorm.sf(x, _sigma(spec), scale=spec.median)
    if isinstance(spec, Uniform):
        if spec.high == spec.low:
            return (spec.low > x).astype(float)
        return np.clip((spec.high - x) / (spec.high - spec.low), 0.0, 1.0)
    values = np.sort(np.asarray(spec.values, dtype=float))
    return 1.0 - np.searchsorted(values, x, side="right") / len(values)


def second_moment(spec: DistSpec) -> float:
    """E[X^2]."""
    if isinstance(spec, Fixed):
        return spec.value**2
    if isinstance(spec, Exponential):
        return 2.0 * spec.mean**2
    if isinstance(spec, Lognormal):
        return spec.median**2 * math.exp(2.0 * _sigma(spec) ** 2)
    if isinstance(spec, Uniform):
        return (spec.low**2 + spec.low * spec.high + spec.high**2) / 3.0
    return float(np.mean(np.square(spec.values)))


def scv(spec: DistSpec) -> float:
    """Squared coefficient of variation Var[X] / E[X]^2 (0 for a distribution at 0)."""
    m = mean(spec)
    return max(second_moment(spec) / m**2 - 1.0, 0.0) if m > 0 else 0.0


def upper_bound(spec: DistSpec) -> float:
    """The largest value the distribution can take (inf for exponential and lognormal)."""
    if isinstance(spec, Fixed):
        return spec.value
    if isinstance(spec, Uniform):
        return spec.high
    if isinstance(spec, Empirical):
        return float(max(spec.values))
    return math.inf


def quantile(spec: DistSpec, q: float) -> float:
    """The q-quantile (the smallest x with P(X <= x) >= q)."""
    if isinstance(spec, Fixed):
        return spec.value
    if isinstance(spec, Exponential):
        return -spec.mean * math.log1p(-q)
    if isinstance(spec, Lognormal):
        return float(stats.lognorm.ppf(q, _sigma(spec), scale=spec.median))
    if isinstance(spec, Uniform):
        return spec.low + q * (spec.high - spec.low)
    values = np.sort(np.asarray(spec.values, dtype=float))
    return float(values[min(len(values) - 1, max(0, math.ceil(q * len(values)) - 1))])


def nodes(spec: DistSpec, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(values, weights): a discrete stand-in for averaging a function over the distribution.

    Exact for fixed and empirical specs; otherwise the midpoints of n equal-probability bins.
    """
    if isinstance(spec, Fixed):
        return np.array([spec.value]), np.array([1.0])
    if isinstance(spec, Empirical):
        values, counts = np.unique(np.asarray(spec.values, dtype=float), return_counts=True)
        return values, counts / counts.sum()
    qs = (np.arange(n) + 0.5) / n
    if isinstance(spec, Lognormal):
        values = stats.lognorm.ppf(qs, _sigma(spec), scale=spec.median)
    else:
        values = np.array([quantile(spec, q) for q in qs])
    return values, np.full(n, 1.0 / n)
