"""Expectations judged on the confidence interval of the replication mean.

A bound allows a closed interval of values [low, high] (`max: M` is (-inf, M], `equals: v` is
[v, v]). With the Student-t interval [lo, hi] of the metric's mean over the replications:

- **pass** when the whole interval satisfies the bound: low <= lo and hi <= high;
- **fail** when the whole interval violates it: hi < low or lo > high;
- **inconclusive** otherwise (the interval straddles an end of the bound), and when there is no
  interval yet (fewer than two replications with a value).

When every replication has the same value the interval is that value, so `equals` can pass (every
run had exactly that value) and a constant run can pass or fail at once. Each side of the interval
errs with probability alpha/2 at most (shared over the looks: see `plan`), so a pass when the true
mean violates the bound, or a fail when it satisfies it, happens at most 2.5 % of the time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from simulator.results.stats import mean_ci
from simulator.scenario.expect import Bound

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"


@dataclass(frozen=True)
class Interval:
    """The mean of a metric over replications and its confidence interval (NaN: none)."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float

    @classmethod
    def of(cls, values: Sequence[float], confidence: float) -> Interval:
        """The Student-t interval of the mean of `values` (NaN values are left out)."""
        x = np.asarray(values, dtype=float)
        x = x[~np.isnan(x)]
        if len(x) and np.all(x == x[0]):  # exact: no rounding of a mean of equal values
            value = float(x[0])
            return cls(value, value, value, len(x), confidence) if len(x) > 1 else cls(
                value, math.nan, math.nan, 1, confidence)  # fmt: skip
        mean, half, n = mean_ci(x, confidence)
        return cls(mean, mean - half, mean + half, n, confidence)

    @property
    def defined(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))


@dataclass(frozen=True)
class ExpectVerdict:
    """One expectation judged: the bound, the observed interval, the verdict and why."""

    metric: str
    bound: str
    observed: Interval
    verdict: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "expected": self.bound, **asdict(self.observed),
                "verdict": self.verdict, "reason": self.reason}  # fmt: skip


def judge(metric: str, bound: Bound, values: Sequence[float], confidence: float) -> ExpectVerdict:
    """The verdict on `bound` from the per-replication `values` of `metric`."""
    observed = Interval.of(values, confidence)
    low, high = bound.interval
    text = bound.describe()
    if not observed.defined:
        why = ("no replication gave it a value" if observed.n == 0
               else "an interval needs values from two replications")  # fmt: skip
        return ExpectVerdict(metric, text, observed, INCONCLUSIVE, why)
    shown = f"{percent(confidence)} interval [{observed.low:.4g}, {observed.high:.4g}]"
    if low <= observed.low and observed.high <= high:
        return ExpectVerdict(metric, text, observed, PASS,
                             f"the {shown} lies within {text}")  # fmt: skip
    if observed.high < low or observed.low > high:
        return ExpectVerdict(metric, text, observed, FAIL,
                             f"the {shown} lies outside {text}")  # fmt: skip
    return ExpectVerdict(metric, text, observed, INCONCLUSIVE,
                         f"the {shown} straddles {text}")  # fmt: skip


def percent(level: float) -> str:
    """0.95 -> "95%", 0.98333 -> "98.33%"."""
    return f"{level * 100:.2f}".rstrip("0").rstrip(".") + "%"
