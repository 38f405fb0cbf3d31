"""Summary metrics of one run, each defined once: its docstring is its definition, in code and docs.

`summary` evaluates every metric in `METRICS` order on the tables of one run. A metric that has no
data to stand on (a mean over nothing, a fraction of zero tasks) is NaN, never a warning or a zero.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

import numpy as np
import pandas as pd

from simulator.results.tables import _Pauses, markdown_cell
from simulator.scenario.schema import Scenario

NAN = float("nan")


class Inputs:
    """What a metric may look at: the run's tables, its duration and its scenario (may be None)."""

    def __init__(
        self, tables: Mapping[str, pd.DataFrame], duration: float, scenario: Scenario | None
    ) -> None:
        self.attempts = tables["attempts"]
        self.tasks = tables["tasks"]
        self.calls = tables["calls"]
        self.faults = tables.get("faults")
        self.runners = tables.get("runners")  # absent from results saved before issue 16
        # Every attempt and task, warm-up included: busy time and the backlog are states of the
        # fleet in the measured window, whoever submitted the work.
        self.all_attempts = self.attempts
        self.all_tasks = self.tasks
        self.duration = float(duration)
        self.scenario = scenario
        # Warm-up: tasks submitted before it (and their attempts) are left out, so the metrics
        # describe the steady state; `window` is the measured stretch of the run. Call counts
        # carry no time, so the call metrics still cover the whole run.
        warmup = float(getattr(scenario, "warmup", 0.0) or 0.0)
        self.warmup = max(warmup, 0.0)
        if warmup > 0:
            keep = self.tasks["submitted_at"].to_numpy() >= warmup
            kept = self.tasks["task_id"].to_numpy()[keep]
            self.attempts = self.attempts[np.isin(self.attempts["task_id"].to_numpy(), kept)]
            self.tasks = self.tasks[keep]
        self.window = self.duration - warmup

    @cached_property
    def status(self) -> np.ndarray:
        return self.tasks["status"].to_numpy()

    @cached_property
    def ended(self) -> np.ndarray:
        """Tasks that finished or failed for good."""
        return (self.status == "finished") | (self.status == "failed")

    @cached_property
    def started(self) -> np.ndarray:
        """Tasks handed to a runner at least once (first_assigned_at set)."""
        return np.isfinite(self.tasks["first_assigned_at"].to_numpy(dtype=float))

    @cached_property
    def backlog_trend(self) -> tuple[float, float]:
        """(slope per hour of the number of unfinished tasks, submissions per hour) over the second
        half of the measured window, counting every task (warm-up included).

        The number unfinished at t is the tasks submitted at or before t that had not ended by t,
        sampled at 201 evenly spaced times; the slope is the least-squares line through them. The
        first half is left out so that a run that starts empty does not read as growing.
        """
        half = self.warmup + (self.duration - self.warmup) / 2
        if not self.duration > half:
            return NAN, NAN
        submitted = np.sort(self.all_tasks["submitted_at"].to_numpy(dtype=float))
        ended = self.all_tasks["ended_at"].to_numpy(dtype=float)
        ended = np.sort(ended[np.isfinite(ended)])
        t = np.linspace(half, self.duration, 201)
        unfinished = np.searchsorted(submitted, t, side="right") - np.searchsorted(
            ended, t, side="right"
        )
        hours = (t - half) / 3600.0
        slope = float(np.polyfit(hours, unfinished.astype(float), 1)[0])
        arrivals = np.searchsorted(submitted, self.duration, side="right") - np.searchsorted(
            submitted, half, side="right"
        )
        return slope, arrivals / ((self.duration - half) / 3600.0)

    @cached_property
    def outcome(self) -> np.ndarray:
        return self.attempts["outcome"].to_numpy()

    @cached_property
    def latency(self) -> np.ndarray:
        """ended_at - submitted_at of the finished tasks."""
        # Two columns, not a filtered copy of the whole table (16 million rows in a large run).
        finished = self.status == "finished"
        ended = self.tasks["ended_at"].to_numpy(dtype=float)[finished]
        return ended - self.tasks["submitted_at"].to_numpy(dtype=float)[finished]

    def busy_in_window(self) -> float:
        """Net work seconds of every attempt inside the measured window [warmup, duration].

        An attempt's net work before the warm-up is its gross time there net of the runner's
        pauses (from the faults table), capped at its `work_s`; the rest of `work_s` lies in the
        window. Without a warm-up this is the sum of `work_s`.
        """
        a = self.all_attempts
        work = a["work_s"].to_numpy(dtype=float)
        if self.warmup <= 0 or not len(a):
            return float(work.sum())
        start = a["work_started_at"].to_numpy(dtype=float)
        early = np.flatnonzero(np.isfinite(start) & (start < self.warmup) & (work > 0))
        if not len(early):
            return float(work.sum())
        before = self.warmup - start[early]  # gross seconds from the work's start to the warm-up
        pauses = _pauses(self.faults, self.duration)
        if pauses:
            runners = a["runner"].to_numpy()[early]
            for name, p in pauses.items():
                rows = np.flatnonzero(runners == name)
                if len(rows):
                    s = start[early][rows]
                    w = np.full(len(rows), self.warmup)
                    before[rows] -= p.paused_until(w) - p.paused_until(s)
        pre = np.minimum(work[early], np.maximum(before, 0.0))
        return float(work.sum() - pre.sum())

    @cached_property
    def runner_spans(self) -> tuple[np.ndarray, np.ndarray]:
        """Each runner's (start, end) inside the measured window: launched_at to stopped_at (the
        end of the run if it did not stop), clipped to [warmup, duration]."""
        r = self.runners
        start = np.maximum(r["launched_at"].to_numpy(dtype=float), self.warmup)
        stop = r["stopped_at"].to_numpy(dtype=float)
        end = np.minimum(np.where(np.isnan(stop), self.duration, stop), self.duration)
        return start, np.maximum(end, start)

    def calls_of(self, operation: str, column: str = "calls") -> float:
        row = self.calls[self.calls["operation"] == operation]
        return float(row[column].sum())


def _pauses(faults: pd.DataFrame | None, duration: float) -> dict[str, _Pauses]:
    """runner -> its merged pause intervals (ends clipped to the run), from the faults table."""
    if faults is None or not len(faults):
        return {}
    f = faults[faults["kind"].to_numpy() == "pause"]
    spans: dict[str, list[tuple[float, float]]] = {}
    for runner, start, length in zip(f["runner"], f["start"], f["duration_s"], strict=True):
        end = min(float(start) + float(length), duration)
        if end > start:
            spans.setdefault(str(runner), []).append((float(start), end))
    return {runner: _Pauses(intervals) for runner, intervals in spans.items()}


COUNT_UNITS = frozenset({"tasks", "attempts", "expiries", "calls"})
"""Units of whole-number counts (per run): their intervals may use the exact Poisson interval."""

_UNBOUNDED = (-math.inf, math.inf)


def _default_range(unit: str) -> tuple[float, float]:
    """Values a metric of this unit can take: fractions in [0, 1], everything else >= 0."""
    return (0.0, 1.0) if unit == "fraction" else (0.0, math.inf)


@dataclass(frozen=True)
class Metric:
    """A named summary metric: its unit, its one-line definition, how to compute it, and `range`,
    the (low, high) values it can take (confidence intervals are kept inside it)."""

    name: str
    unit: str
    definition: str
    compute: Callable[[Inputs], float]
    range: tuple[float, float] = (0.0, math.inf)

    @property
    def count(self) -> bool:
        """Whether the metric is a whole-number count per run (tasks, attempts, expiries, calls)."""
        return self.unit in COUNT_UNITS

    def __call__(self, inputs: Inputs) -> float:
        return float(self.compute(inputs))


def _metric(
    unit: str, range: tuple[float, float] | None = None
) -> Callable[[Callable[[Inputs], float]], Metric]:
    """Make a Metric of a function: its name is the metric's, its docstring the definition;
    `range` defaults to [0, 1] for fractions and [0, inf) otherwise."""

    def wrap(fn: Callable[[Inputs], float]) -> Metric:
        definition = " ".join(inspect.cleandoc(fn.__doc__ or "").split())
        return Metric(fn.__name__, unit, definition, fn, range or _default_range(unit))

    return wrap


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if len(values) else NAN


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else NAN


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else NAN


# --- counts --------------------------------------------------------------------------------------


@_metric("tasks")
def tasks_submitted(x: Inputs) -> float:
    """Tasks submitted during the run."""
    return len(x.tasks)


@_metric("tasks")
def tasks_finished(x: Inputs) -> float:
    """Tasks with status finished at the end of the run."""
    return np.count_nonzero(x.status == "finished")


@_metric("tasks")
def tasks_failed(x: Inputs) -> float:
    """Tasks with status failed at the end of the run (retries exhausted or a final FAILED)."""
    return np.count_nonzero(x.status == "failed")


@_metric("tasks")
def tasks_pending(x: Inputs) -> float:
    """Tasks with status pending at the end of the run (waiting for a runner or a retry)."""
    return np.count_nonzero(x.status == "pending")


@_metric("tasks")
def tasks_running(x: Inputs) -> float:
    """Tasks with status running at the end of the run."""
    return np.count_nonzero(x.status == "running")


@_metric("fraction")
def backlog_fraction(x: Inputs) -> float:
    """Tasks still pending or running at the end of the run, as a fraction of the tasks submitted:
    the work the run left undone. Read fractions of started or ended tasks beside it."""
    return _ratio(np.count_nonzero((x.status == "pending") | (x.status == "running")), len(x.tasks))


@_metric("tasks/h", range=_UNBOUNDED)
def backlog_growth_per_h(x: Inputs) -> float:
    """Growth of the backlog: least-squares slope, in tasks per hour, of the number of unfinished
    tasks (submitted and not yet finished or failed, whenever submitted) over the second half of
    the measured window, sampled at 201 evenly spaced times. Near 0 when the fleet keeps up."""
    return x.backlog_trend[0]


@_metric("fraction", range=_UNBOUNDED)
def backlog_growth(x: Inputs) -> float:
    """backlog_growth_per_h divided by the tasks submitted per hour over the same second half of
    the window: the share of new tasks the backlog absorbs. Near 0 when the fleet keeps up, near 1
    when almost nothing gets done; NaN without submissions there."""
    slope, rate = x.backlog_trend
    return _ratio(slope, rate)


@_metric("attempts")
def attempts(x: Inputs) -> float:
    """Assignments of tasks to runner threads (rows of the attempts table)."""
    return len(x.attempts)


# --- reassignment ---------------------------------------------------------------------------------


@_metric("expiries")
def reassignments(x: Inputs) -> float:
    """Lease expiries, summed over tasks (tasks.reassignments)."""
    return x.tasks["reassignments"].sum()


@_metric("expiries")
def reassignments_ack(x: Inputs) -> float:
    """Attempts that lost their lease for want of an acknowledgement (outcome ack_timeout)."""
    return np.count_nonzero(x.outcome == "ack_timeout")


@_metric("expiries")
def reassignments_progress(x: Inputs) -> float:
    """Attempts that lost their lease for want of a progress report (outcome progress_timeout)."""
    return np.count_nonzero(x.outcome == "progress_timeout")


@_metric("expiries")
def false_reassignments(x: Inputs) -> float:
    """Lease expiries while the holder had not crashed (attempts with expired_alive)."""
    return np.count_nonzero(x.attempts["expired_alive"].to_numpy())


@_metric("attempts")
def attempt_timeouts(x: Inputs) -> float:
    """Attempts ended by attemptTimeout (outcome attempt_timeout)."""
    return np.count_nonzero(x.outcome == "attempt_timeout")


@_metric("fraction")
def reassigned_fraction(x: Inputs) -> float:
    """Among tasks that started (were handed to a runner at least once, whether they ended or
    not), the fraction with at least one lease expiry. Tasks never started are in
    backlog_fraction, not here."""
    hit = np.count_nonzero(x.started & (x.tasks["reassignments"].to_numpy() > 0))
    return _ratio(hit, np.count_nonzero(x.started))


# --- duplicate work ------------------------------------------------------------------------------


@_metric("fraction")
def duplicated_fraction(x: Inputs) -> float:
    """Among tasks that started (were handed to a runner at least once, whether they ended or
    not), the fraction with duplicate execution (two attempts working at the same time, net of
    pauses, for a positive length). Tasks never started are in backlog_fraction, not here."""
    hit = np.count_nonzero(x.started & x.tasks["duplicated"].to_numpy())
    return _ratio(hit, np.count_nonzero(x.started))


@_metric("tasks")
def duplicate_completions(x: Inputs) -> float:
    """Tasks whose work ran to completion (runner_outcome completed) on more than one attempt."""
    return np.count_nonzero(x.tasks["duplicate_completion"].to_numpy())


@_metric("s")
def duplicate_overlap_mean_s(x: Inputs) -> float:
    """Mean duplicate-execution time (tasks.overlap_s) over the tasks with duplicate execution."""
    overlap = x.tasks["overlap_s"].to_numpy()
    return _mean(overlap[overlap > 0])


@_metric("h")
def wasted_work_h(x: Inputs) -> float:
    """Net work hours on attempts that neither finished their task nor still hold its lease at the
    end of the run (work that was lost, duplicated or ended in failure)."""
    a = x.attempts
    wasted = ~(a["finished_task"].to_numpy() | a["live"].to_numpy())
    return a["work_s"].to_numpy()[wasted].sum() / 3600.0


# --- detection and latency -----------------------------------------------------------------------


@_metric("s")
def detection_latency_mean_s(x: Inputs) -> float:
    """Mean of lease_lost_at - crashed_at over crashed attempts whose lease then expired (the
    time the service took to notice a dead holder; expiries before the crash are excluded)."""
    a = x.attempts
    lost = a["lease_lost_at"].to_numpy()
    crashed_at = a["crashed_at"].to_numpy()
    pick = (
        (a["runner_outcome"].to_numpy() == "crashed")
        & np.isfinite(lost)
        & ~a["expired_alive"].to_numpy()
    )
    return _mean(lost[pick] - crashed_at[pick])


@_metric("s")
def latency_p50_s(x: Inputs) -> float:
    """Median of ended_at - submitted_at over finished tasks (linear interpolation)."""
    return _percentile(x.latency, 50)


@_metric("s")
def latency_p95_s(x: Inputs) -> float:
    """95th percentile of ended_at - submitted_at over finished tasks (linear interpolation)."""
    return _percentile(x.latency, 95)


@_metric("s")
def latency_p99_s(x: Inputs) -> float:
    """99th percentile of ended_at - submitted_at over finished tasks (linear interpolation)."""
    return _percentile(x.latency, 99)


@_metric("s")
def queue_wait_mean_s(x: Inputs) -> float:
    """Mean of first_assigned_at - submitted_at over tasks that were ever assigned."""
    first = x.tasks["first_assigned_at"].to_numpy()
    assigned = np.isfinite(first)
    return _mean(first[assigned] - x.tasks["submitted_at"].to_numpy()[assigned])


# --- API load ------------------------------------------------------------------------------------


@_metric("1/s")
def poll_calls_per_s(x: Inputs) -> float:
    """PollForTask calls sent per second of run."""
    return _ratio(x.calls_of("PollForTask"), x.duration)


@_metric("1/s")
def progress_calls_per_s(x: Inputs) -> float:
    """ReportTaskProgress calls sent per second of run."""
    return _ratio(x.calls_of("ReportTaskProgress"), x.duration)


@_metric("calls")
def throttled_calls(x: Inputs) -> float:
    """Calls of all operations rejected by the account's rate limits."""
    return x.calls["throttled"].sum()


@_metric("calls")
def lost_calls(x: Inputs) -> float:
    """Calls of all operations that got no reply: request or reply lost (partition or message
    loss)."""
    return x.calls["lost"].sum()


@_metric("calls")
def stale_status_accepted(x: Inputs) -> float:
    """SetTaskStatus calls from superseded runners that took effect."""
    return x.calls["stale_accepted"].sum()


# --- capacity ------------------------------------------------------------------------------------


@_metric("fraction")
def utilization(x: Inputs) -> float:
    """Busy fraction of the fleet's threads in the measured window: net work seconds of every
    attempt inside [warmup, run end] (work before the warm-up clipped off; tasks submitted before
    the warm-up count too), divided by the fleet's thread-seconds in the window (sum over fleet
    groups of runners x threads x (duration - warmup); for a group with scaling or interruptions,
    threads x its runners' seconds in the window from the runners table); duplicates count as
    work."""
    if x.scenario is None:
        return NAN
    threads = 0.0
    changing = [g for g in x.scenario.fleet if _changes(g)]
    for g in x.scenario.fleet:
        if g not in changing:
            threads += g.runners * g.threads * x.window
    if changing:
        if x.runners is None:
            return NAN
        start, end = x.runner_spans
        group = x.runners["group"].to_numpy()
        for g in changing:
            threads += g.threads * float((end - start)[group == g.name].sum())
    return _ratio(x.busy_in_window(), threads)


def _changes(group: object) -> bool:
    """Whether a fleet group's size changes during a run (scaling or interruptions)."""
    return group.scaling is not None or group.faults.interruption is not None  # type: ignore[attr-defined]


# --- fleet (issue 16) ----------------------------------------------------------------------------


@_metric("h")
def runner_hours(x: Inputs) -> float:
    """Runner-hours in the measured window: the sum over runners (runners table) of the time from
    launched_at (booting is paid for) to stopped_at, or the end of the run, clipped to [warmup,
    duration]."""
    if x.runners is None:
        return NAN
    start, end = x.runner_spans
    return float((end - start).sum()) / 3600.0


@_metric("runners")
def runners_mean(x: Inputs) -> float:
    """Time-averaged number of runners in the fleet (launched, not yet stopped) over the measured
    window: runner_hours divided by its length in hours."""
    return _ratio(runner_hours(x), x.window / 3600.0)


@_metric("runners")
def runners_max(x: Inputs) -> float:
    """Most runners in the fleet at once (launched, not yet stopped) in the measured window."""
    if x.runners is None:
        return NAN
    start, end = x.runner_spans
    keep = end > start
    if not keep.any():
        return 0.0
    edges = np.concatenate((start[keep], end[keep]))
    steps = np.concatenate((np.ones(keep.sum()), -np.ones(keep.sum())))
    order = np.lexsort((steps, edges))  # at a tie a stop comes first
    return float(np.cumsum(steps[order]).max())


@_metric("events")
def scale_out_events(x: Inputs) -> float:
    """Scale-out decisions in the measured window: distinct (group, launched_at) among runners
    launched by scaling (one decision may launch several)."""
    if x.runners is None:
        return NAN
    r = x.runners[(x.runners["launch"] == "scale_out").to_numpy()]
    r = r[r["launched_at"].to_numpy(dtype=float) >= x.warmup]
    return len(r[["group", "launched_at"]].drop_duplicates())


@_metric("events")
def scale_in_events(x: Inputs) -> float:
    """Scale-in decisions in the measured window: distinct (group, notice_at) among runners that
    stopped for reason scale_in (one decision may retire several)."""
    if x.runners is None:
        return NAN
    r = x.runners[(x.runners["reason"] == "scale_in").to_numpy()]
    r = r[r["notice_at"].to_numpy(dtype=float) >= x.warmup]
    return len(r[["group", "notice_at"]].drop_duplicates())


@_metric("events")
def interruptions(x: Inputs) -> float:
    """Spot interruption notices in the measured window (faults of kind interruption)."""
    if x.faults is None:
        return NAN
    f = x.faults
    return np.count_nonzero(
        (f["kind"].to_numpy() == "interruption") & (f["start"].to_numpy(dtype=float) >= x.warmup)
    )


@_metric("tasks")
def tasks_lost_to_interruptions(x: Inputs) -> float:
    """Tasks with an attempt whose runner was gone at the end of an interruption notice while
    still holding it (runner_outcome crashed at the runner's stopped_at, reason interruption)."""
    if x.runners is None:
        return NAN
    r = x.runners[(x.runners["reason"] == "interruption").to_numpy()]
    if not len(r):
        return 0.0
    gone = dict(zip(r["name"], r["stopped_at"].to_numpy(dtype=float), strict=True))
    a = x.attempts[(x.attempts["runner_outcome"] == "crashed").to_numpy()]
    at = a["runner"].map(gone).to_numpy(dtype=float)
    lost = a["crashed_at"].to_numpy(dtype=float) == at
    return len(np.unique(a["task_id"].to_numpy()[lost]))


METRICS: Mapping[str, Metric] = MappingProxyType(
    {
        m.name: m
        for m in (
            tasks_submitted,
            tasks_finished,
            tasks_failed,
            tasks_pending,
            tasks_running,
            attempts,
            reassignments,
            reassignments_ack,
            reassignments_progress,
            false_reassignments,
            attempt_timeouts,
            backlog_fraction,
            backlog_growth_per_h,
            backlog_growth,
            reassigned_fraction,
            duplicated_fraction,
            duplicate_completions,
            duplicate_overlap_mean_s,
            wasted_work_h,
            detection_latency_mean_s,
            latency_p50_s,
            latency_p95_s,
            latency_p99_s,
            queue_wait_mean_s,
            poll_calls_per_s,
            progress_calls_per_s,
            throttled_calls,
            lost_calls,
            stale_status_accepted,
            utilization,
            runner_hours,
            runners_mean,
            runners_max,
            scale_out_events,
            scale_in_events,
            interruptions,
            tasks_lost_to_interruptions,
        )
    }
)


def summary(
    tables: Mapping[str, pd.DataFrame], duration: float, scenario: Scenario | None
) -> dict[str, float]:
    """Every metric of METRICS, in order, for one run's tables (see `simulator.results.tables`)."""
    inputs = Inputs(tables, duration, scenario)
    return {name: metric(inputs) for name, metric in METRICS.items()}


def metrics_markdown() -> str:
    """The metric definitions as a Markdown table (the text in docs/metrics.md)."""
    rows = ["| metric | unit | definition |", "|---|---|---|"]
    rows += [f"| `{m.name}` | {m.unit} | {markdown_cell(m.definition)} |" for m in METRICS.values()]
    return "\n".join(rows) + "\n"
