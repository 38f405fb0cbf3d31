"""The model against results derived by hand from the documented rules and queueing theory."""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import make_scenario
from scipy import stats

import simulator


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean queue wait of an M/M/c queue (Erlang C)."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def t_interval(values: list[float], confidence: float) -> tuple[float, float]:
    x = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return x.mean() - half, x.mean() + half


def test_queue_wait_matches_erlang_c() -> None:
    """No faults, Poisson arrivals, exponential work on c threads: an M/M/c queue.

    Long polls hand a ready task to an idle thread at once and a thread polls again as soon as it
    is done, so the wait for a first assignment is the M/M/c queue wait. The 99.9% interval over 12
    replications of 30 days holds the formula's value (false-failure chance about 1e-3 for a
    random seed; the seed is fixed).
    """
    mean_work, c, rho = 600.0, 4, 0.7
    lam = rho * c / mean_work
    scenario = make_scenario(
        duration="30d",
        fleet=[{"runners": 2, "threads": 2, "progress_interval": "1d"}],
        workload=[{
            "arrivals": {"kind": "poisson", "rate": lam},
            "duration": {"dist": "exponential", "mean": mean_work},
            "report_progress_timeout": "2d",
        }],
    )  # fmt: skip
    waits = [r.summary["queue_wait_mean_s"] for r in simulator.replicate(scenario, 12)]
    low, high = t_interval(waits, 0.999)
    expected = erlang_c_wait(lam, 1 / mean_work, c)
    assert low <= expected <= high, (expected, low, high)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_crash_detection_time_follows_interval_and_timeout(mode: str) -> None:
    """A crash at a uniform phase of the report cycle is detected after T - U*I, U ~ U(0, 1).

    The lease runs out one report timeout T after the last report, sent at most one progress
    interval I before the crash: every detection lies in [T - I, T], and their mean is T - I/2.
    """
    interval, timeout = 60.0, 900.0
    scenario = make_scenario(
        duration="10d",
        simulation={"mode": mode, "check_invariants": True},
        fleet=[{
            "runners": 10, "threads": 1, "progress_interval": interval,
            "faults": {"crash": {"rate": "4/d", "restart_after": "1m"}},
        }],
        workload=[{"arrivals": {"kind": "poisson", "rate": "6/h"}, "duration": "2h"}],
    )  # fmt: skip
    result = simulator.run(scenario)
    a = result.attempts
    crashed = a[(a.runner_outcome == "crashed") & a.lease_lost_at.notna() & a.acked_at.notna()]
    detection = (crashed.lease_lost_at - crashed.crashed_at).to_numpy()
    assert len(detection) > 100
    assert detection.min() >= timeout - interval - 1e-6
    assert detection.max() <= timeout + 1e-6
    # Mean of T - U*I over n crashes: standard error I / sqrt(12 n); allow 4.5 of them.
    se = interval / math.sqrt(12 * len(detection))
    assert abs(detection.mean() - (timeout - interval / 2)) < 4.5 * se
    assert result.summary["detection_latency_mean_s"] == pytest.approx(
        detection.mean(), rel=0.05
    )


def test_long_pause_yields_duplicate_bounded_by_progress_interval() -> None:
    """A runner paused past the timeout loses its lease; another runner takes the task.

    On resume the paused runner sends its overdue report and hears `canceled`: at once, or, when
    a report was in flight as the pause began (its reply is seen on resume), one interval later.
    The two runners work at the same time for at most one progress interval plus the call's
    latency (reference 3.7: cancellation waits for the next report).
    """
    interval, latency = 60.0, 2.0
    scenario = make_scenario(
        duration="3d",
        service={"on_lease_expiry": "reassign_same_attempt", "call_latency": latency},
        fleet=[{
            "runners": 12, "threads": 1, "progress_interval": interval,
            "faults": {"pause": {"rate": "3/d", "duration": "20m"}},
        }],
        workload=[{"arrivals": {"kind": "poisson", "rate": "2/h"}, "duration": "1h"}],
    )  # fmt: skip
    result = simulator.run(scenario)
    tasks = result.tasks
    dup = tasks[tasks["duplicated"]]
    assert len(dup) > 0
    assert (dup.overlap_s <= interval + latency + 1e-9).all()
    a = result.attempts
    lost = a[a.outcome == "progress_timeout"]
    assert (lost.expired_alive).all()  # every lease lost to a pause is a false reassignment
    assert (lost.runner_outcome.isin(["canceled", "completed", "running"])).all()


def test_acknowledgement_after_two_minutes_is_a_reassignment() -> None:
    """Startup of 150 s: every ack arrives after the 2-minute window, so every attempt is lost."""
    scenario = make_scenario(
        duration="1d",
        fleet=[{"startup": "150s"}],
        workload=[{"arrivals": {"kind": "periodic", "every": "2h"}, "duration": "5m",
                   "retry_delay": "2m"}],
    )  # fmt: skip
    result = simulator.run(scenario)
    a, s = result.attempts, result.summary
    assert len(a) > 0
    assert (a.outcome.isin(["ack_timeout", "running"])).all()
    assert s["tasks_finished"] == 0
    # max_retries 2: three attempts, then FAILED.
    ended = result.tasks[result.tasks.status == "failed"]
    assert len(ended) > 0 and (ended.attempts == 3).all()
    assert s["reassignments_ack"] == s["reassignments"] == (a.outcome == "ack_timeout").sum()

    in_time = simulator.run(make_scenario(
        duration="1d", fleet=[{"startup": "100s"}],
        workload=[{"arrivals": {"kind": "periodic", "every": "2h"}, "duration": "5m"}],
    ))  # fmt: skip
    assert in_time.summary["reassignments"] == 0
    assert in_time.summary["tasks_finished"] == in_time.summary["tasks_submitted"] - (
        in_time.summary["tasks_running"] + in_time.summary["tasks_pending"]
    )


def test_report_timeout_can_replace_the_acknowledgement_window() -> None:
    """Contradiction 2: ack_uses_report_timeout lets an activity's own timeout bound the ack too."""
    scenario = make_scenario(
        service={"ack_uses_report_timeout": True},
        fleet=[{"startup": "150s"}],
        workload=[{"arrivals": {"kind": "periodic", "every": "2h"}, "duration": "5m",
                   "report_progress_timeout": "10m"}],
    )  # fmt: skip
    assert simulator.run(scenario).summary["reassignments"] == 0


@pytest.mark.parametrize(
    ("interval", "expired"), [("15m", False), ("901s", True)], ids=["at-deadline", "after"]
)
def test_a_report_at_the_deadline_keeps_the_lease(interval: str, expired: bool) -> None:
    """Reports exactly every reportProgressTimeout arrive at the deadline and keep the lease."""
    scenario = make_scenario(
        fleet=[{"progress_interval": interval}],
        workload=[{"arrivals": {"kind": "periodic", "every": "3h"}, "duration": "2h"}],
    )
    s = simulator.run(scenario).summary
    assert (s["reassignments_progress"] > 0) is expired


@pytest.mark.parametrize(
    ("reading", "lost"),
    [("15min", False), ("5min", True), ("min", True), ("two_stage", True)],
)
def test_lease_readings_of_five_and_fifteen_minutes(reading: str, lost: bool) -> None:
    """A reporter stalled for 8 minutes loses the lease under every reading that uses 5 minutes.

    `two_stage` uses 5 minutes only until the second report: only holders that had made a single
    report (the acknowledgement) when the stall began can lose the lease to it.
    """
    scenario = make_scenario(
        duration="2d",
        service={"lease_reading": reading},
        fleet=[{"runners": 4, "faults": {"progress_stall": {"rate": "48/d", "duration": "8m"}}}],
        workload=[{"arrivals": {"kind": "periodic", "every": "1h", "batch": 4},
                   "duration": "50m"}],
    )  # fmt: skip
    result = simulator.run(scenario)
    assert (result.summary["reassignments_progress"] > 0) is lost
    if reading == "two_stage":
        a = result.attempts
        assert (a[a.outcome == "progress_timeout"].reports == 1).all()


def test_throttling_turns_into_lease_losses_past_the_report_limit() -> None:
    """Busy threads reporting faster than ReportTaskProgress's 10/s lose leases; slower ones don't.

    Every thread holds a long task and reports every 10 s: 50 threads offer 5 reports/s, under the
    limit; 200 threads offer 20/s, twice the limit, so back-offs grow until reports miss the
    15-minute timeout.
    """

    def fleet(threads: int):
        return make_scenario(
            duration="3h",
            service={"throttle": {}},
            fleet=[{"runners": threads // 2, "threads": 2, "progress_interval": "10s"}],
            workload=[{"arrivals": {"kind": "times", "times": [0] * threads}, "duration": "1d"}],
        )

    under = simulator.run(fleet(50)).summary
    over = simulator.run(fleet(200)).summary
    assert under["reassignments_progress"] == 0
    assert under["throttled_calls"] == 0 or under["reassignments"] == 0
    assert over["throttled_calls"] > 0
    assert over["reassignments_progress"] > 0


def test_back_off_stays_at_its_cap_however_many_tries() -> None:
    """A call throttled thousands of times in a row keeps retrying every `cap` (no overflow)."""
    scenario = make_scenario(
        duration="1h",
        service={"throttle": {"burst": 1, "poll": "1/d"}},
        fleet=[
            {"runners": 1, "threads": 1, "backoff": {"base": "1s", "cap": "1s", "jitter": False}}
        ],
        workload=[{"arrivals": {"kind": "times", "times": ["2h"]}, "duration": "1m"}],
    )
    calls = simulator.run(scenario).calls.set_index("operation")
    # The first poll gets through and is held; after the hold, every try is throttled and
    # retried a second later for the rest of the hour.
    expected = 3600 - scenario.service.long_poll
    assert calls.loc["PollForTask", "throttled"] == pytest.approx(expected, abs=2)
