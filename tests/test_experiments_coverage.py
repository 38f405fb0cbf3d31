"""Do the replication intervals cover the truth as often as they claim? (slow: about 2,000 runs)

100 independent experiments (a sweep over 100 seeds), each of 20 one-day replications of an M/M/4
queue at 70 % load with a 2-hour warm-up, each giving a 95 % and an 80 % Student-t interval for:

- `tasks_submitted`, whose mean is exactly lambda x (duration - warmup) (a Poisson count, so the
  replication values are close to normal): the intervals should cover it in 95 % and 80 % of the
  experiments;
- `queue_wait_mean_s`, whose long-run value is the Erlang C mean wait. One day's mean wait is
  strongly right-skewed (skewness about 2) and, as a ratio of two random sums, biased a few percent
  low, so a t-interval over 20 of them covers somewhat less often than claimed (about 90 % and
  77 % here); the lower bounds allow for that, the upper bound of the 80 % interval still catches
  intervals that are too wide.

Every bound is a 0.05 % binomial quantile for 100 experiments, so a correct implementation fails
with probability below 1e-3 per bound (the seeds are fixed, so the outcome is reproducible).
"""

from __future__ import annotations

import math

import pytest
from builders import make_scenario
from scipy.stats import binom

import simulator

K, N = 100, 20  # experiments, replications each
MEAN_WORK, THREADS, LOAD = 600.0, 4, 0.7


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean queue wait of an M/M/c queue (Erlang C)."""
    a = lam / mu
    top = a**c / math.factorial(c) / (1 - a / c)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def _bounds(p: float) -> tuple[float, float]:
    return binom.ppf(0.0005, K, p), binom.isf(0.0005, K, p)


@pytest.mark.slow
def test_intervals_cover_analytic_values_in_the_expected_share() -> None:
    lam = LOAD * THREADS / MEAN_WORK
    scenario = make_scenario(
        duration="1d", warmup="2h",
        fleet=[{"runners": 2, "threads": 2, "progress_interval": "1d"}],
        workload=[{
            "arrivals": {"kind": "poisson", "rate": lam},
            "duration": {"dist": "exponential", "mean": MEAN_WORK},
            "report_progress_timeout": "2d",
        }],
    )  # fmt: skip
    frame = simulator.sweep(scenario, {"seed": list(range(1000, 1000 + K))}, N, workers=2)
    assert frame["error"].isna().all() and len(frame) == K * N
    truths = {
        "tasks_submitted": lam * (86400 - 7200),
        "queue_wait_mean_s": erlang_c_wait(lam, 1 / MEAN_WORK, THREADS),
    }
    allowed = {  # (metric, confidence) -> share the bounds are computed at
        ("tasks_submitted", 0.95): (0.95, 0.95), ("tasks_submitted", 0.8): (0.8, 0.8),
        ("queue_wait_mean_s", 0.95): (0.88, 0.95), ("queue_wait_mean_s", 0.8): (0.72, 0.8),
    }  # fmt: skip
    for (metric, confidence), (low_share, high_share) in allowed.items():
        summary = simulator.summarize(frame, by="seed", metrics=[metric], confidence=confidence)
        assert (summary["n"] == N).all()
        truth = truths[metric]
        covered = int(((summary["ci_low"] <= truth) & (truth <= summary["ci_high"])).sum())
        low, high = _bounds(low_share)[0], _bounds(high_share)[1]
        assert low <= covered <= high, (metric, confidence, covered, low, high)
