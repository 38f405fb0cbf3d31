"""The lease rules' invariants, asserted while the simulation runs (`simulation.check_invariants`).

The model keeps these by construction; checking them on every step catches a change that breaks
one at the moment it happens, with the task and the time, instead of as a wrong number later.
"""

from __future__ import annotations

from simulator.model.clock import EPSILON
from simulator.model.log import Attempt, BulkReports, Log, Task


class InvariantViolation(AssertionError):
    """A rule of the model was broken: a bug in leasesim, not in the scenario."""


class Invariants:
    """Checks called by the service and the runners at the moments a rule could be broken."""

    def __init__(self, log: Log, heartbeats_renew: bool = False) -> None:
        self.log = log
        # Runner heartbeats renew leases too (`heartbeat_renews_leases`): reports may then be
        # further apart than the lease without losing it.
        self.heartbeats_renew = heartbeats_renew
        self.handled = [0, 0, 0, 0]  # calls that reached a handler, per operation
        self.in_flight = [0, 0, 0, 0]  # calls sent whose request has not arrived yet
        self.last_time = 0.0

    @staticmethod
    def fail(message: str) -> None:
        raise InvariantViolation(message)

    def assigned(self, task: Task) -> None:
        """At most one live lease per task: a task is handed out only while nobody holds it."""
        if task.live is not None:
            self.fail(f"task {task.id} assigned while attempt {task.live.number} holds its lease")
        if task.status != "pending":
            self.fail(f"task {task.id} assigned while {task.status}")

    def lease_renewed(self, attempt: Attempt, now: float) -> None:
        """A lease is renewed only by its holder, and only before it ran out."""
        if attempt.task.live is not attempt:
            self.fail(f"task {attempt.task.id}: a superseded attempt renewed the lease")
        deadline = attempt.deadline
        if deadline == deadline and now > deadline + EPSILON:
            self.fail(f"task {attempt.task.id}: lease renewed at {now} past deadline {deadline}")

    def bulk_reports(self, schedule: BulkReports, sent: int, live: int) -> None:
        """Reports counted in bulk (fast mode) obey the same rule as reports one by one."""
        self.handled[1] += sent
        if live:
            attempt = schedule.attempt
            if schedule.start > attempt.deadline + EPSILON:
                self.fail(f"task {attempt.task.id}: bulk reports began after the lease ran out")
            # Each report must come before the lease the one before it set runs out; an
            # acknowledging schedule's first report sets `first` (e.g. two_stage's 5 minutes),
            # which may be longer than `renew`.
            interval = schedule.interval
            after_renewals = live - 2 if schedule.acks else live - 1
            if not self.heartbeats_renew and (
                (after_renewals > 0 and interval > schedule.renew + EPSILON)
                or (schedule.acks and live > 1 and interval > schedule.first + EPSILON)
            ):
                self.fail(f"task {attempt.task.id}: bulk reports further apart than the lease")

    def attempt_ends(self, attempt: Attempt) -> None:
        """Every attempt ends exactly once, and only while it holds the lease."""
        if attempt.ended_at == attempt.ended_at:
            self.fail(f"task {attempt.task.id} attempt {attempt.number} ended twice")
        if attempt.task.live is not attempt:
            self.fail(f"task {attempt.task.id}: an attempt without the lease ended")

    def task_ends(self, task: Task) -> None:
        """A task ends at most once."""
        if task.ended_at == task.ended_at:
            self.fail(f"task {task.id} ended twice ({task.status} at {task.ended_at})")

    def time_moves_on(self, now: float) -> None:
        """Simulated time never goes back."""
        if now < self.last_time:
            self.fail(f"time went back from {self.last_time} to {now}")
        self.last_time = now

    def work_completed(self, attempt: Attempt, now: float) -> None:
        """Work done never exceeds the wall time the thread spent on it."""
        if now - attempt.work_started_at < attempt.task.work - 1e-6:
            self.fail(
                f"task {attempt.task.id}: {attempt.task.work}s of work done in "
                f"{now - attempt.work_started_at}s"
            )

    def at_end(self) -> None:
        """Call counts equal the events that produced them."""
        log = self.log
        for op, handled in enumerate(self.handled):
            lost_requests = log.lost[op] - log.lost_replies[op]  # a lost reply was handled
            reached = log.calls[op] - lost_requests - log.throttled[op] - self.in_flight[op]
            if reached != handled:
                self.fail(f"operation {op}: {reached} calls arrived, {handled} handled")
        unended: dict[int, list[Attempt]] = {}
        for a in log.attempts:
            if a.ended_at != a.ended_at:
                unended.setdefault(a.task.id, []).append(a)
        for live in unended.values():
            task = live[0].task
            if len(live) > 1 or task.live is not live[0]:
                self.fail(f"task {task.id} ends the run with {len(live)} unended attempts")
        for task in log.tasks:
            if task.live is not None and task.live.task.id not in unended:
                self.fail(f"task {task.id} holds a lease for an attempt that has ended")
