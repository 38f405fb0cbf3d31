"""`leasesim compare` tells a changed fleet from an unchanged one (issue 17), with fixed seeds.

The fleet: 20 runners x 2 threads, lognormal work (median 5m, p95 20m) at 60/h (about 18% of
the threads busy), a 3-minute lease renewed every 30 s, and a day's record. Per metric the test
is a prediction t test at 5%, Holm-corrected over the 7 shared metrics, so the chance of any
false "differs" is at most 5% (family-wise).

- Work doubled, on the fleet without faults: latency p50, p95 and work per task change; nothing
  else can (no lease is lost, the threads stay mostly idle, so queue wait stays ~0): the verdict
  must be exactly those three (so on seeds 0-5 in development).
- Pause rate doubled (6/h -> 12/h per runner): the lease losses it drives (reassigned and
  duplicated fraction, attempts per task) must differ. Pauses also lengthen some tasks and add
  duplicate work, so latency p95, work per task and ack timeouts shift by a few percent too and may
  or may not be flagged; queue wait cannot change (light load) and must stay consistent.
"""

from __future__ import annotations

import warnings

import pytest

import simulator

pytestmark = pytest.mark.slow

FLEET = {
    "name": "fleet",
    "duration": "1d",
    "service": {"on_lease_expiry": "reassign_same_attempt", "report_progress_timeout": "3m"},
    "fleet": [
        {
            "name": "jvm",
            "worker_group": "w",
            "runners": 20,
            "threads": 2,
            "progress_interval": "30s",
            "startup": "5s",
            "faults": {
                "pause": {
                    "rate": "6/h",
                    "duration": {"dist": "lognormal", "median": "20s", "p95": "4m"},
                }
            },
        }
    ],
    "workload": [
        {
            "name": "reports",
            "worker_group": "w",
            "arrivals": {"kind": "poisson", "rate": "60/h"},
            "duration": {"dist": "lognormal", "median": "5m", "p95": "20m"},
        }
    ],
}
NO_FAULTS = ["fleet.jvm.faults={}"]
DOUBLE_WORK = ["workload.reports.duration={dist: lognormal, median: 10m, p95: 40m}"]
DOUBLE_PAUSES = ["fleet.jvm.faults.pause.rate=12/h"]


def _record(overrides: list[str], seed: int) -> simulator.Observed:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scenario = simulator.load_scenario_dict(FLEET, overrides=overrides)
        result = simulator.run(scenario, seed=seed)
    return simulator.Observed(simulator.simulated_record(result), f"seed {seed}")


@pytest.mark.parametrize("seed", [0, 1])
def test_doubled_work_differs_exactly_where_the_work_shows(seed: int) -> None:
    observed = _record(NO_FAULTS, seed)
    same = simulator.compare_observed(
        simulator.load_scenario_dict(FLEET, overrides=NO_FAULTS), observed, n=10, seed=100 + seed
    )
    assert same.consistent, same.frame()
    doubled = simulator.load_scenario_dict(FLEET, overrides=NO_FAULTS + DOUBLE_WORK)
    cmp = simulator.compare_observed(doubled, observed, n=10, seed=100 + seed)
    assert set(cmp.differs) == {"latency_p50_s", "latency_p95_s", "work_per_task_s"}, cmp.frame()


@pytest.mark.parametrize("seed", [0, 1])
def test_doubled_pauses_differ_on_the_lease_losses(seed: int) -> None:
    observed = _record([], seed)
    same = simulator.compare_observed(
        simulator.load_scenario_dict(FLEET), observed, n=10, seed=100 + seed
    )
    assert same.consistent, same.frame()
    doubled = simulator.load_scenario_dict(FLEET, overrides=DOUBLE_PAUSES)
    cmp = simulator.compare_observed(doubled, observed, n=20, seed=100 + seed)
    assert {"reassigned_fraction", "duplicated_fraction", "attempts_per_task"} <= set(cmp.differs)
    assert "queue_wait_mean_s" not in cmp.differs
