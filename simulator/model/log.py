"""Append-only records of one run: tasks, attempts, faults and call counts.

The model mutates its `Task` and `Attempt` objects in place as things happen (no copies on the hot
path). Once nothing in the model can reach a task and its attempts any more, the log freezes them
into typed columns (`columns.Columns`: 8 bytes a time, a small code per string) and lets the
objects go: a week of 100,000 runners logs 16 million tasks. The results layer turns the columns
into DataFrames once, at the end of the run. Times are float seconds; NaN = never.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from itertools import compress
from operator import attrgetter, is_, not_
from typing import Generic, Protocol, TypeVar, overload

import numpy as np

from simulator.model.columns import NAN, REFERENCES, Codes, Columns

# API operations, in the order of the `calls` table.
POLL, PROGRESS, STATUS, HEARTBEAT = 0, 1, 2, 3
OPERATIONS = ("PollForTask", "ReportTaskProgress", "SetTaskStatus", "ReportTaskRunnerHeartbeat")


class Kind:
    """What every task of one workload shares: where it runs, its retries and its lease lengths.

    Kept once per workload rather than on each task: a week of a large fleet logs millions of
    tasks. `retry_delay` already includes the service's floor.
    """

    __slots__ = (
        "workload", "worker_group", "max_retries", "retry_delay", "timeouts", "attempt_timeout",
        "failure_probability",
    )  # fmt: skip

    def __init__(
        self, workload: str, worker_group: str, max_retries: int, retry_delay: float,
        timeouts: tuple[float, float, float], attempt_timeout: float | None,
        failure_probability: float,
    ) -> None:  # fmt: skip
        self.workload = workload
        self.worker_group = worker_group
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        # Lease lengths: before the ack, after the first report, after each later one.
        self.timeouts = timeouts
        self.attempt_timeout = attempt_timeout
        self.failure_probability = failure_probability  # a finished run of it reports FAILED


class Task:
    """A pipeline object instance: submitted once, attempted until it ends or its retries run out.

    `work` is the work the task needs, drawn once at submission: the same whoever runs it.
    `status` is pending | running | finished | failed. Its attempts are in `Log.attempts`.
    """

    __slots__ = (
        "id", "kind", "submitted_at", "work", "first_assigned_at", "ended_at", "status",
        "attempt_number", "retries_used", "live", "attempts", "reassignments", "finished_by", "row",
    )  # fmt: skip

    def __init__(self, id: int, kind: Kind, submitted_at: float, work: float) -> None:
        self.id = id
        self.kind = kind
        self.submitted_at = submitted_at
        self.work = work
        self.first_assigned_at = NAN
        self.ended_at = NAN
        self.status = "pending"
        self.attempt_number = 1  # the service's attempt counter (`_Attempt=N`)
        self.retries_used = 0
        self.live: Attempt | None = None  # the attempt holding the lease now, if any
        self.attempts = 0  # how many times it was handed out
        self.reassignments = 0  # lease expiries
        self.finished_by: Attempt | None = None  # whose SetTaskStatus FINISHED ended the task
        self.row = -1  # its row in `Log.tasks` once logged


class BulkReports(Protocol):
    """A holder's reports counted in bulk (fast mode's `fast.schedule.FastSchedule`), as the
    records, the service and the invariants see them through `Attempt.fast`: reports at start,
    start + interval, ... each renewing the lease for `renew` seconds (the first for `first`
    where it is the acknowledgement, `acks`)."""

    start: float
    interval: float
    renew: float
    attempt: Attempt
    acks: bool
    first: float

    def deadline_at(self, t: float) -> float:
        """The lease deadline at `t`, counting a report sent at `t`."""
        ...

    def superseded(self) -> None:
        """The lease ended while the reports were counted: the holder's next report hears it."""
        ...


class Attempt:
    """One assignment of a task to a runner thread, with its lease and what the runner did.

    Service side: assigned_at, acked_at, lease_lost_at, ended_at, outcome
    (finished | failed | ack_timeout | progress_timeout | attempt_timeout | superseded | running).
    Runner side: work_started_at, work_ended_at, runner_outcome
    (completed | failed | canceled | crashed | running), crashed_at (the holder died holding it).
    """

    __slots__ = (
        "task", "number", "runner", "thread", "assigned_at", "acked_at", "lease_lost_at",
        "ended_at", "outcome", "work_started_at", "work_ended_at", "runner_outcome",
        "crashed_at", "reports", "deadline", "timer", "fast", "expired_alive", "row",
    )  # fmt: skip

    def __init__(self, task: Task, number: int, runner: str, thread: int, now: float) -> None:
        self.task = task
        self.number = number
        self.runner = runner
        self.thread = thread
        self.assigned_at = now
        self.acked_at = NAN
        self.lease_lost_at = NAN
        self.ended_at = NAN
        self.outcome = "running"
        self.work_started_at = NAN
        self.work_ended_at = NAN
        self.runner_outcome = "running"
        self.crashed_at = NAN
        self.reports = 0  # progress reports the service accepted from this holder
        self.deadline = NAN  # lease deadline while live
        self.timer: object = None  # the pending lease timer (only the newest one acts)
        self.fast: BulkReports | None = None  # reports counted in bulk (fast mode), if any
        self.expired_alive = False  # lease expired while the holder was alive (false reassignment)
        self.row = -1  # its row in `Log.attempts` once logged

    @property
    def live(self) -> bool:
        return self.task.live is self


class RunnerRecord:
    """One runner's life (issue 16): launched (the decision), ready (its first poll), stopped.

    `reason` why it stopped: scale_in | interruption | crash (one that never restarts); "" while
    it runs. Runners of the fleet at the start are launched at 0 and ready at their start offset.
    """

    __slots__ = ("name", "group", "launch", "launched_at", "ready_at", "notice_at", "stopped_at",
                 "reason")  # fmt: skip

    def __init__(
        self, name: str, group: str, launched_at: float, ready_at: float, launch: str = "start"
    ) -> None:
        self.name = name
        self.group = group
        self.launch = launch  # start (in the fleet from the start) | scale_out
        self.launched_at = launched_at
        self.ready_at = ready_at
        self.notice_at = NAN  # when it was told to leave (a scale-in, an interruption notice)
        self.stopped_at = NAN
        self.reason = ""


# --- frozen records: typed columns ---------------------------------------------------------------

# Known values of the string fields, in code order (a value not listed gets the next code).
STATUSES = ("pending", "running", "finished", "failed")
OUTCOMES = ("running", "finished", "failed", "ack_timeout", "progress_timeout",
            "attempt_timeout", "superseded")  # fmt: skip
RUNNER_OUTCOMES = ("running", "completed", "failed", "canceled", "crashed", "unheard")

# name -> (NumPy dtype, value of a row not written yet). Strings and kinds are codes.
TASK_FIELDS: dict[str, tuple[str, object]] = {
    "id": ("i8", -1), "kind": ("i4", -1), "submitted_at": ("f8", NAN), "work": ("f8", NAN),
    "first_assigned_at": ("f8", NAN), "ended_at": ("f8", NAN), "status": ("i1", -1),
    "attempt_number": ("i4", 0), "retries_used": ("i4", 0), "attempts": ("i4", 0),
    "reassignments": ("i4", 0),
}  # fmt: skip
TIMES = ("assigned_at", "acked_at", "lease_lost_at", "ended_at", "work_started_at",
         "work_ended_at", "crashed_at")  # fmt: skip
ATTEMPT_FIELDS: dict[str, tuple[str, object]] = {
    "task": ("i8", -1), "number": ("i4", 0), "runner": ("i4", -1), "thread": ("i4", 0),
    **dict.fromkeys(TIMES, ("f8", NAN)), "outcome": ("i1", -1), "runner_outcome": ("i1", -1),
    "reports": ("i8", 0), "expired_alive": ("?", False),
    # At the end of the run (or when frozen, after which neither can change): the attempt holds
    # the task's lease (`Task.live`), its SetTaskStatus FINISHED ended the task (`finished_by`).
    "live": ("?", False), "finished_task": ("?", False),
}  # fmt: skip

R = TypeVar("R", Task, Attempt)


class Records(Generic[R]):
    """The tasks (or attempts) of a run in the order they were logged: row i is the i-th appended.

    A record is the model's own object while anything can still change it (`open`, in row order)
    and a row of `columns` once frozen (`Log.freeze`). Indexing or iterating gives the object
    while it is open, and after that a copy rebuilt from its row (equal fields, not the same
    object; a copied task links to no attempt: the attempts' copies carry `live` and
    `finished_task`).
    """

    __slots__ = ("log", "open", "columns", "size", "_copy")

    def __init__(
        self, log: Log, fields: dict[str, tuple[str, object]], copy: Callable[[Log, int], R]
    ) -> None:
        self.log = log
        self.open: list[R] = []
        self.columns = Columns(fields)
        self.size = 0
        self._copy = copy

    def append(self, record: R) -> None:
        record.row = self.size
        self.size += 1
        self.open.append(record)
        log = self.log
        log.unfrozen += 1
        if log.unfrozen >= log.freeze_at:
            log.freeze()

    def __len__(self) -> int:
        return self.size

    def __bool__(self) -> bool:
        return self.size > 0

    @overload
    def __getitem__(self, i: int) -> R: ...
    @overload
    def __getitem__(self, i: slice) -> list[R]: ...
    def __getitem__(self, i: int | slice) -> R | list[R]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.size))]
        row = i + self.size if i < 0 else i
        if not 0 <= row < self.size:
            raise IndexError("record index out of range")
        open_ = self.open
        k = _bisect_rows(open_, row)
        if k < len(open_) and open_[k].row == row:
            return open_[k]
        return self._copy(self.log, row)

    def __iter__(self) -> Iterator[R]:
        open_ = iter(self.open)
        nxt = next(open_, None)
        for row in range(self.size):
            if nxt is not None and nxt.row == row:
                yield nxt
                nxt = next(open_, None)
            else:
                yield self._copy(self.log, row)

    def nbytes(self) -> int:
        """Bytes the columns hold (the open objects not counted)."""
        return self.columns.nbytes()


def _bisect_rows(records: list[R], row: int) -> int:
    lo, hi = 0, len(records)
    while lo < hi:
        mid = (lo + hi) // 2
        if records[mid].row < row:
            lo = mid + 1
        else:
            hi = mid
    return lo


class Faults:
    """The faults of a run as (runner, kind, start, end) tuples, in the order logged, kept in
    columns: a fault logged late in a week-long run would otherwise pin the memory of the finished
    model around it. Read and written like a list (`faults[i] = (...)` corrects a row)."""

    __slots__ = ("columns", "size", "runners", "kinds")

    def __init__(self, runners: Codes) -> None:
        self.columns = Columns(
            {"runner": ("i4", -1), "kind": ("i1", -1), "start": ("f8", NAN), "end": ("f8", NAN)}
        )
        self.size = 0
        self.runners = runners  # the log's runner names
        self.kinds: Codes = Codes()

    def append(self, fault: tuple[str, str, float, float]) -> None:
        self.columns.reserve(self.size + 1)
        self.size += 1
        self[self.size - 1] = fault

    def extend(self, faults: Iterable[tuple[str, str, float, float]]) -> None:
        for fault in faults:
            self.append(fault)

    def __setitem__(self, i: int, fault: tuple[str, str, float, float]) -> None:
        row = self._row(i)
        runner, kind, start, end = fault
        arrays = self.columns.arrays
        arrays["runner"][row] = self.runners[runner]
        arrays["kind"][row] = self.kinds[kind]
        arrays["start"][row] = start
        arrays["end"][row] = end

    def __getitem__(self, i: int) -> tuple[str, str, float, float]:
        row = self._row(i)
        a = self.columns.arrays
        return (self.runners.values[a["runner"][row]], self.kinds.values[a["kind"][row]],
                float(a["start"][row]), float(a["end"][row]))  # fmt: skip

    def _row(self, i: int) -> int:
        row = i + self.size if i < 0 else i
        if not 0 <= row < self.size:
            raise IndexError("fault index out of range")
        return row

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[str, str, float, float]]:
        return (self[i] for i in range(self.size))

    def arrays(self) -> dict[str, np.ndarray]:
        """runner and kind (codes), start, end: read-only views, in the order logged."""
        views = {}
        for name, array in self.columns.arrays.items():
            view = views[name] = array[: self.size]
            view.flags.writeable = False
        return views


class Log:
    """Everything one run records, appended to as the simulation goes."""

    #: Open records (tasks + attempts) that make the log look for ones to freeze; after a look
    #: it waits for twice as many as stayed open, so each record is looked at a few times at most.
    FREEZE_AFTER = 65_536

    def __init__(self) -> None:
        # Tasks in submission order (= task id order); attempts in assignment order.
        self.tasks: Records[Task] = Records(self, TASK_FIELDS, _task_copy)
        self.attempts: Records[Attempt] = Records(self, ATTEMPT_FIELDS, _attempt_copy)
        # Per operation (index POLL..HEARTBEAT): calls sent, throttled, lost (no reply: the
        # request never reached the service, or the reply never reached the runner), and of
        # those lost, the ones whose reply was lost (handled by the service all the same).
        self.calls = [0, 0, 0, 0]
        self.throttled = [0, 0, 0, 0]
        self.lost = [0, 0, 0, 0]
        self.lost_replies = [0, 0, 0, 0]
        # SetTaskStatus calls from superseded runners that took effect.
        self.stale_status_accepted = 0
        self.runners: list[RunnerRecord] = []  # in launch order
        # Codes of the frozen rows' categorical fields.
        self.kinds: Codes = Codes()
        self.runner_names: Codes = Codes()
        # (runner, kind, start, end), logged at the start with the planned end.
        self.faults = Faults(self.runner_names)
        self.statuses: Codes = Codes(STATUSES)
        self.outcomes: Codes = Codes(OUTCOMES)
        self.runner_outcomes: Codes = Codes(RUNNER_OUTCOMES)
        self.unfrozen = 0  # open records
        self.consumed = False  # the records were handed over to tables (`hand_over`)
        self.freeze_at = self.FREEZE_AFTER

    # --- freezing -----------------------------------------------------------------------------

    def freeze(self, everything: bool = False) -> int:
        """Freeze every task that nothing but the log (and its own attempts) refers to, with its
        attempts, into the columns; `everything`: all of them (the run is over). Returns how many
        records were frozen.

        A record is changed only through a reference to it, so one that nothing in the model
        refers to (no queue, timer, thread, poll or frame of running code) stays as it is: the
        reference counts tell, and the references inside a task's own records (`Task.live`,
        `finished_by`, `Attempt.task`, `fast`, `timer`) are told apart from the others.
        """
        tasks, attempts = self.tasks.open, self.attempts.open
        if everything:
            done_tasks, open_tasks = tasks, []
            done_attempts, open_attempts = attempts, []
        else:
            links, reached = _reached(attempts)
            free = _free(tasks, links, reached)
            # Split by C-level iterators rather than a loop (every record passes here once).
            is_free = list(map(free.__contains__, map(id, tasks)))
            done_tasks = list(compress(tasks, is_free))
            open_tasks = list(compress(tasks, map(not_, is_free)))
            is_free = list(map(free.__contains__, map(id, map(attrgetter("task"), attempts))))
            done_attempts = list(compress(attempts, is_free))
            open_attempts = list(compress(attempts, map(not_, is_free)))
        self.tasks.columns.reserve(self.tasks.size)
        self.attempts.columns.reserve(self.attempts.size)
        self._put_tasks(self.tasks.columns.arrays, done_tasks)
        self._put_attempts(self.attempts.columns.arrays, done_attempts)
        if not everything:
            # Unlinked, they are freed by reference counting (the cyclic collector is paused
            # during a run); nothing else refers to them.
            _unlink(done_tasks, done_attempts)
        self.tasks.open, self.attempts.open = open_tasks, open_attempts
        self.unfrozen = len(open_tasks) + len(open_attempts)
        self.freeze_at = max(self.FREEZE_AFTER, 2 * self.unfrozen)
        return len(done_tasks) + len(done_attempts)

    def close(self) -> None:
        """The run is over: freeze every record, and unlink them all, so that reference counting
        frees those nothing else refers to (their cycles would outlive them). The model is not
        run again, and the log gives out copies rebuilt from its columns (`_task_copy`), so no
        reference count need tell the records the model still holds from the others."""
        tasks, attempts = self.tasks.open, self.attempts.open
        self.freeze(everything=True)
        _unlink(tasks, attempts)

    def _put_tasks(self, arrays: dict[str, np.ndarray], tasks: list[Task]) -> None:
        """Write these tasks' fields into their rows of `arrays`."""
        if not tasks:
            return
        n = len(tasks)
        rows = _values(tasks, "row", np.dtype(np.int64))
        arrays["kind"][rows] = np.fromiter(map(self.kinds.__getitem__, _fields(tasks, "kind")),
                                           dtype=np.int32, count=n)  # fmt: skip
        arrays["status"][rows] = np.fromiter(
            map(self.statuses.__getitem__, _fields(tasks, "status")), dtype=np.int8, count=n
        )
        for name in ("id", "submitted_at", "work", "first_assigned_at", "ended_at",
                     "attempt_number", "retries_used", "attempts", "reassignments"):  # fmt: skip
            column = arrays[name]
            column[rows] = _values(tasks, name, column.dtype)

    def _put_attempts(self, arrays: dict[str, np.ndarray], attempts: list[Attempt]) -> None:
        """Write these attempts' fields into their rows of `arrays`."""
        if not attempts:
            return
        n = len(attempts)
        rows = _values(attempts, "row", np.dtype(np.int64))
        # Mapped with C-level getters rather than generator expressions: once per record.
        task = np.fromiter(map(attrgetter("task.row"), attempts), dtype=np.int64, count=n)
        if np.any(task < 0):
            raise ValueError("log inconsistent: every attempt's task must be in Log.tasks")
        arrays["task"][rows] = task
        for name, codes in (("runner", self.runner_names), ("outcome", self.outcomes),
                            ("runner_outcome", self.runner_outcomes)):  # fmt: skip
            column = arrays[name]
            column[rows] = np.fromiter(
                map(codes.__getitem__, _fields(attempts, name)), dtype=column.dtype, count=n
            )
        for name in ("number", "thread", *TIMES, "reports", "expired_alive"):
            column = arrays[name]
            column[rows] = _values(attempts, name, column.dtype)
        arrays["live"][rows] = np.fromiter(
            map(is_, map(attrgetter("task.live"), attempts), attempts), dtype=np.bool_, count=n
        )
        arrays["finished_task"][rows] = np.fromiter(
            map(is_, map(attrgetter("task.finished_by"), attempts), attempts),
            dtype=np.bool_, count=n,
        )  # fmt: skip

    # --- reading --------------------------------------------------------------------------------

    def task_columns(self) -> dict[str, np.ndarray]:
        """Every task's fields as arrays in row order (codes for kind and status).

        Read-only views of the log's own columns, the open tasks written into their rows as they
        are now (a freeze writes them again if they change).
        """
        return self._columns(self.tasks, self._put_tasks, TASK_FIELDS, False)

    def attempt_columns(self) -> dict[str, np.ndarray]:
        """Every attempt's fields as arrays in row order (`task` is the task's row; codes for
        runner, outcome and runner_outcome), as `task_columns`."""
        return self._columns(self.attempts, self._put_attempts, ATTEMPT_FIELDS, False)

    def hand_over(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The task and attempt columns themselves (arrays that may be longer than the rows),
        the log left without records (`consumed`): a large run's records are not held twice
        while its tables are built."""
        tasks = self._columns(self.tasks, self._put_tasks, TASK_FIELDS, True)
        attempts = self._columns(self.attempts, self._put_attempts, ATTEMPT_FIELDS, True)
        self.consumed = True
        return tasks, attempts

    def _columns(
        self, records: Records[R], put: Callable[[dict[str, np.ndarray], list[R]], None],
        fields: dict[str, tuple[str, object]], hand_over: bool,
    ) -> dict[str, np.ndarray]:  # fmt: skip
        if self.consumed:
            raise ValueError("this log's records were handed over to its tables already")
        n = records.size
        columns = records.columns
        columns.reserve(n)
        put(columns.arrays, records.open)
        if hand_over:
            self.unfrozen -= len(records.open)
            records.open, records.columns, records.size = [], Columns(fields), 0
            return {name: a if len(a) == n else a[:n] for name, a in columns.arrays.items()}
        views = {}
        for name, array in columns.arrays.items():
            view = views[name] = array[:n]
            view.flags.writeable = False
        return views


def _fields(records: list[Task] | list[Attempt], name: str) -> Iterator[object]:
    return map(attrgetter(name), records)


def _values(records: list[Task] | list[Attempt], name: str, dtype: np.dtype) -> np.ndarray:
    """Field `name` of each record, as an array."""
    return np.fromiter(map(attrgetter(name), records), dtype=dtype, count=len(records))


def _unlink(tasks: list[Task], attempts: list[Attempt]) -> None:
    """Break the cycles between frozen records (a task and its live or finishing attempt, an
    attempt and its schedule or lease timer)."""
    for attempt in attempts:
        attempt.fast = None
        attempt.timer = None
    for task in tasks:
        task.live = None
        task.finished_by = None


def _reached(attempts: list[Attempt]) -> tuple[dict[int, int], set[int]]:
    """For the open attempts: per task (by `id`), how many of them refer to it; and the tasks one
    of whose attempts something outside its task's records refers to."""
    getrefcount = sys.getrefcount
    links: dict[int, int] = {}
    reached: set[int] = set()
    for a in attempts:
        task = a.task
        key = id(task)
        links[key] = links.get(key, 0) + 1
        inside = (task.live is a) + (task.finished_by is a)
        # Its bulk-report schedule and its lease timer refer back to it: inside too, when
        # nothing but the attempt refers to them (a pending timer is in SimPy's queue).
        fast = a.fast
        if fast is not None and fast.attempt is a and getrefcount(fast) == REFERENCES:
            inside += 1
        timer = a.timer
        if (
            timer is not None
            and getattr(timer, "attempt", None) is a
            and getrefcount(timer) == REFERENCES
        ):
            inside += 1
        if getrefcount(a) != REFERENCES + inside:
            reached.add(key)
    return links, reached


def _free(tasks: list[Task], links: dict[int, int], reached: set[int]) -> set[int]:
    """The open tasks (by `id`) that nothing refers to but the log and their own attempts."""
    getrefcount = sys.getrefcount
    free: set[int] = set()
    for t in tasks:
        key = id(t)
        if key not in reached and getrefcount(t) == REFERENCES + links.get(key, 0):
            free.add(key)
    return free


def _task_copy(log: Log, row: int) -> Task:
    """A frozen task rebuilt from its row."""
    c = log.tasks.columns.arrays
    task = Task(int(c["id"][row]), log.kinds.values[c["kind"][row]], float(c["submitted_at"][row]),
                float(c["work"][row]))  # fmt: skip
    task.row = row
    task.first_assigned_at = float(c["first_assigned_at"][row])
    task.ended_at = float(c["ended_at"][row])
    task.status = log.statuses.values[c["status"][row]]
    for name in ("attempt_number", "retries_used", "attempts", "reassignments"):
        setattr(task, name, int(c[name][row]))
    return task


def _attempt_copy(log: Log, row: int) -> Attempt:
    """A frozen attempt rebuilt from its row, with a copy of its task (linked to it as its live
    or finishing attempt when it was one)."""
    c = log.attempts.columns.arrays
    task = log.tasks[int(c["task"][row])]
    a = Attempt(task, int(c["number"][row]), log.runner_names.values[c["runner"][row]],
                int(c["thread"][row]), float(c["assigned_at"][row]))  # fmt: skip
    a.row = row
    for name in TIMES[1:]:
        setattr(a, name, float(c[name][row]))
    a.outcome = log.outcomes.values[c["outcome"][row]]
    a.runner_outcome = log.runner_outcomes.values[c["runner_outcome"][row]]
    a.reports = int(c["reports"][row])
    a.expired_alive = bool(c["expired_alive"][row])
    if c["live"][row] and task.live is None:
        task.live = a
    if c["finished_task"][row] and task.finished_by is None:
        task.finished_by = a
    return a
