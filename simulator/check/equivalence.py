"""The statistical tier: is a metric's mean unchanged from its baseline, within a margin?

Two one-sided tests (TOST) with Welch's unequal-variance t statistic. With the difference of the
means d = mean(current) - mean(baseline), its standard error se = sqrt(s_c^2/n_c + s_b^2/n_b),
Welch-Satterthwaite degrees of freedom df and the margin m (from `check.tolerance`), the
interval [d - t se, d + t se] with t = t_{1-a}(df) is the (1 - 2a) interval of the difference,
and the verdict is

- **equivalent** when the interval lies within [-m, m]: both one-sided tests (H0: delta <= -m,
  H0: delta >= m) reject at level a, i.e. the TOST p-value is at most a;
- **different** when the interval lies entirely outside [-m, m] (above m or below -m);
- **inconclusive** otherwise: the data cannot tell (too few replications for so small a margin).

`a` is alpha = 5 % shared over the looks (see `plan`). So a change of at least m is called
equivalent at most 5 % of the time (the TOST guarantee), and an unchanged metric (delta = 0) is
called different far less often than 5 %: the interval must then miss 0 by more than m. How
often an unchanged metric stays inconclusive depends on the margin against the noise; see
docs/regression.md for choosing it. The two samples need not be independent: when they share
seeds (the same replications), Welch's se over-estimates the spread and the test is conservative.

When both samples are constant the interval is the single value d. A metric with no value in any
replication of either run is equivalent (nothing to compare); with a value in one run only, or
in fewer than two replications, it is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from simulator.check.expect import INCONCLUSIVE, percent

EQUIVALENT, DIFFERENT = "equivalent", "different"


@dataclass(frozen=True)
class Equivalence:
    """One metric compared with its baseline: means, difference and its interval, verdict."""

    metric: str
    baseline_mean: float
    current_mean: float
    n_baseline: int
    n_current: int
    difference: float
    low: float  # the (1 - 2a) interval of the difference
    high: float
    margin: float
    confidence: float
    p_value: float  # TOST: the larger of the two one-sided p-values
    verdict: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _clean(values: Sequence[float]) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[~np.isnan(x)]


def welch(current: np.ndarray, baseline: np.ndarray) -> tuple[float, float, float]:
    """(difference of means, its standard error, Welch-Satterthwaite df); needs n >= 2 each."""
    nc, nb = len(current), len(baseline)
    vc = float(current.var(ddof=1)) / nc
    vb = float(baseline.var(ddof=1)) / nb
    difference = float(current.mean() - baseline.mean())
    se = math.sqrt(vc + vb)
    if se == 0:
        return difference, 0.0, math.inf
    df = (vc + vb) ** 2 / (vc**2 / (nc - 1) + vb**2 / (nb - 1))
    return difference, se, df


def tost(
    metric: str, current: Sequence[float], baseline: Sequence[float], margin: float, alpha: float
) -> Equivalence:
    """The equivalence verdict on `metric` at level `alpha` (each one-sided test) with `margin`."""
    c, b = _clean(current), _clean(baseline)
    nan = math.nan
    c_mean = float(c.mean()) if len(c) else nan
    b_mean = float(b.mean()) if len(b) else nan
    confidence = 1 - 2 * alpha

    def verdict(difference: float, low: float, high: float, p: float, outcome: str,
                reason: str) -> Equivalence:  # fmt: skip
        return Equivalence(metric, b_mean, c_mean, len(b), len(c), difference, low, high, margin,
                           confidence, p, outcome, reason)  # fmt: skip

    if not len(c) and not len(b):
        return verdict(nan, nan, nan, nan, EQUIVALENT, "no value in any replication of either run")
    if not len(c) or not len(b):
        which = "this run" if not len(c) else "the baseline"
        return verdict(nan, nan, nan, nan, INCONCLUSIVE,
                       f"no value in any replication of {which}")  # fmt: skip
    if len(c) < 2 or len(b) < 2:
        return verdict(c_mean - b_mean, nan, nan, nan, INCONCLUSIVE,
                       "an interval needs values from two replications of each run")  # fmt: skip
    difference, se, df = welch(c, b)
    if se == 0:
        low = high = difference
        p = 0.0 if abs(difference) <= margin else 1.0
    else:
        t = float(stats.t.ppf(1 - alpha, df))
        low, high = difference - t * se, difference + t * se
        p_lower = float(stats.t.sf((difference + margin) / se, df))  # H0: delta <= -margin
        p_upper = float(stats.t.cdf((difference - margin) / se, df))  # H0: delta >= +margin
        p = max(p_lower, p_upper)
    shown = f"{percent(confidence)} interval of the difference [{low:+.4g}, {high:+.4g}]"
    if -margin <= low and high <= margin:
        return verdict(difference, low, high, p, EQUIVALENT,
                       f"the {shown} lies within +/-{margin:.4g}")  # fmt: skip
    if high < -margin or low > margin:
        return verdict(difference, low, high, p, DIFFERENT,
                       f"the {shown} lies outside +/-{margin:.4g}")  # fmt: skip
    needed = max(abs(low), abs(high))
    return verdict(difference, low, high, p, INCONCLUSIVE,
                   f"the {shown} straddles +/-{margin:.4g}; these replications could show "
                   f"equivalence only within +/-{needed:.4g}")  # fmt: skip
