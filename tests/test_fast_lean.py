"""Fast mode's cost per task (issue 18): the acknowledgement after a fixed start-up is counted in
bulk, as the first report of the work, instead of an event of its own.

A thread handed a task on callbacks used to sleep through its fixed start-up on one timer and
through the work on another. Where nothing but a hook can hold the acknowledgement up (a pause, a
crash, a stall, a partition, the lease's end: `FastThread._start_in_bulk`), one timer now stands
for both, and a hook that comes first takes the thread back to its start-up
(`FastThread._back_to_start_up`). The runs must be the very runs of the two timers, number for
number: the tests compare the two ways on scenarios where every such hook strikes in start-ups
many times. Event counts are SimPy's counter, not wall time.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd
import pytest
from builders import make_scenario

import simulator
from simulator.model import simulate
from simulator.model.fast.thread import FastThread
from simulator.seeds import Streams


def events_per_task(startup: str) -> float:
    """Fast mode's SimPy events per task on aws-defaults' fleet shape, with this start-up."""
    scenario = make_scenario(
        duration="2d", simulation={"mode": "fast", "check_invariants": False},
        fleet=[{"runners": 10, "threads": 2, "startup": startup, "start_spread": "90s",
                "faults": {"crash": {"rate": "1/d"}, "pause": {
                    "rate": "2/d", "duration": {"dist": "lognormal", "median": "5s",
                                                "p95": "60s"}}}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "50/h"},
                   "duration": {"dist": "lognormal", "median": "10m", "p95": "40m"}}],
    )  # fmt: skip
    sim = simulate(scenario, Streams.from_seed(scenario.seed, 0))
    return sim.events / len(sim.log.tasks)


def test_a_fixed_start_up_costs_no_event_of_its_own() -> None:
    """A task costs its arrival and its completion, start-up or not (before: one event more, the
    start-up's end, for every task with a fixed start-up)."""
    without, with_startup = events_per_task("0s"), events_per_task("5s")
    assert without < 2.3  # and a few for the faults, the heartbeats, the run's start
    assert with_startup < without + 0.05, (without, with_startup)


# Start-ups of 90 s (under the 2-minute acknowledgement window) on runners that pause, crash,
# stall and lose their network every few minutes: each hook strikes in start-ups many times. One
# workload's attempts time out in their start-up (the lease ends before the acknowledgement);
# another's reports are due every 20 s under a 3-minute lease.
TROUBLED: dict[str, Any] = {
    "duration": "12h",
    "fleet": [
        {"name": "etl", "runners": 4, "threads": 2, "startup": "90s", "progress_interval": "20s",
         "start_spread": "90s",
         "faults": {
             "crash": {"rate": "4/h", "restart_after": {"dist": "exponential", "mean": "1m"}},
             "pause": {"rate": "10/h",
                       "duration": {"dist": "lognormal", "median": "20s", "p95": "3m"}},
             "progress_stall": {"rate": "6/h", "duration": {"dist": "exponential", "mean": "1m"}},
             "partition": {"rate": "4/h", "duration": {"dist": "exponential", "mean": "40s"}},
         }},
        {"name": "zone", "worker_group": "wg", "runners": 2, "threads": 2, "startup": "100s",
         "start_spread": "90s",
         "faults": {"partition": {"rate": "3/h", "scope": "group",
                                  "duration": {"dist": "exponential", "mean": "1m"}}}},
    ],
    "workload": [
        {"name": "batch", "arrivals": {"kind": "poisson", "rate": "60/h"},
         "duration": {"dist": "exponential", "mean": "5m"}, "report_progress_timeout": "3m"},
        {"name": "doomed", "worker_group": "wg", "arrivals": {"kind": "poisson", "rate": "6/h"},
         "duration": {"dist": "exponential", "mean": "5m"}, "attempt_timeout": "1m",
         "max_retries": 1},
    ],
}  # fmt: skip


def run(throttle: Any, rep: int) -> simulator.Result:
    scenario = make_scenario(
        **TROUBLED, service={"throttle": throttle}, simulation={"mode": "fast"}
    )
    return simulator.run(scenario, replication=rep)


@pytest.mark.filterwarnings("ignore::simulator.ScenarioWarning")  # doomed's attempt timeout
@pytest.mark.parametrize("throttle", [None, {}], ids=["unthrottled", "rate-limited"])
def test_acknowledgement_in_bulk_changes_no_number(
    throttle: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every table and summary figure of a run equals the run with the acknowledgement on a timer
    of its own (`_start_in_bulk` off), under every hook that can come before it; with the
    account's rate limits too (the bound charges the acknowledgement as the first call of the
    reports' stream instead of one by one: it still proves nothing throttled)."""
    backs: Counter[str] = Counter()
    back = FastThread._back_to_start_up

    def counted(self: FastThread, schedule: Any) -> None:
        attempt = schedule.attempt
        ended = attempt.task.live is not attempt
        backs["paused" if self.runner.paused else "lease ended" if ended else "disturbed"] += 1
        back(self, schedule)

    monkeypatch.setattr(FastThread, "_back_to_start_up", counted)
    merged = [run(throttle, rep) for rep in range(3)]
    assert min(backs["paused"], backs["lease ended"], backs["disturbed"]) > 10, backs
    assert all(r.meta["mode"] == "fast" for r in merged)
    monkeypatch.setattr(FastThread, "_start_in_bulk", lambda *_: False)
    for rep, fast in enumerate(merged):
        slow = run(throttle, rep)
        assert fast.meta["events"] < slow.meta["events"]
        assert pd.Series(fast.summary).equals(pd.Series(slow.summary))
        assert fast.tables.keys() == slow.tables.keys()
        for name, table in fast.tables.items():
            pd.testing.assert_frame_equal(table, slow.tables[name], check_exact=True, obj=name)


def test_work_of_no_length_after_a_start_up_is_acknowledged_as_in_exact_mode() -> None:
    """Found by the random-scenario invariants: work of length 0 after a fixed start-up ends in
    the acknowledgement's own instant, which bulk counting (reports sent before an instant) would
    leave uncounted: never acknowledged, never started. Such a task takes the start-up's timer."""

    def attempts(mode: str) -> pd.DataFrame:
        return simulator.run(make_scenario(
            duration="2h", simulation={"mode": mode, "check_invariants": True},
            service={"throttle": None},
            fleet=[{"runners": 1, "threads": 1, "progress_interval": "10s", "startup": "30s"}],
            workload=[{"arrivals": {"kind": "poisson", "rate": "10/h"}, "duration": "0s"}],
        )).attempts  # fmt: skip

    exact, fast = attempts("exact"), attempts("fast")
    assert len(exact) > 5
    assert fast.acked_at.notna().all() and fast.work_started_at.notna().all()
    pd.testing.assert_frame_equal(exact, fast)
