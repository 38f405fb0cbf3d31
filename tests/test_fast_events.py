"""Fast mode under message loss (issue 18): the losses cost no events, and change no distribution.

Which of a thread's requests message loss drops is one sequence drawn ahead
(`fast.draws.RequestLosses`): a lost report leaves a gap in the lease instead of waking the
thread, and a lossy idle thread stands at the service like any other. The event counts below are
counted figures (SimPy's event counter), not wall time; the equivalence tests pair each fast run
with the exact run of the same seed and replication, under losses far heavier than real ones so
that every rare path (a lost poll, acknowledgement or SetTaskStatus, a gap as long as the lease,
an unheard hand-over) is taken many times.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from builders import make_scenario, merge
from scipy import stats

import simulator
from simulator.model import simulate
from simulator.model.log import POLL
from simulator.scenario.schema import Fixed
from simulator.seeds import Streams


def events_per_task(loss: float) -> float:
    """Fast mode's SimPy events per task on a saturated fleet with crashes and pauses."""
    faults: dict[str, Any] = {
        "crash": {"rate": "1/d", "restart_after": "5m"},
        "pause": {"rate": "2/d", "duration": {"dist": "lognormal", "median": "5s", "p95": "2m"}},
    }
    if loss:
        faults["message_loss"] = loss
    scenario = make_scenario(
        duration="12h", simulation={"mode": "fast", "check_invariants": False},
        fleet=[{"runners": 50, "threads": 2, "progress_interval": "60s", "start_spread": "90s",
                "faults": faults}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "120/h"},
                   "duration": {"dist": "lognormal", "median": "1h", "p95": "4h"}}],
    )  # fmt: skip
    sim = simulate(scenario, Streams.from_seed(scenario.seed, 0))
    return sim.events / len(sim.log.tasks)


def test_message_loss_costs_fast_mode_almost_no_events() -> None:
    """A loss of 0.001 per message: about 9% of tasks lose a report and as many lose a reply.
    Before issue 18 each loss woke the thread and a lossy thread could neither stand nor take a
    task on callbacks: 2.3 times the events of the same run without loss. Now the losses are
    drawn, and only the rare lost poll, acknowledgement or SetTaskStatus costs a few events."""
    without, lossy = events_per_task(0.0), events_per_task(0.001)
    assert without < 2.5  # the arrival and the completion of each task, and the faults
    assert lossy < without * 1.1, (without, lossy)


def test_lossy_idle_threads_poll_every_long_poll_and_lose_each_message_independently() -> None:
    """Idle threads (no task ever ready) poll every 90 s whatever is lost: a lost request is given
    up on when the long poll would have ended, and a lost empty reply arrives when the hold ends.
    So both modes send exactly as many polls, each request is lost with probability p, and each
    empty reply of a request that arrived with probability p (99.9% Clopper-Pearson intervals)."""
    p = 0.05
    counts = {}
    for mode in ("exact", "fast"):
        scenario = make_scenario(
            duration="1d", simulation={"mode": mode},
            fleet=[{"runners": 10, "threads": 2, "faults": {"message_loss": p}}],
            workload=[{"arrivals": {"kind": "periodic", "every": "2d"}}],
        )  # fmt: skip
        sim = simulate(scenario, Streams.from_seed(scenario.seed, 0))
        log = sim.log
        counts[mode] = (log.calls[POLL], log.lost[POLL], log.lost_replies[POLL])
        if mode == "fast":
            # Three events per lost request (its instant, the wake, the long poll's wait), none
            # for the other polls and the lost empty replies (exact mode: two for every poll).
            assert sim.events < 3 * (log.lost[POLL] - log.lost_replies[POLL]) + 100
    # 960 polls a thread in a day, less the few of the one that takes the run's only task.
    assert counts["exact"][0] == counts["fast"][0] > 20 * 960 - 10
    calls, lost, replies = counts["fast"]
    requests = lost - replies
    for k, n in ((requests, calls), (replies, calls - requests)):
        interval = stats.binomtest(k, n).proportion_ci(0.999)
        assert interval.low <= p <= interval.high, (k, n, interval)


# Losses far heavier than real ones: every rare path is taken many times in each run. Reports
# every 60 s against a 3-minute lease: three lost reports in a row (or two after a lost
# acknowledgement) lose the lease in a gap; 75% load leaves idle threads standing. The second
# group's start-up time keeps its threads from taking a task on callbacks: their process does.
LOSSY: dict[str, Any] = {
    "message_loss": 0.15,
    "crash": {"rate": "2/d", "restart_after": "5m"},
    "pause": {"rate": "4/h", "duration": {"dist": "lognormal", "median": "20s", "p95": "4m"}},
}
HEAVY: dict[str, Any] = {
    "duration": "6h",
    "simulation": {"check_invariants": False},
    "fleet": [
        {"runners": 4, "threads": 2, "progress_interval": "60s", "start_spread": "90s",
         "faults": LOSSY},
        {"name": "slow-start", "worker_group": "wg", "runners": 2, "threads": 2,
         "progress_interval": "60s", "start_spread": "90s", "startup": "5s", "faults": LOSSY},
    ],
    "workload": [{
        "arrivals": {"kind": "poisson", "rate": "50/h"},
        "duration": {"dist": "lognormal", "median": "8m", "p95": "30m"},
        "report_progress_timeout": "3m",
    }],
}  # fmt: skip
METRICS = [
    "reassignments_ack", "reassignments_progress", "false_reassignments", "duplicated_fraction",
    "tasks_finished", "lost_calls", "poll_calls_per_s", "progress_calls_per_s", "latency_p95_s",
]  # fmt: skip


def paired(direction: str, pairs: int) -> dict[str, float]:
    """p-values of the paired t test, fast against exact, per metric (1: all pairs equal)."""
    runs = {}
    for mode in ("exact", "fast"):
        lost = {"faults": {"loss_direction": direction}}
        change = {"simulation": {"mode": mode}, "fleet": [lost, lost]}
        scenario = make_scenario(**merge(HEAVY, change))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runs[mode] = simulator.replicate(scenario, pairs, progress=False).summaries
    out = {}
    for m in METRICS:
        diff = np.array([f[m] - e[m] for e, f in zip(runs["exact"], runs["fast"], strict=True)])
        diff = diff[~np.isnan(diff)]
        out[m] = 1.0 if not diff.any() else float(stats.ttest_1samp(diff, 0.0).pvalue)
    return out


def test_fast_mode_is_exact_mode_under_heavy_loss_paired() -> None:
    """30 pairs, both directions lost: no metric differs (paired t, alpha 0.001 each)."""
    pvalues = paired("both", 30)
    differ = {m: p for m, p in pvalues.items() if not math.isnan(p) and p < 0.001}
    assert not differ, (differ, pvalues)


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["both", "request", "reply"])
def test_fast_mode_is_exact_mode_under_heavy_loss_200_pairs(direction: str) -> None:
    """200 pairs per loss direction: no metric differs (paired t, alpha 0.01 each)."""
    pvalues = paired(direction, 200)
    print(direction + ": " + ", ".join(f"{m} p={p:.3g}" for m, p in pvalues.items()))
    differ = {m: p for m, p in pvalues.items() if not math.isnan(p) and p < 0.01}
    assert not differ, (differ, pvalues)


# --- fleet groups that scale or are interrupted run fast (issue 18, stretch) --------------------
# Unless their workloads put task completions in the instant of arrivals or evaluations
# (`scenario.modes.fallbacks`; tests/test_scaling.py, tests/test_interruptions.py).


def scaled(mode: str, seed: int, scale_in: str, interrupted: bool) -> simulator.Result:
    """A scaling group under crashes, no two events of one instant (Poisson arrivals, lognormal
    work, an evaluation period off the other grids), so both modes draw alike."""
    # No pauses: both threads of a runner resume in one instant, which the modes order differently
    # (docs/fast-mode.md: equal in distribution, not draw for draw).
    faults: dict[str, Any] = {"crash": {"rate": "2/d", "restart_after": "5m"}}
    if interrupted:
        faults["interruption"] = {"rate": "1/3h", "notice": "2m", "on_notice": "drain"}
    scenario = make_scenario(
        duration="12h", simulation={"mode": mode, "check_invariants": True},
        fleet=[{"runners": 3, "threads": 2, "start_spread": "90s", "faults": faults,
                "scaling": {"min": 2, "max": 12, "policy": "backlog", "target": 1.0,
                            "evaluate_every": "59.937s", "scale_in": scale_in,
                            "launch_delay": {"dist": "lognormal", "median": "3m", "p95": "8m"},
                            "scale_in_cooldown": "10m", "schedule": [["6h", 8], ["8h", 2]]}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "30/h"},
                   "duration": {"dist": "lognormal", "median": "20m", "p95": "40m"}}],
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", simulator.ScenarioWarning)
        return simulator.run(scenario, seed=seed)


@pytest.mark.parametrize(
    ("scale_in", "interrupted"), [("drain", False), ("terminate", False), ("drain", True)]
)
def test_scaling_and_interrupted_groups_run_fast_and_equal_exact_mode(
    scale_in: str, interrupted: bool
) -> None:
    """The fast layer drains (`FastThread.drain`) and stops runners as exact mode does: with the
    same draws, the same attempts, tasks and runners, and far fewer events."""
    for seed in (2, 3):
        exact, fast = (scaled(m, seed, scale_in, interrupted) for m in ("exact", "fast"))
        assert fast.meta["mode"] == "fast"
        assert fast.meta["events"] < exact.meta["events"] / 3
        assert len(exact.runners) > 6  # it scaled out
        assert (exact.runners.reason == "scale_in").any()  # and in
        for name in ("attempts", "tasks", "runners"):
            pd.testing.assert_frame_equal(exact.tables[name], fast.tables[name])


@pytest.mark.parametrize(("scale_in", "interrupted"), [("drain", True), ("terminate", False)])
def test_runners_stopped_during_a_start_up_on_callbacks_equal_exact_mode(
    scale_in: str, interrupted: bool
) -> None:
    """The same runs with a 60-s start-up (`STARTING`): runners drained, terminated, interrupted
    or crashed while threads start up; the same attempts, tasks and runners as exact mode."""
    for seed in (2, 3):
        runs = []
        for mode in ("exact", "fast"):
            scenario = scaled(mode, seed, scale_in, interrupted).scenario
            group = scenario.fleet[0]
            group = group.model_copy(update={"startup": Fixed(dist="fixed", value=60.0)})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", simulator.ScenarioWarning)
                runs.append(
                    simulator.run(scenario.model_copy(update={"fleet": (group,)}), seed=seed)
                )
        exact, fast = runs
        assert fast.meta["mode"] == "fast"
        assert (exact.attempts.runner_outcome == "crashed").sum() > 20
        for name in ("attempts", "tasks", "runners"):
            pd.testing.assert_frame_equal(exact.tables[name], fast.tables[name])


@pytest.mark.parametrize("startup", ["0s", "5s"])
def test_every_task_handed_over_is_unheard_with_the_reply_loss_probability(startup: str) -> None:
    """Every assignment travels in a PollForTask reply (to a waiting poll or at once), which
    message loss drops with probability p: the runner never hears of the task. With start-up
    time, a task handed to a standing thread goes to its process, without it the thread takes it
    on callbacks; both draw the reply's loss (a 99.9% Clopper-Pearson interval must hold p)."""
    p = 0.2
    scenario = make_scenario(
        duration="1d", simulation={"mode": "fast"},
        fleet=[{"runners": 10, "threads": 2, "startup": startup, "faults": {"message_loss": p}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "30/h"}}],
    )  # fmt: skip
    a = simulator.run(scenario, seed=3).attempts
    unheard = int((a.runner_outcome == "unheard").sum())
    interval = stats.binomtest(unheard, len(a)).proportion_ci(0.999)
    assert len(a) > 500
    assert interval.low <= p <= interval.high, (unheard, len(a), interval)


# --- a fixed start-up on callbacks (issue 18: aws-defaults' `startup: 5s`) ------------------------


def started(mode: str, startup: str, faults: dict[str, Any], attempt_timeout: str | None = None
            ) -> simulator.Result:  # fmt: skip
    """16 threads under a fixed start-up, Poisson arrivals, lognormal work: no two events of one
    instant, so both modes draw alike."""
    work = {"dist": "lognormal", "median": "8m", "p95": "30m"}
    load: dict[str, Any] = {"arrivals": {"kind": "poisson", "rate": "100/h"}, "duration": work}
    if attempt_timeout is not None:
        load["attempt_timeout"] = attempt_timeout
    scenario = make_scenario(
        duration="12h", simulation={"mode": mode, "check_invariants": True},
        fleet=[{"runners": 8, "threads": 2, "start_spread": "90s", "startup": startup,
                "faults": faults}],
        workload=[load],
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", simulator.ScenarioWarning)
        return simulator.run(scenario, seed=1)


def test_a_fixed_start_up_costs_one_event_a_task() -> None:
    """A task handed to an idle thread with a fixed start-up is taken on callbacks: its arrival,
    the start-up's end (the acknowledgement) and its completion; no wake-up, no acknowledgement
    timer (it used to cost about 3.7 events a task here, against 1.9 without a start-up)."""
    per_task = {}
    for startup in ("0s", "5s"):
        result = started("fast", startup, {})
        per_task[startup] = result.meta["events"] / len(result.tasks)
    assert per_task["5s"] <= per_task["0s"] + 1.05, per_task


FAULTS: dict[str, dict[str, Any]] = {
    "crash": {"crash": {"rate": "48/d", "restart_after": "1m"}},
    "pause": {"pause": {"rate": "96/d",
                        "duration": {"dist": "lognormal", "median": "20s", "p95": "4m"}}},
    "progress_stall": {"progress_stall": {"rate": "96/d",
                                          "duration": {"dist": "lognormal", "median": "20s",
                                                       "p95": "5m"}}},
    "partition": {"partition": {"rate": "96/d",
                                "duration": {"dist": "lognormal", "median": "20s", "p95": "5m"}}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "attempt_timeout"),
    [("crash", None), ("pause", None), ("progress_stall", None), ("partition", None),
     ("crash", "30s"), ("pause", "30s")],
)  # fmt: skip
def test_faults_during_a_start_up_on_callbacks_equal_exact_mode(
    fault: str, attempt_timeout: str | None
) -> None:
    """A 60-s start-up, faults every 15 minutes a runner: crashes and pauses strike during
    start-ups (a crash loses the task, whose acknowledgement window then runs out; a pause
    stretches the start-up), stalls and partitions hold up acknowledgements (the process sends
    them), and an attempt timeout of 30 s ends every lease before its acknowledgement (canceled).
    The same attempts and tasks as exact mode, draw for draw."""
    exact = started("exact", "60s", FAULTS[fault], attempt_timeout)
    fast = started("fast", "60s", FAULTS[fault], attempt_timeout)
    assert fast.meta["mode"] == "fast"
    assert fast.meta["events"] < exact.meta["events"] * 0.6
    for name in ("attempts", "tasks"):
        pd.testing.assert_frame_equal(exact.tables[name], fast.tables[name])
    a = exact.attempts
    if attempt_timeout is not None:
        assert a.acked_at.isna().all() and (a.runner_outcome == "canceled").sum() > 1000
    elif fault == "crash":
        assert (a.outcome == "ack_timeout").sum() > 10  # crashed during a start-up
    else:
        assert (a.acked_at - a.assigned_at > 61).sum() > 5  # start-ups held up or stretched
