"""One run's log -> the `attempts`, `tasks`, `faults`, `calls` and `runners` DataFrames, built once.

Each column is filled by one pass over the plain log objects and the frames are made by a single
constructor call each (a log can hold 100k+ attempts). Work is measured net of the runner's pauses:
a paused runner does no work. Times are float seconds from the start of the run; NaN = never.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from simulator.collector import paused
from simulator.model.log import OPERATIONS, STATUS, Faults, Log

# Every column of every table with its definition: the single source for docs/metrics.md.
COLUMNS: dict[str, dict[str, str]] = {
    "attempts": {
        "task_id": "Id of the task this attempt belongs to.",
        "attempt": "The service's attempt counter (`_Attempt=N`); several rows of one task can "
        "share it when a lease expiry reassigns the same attempt.",
        "seq": "Position of this assignment in the task's assignment order, from 1 "
        "(unique within a task).",
        "runner": "Task runner the attempt was assigned to.",
        "thread": "Poll thread of that runner holding the attempt.",
        "workload": "Workload the task came from.",
        "assigned_at": "When PollForTask handed the task to the runner thread.",
        "acked_at": "When the service accepted the first ReportTaskProgress (NaN if never).",
        "lease_lost_at": "When the lease expired (NaN if it never did).",
        "ended_at": "When the attempt ended on the service side (NaN if still running at the end).",
        "outcome": "Service-side outcome: finished | failed | ack_timeout | progress_timeout | "
        "attempt_timeout | superseded | running.",
        "work_started_at": "When the runner started working on it (NaN if it never did).",
        "work_ended_at": "When the runner stopped working on it: completion, cancel or crash "
        "(NaN if never started or still working at the end of the run).",
        "runner_outcome": "Runner-side outcome: completed | failed | canceled | crashed | running "
        "| unheard (failed = the work ran to the end and the runner reported FAILED; crashed = "
        "the runner died holding it: a crash, a terminate scale-in or the end of an interruption "
        "notice; unheard = the PollForTask reply that handed the task over was lost: the runner "
        "never knew of it).",
        "crashed_at": "When the holder's runner died while holding the attempt (a crash, or a "
        "stop: see the runners table; NaN if it did not).",
        "reports": "Progress reports the service accepted from this holder.",
        "expired_alive": "True when the lease expired while the holder had not crashed "
        "(a false reassignment).",
        "live": "True when this attempt still holds the task's lease at the end of the run.",
        "finished_task": "True when this attempt's SetTaskStatus FINISHED ended the task "
        "(possibly as a stale writer).",
        "work_s": "Net work seconds: from work_started_at to work_ended_at (or the end of the run "
        "if still working, but never more than the task's work), minus the runner's pause "
        "intervals.",
    },
    "tasks": {
        "task_id": "Id of the task (pipeline object instance).",
        "workload": "Workload the task came from.",
        "worker_group": "Worker group the task was submitted to.",
        "submitted_at": "When the task was submitted (became ready to poll).",
        "first_assigned_at": "When the task was first handed to a runner (NaN if never).",
        "ended_at": "When the task finished or failed for good (NaN otherwise).",
        "status": "Status at the end of the run: pending | running | finished | failed.",
        "work": "Work the task needs, in seconds (drawn once at submission).",
        "attempts": "Number of assignments (rows in the attempts table).",
        "reassignments": "Number of lease expiries on the task.",
        "retries_used": "Retries the task used up.",
        "work_s": "Net work seconds summed over all its attempts (duplicates included).",
        "overlap_s": "Duplicate-execution time: seconds during which at least two of its attempts "
        "were working at once, net of pauses.",
        "duplicated": "True when overlap_s > 0: two attempts worked on the task at the same time.",
        "duplicate_completion": "True when the work ran to completion (runner_outcome completed) "
        "on more than one attempt.",
    },
    "faults": {
        "runner": "Runner the fault struck (a group-wide partition has one row per runner).",
        "kind": "crash | pause | progress_stall | heartbeat_stall | partition | interruption "
        "(start: the notice; end: the runner is gone).",
        "start": "When the fault began.",
        "end": "When it ends as recorded: may lie beyond the run's end; inf (or NaN) for a crash "
        "that never restarts.",
        "duration_s": "Length of the fault with its end clipped to the run duration.",
    },
    "calls": {
        "operation": "API operation: " + ", ".join(OPERATIONS) + ".",
        "calls": "Calls the runners sent.",
        "throttled": "Calls rejected by the account's rate limit.",
        "lost": "Calls that got no reply: the request never reached the service, or the reply "
        "never reached the runner (partition or message loss).",
        "lost_replies": "Of the lost calls, those whose reply was lost: the service handled them.",
        "stale_accepted": "SetTaskStatus calls from superseded runners that took effect "
        "(SetTaskStatus row only; 0 elsewhere).",
    },
    "runners": {
        "name": "Task runner (`etl-12`: runners launched by scaling continue the group's "
        "numbering).",
        "group": "Fleet group it belongs to.",
        "launch": "start (in the fleet from the start of the run) | scale_out (launched by the "
        "group's scaling policy).",
        "launched_at": "When it was launched: 0 for the fleet at the start, else the scale-out "
        "decision.",
        "ready_at": "Its first poll: the start offset for the fleet at the start, launched_at + "
        "launch_delay for a launched one (may lie beyond the run's end).",
        "notice_at": "When it was told to leave: a scale-in decision, an interruption notice, a "
        "crash that never restarts (NaN if never).",
        "stopped_at": "When it stopped for good (NaN if it ran to the end of the run).",
        "reason": "Why it stopped: scale_in | interruption | crash (one that never restarts) | "
        "running (it did not).",
    },
}


def tables(log: Log, duration: float, *, consume: bool = False) -> dict[str, pd.DataFrame]:
    """The tables of one run lasting `duration` s, keyed attempts, tasks, faults, calls, runners.

    `consume`: take the log's records over (`Log.hand_over`) instead of reading them, which
    leaves the log without them: building then holds little more than the tables themselves.
    """
    with paused():  # row tuples by the million: the collector's scans would only slow this down
        pauses = _pauses_by_runner(log.faults, duration)
        if consume:
            tasks, columns = log.hand_over()
        else:
            tasks, columns = log.task_columns(), log.attempt_columns()
        attempts, spans = _attempts(log, tasks, columns, duration, pauses)
        del columns  # emptied by _attempts
        return {
            "attempts": attempts,
            "tasks": _tasks(log, tasks, attempts, spans, pauses),
            "faults": _faults(log, duration),
            "calls": _calls(log),
            "runners": runners_table(log),
        }


# --- pauses --------------------------------------------------------------------------------------


class _Pauses:
    """A runner's pause intervals, merged and sorted, with cumulative paused time."""

    __slots__ = ("starts", "ends", "before", "start_list", "end_list")

    def __init__(self, intervals: Iterable[tuple[float, float]]) -> None:
        merged: list[list[float]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.start_list = [m[0] for m in merged]
        self.end_list = [m[1] for m in merged]
        self.starts = np.array(self.start_list, dtype=float)
        self.ends = np.array(self.end_list, dtype=float)
        lengths = self.ends - self.starts
        # before[k] = paused seconds in all intervals ahead of interval k
        self.before = np.concatenate(([0.0], np.cumsum(lengths)[:-1])) if merged else lengths

    def paused_until(self, t: np.ndarray) -> np.ndarray:
        """Paused seconds in [-inf, t] for each t (vectorised)."""
        k = np.searchsorted(self.starts, t, side="right") - 1
        kc = np.maximum(k, 0)
        inside = np.minimum(t - self.starts[kc], self.ends[kc] - self.starts[kc])
        return np.where(k >= 0, self.before[kc] + inside, 0.0)

    def subtract(self, start: float, end: float) -> list[tuple[float, float]]:
        """The pieces of [start, end] outside every pause."""
        pieces = []
        cursor = start
        i = bisect_right(self.end_list, start)  # first pause ending after `start`
        while i < len(self.start_list) and self.start_list[i] < end:
            if self.start_list[i] > cursor:
                pieces.append((cursor, self.start_list[i]))
            cursor = max(cursor, self.end_list[i])
            i += 1
        if cursor < end:
            pieces.append((cursor, end))
        return pieces


def _pauses_by_runner(faults: Faults, duration: float) -> dict[str, _Pauses]:
    """runner -> _Pauses, for runners that were ever paused."""
    f = faults.arrays()
    if "pause" not in faults.kinds:
        return {}
    pause = np.flatnonzero(f["kind"] == faults.kinds["pause"])
    start, end = f["start"][pause], f["end"][pause]
    # A pause that never ends (NaN) or is still on ends with the run.
    end = np.where(np.isnan(end), duration, np.minimum(end, duration))
    spans: dict[str, list[tuple[float, float]]] = {}
    names = faults.runners.values
    for code, a, b in zip(f["runner"][pause].tolist(), start.tolist(), end.tolist(), strict=True):
        if b > a:
            spans.setdefault(names[code], []).append((a, b))
    return {runner: _Pauses(intervals) for runner, intervals in spans.items()}


# --- tables --------------------------------------------------------------------------------------


class _Spans:
    """Per attempts row: the row of its task in the tasks frame and its gross work interval.

    Handed from `_attempts` to `_tasks`, which takes the arrays out (`take`) and drops them before
    it builds the tasks frame: at that peak a large run's spans (24 bytes an attempt) are freed.
    """

    __slots__ = ("arrays",)

    def __init__(self, task_row: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        self.arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = (task_row, start, end)

    def take(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(task_row, start, end), once: the holder keeps no reference to them."""
        arrays, self.arrays = self.arrays, None
        if arrays is None:
            raise ValueError("the spans were taken already")
        return arrays


def _table(values: Sequence[object]) -> np.ndarray:
    """`values` as an object array, to look codes up in (each value one shared object)."""
    table = np.empty(len(values), dtype=object)
    table[:] = values
    return table


def _attempts(
    log: Log, tasks: dict[str, np.ndarray], cols: dict[str, np.ndarray], duration: float,
    pauses: dict[str, _Pauses],
) -> tuple[pd.DataFrame, _Spans]:  # fmt: skip
    """The attempts frame (rows grouped by task in log order, then assignment order) and spans,
    from the attempts' columns (`cols`, emptied as they are used: each one is freed once its
    rows are in the frame's order)."""
    # Tasks are logged in id order and attempts in assignment order: a stable sort of the
    # attempts by their task's row groups them by task, in assignment order within each.
    m = len(tasks["id"])
    task_ids = tasks["id"]
    rows = cols.pop("task")
    n = len(rows)
    if n and (rows.max() >= m or rows.min() < 0 or np.any(np.diff(task_ids) <= 0)):
        raise ValueError("log inconsistent: every attempt's task must be in Log.tasks, in id order")
    order = np.argsort(rows, kind="stable")
    task_row = rows[order]
    del rows
    counts = np.bincount(task_row, minlength=m)
    first_row = np.concatenate(([0], np.cumsum(counts)[:-1]))  # each task's first attempts row
    seq = np.arange(n) - first_row[task_row] + 1
    del first_row

    def take(name: str) -> np.ndarray:
        return cols.pop(name)[order]

    runner_code = take("runner")
    runner = log.runner_names.decode(runner_code)
    start = take("work_started_at")
    stop = take("work_ended_at")
    s, e = _work_spans(start, stop, duration)
    names = log.runner_names.values
    work_s = _net_work(runner_code, names, s, e, pauses)
    # An attempt still "working" at the end may have finished its work already and be waiting on
    # a slow call (a report or SetTaskStatus in flight, or backing off): its work ended earlier.
    work = tasks["work"][task_row]
    over = np.flatnonzero(np.isnan(stop) & (work_s > work + 1e-9))
    # Each pass ends the row or steps back over one of its pauses (the runner clock is flat there).
    for _ in range(10_000):
        if not len(over):
            break
        e[over] -= work_s[over] - work[over]
        work_s[over] = _net_work(runner_code[over], names, s[over], e[over], pauses)
        over = over[work_s[over] > work[over] + 1e-9]
    del work, runner_code
    workload_of_kind = _table([k.workload for k in log.kinds.values])
    frame = pd.DataFrame(
        {
            "task_id": task_ids[task_row],
            "attempt": take("number").astype(np.int64),
            "seq": seq,
            "runner": runner,
            "thread": take("thread").astype(np.int64),
            "workload": workload_of_kind[tasks["kind"][task_row]],
            "assigned_at": take("assigned_at"),
            "acked_at": take("acked_at"),
            "lease_lost_at": take("lease_lost_at"),
            "ended_at": take("ended_at"),
            "outcome": log.outcomes.decode(take("outcome")),
            "work_started_at": start,
            "work_ended_at": stop,
            "runner_outcome": log.runner_outcomes.decode(take("runner_outcome")),
            "crashed_at": take("crashed_at"),
            "reports": take("reports"),
            "expired_alive": take("expired_alive"),
            "live": take("live"),
            "finished_task": take("finished_task"),
            "work_s": work_s,
        },
        columns=list(COLUMNS["attempts"]),
        copy=False,  # each array is the frame's own: no second copy of millions of rows
    )
    return frame, _Spans(task_row, s, e)


def _work_spans(
    start: np.ndarray, stop: np.ndarray, duration: float
) -> tuple[np.ndarray, np.ndarray]:
    """Gross work interval [start, end] of each attempt; end = start when it never started."""
    started = np.isfinite(start)
    # Still working at the end of the run (work_ended_at NaN): the work runs to the run's end.
    end = np.minimum(np.where(np.isfinite(stop), stop, duration), duration)
    end = np.where(started, np.maximum(end, start), start)
    return np.where(started, start, 0.0), np.where(started, end, 0.0)


def _net_work(
    runner: np.ndarray, names: Sequence[str], s: np.ndarray, e: np.ndarray,
    pauses: dict[str, _Pauses],
) -> np.ndarray:  # fmt: skip
    """Net work seconds per attempt: gross interval [s, e] minus the runner's paused time in it.

    `runner`: each attempt's runner as a code into `names`.
    """
    net = e - s
    if pauses and len(runner):
        order = np.argsort(runner, kind="stable")
        bounds = np.searchsorted(runner[order], np.arange(len(names) + 1))
        for code, name in enumerate(names):
            p = pauses.get(name)
            if p is None:
                continue
            rows = order[bounds[code] : bounds[code + 1]]
            rows = rows[net[rows] > 0]
            net[rows] -= p.paused_until(e[rows]) - p.paused_until(s[rows])
    # Guard against -1e-12 from float round-off.
    return np.maximum(net, 0.0)


def _overlap(spans: list[list[tuple[float, float]]]) -> float:
    """Seconds covered by at least two of the attempts' interval lists (a sweep over the edges)."""
    edges = [(x, d) for pieces in spans for a, b in pieces for x, d in ((a, 1), (b, -1))]
    edges.sort()  # at a tie an end (-1) sorts first, so touching intervals do not overlap
    total, level, last = 0.0, 0, 0.0
    for x, d in edges:
        if level >= 2:
            total += x - last
        level += d
        last = x
    return total


def _tasks(
    log: Log, tasks: dict[str, np.ndarray], attempts: pd.DataFrame, spans: _Spans,
    pauses: dict[str, _Pauses],
) -> pd.DataFrame:  # fmt: skip
    """The tasks frame, with duplicate execution measured from the attempts' work intervals."""
    m = len(tasks["id"])
    task_row, s, e = spans.take()
    worked = e > s
    counts = np.bincount(task_row, minlength=m)
    work_s = np.bincount(task_row, weights=attempts["work_s"].to_numpy(), minlength=m)
    completed = attempts["runner_outcome"].to_numpy() == "completed"
    duplicate_completion = np.bincount(task_row[completed], minlength=m) > 1

    # Only tasks where two or more attempts did any work can hold duplicate execution.
    overlap = np.zeros(m)
    candidates = np.flatnonzero(np.bincount(task_row[worked], minlength=m) >= 2)
    if len(candidates):
        offsets = np.concatenate(([0], np.cumsum(counts)))
        runners = attempts["runner"].to_numpy()
        for ti in candidates:
            rows = [r for r in range(offsets[ti], offsets[ti + 1]) if worked[r]]
            rows.sort(key=s.__getitem__)
            if not _gross_overlap(s[rows], e[rows]):
                continue  # attempts one after another (the common retry case): nothing to do
            pieces = []
            for r in rows:
                p = pauses.get(runners[r])
                gross = (float(s[r]), float(e[r]))
                pieces.append(p.subtract(*gross) if p else [gross])
            overlap[ti] = _overlap(pieces)

    # The spans are not needed any more: freed before the frame is built, at the tables' peak.
    del task_row, s, e, worked, completed
    kinds = log.kinds.values
    kind = tasks.pop("kind")

    def own(name: str) -> np.ndarray:
        """A column the frame may keep: a view of the log's columns is copied."""
        array = tasks.pop(name)
        return array if array.base is None else array.copy()

    return pd.DataFrame(
        {
            "task_id": own("id"),
            "workload": _table([k.workload for k in kinds])[kind],
            "worker_group": _table([k.worker_group for k in kinds])[kind],
            "submitted_at": own("submitted_at"),
            "first_assigned_at": own("first_assigned_at"),
            "ended_at": own("ended_at"),
            "status": log.statuses.decode(tasks.pop("status")),
            "work": own("work"),
            "attempts": counts,
            "reassignments": tasks.pop("reassignments").astype(np.int64),
            "retries_used": tasks.pop("retries_used").astype(np.int64),
            "work_s": work_s,
            "overlap_s": overlap,
            "duplicated": overlap > 0,
            "duplicate_completion": duplicate_completion,
        },
        columns=list(COLUMNS["tasks"]),
        copy=False,
    )


def _gross_overlap(starts: np.ndarray, ends: np.ndarray) -> bool:
    """Whether intervals sorted by start overlap for a positive length (before pauses)."""
    reach = np.maximum.accumulate(ends)
    return bool(np.any(starts[1:] < reach[:-1]))


def _faults(log: Log, duration: float) -> pd.DataFrame:
    """One row per fault as recorded; duration_s clips a never/still-on end to the run's end."""
    f = log.faults.arrays()
    start = f["start"].copy()
    end = f["end"].copy()
    clipped = np.minimum(np.where(np.isnan(end), duration, end), duration)
    return pd.DataFrame(
        {
            "runner": log.faults.runners.decode(f["runner"]),
            "kind": log.faults.kinds.decode(f["kind"]),
            "start": start,
            "end": end,
            "duration_s": np.maximum(clipped - start, 0.0),
        },
        columns=list(COLUMNS["faults"]),
    )


def _calls(log: Log) -> pd.DataFrame:
    """One row per API operation, in OPERATIONS order."""
    stale = [0] * len(OPERATIONS)
    stale[STATUS] = log.stale_status_accepted
    return pd.DataFrame(
        {
            "operation": list(OPERATIONS),
            "calls": np.array(log.calls, dtype=np.int64),
            "throttled": np.array(log.throttled, dtype=np.int64),
            "lost": np.array(log.lost, dtype=np.int64),
            "lost_replies": np.array(log.lost_replies, dtype=np.int64),
            "stale_accepted": np.array(stale, dtype=np.int64),
        },
        columns=list(COLUMNS["calls"]),
    )


def runners_table(log: Log) -> pd.DataFrame:
    """One row per runner, in launch order (issue 16)."""
    rs = log.runners
    n = len(rs)

    def floats(values: Iterable[float]) -> np.ndarray:
        return np.fromiter(values, dtype=float, count=n)

    return pd.DataFrame(
        {
            "name": [r.name for r in rs],
            "group": [r.group for r in rs],
            "launch": [r.launch for r in rs],
            "launched_at": floats(r.launched_at for r in rs),
            "ready_at": floats(r.ready_at for r in rs),
            "notice_at": floats(r.notice_at for r in rs),
            "stopped_at": floats(r.stopped_at for r in rs),
            "reason": [r.reason or "running" for r in rs],
        },
        columns=list(COLUMNS["runners"]),
    )


def runners_over_time(
    runners: pd.DataFrame, duration: float, group: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(times, runners in the fleet from each time on): a step function over [0, duration].

    A runner counts from its `launched_at` (billed while it boots) until its `stopped_at`.
    """
    r = runners if group is None else runners[runners["group"] == group]
    start = r["launched_at"].to_numpy(dtype=float)
    stop = r["stopped_at"].to_numpy(dtype=float)
    stop = np.where(np.isnan(stop), np.inf, stop)
    edges = np.concatenate(([0.0], start[start < duration], stop[stop < duration]))
    times = np.unique(edges)
    up = np.searchsorted(np.sort(start), times, side="right")
    down = np.searchsorted(np.sort(stop), times, side="right")
    return times, (up - down).astype(np.int64)


def columns_markdown() -> str:
    """The column definitions as Markdown sections (the text in docs/metrics.md)."""
    out = []
    for table, columns in COLUMNS.items():
        out += [f"### `{table}`", "", "| column | definition |", "|---|---|"]
        out += [f"| `{name}` | {markdown_cell(text)} |" for name, text in columns.items()]
        out.append("")
    return "\n".join(out)


def markdown_cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")
