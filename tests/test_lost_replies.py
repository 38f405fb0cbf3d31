"""Issue 13 A7: a call can be lost on the way there (request) or on the way back (reply).

A reply lost on the way back leaves the call handled: a PollForTask reply carrying a task leaves
the task assigned to a runner that never heard of it (acknowledgement timeout, reassignment); a
lost ReportTaskProgress reply still renewed the lease; a lost SetTaskStatus reply took effect, and
the runner sends it again. A partition in force when the reply would arrive loses it; message loss
drops each direction independently (`loss_direction: both`, the default).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from builders import make_scenario
from scipy import stats

import simulator
from simulator.analytic import estimates, loss_rates
from simulator.analytic.load import call_rates


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_a_task_handed_to_a_held_poll_during_a_partition_is_never_heard_of(mode: str) -> None:
    """The poll was sent before the partition and is held at the service; the task it is handed
    while the runner is cut off travels back in a reply that never arrives. The runner never
    works on it, and the attempt ends when the 2-minute acknowledgement window runs out. (Before:
    the runner received the task; its acknowledgement was lost, but with 30-s partitions its
    next report, 60 s later, acknowledged it in time and it ran: no reassignment at all.)"""
    scenario = make_scenario(
        duration="4d",
        simulation={"mode": mode, "check_invariants": True},
        fleet=[{"runners": 2, "threads": 1, "progress_interval": "60s", "faults": {
            "partition": {"rate": "6/h", "duration": "30s"}}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "6/h"}, "duration": "5m"}],
    )  # fmt: skip
    result = simulator.run(scenario, seed=4)
    a, f = result.attempts, result.faults
    during = np.zeros(len(a), dtype=bool)
    for row in f[f.kind == "partition"].itertuples():
        during |= (
            (a.runner.to_numpy() == row.runner)
            & (a.assigned_at.to_numpy() > row.start)
            & (a.assigned_at.to_numpy() < row.end)
        )
    cut = a[during]
    assert len(cut) >= 10  # tasks handed to held polls while their runner was cut off
    assert (cut.outcome == "ack_timeout").all()
    assert (cut.runner_outcome == "unheard").all()
    assert cut.work_started_at.isna().all() and cut.acked_at.isna().all()
    assert np.allclose(cut.ended_at - cut.assigned_at, scenario.service.ack_timeout)
    # Nothing else was lost: every other attempt was acknowledged and ran.
    assert (a[~during].outcome != "ack_timeout").all()
    calls = result.calls.set_index("operation")
    assert calls.loc["PollForTask", "lost_replies"] >= len(cut)


@pytest.mark.parametrize("direction", ["both", "request", "reply"])
def test_loss_direction_decides_which_messages_are_lost(direction: str) -> None:
    """`request`: every lost call is a lost request (the model before replies could be lost);
    `reply`: every lost call reached the service; `both`: some of each."""
    scenario = make_scenario(
        duration="12h",
        fleet=[{"faults": {"message_loss": 0.2, "loss_direction": direction}}],
    )
    result = simulator.run(scenario, seed=2)
    calls = result.calls
    lost, replies = calls["lost"].sum(), calls["lost_replies"].sum()
    assert lost > 100
    unheard = (result.attempts.runner_outcome == "unheard").sum()
    if direction == "request":
        assert replies == 0 and unheard == 0
    elif direction == "reply":
        assert replies == lost and unheard > 0
    else:
        assert 0 < replies < lost and unheard > 0


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_a_lost_status_reply_took_effect_and_is_sent_again(mode: str) -> None:
    """Replies lost with q = 0.5, requests never: SetTaskStatus lands the first time (the task
    finishes, no duplicate; half the hand-overs are never heard of and retried), and the runner
    sends it again until a reply comes back, which then says TaskNotFound (`stale_status:
    rejected`): 1 / (1 - q) = 2 calls per task."""
    q = 0.5
    scenario = make_scenario(
        duration="3d",
        simulation={"mode": mode, "check_invariants": True},
        fleet=[{"runners": 4, "faults": {"message_loss": q, "loss_direction": "reply"}}],
        workload=[{"duration": "10m", "max_retries": 5}],
    )
    result = simulator.run(scenario, seed=5)
    status = result.calls.set_index("operation").loc["SetTaskStatus"]
    s = result.summary
    assert s["tasks_finished"] > 300 and s["reassignments_progress"] == 0
    assert s["duplicate_completions"] == 0 and s["stale_status_accepted"] == 0
    assert status["lost"] == status["lost_replies"]  # every request arrived
    # Calls per finished task: geometric with success 1 - q (tries until a reply comes back).
    n = int(s["tasks_finished"])
    per_task = status["calls"] / n
    sd = math.sqrt(q / (1 - q) ** 2 / n)  # standard deviation of the mean of n geometrics
    assert abs(per_task - 1 / (1 - q)) < 4 * sd, per_task
    # The closed-form API load counts the same retries: 2 calls per task, as simulated.
    rate = call_rates(scenario)["SetTaskStatus"]
    assert rate * scenario.duration == pytest.approx(2 * s["tasks_submitted"], rel=0.15)


def test_lease_loss_per_report_window_with_loss_in_both_directions() -> None:
    """Closed form (docs/analytic.md): after an accepted report the lease is lost iff the next
    m = floor(T / I) requests are all lost: p^m per accepted report, whatever happens to the
    replies, which renew nothing. Tasks of 3 h, reports every 60 s, T = 3 min (m = 3), p = 0.4
    both ways: 0.064 per accepted later report; 99.9 % interval over the counted windows."""
    p, interval, timeout = 0.4, 60.0, 180.0
    scenario = make_scenario(
        duration="4d",
        fleet=[{"runners": 4, "threads": 2, "progress_interval": interval,
                "faults": {"message_loss": p}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "2/h"}, "duration": "3h",
                   "report_progress_timeout": timeout, "max_retries": 5}],
    )  # fmt: skip
    per_report, _ = loss_rates(p, interval, timeout)
    assert per_report == pytest.approx(p**3)
    a = simulator.run(scenario, seed=8).attempts
    # Windows that can end in an expiry: accepted later reports of attempts that ran on long
    # enough to be followed by m more sends (the last m before the work ended cannot expire).
    acked = a[a.acked_at.notna()]
    later = acked.reports - 1
    ran = acked.outcome.isin(["progress_timeout", "finished"])
    windows = int((later[ran] - (acked.outcome[ran] == "finished") * 3).clip(lower=0).sum())
    expired = int((acked.outcome == "progress_timeout").sum())
    assert windows > 2000 and expired > 50
    ci = stats.binomtest(expired, windows).proportion_ci(0.999)
    assert ci.low <= per_report <= ci.high, (expired, windows, ci)
    # Lost replies happened all along without costing a lease.
    assert (a.runner_outcome == "unheard").sum() > 0


@pytest.mark.parametrize("direction", ["both", "reply"])
def test_closed_form_expiries_hold_with_lost_replies(direction: str) -> None:
    """The analytic estimate of expiries (acknowledgement window included: a lost hand-over
    reply is an acknowledgement timeout) against the simulated 99.9 % interval."""
    scenario = make_scenario(
        duration="3d",
        fleet=[{"runners": 10, "threads": 2, "progress_interval": "60s",
                "faults": {"message_loss": 0.2, "loss_direction": direction}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "20/h"},
                   "duration": {"dist": "exponential", "mean": "30m"},
                   "report_progress_timeout": "3m"}],
    )  # fmt: skip
    found = estimates(scenario)
    values = {m: [] for m in ("reassignments_ack", "reassignments_progress")}
    for i in range(8):
        s = simulator.run(scenario, seed=3, replication=i).summary
        for m in values:
            values[m].append(s[m])
    for metric, xs in values.items():
        x = np.array(xs)
        half = stats.t.ppf(0.9995, len(x) - 1) * stats.sem(x)
        est = found[metric].value
        assert x.mean() - half <= est <= x.mean() + half, (metric, est, x.mean(), half)
