"""The simulated Data Pipeline web service: ready queues, long polls, leases and the four calls.

Each method is one API call as the service handles it when the request arrives; the caller (a
runner thread) has already paid the call's latency and survived message loss. Replies are small
ints, or an `Attempt` / `Poll` for PollForTask.

The service knows its callers only through `Client` (a poll thread) and `Holder` (a runner's
heartbeat): it never reads or writes a runner's state. A task reaches a held poll through the poll
itself (`Poll.deliver`). Fast mode's standing polls and bulk-counted leases are a layer on top
(`simulator.model.fast.service`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from heapq import heappush
from typing import Protocol

import numpy as np
from simpy import Environment, Event
from simpy.events import NORMAL, PENDING, Timeout

from simulator.model.clock import due, succeed_next
from simulator.model.invariants import Invariants
from simulator.model.lease import LeaseTimer
from simulator.model.log import HEARTBEAT, NAN, POLL, PROGRESS, STATUS, Attempt, Log, Task
from simulator.model.throttle import TokenBucket
from simulator.scenario.schema import Service as ServiceConfig
from simulator.seeds import Stream

# Replies.
OK, CANCELED, NOT_FOUND, THROTTLED, LOST = 0, 1, 2, 3, 4


class Client(Protocol):
    """What the service knows of a caller of PollForTask: a poll thread of some runner."""

    name: str  # its runner's name, recorded on the attempts it holds
    index: int  # its place among its runner's threads, recorded too
    worker_group: str  # the queue it polls
    rank: float  # its place among polls of one instant (`Poll`)

    def reply_lost(self, op: int) -> bool:
        """Whether the reply to a call handled now is lost on its way back (counted)."""
        ...


class Holder(Protocol):
    """What the service knows of a caller of ReportTaskRunnerHeartbeat: the leases it holds."""

    def leases(self) -> Iterable[Attempt | None]:
        """The attempt each of the runner's threads holds (None: idle)."""
        ...


class Poll:
    """A PollForTask call held open by the service until a task is ready or the hold ends.

    `rank` orders polls that arrived in the same instant (e.g. the threads of one runner): its
    thread's rank, a random draw made when the runner is created (`Runner.ranks`), so that such
    ties go to a random thread rather than to the one the scenario file happens to list first.
    Fast mode's standing cycles are ordered by the same rank (`StandingPoll.key`).
    """

    __slots__ = ("client", "event", "open", "arrival", "rank", "lost", "ran_out")

    def __init__(self, client: Client, event: Event, arrival: float, rank: float) -> None:
        self.client = client
        self.event = event
        self.open = True
        self.arrival = arrival
        self.rank = rank
        self.lost = False  # the reply that handed it a task was lost (`Service._hand_over`)
        self.ran_out = False  # its hold's timer ended it (`Service._end_hold`)

    def deliver(self, attempt: Attempt) -> None:
        """The reply carries a task: the waiting thread receives it."""
        self.event.succeed(attempt)

    def end(self) -> None:
        """The hold ends with nothing: the waiting thread receives the empty reply.

        Ended by its timer (`ran_out`), as the timer's last act, the reply is often the very next
        event: it is then handed over at once (`clock.succeed_next`). Most polls of an idle fleet
        end this way, and each would otherwise take a second trip through the event queue.
        """
        if self.ran_out:
            succeed_next(self.event, None)
        else:
            self.event.succeed(None)


class WorkerGroup:
    """One worker group's ready queue and the polls waiting on it (served in arrival order)."""

    __slots__ = ("name", "ready", "polls", "rng")

    def __init__(self, name: str, rng: np.random.Generator | None) -> None:
        self.name = name
        self.ready: deque[Task] | list[Task] = deque() if rng is None else []
        self.polls: deque[Poll] = deque()
        self.rng = rng  # set for `dispatch: random`

    def pop_ready(self) -> Task | None:
        ready = self.ready
        while ready:
            if self.rng is None:
                task = ready.popleft()  # type: ignore[union-attr]
            else:
                i = int(self.rng.integers(len(ready)))
                ready[i], ready[-1] = ready[-1], ready[i]
                task = ready.pop()
            # A stale writer may have ended a queued task (first/last writer wins): skip it.
            if task.status == "pending":
                return task
        return None

    def pop_poll(self, now: float) -> Poll | None:
        """The waiting poll that arrived first (polls closed meanwhile are dropped)."""
        polls = self.polls
        while polls and not polls[0].open:
            polls.popleft()
        return polls.popleft() if polls else None

    def hold(self, poll: Poll) -> None:
        """Queue a held poll: in arrival order, polls of the same instant by rank."""
        polls = self.polls
        arrival, rank = poll.arrival, poll.rank
        at = len(polls)
        while at:
            last = polls[at - 1]
            if last.arrival < arrival or (last.arrival == arrival and last.rank < rank):
                break
            at -= 1
        if at == len(polls):
            polls.append(poll)
        else:
            polls.insert(at, poll)


class Service:
    """The Data Pipeline service as task runners see it, under the scenario's readings."""

    def __init__(
        self, env: Environment, config: ServiceConfig, log: Log, groups: list[str],
        dispatch: Stream, checks: Invariants | None = None,
    ) -> None:  # fmt: skip
        self.env = env
        self.checks = checks
        self.config = config
        self.log = log
        rng = dispatch() if config.dispatch == "random" else None
        self.groups = {g: self._group(g, rng, config.long_poll) for g in groups}
        throttle = config.throttle
        self.buckets: list[TokenBucket | None] = (
            [None] * 4
            if throttle is None
            else [
                TokenBucket(rate, throttle.burst)
                for rate in (throttle.poll, throttle.progress, throttle.status, throttle.heartbeat)
            ]
        )
        self.long_poll = config.long_poll
        self.stale_progress = {"canceled": CANCELED, "not_found": NOT_FOUND, "accepted": OK}[
            config.stale_progress
        ]
        self.stale_status = config.stale_status
        self.on_expiry = config.on_lease_expiry
        self.heartbeat_renews = config.heartbeat_renews_leases
        # Hold timers processed and held by nobody: queued again by the next holds (`_hold`).
        self._spare: list[Timeout] = []

    @staticmethod
    def _group(name: str, rng: np.random.Generator | None, long_poll: float) -> WorkerGroup:
        return WorkerGroup(name, rng)

    # --- throttling ------------------------------------------------------------------------------

    def admit(self, op: int) -> bool:
        """Whether the account's rate limit lets this call through (a throttled call fails)."""
        bucket = self.buckets[op]
        if bucket is None or bucket.take(self.env._now):
            return True
        self.log.throttled[op] += 1
        return False

    # --- tasks entering the queues ---------------------------------------------------------------

    def submit(self, task: Task) -> None:
        """A new task becomes ready in its worker group."""
        self.log.tasks.append(task)
        self._offer(task)

    def _ready(self, task: Task) -> None:
        """A retry whose delay has passed becomes ready, unless its task has ended meanwhile."""
        if task.status != "pending":  # ended by a stale writer while waiting for its retry
            return
        self._offer(task)

    def _offer(self, task: Task) -> None:
        """A ready task goes to the group's first waiting poll, or joins its ready queue."""
        group = self.groups[task.kind.worker_group]
        poll = group.pop_poll(self.env._now)
        if poll is None:
            group.ready.append(task)
            return
        # A held poll gets the first task that becomes ready (reference section 1).
        self._hand_over(poll, task)

    def _hand_over(self, poll: Poll, task: Task) -> None:
        """Answer a held poll with `task`: a new attempt, delivered unless the reply is lost."""
        poll.open = False
        client = poll.client
        if client.reply_lost(POLL):
            # The reply carrying the task never reaches the runner (a partition in force now, or
            # message loss): the task is assigned to a thread that never hears of it, and its
            # acknowledgement window runs out; the thread gives up when the hold would have ended.
            poll.open, poll.lost = True, True
            self._assign(task, client).runner_outcome = "unheard"
            return
        poll.deliver(self._assign(task, client))

    def finish(self, until: float) -> None:
        """The run ends at `until` (a hook: the fast layer counts its standing polls here)."""

    def ready_tasks(self, worker_group: str) -> int:
        """Tasks ready to poll in `worker_group` now (a read-only query, as a queue-depth metric
        would give it to an auto-scaler; tasks a stale writer ended while queued are left out)."""
        group = self.groups.get(worker_group)
        if group is None:
            return 0
        return sum(task.status == "pending" for task in group.ready)

    def _retry_later(self, event: Event) -> None:
        self._ready(event.value)

    # --- PollForTask -----------------------------------------------------------------------------

    def poll_for_task(self, client: Client) -> Attempt | Poll:
        """A ready task at once, else a poll held for `long_poll` (empty reply when it ends)."""
        group = self.groups[client.worker_group]
        task = group.pop_ready() if group.ready else None  # an idle fleet's polls find none
        if task is not None:
            return self._assign(task, client)
        return self._hold(client, group)

    def _hold(self, client: Client, group: WorkerGroup) -> Poll:
        """Hold a poll open for `long_poll`."""
        env = self.env
        now = env._now
        # `Event(env)` and `env.timeout(...)` inlined (most polls of an idle fleet are held): the
        # same events, the timer queued alike, with its one callback.
        event = Event.__new__(Event)
        event.env, event.callbacks, event._value = env, [], PENDING
        poll = Poll(client, event, now, client.rank)
        polls = group.polls
        if polls and polls[-1].arrival >= now:  # behind a poll of this same instant: by rank
            group.hold(poll)
        else:
            polls.append(poll)
        spare = self._spare
        delay = self.long_poll
        if spare:
            timer = spare.pop()
            timer.callbacks, timer._value, timer._delay = [self._end_hold], poll, delay
        else:
            # Attributes set in `Timeout.__init__`'s order: every timeout then shares its keys.
            timer = Timeout.__new__(Timeout)
            timer.env, timer.callbacks, timer._value = env, [self._end_hold], poll
            timer._delay, timer._ok = delay, True
        heappush(env._queue, (now + delay, NORMAL, next(env._eid), timer))  # type: ignore[attr-defined]
        return poll

    def _end_hold(self, event: Event) -> None:
        poll: Poll = event._value  # (not `value`: a property, on every held poll's end)
        # The timer is processed (this is its only callback) and nobody else holds it: the next
        # hold may queue it again, even one this very callback leads to.
        self._spare.append(event)  # type: ignore[arg-type]
        if poll.open:
            poll.open = False
            if not poll.lost:
                # The empty reply may be lost too: counted, but the runner gives up at this very
                # time without it (the end of a long poll), so nothing else changes.
                poll.client.reply_lost(POLL)
            # The timer's only callback, and this its last act: `Poll.end` may hand over at once.
            poll.ran_out = True
            poll.end()

    def _assign(self, task: Task, client: Client, timer: bool = True) -> Attempt:
        """A new attempt of `task`, held by `client`; `timer`: arm its acknowledgement timer.

        The timer is left out only when the thread acknowledges in this same instant (the fast
        layer's hand-over): the first report's lease replaces the window before it matters.
        """
        now = self.env._now
        if self.checks is not None:
            self.checks.assigned(task)
        attempt = Attempt(task, task.attempt_number, client.name, client.index, now)
        task.live = attempt
        task.status = "running"
        if task.first_assigned_at != task.first_assigned_at:  # NaN: first assignment
            task.first_assigned_at = now
        task.attempts += 1
        self.log.attempts.append(attempt)
        kind = task.kind
        # Until the first ReportTaskProgress the lease is the acknowledgement window (2 min).
        attempt.deadline = now + kind.timeouts[0]
        if timer:
            attempt.timer = LeaseTimer(self.env, kind.timeouts[0], attempt, self._check_lease)
        if kind.attempt_timeout is not None:
            LeaseTimer(self.env, kind.attempt_timeout, attempt, self._check_attempt_timeout)
        return attempt

    # --- leases ----------------------------------------------------------------------------------

    def _check_lease(self, timer: Event) -> None:
        attempt: Attempt = timer.attempt  # type: ignore[attr-defined]
        if attempt.task.live is not attempt or attempt.timer is not timer:
            return
        now = self.env._now
        deadline = attempt.deadline
        if not due(deadline, now):  # renewed since this timer was armed: watch the new deadline
            attempt.timer = LeaseTimer(self.env, deadline - now, attempt, self._check_lease)
            return
        self._expire(attempt)

    def _expire(self, attempt: Attempt) -> None:
        """The lease ran out: the task is taken back; the holder is not told (reference 3.4)."""
        now = self.env._now
        task = attempt.task
        attempt.lease_lost_at = now
        attempt.expired_alive = attempt.runner_outcome != "crashed"
        self._end_attempt(
            attempt, "progress_timeout" if self._acknowledged(attempt) else "ack_timeout"
        )
        task.reassignments += 1
        if self.on_expiry == "fail_and_retry":
            self._fail(task, delay=True)
        elif self.on_expiry == "new_attempt_no_delay":
            self._fail(task, delay=False)
        else:  # reassign_same_attempt: pollable at once, same attempt number, no retry used
            task.status = "pending"
            self._ready(task)

    def _acknowledged(self, attempt: Attempt) -> bool:
        """Whether the holder's acknowledgement (its first report) has reached the service."""
        return attempt.reports > 0

    def _check_attempt_timeout(self, timer: Event) -> None:
        attempt: Attempt = timer.attempt  # type: ignore[attr-defined]
        if attempt.task.live is attempt:
            # attemptTimeout: an attempt not complete this long after it started is marked failed.
            self._end_attempt(attempt, "attempt_timeout")
            self._fail(attempt.task, delay=True)

    def _fail(self, task: Task, delay: bool) -> None:
        """An attempt failed: retry after retryDelay while retries remain, else the task FAILED."""
        if task.retries_used >= task.kind.max_retries:
            self._end_task(task, "failed")
            return
        task.retries_used += 1
        task.attempt_number += 1
        task.status = "pending"
        if delay and task.kind.retry_delay > 0:
            self.env.timeout(task.kind.retry_delay, task).callbacks.append(self._retry_later)
        else:
            self._ready(task)

    def _end_attempt(self, attempt: Attempt, outcome: str) -> None:
        """The live attempt ends on the service's side; the task holds no lease until the next."""
        if self.checks is not None:
            self.checks.attempt_ends(attempt)
        attempt.ended_at = self.env._now
        attempt.outcome = outcome
        attempt.task.live = None
        # The lease is gone: a pending timer finds the attempt ended, and nothing reads these again
        # (dropping them keeps week-long runs of thousands of runners small).
        attempt.timer = None
        attempt.deadline = NAN

    def _end_task(self, task: Task, status: str, finished_by: Attempt | None = None) -> None:
        if self.checks is not None:
            self.checks.task_ends(task)
        task.status = status
        task.ended_at = self.env._now
        task.finished_by = finished_by

    # --- ReportTaskProgress ----------------------------------------------------------------------

    def report_progress(self, attempt: Attempt) -> int:
        """The first report acknowledges the task; each one renews the lease of its holder."""
        task = attempt.task
        if task.live is not attempt:
            return self.stale_progress
        now = self.env._now
        if self.checks is not None:
            self.checks.lease_renewed(attempt, now)
        reports = attempt.reports
        if reports:
            deadline = now + task.kind.timeouts[2]
        else:  # the first: the acknowledgement
            attempt.acked_at = now
            deadline = now + task.kind.timeouts[1]
        attempt.reports = reports + 1
        if deadline < attempt.deadline:
            # A shorter lease than before (e.g. 5 min after a 15-min acknowledgement window): the
            # pending timer would fire too late, so a new one takes over.
            attempt.timer = LeaseTimer(self.env, deadline - now, attempt, self._check_lease)
        attempt.deadline = deadline
        return OK

    # --- SetTaskStatus ---------------------------------------------------------------------------

    def set_task_status(self, attempt: Attempt, finished: bool) -> int:
        """FINISHED or FAILED ends the holder's attempt; a superseded writer per `stale_status`."""
        task = attempt.task
        if task.live is attempt:
            if finished:
                self._end_attempt(attempt, "finished")
                self._end_task(task, "finished", attempt)
            else:
                self._end_attempt(attempt, "failed")
                self._fail(task, delay=True)
            return OK
        return self._stale_status(attempt, finished)

    def _stale_status(self, attempt: Attempt, finished: bool) -> int:
        # A stale FAILED repeats what the service already decided (the attempt's lease failed);
        # only a stale FINISHED can change the task's outcome, by the chosen reading (3.4).
        task = attempt.task
        ended = task.status in ("finished", "failed")
        if self.stale_status == "rejected":
            return NOT_FOUND
        if self.stale_status == "first_writer_wins":
            if ended:
                return NOT_FOUND
            if finished:
                self._finish_by_stale(task, attempt)
            return OK
        # last_writer_wins: the last status written is the task's status, and the task ends when
        # it was written: `ended_at` (hence every latency) follows the final status change, so
        # a FAILED task flipped to FINISHED by its late holder ends when the holder's FINISHED
        # lands, not when the service failed it (issue 13 A3: latency was shorter than the work).
        if not ended:
            if finished:
                self._finish_by_stale(task, attempt)
        elif task.status == "finished" and not finished:
            task.status = "failed"
            task.finished_by = None
            task.ended_at = self.env._now
            self.log.stale_status_accepted += 1
        elif task.status == "failed" and finished:
            task.status = "finished"
            task.finished_by = attempt
            task.ended_at = self.env._now
            self.log.stale_status_accepted += 1
        return OK

    def _finish_by_stale(self, task: Task, attempt: Attempt) -> None:
        if task.live is not None:
            self._end_attempt(task.live, "superseded")
        self._end_task(task, "finished", attempt)
        self.log.stale_status_accepted += 1

    # --- ReportTaskRunnerHeartbeat ---------------------------------------------------------------

    def runner_heartbeat(self, runner: Holder) -> int:
        """Counted; renews the runner's task leases only if the scenario says so (reference 3.5)."""
        if self.heartbeat_renews:
            now = self.env._now
            for attempt in runner.leases():
                if attempt is not None and attempt.task.live is attempt and attempt.reports:
                    renewed = now + attempt.task.kind.timeouts[2]
                    if renewed > attempt.deadline:
                        attempt.deadline = renewed
        return OK

    def handle(self, op: int, caller: object, finished: bool = True) -> object:
        """Dispatch one admitted call to its handler."""
        if self.checks is not None:
            self.checks.handled[op] += 1
        if op == PROGRESS:
            return self.report_progress(caller)  # type: ignore[arg-type]
        if op == POLL:
            return self.poll_for_task(caller)  # type: ignore[arg-type]
        if op == STATUS:
            return self.set_task_status(caller, finished)  # type: ignore[arg-type]
        if op == HEARTBEAT:
            return self.runner_heartbeat(caller)  # type: ignore[arg-type]
        raise ValueError(f"unknown operation {op}")
