"""Append-only records of one run: tasks, attempts, faults and call counts, in plain Python objects.

The model mutates these records in place as things happen (no copies on the hot path); the results
layer turns them into DataFrames once, at the end of the run. Times are float seconds; NaN = never.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

NAN = float("nan")

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
        "attempt_number", "retries_used", "live", "attempts", "reassignments", "finished_by",
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


class BulkReports(Protocol):
    """A holder's reports counted in bulk (fast mode's `fast.schedule.FastSchedule`), as the
    records, the service and the invariants see them through `Attempt.fast`: reports at start,
    start + interval, ... each renewing the lease for `renew` seconds."""

    start: float
    interval: float
    renew: float
    attempt: Attempt

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
        "crashed_at", "reports", "deadline", "timer", "fast", "expired_alive",
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


@dataclass
class Log:
    """Everything one run records, appended to as the simulation goes."""

    tasks: list[Task] = field(default_factory=list)  # in submission order (= task id order)
    attempts: list[Attempt] = field(default_factory=list)  # in assignment order
    # (runner, kind, start, end), logged at the start with the planned end.
    faults: list[tuple[str, str, float, float]] = field(default_factory=list)
    # Per operation (index POLL..HEARTBEAT): calls sent, throttled, lost (no reply: the request
    # never reached the service, or the reply never reached the runner), and of those lost, the
    # ones whose reply was lost (handled by the service all the same).
    calls: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    throttled: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    lost: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    lost_replies: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    stale_status_accepted: int = 0  # SetTaskStatus calls from superseded runners that took effect
    runners: list[RunnerRecord] = field(default_factory=list)  # in launch order

