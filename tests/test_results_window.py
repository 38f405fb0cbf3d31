"""Utilization with a warm-up: the busy time inside the measured window (issue 13, A6).

Before the fix, the work of tasks submitted before the warm-up was left out while the denominator
was the window's thread-seconds, so a fleet at 60 % load read about 50 %.
"""

from __future__ import annotations

import math
from pathlib import Path

from builders import make_scenario

from simulator.experiments.replicate import replicate
from simulator.experiments.runs import run

GC_PAUSES = str(Path(__file__).resolve().parents[1] / "scenarios" / "gc-pauses.yaml")


def _threads(result: object) -> int:
    return sum(g.runners * g.threads for g in result.scenario.fleet)  # type: ignore[attr-defined]


def test_utilization_with_warmup_is_the_offered_load() -> None:
    """M/M/c with no losses: the busy fraction is the offered load rho = lambda E[S] / c = 0.6.

    40 replications of 8 h with a 2 h warm-up, 20 single-thread runners, work mean 1 h. The
    standard error of the mean is about 0.012; the test allows 0.06 (5 standard errors), and
    the old, biased estimator read about 0.50 here.
    """
    scenario = make_scenario(
        duration="8h", warmup="2h",
        fleet=[{"runners": 20, "threads": 1}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "12/h"},
                   "duration": {"dist": "exponential", "mean": "1h"}}],
    )  # fmt: skip
    reps = replicate(scenario, 40, seed=5)
    frame = reps.summarize().set_index("metric")
    mean = frame.loc["utilization", "mean"]
    assert abs(mean - 0.6) < 0.06, mean
    # Nothing is lost: the fleet keeps up and no lease expires.
    assert frame.loc["reassignments", "mean"] == 0


def test_busy_time_in_window_equals_total_minus_a_run_cut_at_the_warmup() -> None:
    """Independent check with pauses: the run of the first 4 h alone (same seed) holds exactly
    the busy time before the warm-up, so window busy = all work of the 12 h run - all work of
    the 4 h run (a run's prefix does not depend on its length)."""
    full = run(GC_PAUSES, seed=3, overrides=["warmup=4h"])
    cut = run(GC_PAUSES, seed=3, overrides=["duration=4h"])
    assert len(full.faults[full.faults["kind"] == "pause"]) > 0
    busy = full.attempts["work_s"].sum() - cut.attempts["work_s"].sum()
    window = _threads(full) * (full.duration - 4 * 3600.0)
    assert math.isclose(full.summary["utilization"], busy / window, rel_tol=1e-9)


def test_utilization_without_warmup_is_unchanged() -> None:
    r = run(GC_PAUSES, seed=3, overrides=["duration=4h"])
    expected = r.attempts["work_s"].sum() / (_threads(r) * r.duration)
    assert math.isclose(r.summary["utilization"], expected, rel_tol=1e-12)
