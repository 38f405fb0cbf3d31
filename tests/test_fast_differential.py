"""Fast mode against exact mode, draw for draw, on random scenarios (a differential test).

Without message loss or pauses both modes draw the same random numbers, so their `attempts` and
`tasks` tables must be equal, up to the order of events that fall in one instant (see
docs/fast-mode.md, "Exact in distribution"). The scenarios keep most such ties away so that
equality is what is checked: the fixed lengths are incommensurate (61.7182-s reports, a 91.7321-s
long poll, a 187.3457-s lease...; lengths on a 0.1-s grid were not enough: their sums met), and
runners have one thread and partitions one runner, so that no two threads resume in one instant.
Not all: the same lengths added in another order still meet, and a task's attempts share its
work. A hunt over other random examples (hypothesis with `derandomize=False`) finds such ties
within a few hundred: two leases that run out in one instant (their tasks then go to two
alike threads the other way round), and a retry ready in the instant a thread finishes a task
and polls (under `random` dispatch the thread then draws from other tasks). The examples here
(fixed by `derandomize`) have none.

Everything else varies: the four lease readings, the three expiry rules, stale replies,
lease-renewing heartbeats, random dispatch, the account's limits (loose, or tight enough to
throttle: fast mode proves a run unthrottled or runs it again exact), fixed and random start-ups,
crashes, stalls, partitions, spot interruptions, auto-scaling, a second fleet group and workload
(daily profiles), failures, retries and attempt timeouts. A
two_stage bug (a lease ending between reports counted with the acknowledgement was called an
acknowledgement timeout) was found this way; the slow test's 1,500 examples find it again, the
quick one's 200 do not. `LEASESIM_DIFF_EXAMPLES=5000` for a longer hunt.
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator
from simulator.scenario.schema import Scenario


def _examples(n: int) -> settings:
    return settings(
        max_examples=int(os.environ.get("LEASESIM_DIFF_EXAMPLES", n)), deadline=None,
        derandomize=True, suppress_health_check=[HealthCheck.too_slow],
    )  # fmt: skip


LENGTHS = [7.1, 33.3, 138.7, 366.1, 1261.3, 3967.9]  # s: off every grid below


def _length(draw: st.DrawFn) -> dict[str, Any]:
    return {"dist": "exponential", "mean": draw(st.sampled_from(LENGTHS))}


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    def fault() -> dict[str, Any]:
        return {"rate": draw(st.sampled_from(["2/d", "12/d", "2/h"])), "duration": _length(draw)}

    maybe = st.booleans()
    faults = {
        "crash": {"rate": draw(st.sampled_from(["2/d", "1/h"])),
                  "restart_after": _length(draw) if draw(maybe) else None} if draw(maybe) else None,
        "progress_stall": fault() if draw(maybe) else None,
        "heartbeat_stall": fault() if draw(maybe) else None,
        "partition": {**fault(), "scope": "runner"} if draw(maybe) else None,
        "interruption": {"rate": draw(st.sampled_from(["2/d", "1/h"])),
                         "notice": draw(st.sampled_from([0, 121.3517])),
                         "on_notice": draw(st.sampled_from(["drain", "ignore"]))}
        if draw(maybe) else None,
    }  # fmt: skip
    service = {
        "lease_reading": draw(st.sampled_from(["15min", "5min", "min", "two_stage"])),
        "on_lease_expiry": draw(st.sampled_from(
            ["fail_and_retry", "reassign_same_attempt", "new_attempt_no_delay"])),
        "stale_progress": draw(st.sampled_from(["canceled", "not_found", "accepted"])),
        "stale_status": draw(st.sampled_from(
            ["rejected", "first_writer_wins", "last_writer_wins"])),
        "ack_uses_report_timeout": draw(maybe),
        "heartbeat_renews_leases": draw(maybe),
        "dispatch": draw(st.sampled_from(["fifo", "random"])),
        "throttle": draw(st.sampled_from(
            [None, {}, {"progress": 0.05, "burst": 3}, {"poll": 0.02, "burst": 2}])),
        "retry_delay_floor": 0,
        "long_poll": 91.7321, "ack_timeout": 123.1173, "short_timeout": 301.3289,
    }  # fmt: skip
    fleet = {
        "name": "g", "worker_group": "wg", "runners": draw(st.integers(1, 5)), "threads": 1,
        "progress_interval": draw(st.sampled_from([10.3141, 61.7182, 247.1414, 1213.3562])),
        "runner_heartbeat_interval": draw(st.sampled_from([59.3187, 911.9281])),
        "startup": draw(st.sampled_from([
            0, 31.3319, {"dist": "uniform", "low": 0, "high": 181.1237},
            {"dist": "exponential", "mean": 41.9473}])),
        "faults": faults, "start_spread": 47.3,
        "scaling": {"min": 1, "max": 6, "evaluate_every": 63.1427,
                    "policy": draw(st.sampled_from(["backlog", "utilization"])),
                    "target": draw(st.sampled_from([1.0, 0.7])),
                    "launch_delay": {"dist": "exponential", "mean": 97.3},
                    "scale_in_cooldown": 307.7093,
                    "scale_in": draw(st.sampled_from(["drain", "terminate"]))}
        if draw(maybe) else None,
    }  # fmt: skip
    workload = {
        "name": "w", "worker_group": "wg",
        "arrivals": {"kind": "poisson", "rate": draw(st.sampled_from(["10/h", "40/h"]))},
        "duration": draw(st.sampled_from([
            {"dist": "exponential", "mean": "20m"},
            {"dist": "lognormal", "median": "5m", "p95": "1h"},
            {"dist": "uniform", "low": 0, "high": "10m"}])),
        "failure_probability": draw(st.sampled_from([0.0, 0.3])),
        "max_retries": draw(st.integers(0, 5)),
        "retry_delay": draw(st.sampled_from([0, 67.9213, 613.3877])),
        "report_progress_timeout": draw(st.sampled_from([None, 187.3457, 917.1031])),
        "attempt_timeout": draw(st.sampled_from([None, 1789.7629])),
    }  # fmt: skip
    fleets, workloads = [fleet], [workload]
    if draw(maybe):  # a second fleet group and workload, on the same worker group or their own
        group = draw(st.sampled_from(["wg", "wg2"]))
        fleets.append({**fleet, "name": "h", "worker_group": group, "scaling": None,
                       "progress_interval": draw(st.sampled_from([10.3141, 61.7182, 247.1414]))})
        workloads.append({**workload, "name": "v", "worker_group": group, "arrivals": draw(
            st.sampled_from([{"kind": "poisson", "rate": "7/h"}, {
                "kind": "profile", "period": "1d",
                "rates": [[0, "5/h"], ["1h", "30/h"], ["5h", "2/h"]]}]))})  # fmt: skip
    return {
        "name": "differential",
        "duration": draw(st.sampled_from(["2h", "8h"])),
        "seed": draw(st.integers(0, 2**32)),
        "service": service,
        "fleet": fleets,
        "workload": workloads,
    }


def _run(data: dict[str, Any], mode: str) -> simulator.Result:
    scenario = Scenario.model_validate(
        {**data, "simulation": {"mode": mode, "check_invariants": True}}
    )
    return simulator.run(scenario)


@_examples(200)
@given(scenarios())
def test_fast_mode_gives_exact_modes_tables_on_random_scenarios(data: dict[str, Any]) -> None:
    assert_same_tables(data)


@pytest.mark.slow
@_examples(1500)
@given(scenarios())
def test_fast_mode_gives_exact_modes_tables_on_many_random_scenarios(data: dict[str, Any]) -> None:
    assert_same_tables(data)


def assert_same_tables(data: dict[str, Any]) -> None:
    exact, fast = _run(data, "exact"), _run(data, "fast")
    pd.testing.assert_frame_equal(exact.attempts, fast.attempts)
    pd.testing.assert_frame_equal(exact.tasks, fast.tasks)
    assert exact.calls.equals(fast.calls)
