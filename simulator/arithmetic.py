"""The arithmetic of the scenario's distributions and arrivals, in one place.

Moments, survival, quantiles and bounds of a distribution spec, and how many tasks an arrival
process submits before a time. The model's samplers (`simulator.distributions`), the size guards
(`experiments.guards`), the scenario's warnings and the closed-form estimates (`simulator.analytic`)
all take them from here, so they cannot disagree. It sits just above the schema: it imports
nothing of the model and no SciPy until a lognormal survival or quantile of an array is asked for.

Arrivals are counted as the model submits them (`model.workload.Source`): a periodic workload's
first batch at `offset`, each next one `every` later on the simulation clock (added, not
multiplied: the count follows the clock's own rounding); listed times in order (a trace's too);
and only those before the horizon, since a run of length T handles events at times < T. A rate
profile's expected count is its rate's integral (`simulator.arrival_profile`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from simulator import arrival_profile
from simulator.scenario.schema import (
    DistSpec,
    Empirical,
    Explicit,
    Exponential,
    Fixed,
    Lognormal,
    Periodic,
    Poisson,
    Profile,
    Uniform,
)

Z95 = 1.6448536269514722  # standard normal 95th percentile: lognormal sigma from median and p95

__all__ = [
    "Z95", "arrival_rate", "arrivals_before", "batch_times", "explicit_times", "lognormal_sigma",
    "mean", "nodes", "peak_arrival_rate", "periodic_batches", "quantile", "scv", "second_moment",
    "share_above", "submitted_before", "survival", "upper_bound",
]  # fmt: skip


# --- distributions ------------------------------------------------------------------------------


def lognormal_sigma(spec: Lognormal) -> float:
    """The log-scale standard deviation of a lognormal given by its median and p95."""
    return (math.log(spec.p95) - math.log(spec.median)) / Z95


def mean(spec: DistSpec) -> float:
    """The distribution's mean."""
    if isinstance(spec, Fixed):
        return spec.value
    if isinstance(spec, Exponential):
        return spec.mean
    if isinstance(spec, Lognormal):
        return spec.median * math.exp(lognormal_sigma(spec) ** 2 / 2)
    if isinstance(spec, Uniform):
        return (spec.low + spec.high) / 2
    return float(np.mean(spec.values))


def second_moment(spec: DistSpec) -> float:
    """E[X^2]."""
    if isinstance(spec, Fixed):
        return spec.value**2
    if isinstance(spec, Exponential):
        return 2.0 * spec.mean**2
    if isinstance(spec, Lognormal):
        return spec.median**2 * math.exp(2.0 * lognormal_sigma(spec) ** 2)
    if isinstance(spec, Uniform):
        return (spec.low**2 + spec.low * spec.high + spec.high**2) / 3.0
    return float(np.mean(np.square(spec.values)))


def scv(spec: DistSpec) -> float:
    """Squared coefficient of variation Var[X] / E[X]^2 (0 for a distribution at 0)."""
    m = mean(spec)
    return max(second_moment(spec) / m**2 - 1.0, 0.0) if m > 0 else 0.0


def survival(spec: DistSpec, x: np.ndarray | float) -> np.ndarray:
    """P(X > x), elementwise."""
    x = np.asarray(x, dtype=float)
    if isinstance(spec, Fixed):
        return (spec.value > x).astype(float)
    if isinstance(spec, Exponential):
        return np.exp(-np.maximum(x, 0.0) / spec.mean)
    if isinstance(spec, Lognormal):
        from scipy import stats  # only the estimates need it: loading a scenario stays light

        return stats.lognorm.sf(x, lognormal_sigma(spec), scale=spec.median)
    if isinstance(spec, Uniform):
        if spec.high == spec.low:
            return (spec.low > x).astype(float)
        return np.clip((spec.high - x) / (spec.high - spec.low), 0.0, 1.0)
    values = np.sort(np.asarray(spec.values, dtype=float))
    return 1.0 - np.searchsorted(values, x, side="right") / len(values)


def share_above(spec: Any, limit: float) -> float | None:
    """P(X > limit) as a number, without SciPy (None for an empirical spec not read yet).

    The scalar `survival` of the warnings and the size guards: the same probabilities, the
    lognormal's from `math.erfc`.
    """
    if isinstance(spec, Empirical) and not spec.values:
        return None
    if isinstance(spec, Lognormal):
        if limit <= 0:
            return 1.0
        z = (math.log(limit) - math.log(spec.median)) / lognormal_sigma(spec)
        return 0.5 * math.erfc(z / math.sqrt(2))
    if isinstance(spec, Fixed | Exponential | Uniform | Empirical):
        return float(survival(spec, limit))
    return None


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
        from scipy import stats

        return float(stats.lognorm.ppf(q, lognormal_sigma(spec), scale=spec.median))
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
        from scipy import stats

        values = stats.lognorm.ppf(qs, lognormal_sigma(spec), scale=spec.median)
    else:
        values = np.array([quantile(spec, q) for q in qs])
    return values, np.full(n, 1.0 / n)


# --- arrivals -----------------------------------------------------------------------------------

# Up to this many batches, a periodic workload's batch times are added up as the model's clock
# adds them; beyond it the exact product (the two differ only within rounding of the horizon).
_ADDED_UP_TO = 1_000_000


def batch_times(arrivals: Periodic, horizon: float, most: int = _ADDED_UP_TO) -> np.ndarray | None:
    """The times of a periodic workload's batches before `horizon`, as the model's clock reaches
    them (offset, then + every, + every, ...); None if there are more than `most`."""
    if not arrivals.offset < horizon:
        return np.empty(0)
    n = math.ceil((horizon - arrivals.offset) / arrivals.every)  # in exact arithmetic
    if n > most:
        return None
    times = _clock(arrivals.offset, arrivals.every, n + 2)  # more: the clock's rounding differs
    return times[: int(np.searchsorted(times, horizon, side="left"))]


@functools.lru_cache(maxsize=32)
def _clock(offset: float, every: float, n: int) -> np.ndarray:
    """offset, offset + every, (offset + every) + every, ...: n times, read-only (cached)."""
    steps = np.full(n, every)
    steps[0] = offset
    times = np.add.accumulate(steps)  # sequential: the same roundings as the model's clock
    times.flags.writeable = False
    return times


def periodic_batches(arrivals: Periodic, horizon: float) -> int:
    """How many batches a periodic workload submits before `horizon`."""
    times = batch_times(arrivals, horizon)
    if times is None:
        return math.ceil((horizon - arrivals.offset) / arrivals.every)
    return len(times)


def explicit_times(arrivals: Explicit, horizon: float) -> list[float]:
    """The listed submission times the model reaches before `horizon`, in order (as its clock
    reaches them: now + (t - now))."""
    now, out = 0.0, []
    for t in sorted(arrivals.times):
        if t > now:
            now = now + (t - now)
        if not now < horizon:
            break
        out.append(now)
    return out


def arrivals_before(arrivals: Poisson | Periodic | Explicit, horizon: float) -> float:
    """Tasks the model submits at times < `horizon` (for Poisson arrivals, the expected number)."""
    if horizon <= 0:
        return 0.0
    if isinstance(arrivals, Poisson):
        return arrivals.rate * horizon
    if isinstance(arrivals, Periodic):
        return float(arrivals.batch * periodic_batches(arrivals, horizon))
    if isinstance(arrivals, Profile):  # the expected number: the rate's integral
        return float(arrival_profile.expected_before(arrivals.period, arrivals.rates, [horizon])[0])
    return float(len(explicit_times(arrivals, horizon)))


def submitted_before(arrivals: Any, horizons: Sequence[float] | np.ndarray | float) -> np.ndarray:
    """`arrivals_before` at each of `horizons` (any order)."""
    h = np.asarray(horizons, dtype=float)
    if isinstance(arrivals, Poisson):
        return arrivals.rate * np.maximum(h, 0.0)
    if isinstance(arrivals, Profile):
        return arrival_profile.expected_before(arrivals.period, arrivals.rates, h)
    if h.size == 0:
        return np.zeros(h.shape)
    top = float(h.max())
    if isinstance(arrivals, Periodic):
        times = batch_times(arrivals, top)
        if times is None:  # very many batches: the product, as `periodic_batches`
            k = np.ceil((h - arrivals.offset) / arrivals.every)
            return arrivals.batch * np.maximum(k, 0.0)
        return arrivals.batch * np.searchsorted(times, h, side="left").astype(float)
    times = np.asarray(explicit_times(arrivals, top), dtype=float)
    return np.searchsorted(times, h, side="left").astype(float)


def arrival_rate(arrivals: Any, horizon: float) -> float:
    """Tasks per second over a run of length `horizon`: the Poisson rate, else the tasks submitted
    during the run over its length (a period longer than the run does not dilute its load)."""
    if isinstance(arrivals, Poisson):
        return arrivals.rate
    return arrivals_before(arrivals, horizon) / horizon if horizon > 0 else 0.0


def peak_arrival_rate(arrivals: Any, horizon: float) -> float:
    """The highest sustained arrival rate during a run of length `horizon` (per second): a
    profile's highest rate among the segments the run reaches, else `arrival_rate` (a periodic
    batch or listed times are bursts, which the callers treat as such)."""
    if isinstance(arrivals, Profile):
        reached = [rate for start, rate in arrivals.rates if start < horizon] or [0.0]
        return max(reached)
    return arrival_rate(arrivals, horizon)
