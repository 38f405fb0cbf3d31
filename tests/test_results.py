"""Results layer: tables, metrics, replication statistics and saved results, on hand-made logs.

Every expected number here is derived by hand from the log the test builds (or, for the t interval,
from scipy), never taken from the code under test.
"""

from __future__ import annotations

import json
import math
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from simulator.model.log import (
    HEARTBEAT,
    OPERATIONS,
    POLL,
    PROGRESS,
    STATUS,
    Attempt,
    Kind,
    Log,
    Task,
)
from simulator.results import (
    COLUMNS,
    METRICS,
    Result,
    columns_markdown,
    mean_ci,
    metrics_markdown,
    summarize_replications,
    summary,
    tables,
)
from simulator.scenario.schema import FleetGroup, Scenario, Workload

NAN = math.nan
KIND = Kind("w", "g", 2, 600.0, (900.0, 900.0, 900.0), None, 0.0)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


# --- building logs by hand -----------------------------------------------------------------------


def task(log: Log, submitted: float = 0.0, status: str = "running", ended: float = NAN) -> Task:
    t = Task(len(log.tasks), KIND, submitted, 1e6)  # more work than any run here lasts
    t.status, t.ended_at = status, ended
    log.tasks.append(t)
    return t


def attempt(
    log: Log, t: Task, runner: str = "r0", assigned: float | None = None, **fields: object
) -> Attempt:
    """An attempt of `t` with the given fields set; work_started_at defaults to the assignment."""
    at = t.submitted_at if assigned is None else assigned
    a = Attempt(t, t.attempts + 1, runner, 0, at)
    a.work_started_at = at
    for name, value in fields.items():
        setattr(a, name, value)
    t.attempts += 1
    log.attempts.append(a)
    if math.isnan(t.first_assigned_at):
        t.first_assigned_at = at
    return a


def scenario(duration: float, runners: int = 2, threads: int = 2) -> Scenario:
    return Scenario(
        duration=duration,
        fleet=[FleetGroup(name="f", worker_group="g", runners=runners, threads=threads)],
        workload=[Workload(name="w", worker_group="g", arrivals={"kind": "times", "times": [0]},
                           duration=100)],
    )  # fmt: skip


def run(log: Log, duration: float, scen: Scenario | None = None) -> tuple[dict, dict]:
    """Tables and summary, failing on any numpy/pandas warning (e.g. a mean of nothing)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = tables(log, duration)
        return t, summary(t, duration, scen)


def duplicated_task(log: Log) -> Task:
    """A superseded attempt on r0 working 100..1000 while its successor on r1 works 700..1300."""
    t = task(log, status="finished", ended=1300.0)
    t.reassignments = 1
    attempt(
        log,
        t,
        "r0",
        100.0,
        work_ended_at=1000.0,
        runner_outcome="completed",
        lease_lost_at=600.0,
        expired_alive=True,
        outcome="progress_timeout",
        ended_at=600.0,
    )
    b = attempt(log, t, "r1", 700.0, work_ended_at=1300.0, runner_outcome="completed",
                outcome="finished", ended_at=1300.0)  # fmt: skip
    t.finished_by = b
    return t


# --- duplicate execution -------------------------------------------------------------------------


def test_duplicate_overlap_of_known_length() -> None:
    log = Log()
    duplicated_task(log)
    t, s = run(log, 2000.0)
    row = t["tasks"].iloc[0]
    assert row["overlap_s"] == pytest.approx(300.0)  # 700..1000
    assert row["duplicated"] and row["duplicate_completion"]
    assert list(t["attempts"]["work_s"]) == pytest.approx([900.0, 600.0])
    assert row["work_s"] == pytest.approx(1500.0)
    assert s["duplicate_overlap_mean_s"] == pytest.approx(300.0)
    assert s["duplicate_completions"] == 1
    assert s["false_reassignments"] == 1
    assert s["reassignments_progress"] == 1


def test_pause_inside_the_overlap_removes_it() -> None:
    log = Log()
    duplicated_task(log)
    log.faults.append(("r0", "pause", 800.0, 900.0))
    t, _ = run(log, 2000.0)
    assert t["tasks"]["overlap_s"].iloc[0] == pytest.approx(200.0)  # 700..800 and 900..1000
    assert t["attempts"]["work_s"].iloc[0] == pytest.approx(800.0)

    # Pauses of both runners: r1 paused 850..950 as well leaves 700..800 and 950..1000.
    log.faults.append(("r1", "pause", 850.0, 950.0))
    t, _ = run(log, 2000.0)
    assert t["tasks"]["overlap_s"].iloc[0] == pytest.approx(150.0)
    assert t["attempts"]["work_s"].iloc[1] == pytest.approx(500.0)


def test_pause_covering_the_overlap_means_no_duplicate() -> None:
    log = Log()
    duplicated_task(log)
    log.faults.append(("r1", "pause", 650.0, 1000.0))  # r1 idle until r0 stops
    t, s = run(log, 2000.0)
    assert t["tasks"]["overlap_s"].iloc[0] == 0.0
    assert not t["tasks"]["duplicated"].iloc[0]
    assert t["tasks"]["duplicate_completion"].iloc[0]  # both still ran the work to the end
    assert s["duplicated_fraction"] == 0.0
    assert math.isnan(s["duplicate_overlap_mean_s"])


def test_overlap_counts_time_with_two_or_more_workers_once() -> None:
    log = Log()
    t0 = task(log)
    attempt(log, t0, "r0", 0.0, work_ended_at=100.0, runner_outcome="canceled")
    attempt(log, t0, "r1", 50.0, work_ended_at=150.0, runner_outcome="canceled")
    attempt(log, t0, "r2", 60.0, work_ended_at=70.0, runner_outcome="crashed")
    t1 = task(log)  # touching intervals do not overlap
    attempt(log, t1, "r0", 200.0, work_ended_at=300.0, runner_outcome="crashed")
    attempt(log, t1, "r1", 300.0, work_ended_at=400.0, runner_outcome="canceled")
    t, _ = run(log, 1000.0)
    assert list(t["tasks"]["overlap_s"]) == pytest.approx([50.0, 0.0])  # 50..100
    assert list(t["tasks"]["duplicated"]) == [True, False]


def test_work_still_going_at_the_end_stops_where_the_work_completed() -> None:
    """A thread that did its 100 s of work by 1620 (started 1500, paused 1520-1540) but still
    waits on a slow call at the end of the run (work_ended_at NaN) worked 100 s, not until the
    end; a second attempt of the task from 1610 (also unfinished) overlaps it for 10 s."""
    log = Log()
    t = Task(0, KIND, 1000.0, 100.0)
    log.tasks.append(t)
    attempt(log, t, "r0", 1500.0)
    attempt(log, t, "r1", 1610.0)
    log.faults.append(("r0", "pause", 1520.0, 1540.0))
    tables_, _ = run(log, 2000.0)
    assert list(tables_["attempts"]["work_s"]) == pytest.approx([100.0, 100.0])
    assert tables_["tasks"]["overlap_s"].iloc[0] == pytest.approx(10.0)


def test_work_runs_to_run_end_and_open_pauses_are_clipped() -> None:
    log = Log()
    t0 = task(log, submitted=1500.0)
    attempt(log, t0, "r0", 1500.0)  # still working at the end of the run
    a = attempt(log, task(log), "r1", 0.0, work_ended_at=NAN, work_started_at=NAN)  # never started
    assert math.isnan(a.work_started_at)
    log.faults.append(("r0", "pause", 1900.0, NAN))  # still paused at the end
    log.faults.append(("r0", "crash", 1950.0, math.inf))
    t, _ = run(log, 2000.0)
    assert list(t["attempts"]["work_s"]) == pytest.approx([400.0, 0.0])
    assert list(t["faults"]["duration_s"]) == pytest.approx([100.0, 50.0])
    assert list(t["faults"]["kind"]) == ["pause", "crash"]


def _brute_overlap(spans: list[tuple[int, int, int]], pauses: dict[int, list]) -> float:
    """Unit cells of [0, 40) in which two or more runners were working (integer endpoints)."""
    total = 0
    for cell in range(40):
        working = 0
        for runner, start, end in spans:
            paused = any(a <= cell < b for a, b in pauses.get(runner, []))
            working += start <= cell < end and not paused
        total += working >= 2
    return float(total)


@settings(max_examples=150, deadline=None)
@given(
    spans=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 39), st.integers(1, 20)), min_size=2, max_size=4
    ),
    pauses=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 39), st.integers(1, 15)), max_size=4
    ),
)
def test_overlap_matches_brute_force(spans: list, pauses: list) -> None:
    log = Log()
    t0 = task(log)
    intervals = []
    for runner, start, length in spans:
        end = min(start + length, 40)
        attempt(log, t0, f"r{runner}", float(start), work_ended_at=float(end),
                runner_outcome="canceled")  # fmt: skip
        intervals.append((runner, start, end))
    by_runner: dict[int, list] = {}
    for runner, start, length in pauses:
        log.faults.append((f"r{runner}", "pause", float(start), float(start + length)))
        by_runner.setdefault(runner, []).append((start, start + length))
    t, _ = run(log, 40.0)
    assert t["tasks"]["overlap_s"].iloc[0] == pytest.approx(_brute_overlap(intervals, by_runner))
    expected_work = sum(
        sum(not any(a <= c < b for a, b in by_runner.get(r, [])) for c in range(s, e))
        for r, s, e in intervals
    )
    assert t["attempts"]["work_s"].sum() == pytest.approx(expected_work)


# --- metrics -------------------------------------------------------------------------------------


def test_detection_latency_of_crashed_attempts() -> None:
    log = Log()
    for crash, lost in ((200.0, 1100.0), (300.0, 500.0)):
        t = task(log, status="pending")
        t.reassignments = 1
        attempt(log, t, "r0", 0.0, work_ended_at=crash, runner_outcome="crashed",
                crashed_at=crash, lease_lost_at=lost, outcome="progress_timeout")  # fmt: skip
    # Excluded: expired while alive, then crashed; and a crash whose lease never expired.
    t = task(log, status="pending")
    attempt(log, t, "r1", 0.0, work_ended_at=400.0, runner_outcome="crashed", crashed_at=400.0,
            lease_lost_at=100.0, expired_alive=True, outcome="ack_timeout")  # fmt: skip
    attempt(log, task(log), "r1", 0.0, work_ended_at=900.0, runner_outcome="crashed",
            crashed_at=900.0)  # fmt: skip
    _, s = run(log, 2000.0)
    assert s["detection_latency_mean_s"] == pytest.approx((900.0 + 200.0) / 2)
    assert s["reassignments_ack"] == 1
    assert s["false_reassignments"] == 1


def test_no_crash_gives_nan_latency_without_warnings() -> None:
    log = Log()
    duplicated_task(log)
    _, s = run(log, 2000.0)
    assert math.isnan(s["detection_latency_mean_s"])


def test_reassigned_and_duplicated_fractions_over_started_tasks() -> None:
    """Fractions count the tasks handed to a runner at least once, ended or not (issue 13, B1)."""
    log = Log()
    duplicated_task(log)  # finished, 1 reassignment, duplicated
    t1 = task(log, status="finished", ended=50.0)
    t1.finished_by = attempt(log, t1, "r0", 0.0, work_ended_at=50.0, runner_outcome="completed",
                             outcome="finished")  # fmt: skip
    t2 = task(log, status="failed", ended=80.0)
    t2.reassignments = 2
    attempt(log, t2, "r0", 0.0, work_ended_at=80.0, runner_outcome="failed", outcome="failed")
    t3 = task(log, status="running")  # started, not ended: counted
    t3.reassignments = 1
    t3.live = attempt(log, t3, "r1", 1500.0)
    never = task(log, status="pending")  # never started: in backlog_fraction, not the fractions
    never.reassignments = 0
    _, s = run(log, 2000.0)
    assert s["tasks_submitted"] == 5
    assert (s["tasks_finished"], s["tasks_failed"], s["tasks_running"], s["tasks_pending"]) == (
        2, 1, 1, 1,
    )  # fmt: skip
    assert s["reassignments"] == 4
    assert s["reassigned_fraction"] == pytest.approx(3 / 4)  # duplicated task, t2, t3 of 4
    assert s["duplicated_fraction"] == pytest.approx(1 / 4)
    assert s["backlog_fraction"] == pytest.approx(2 / 5)  # t3 running + the pending task
    assert s["attempts"] == 5


def test_latency_percentiles_and_queue_wait() -> None:
    log = Log()
    for i in range(1, 11):
        t = task(log, submitted=100.0 * i, status="finished", ended=100.0 * i + 10.0 * i)
        t.first_assigned_at = t.submitted_at + 5.0
    t = task(log, submitted=0.0, status="failed", ended=1000.0)  # latency 1000, not finished
    t.first_assigned_at = 7.0
    task(log, submitted=50.0, status="pending")  # never assigned
    _, s = run(log, 5000.0)
    # Latencies 10, 20, ..., 100; linear interpolation at rank q/100 * 9.
    assert s["latency_p50_s"] == pytest.approx(55.0)
    assert s["latency_p95_s"] == pytest.approx(95.5)
    assert s["latency_p99_s"] == pytest.approx(99.1)
    assert s["queue_wait_mean_s"] == pytest.approx((10 * 5.0 + 7.0) / 11)


def test_wasted_work_and_utilization() -> None:
    log = Log()
    duplicated_task(log)  # superseded attempt worked 900 s; the finisher's 600 s is not waste
    t = task(log, status="running")
    t.live = attempt(log, t, "r1", 1500.0)  # still holding the lease: 500 s, not waste
    failed = task(log, status="failed", ended=360.0)
    attempt(log, failed, "r0", 0.0, work_ended_at=360.0, runner_outcome="failed", outcome="failed")
    _, s = run(log, 2000.0, scenario(2000.0, runners=2, threads=2))
    assert s["wasted_work_h"] == pytest.approx((900.0 + 360.0) / 3600)
    # 900 + 600 + 500 + 360 net work seconds over 2 runners x 2 threads x 2000 s.
    assert s["utilization"] == pytest.approx(2360.0 / 8000.0)


def test_stale_writer_that_finished_the_task_is_not_waste() -> None:
    log = Log()
    t = duplicated_task(log)
    t.finished_by = next(a for a in log.attempts if a.task is t)  # the stale writer's FINISHED
    _, s = run(log, 2000.0)
    assert s["wasted_work_h"] == pytest.approx(600.0 / 3600)


def test_calls_table_and_rates() -> None:
    log = Log()
    log.calls[POLL], log.calls[PROGRESS], log.calls[STATUS], log.calls[HEARTBEAT] = 10, 20, 30, 4
    log.throttled[POLL], log.throttled[STATUS] = 1, 2
    log.lost[PROGRESS], log.lost[HEARTBEAT] = 3, 1
    log.stale_status_accepted = 2
    t, s = run(log, 1000.0)
    calls = t["calls"]
    assert list(calls["operation"]) == list(OPERATIONS)
    assert list(calls["calls"]) == [10, 20, 30, 4]
    assert list(calls["throttled"]) == [1, 0, 2, 0]
    assert list(calls["lost"]) == [0, 3, 0, 1]
    assert list(calls["stale_accepted"]) == [0, 0, 2, 0]
    assert s["poll_calls_per_s"] == pytest.approx(0.01)
    assert s["progress_calls_per_s"] == pytest.approx(0.02)
    assert (s["throttled_calls"], s["lost_calls"], s["stale_status_accepted"]) == (3, 4, 2)


def test_empty_log_has_all_columns_and_nan_metrics() -> None:
    t, s = run(Log(), 100.0, scenario(100.0))
    for name, columns in COLUMNS.items():
        assert list(t[name].columns) == list(columns)
    assert list(s) == list(METRICS)
    assert s["tasks_submitted"] == 0
    for name in ("reassigned_fraction", "latency_p50_s", "queue_wait_mean_s",
                 "detection_latency_mean_s", "duplicate_overlap_mean_s"):  # fmt: skip
        assert math.isnan(s[name]), name
    assert s["utilization"] == 0.0


def test_utilization_without_scenario_is_nan() -> None:
    _, s = run(Log(), 100.0, None)
    assert math.isnan(s["utilization"])


def test_inconsistent_log_is_an_error() -> None:
    log = Log()
    attempt(log, task(log))
    attempt(log, Task(7, KIND, 0.0, 1.0))  # its task was never logged
    with pytest.raises(ValueError, match="inconsistent"):
        tables(log, 10.0)


def test_docs_agree_with_definitions() -> None:
    text = DOCS.read_text()
    assert metrics_markdown() in text
    assert columns_markdown() in text
    for name in METRICS:
        assert f"`{name}`" in text


# --- statistics ----------------------------------------------------------------------------------


def test_mean_ci_matches_scipy_and_ignores_nan() -> None:
    data = [1.0, 2.0, 3.0, 4.0, 10.0]
    mean, half, n = mean_ci(data + [NAN], confidence=0.9)
    low, high = scipy_stats.t.interval(0.9, 4, loc=4.0, scale=scipy_stats.sem(data))
    assert (mean, n) == (4.0, 5)
    assert mean - half == pytest.approx(low)
    assert mean + half == pytest.approx(high)
    # By hand: mean 2, s = 1, t(0.975, 2) = 4.302652729911275.
    assert mean_ci([1.0, 2.0, 3.0]) == pytest.approx((2.0, 4.302652729911275 / math.sqrt(3), 3))


def test_mean_ci_small_samples() -> None:
    mean, half, n = mean_ci([5.0, NAN])
    assert (mean, n) == (5.0, 1) and math.isnan(half)
    mean, half, n = mean_ci([])
    assert n == 0 and math.isnan(mean) and math.isnan(half)
    with pytest.raises(ValueError):
        mean_ci([1.0, 2.0], confidence=1.5)


def test_summarize_replications() -> None:
    reps = [
        {"extra": 1.0, "tasks_finished": 10.0, "latency_p50_s": NAN},
        {"extra": 3.0, "tasks_finished": 14.0, "latency_p50_s": 7.0},
    ]
    frame = summarize_replications(reps)
    assert list(frame.columns) == [
        "metric", "mean", "ci_low", "ci_high", "half_width", "n", "method",
    ]  # fmt: skip
    assert list(frame["metric"]) == ["tasks_finished", "latency_p50_s", "extra"]
    row = frame.set_index("metric").loc["extra"]  # not a metric: no range, the t interval
    half = 12.706204736174707 * 1.0  # t(0.975, 1) x s/sqrt(2), s = sqrt(2)
    assert (row["mean"], row["n"], row["method"]) == (2.0, 2, "t")
    assert row["half_width"] == pytest.approx(half)
    assert row["ci_low"] == pytest.approx(2.0 - half)
    # tasks_finished: the t interval 12 +- 25.4 would go below 0 (issue 13, B2).
    row = frame.set_index("metric").loc["tasks_finished"]
    assert row["method"] == "bootstrap+poisson" and 0 <= row["ci_low"] <= 12 <= row["ci_high"]
    latency = frame.set_index("metric").loc["latency_p50_s"]
    assert latency["mean"] == 7.0 and latency["n"] == 1 and np.isnan(latency["ci_high"])


# --- saved results -------------------------------------------------------------------------------


def test_result_save_writes_everything_atomically(tmp_path: Path) -> None:
    log = Log()
    duplicated_task(log)
    log.faults.append(("r0", "crash", 1500.0, math.inf))
    result = Result(scenario(2000.0), log, seed=7, wall_time_s=0.5, events=123)
    assert result.tasks["overlap_s"].iloc[0] == pytest.approx(300.0)
    assert "duplicated_fraction=1" in repr(result)
    assert "<table>" in result._repr_html_()

    target = tmp_path / "runs" / "one"
    for _ in range(2):  # the second save replaces the first
        result.save(target)
        names = {p.name for p in target.iterdir()}
        ext = "parquet" if "tasks.parquet" in names else "csv"
        tables = ("attempts", "tasks", "faults", "calls", "runners")
        assert names == {f"{t}.{ext}" for t in tables} | {
            "summary.json", "scenario.json", "meta.json",
        }  # fmt: skip
        assert [p.name for p in target.parent.iterdir()] == ["one"]  # no temporary left behind

    saved = json.loads((target / "summary.json").read_text())
    assert list(saved) == list(METRICS)
    assert saved["detection_latency_mean_s"] is None  # NaN is written as null
    assert saved["duplicate_completions"] == 1
    meta = json.loads((target / "meta.json").read_text())
    assert (meta["seed"], meta["events"], meta["wall_time_s"]) == (7, 123, 0.5)
    assert {"leasesim", "numpy", "simpy", "pandas"} <= set(meta)
    assert json.loads((target / "scenario.json").read_text())["duration"] == 2000.0

    loaded = Result.load(target)
    assert loaded.scenario == result.scenario
    assert loaded.seed == 7
    assert loaded.tasks["overlap_s"].iloc[0] == pytest.approx(300.0)
    assert math.isinf(loaded.faults["end"].iloc[0])
    assert math.isnan(loaded.summary["detection_latency_mean_s"])
    assert loaded.summary["utilization"] == pytest.approx(1500.0 / 8000.0)


def test_failed_save_leaves_previous_result(tmp_path: Path) -> None:
    log = Log()
    duplicated_task(log)
    good = Result(scenario(2000.0), log, seed=1)
    target = good.save(tmp_path / "r")
    log = Log()  # the first result's tables took its log's records over
    duplicated_task(log)
    bad = Result(scenario(2000.0), log, seed=2, meta={"unserialisable": object()})
    with pytest.raises(TypeError):
        bad.save(target)
    assert json.loads((target / "meta.json").read_text())["seed"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_result_pickles_with_tables_not_log() -> None:
    log = Log()
    duplicated_task(log)
    result = Result(scenario(2000.0), log, seed=3)
    assert result.log is log
    copy = pickle.loads(pickle.dumps(result))
    # The tables took the log's records over: neither result holds the log.
    assert copy.log is None and result.log is None and log.consumed
    assert copy.tasks["overlap_s"].iloc[0] == pytest.approx(300.0)
    assert copy.summary["duplicate_completions"] == 1
