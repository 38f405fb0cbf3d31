"""The simulated Data Pipeline web service: ready queues, long polls, leases and the four calls.

Each method is one API call as the service handles it when the request arrives; the caller (a
runner thread) has already paid the call's latency and survived message loss. Replies are small
ints, or an `Attempt` / `Poll` for PollForTask.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque
from typing import TYPE_CHECKING

import numpy as np
from simpy import Environment, Event

from simulator.model.clock import due, ticks_before
from simulator.model.invariants import Invariants
from simulator.model.lease import LeaseTimer
from simulator.model.log import HEARTBEAT, NAN, POLL, PROGRESS, STATUS, Attempt, Log, Task
from simulator.model.throttle import TokenBucket
from simulator.scenario.schema import Service as ServiceConfig
from simulator.seeds import Stream

if TYPE_CHECKING:
    from simulator.model.runner import Runner, Thread

# Replies.
OK, CANCELED, NOT_FOUND, THROTTLED, LOST = 0, 1, 2, 3, 4


class Poll:
    """A PollForTask call held open by the service until a task is ready or the hold ends.

    `rank` orders polls that arrived in the same instant (e.g. the threads of one runner): its
    thread's rank, a random draw made when the runner is created (`Runner.ranks`), so that such
    ties go to a random thread rather than to the one the scenario file happens to list first.
    Fast mode's standing cycles are ordered by the same rank (`StandingPoll.key`).
    """

    __slots__ = ("thread", "event", "open", "arrival", "rank", "lost")

    def __init__(self, thread: Thread, event: Event, arrival: float, rank: float) -> None:
        self.thread = thread
        self.event = event
        self.open = True
        self.arrival = arrival
        self.rank = rank
        self.lost = False  # the reply that handed it a task was lost (`Service._ready`)


class StandingPoll:
    """Fast mode: an idle thread's polls, one every `long_poll` from `first`, none simulated.

    An idle thread whose calls are instant and never lost polls again the moment each hold ends,
    so its polls arrive on a fixed cycle; its place in the queue of waiting polls follows from
    the cycle's phase, and the polls are counted when it leaves the cycle.
    """

    __slots__ = ("thread", "event", "first", "key")

    def __init__(
        self, thread: Thread, event: Event, first: float, key: tuple[float, float]
    ) -> None:
        self.thread = thread
        self.event = event
        self.first = first
        self.key = key  # (phase within the cycle, thread's rank): the order of the cycles


class WorkerGroup:
    """One worker group's ready queue and the polls waiting on it (served in arrival order)."""

    __slots__ = ("name", "ready", "polls", "rng", "standing", "cycle")

    def __init__(self, name: str, rng: np.random.Generator | None, cycle: float) -> None:
        self.name = name
        self.ready: deque[Task] | list[Task] = deque() if rng is None else []
        self.polls: deque[Poll] = deque()
        self.rng = rng  # set for `dispatch: random`
        self.standing: list[tuple[float, float, StandingPoll]] = []  # sorted by phase, rank
        self.cycle = cycle  # long_poll: the period of standing polls

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

    def pop_poll(self, now: float) -> Poll | StandingPoll | None:
        """The waiting poll that arrived first: FIFO over held polls and standing cycles."""
        polls = self.polls
        while polls and not polls[0].open:
            polls.popleft()
        standing = self.standing
        if standing:
            # The cycle whose latest poll is oldest: the first phase after now's (cyclically).
            cycle = self.cycle
            i = bisect_right(standing, (now % cycle, math.inf))
            if i == len(standing):
                i = 0
            phase, rank, _ = standing[i]
            latest = now - (now - phase) % cycle
            # Same instant (the cycles and the held poll began together): the lower rank first.
            if not polls or (latest, rank) < (polls[0].arrival, polls[0].rank):
                return standing.pop(i)[2]
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

    def stand(self, thread: Thread, now: float, event: Event) -> StandingPoll:
        """A poll that will be renewed at every hold's end, none of them simulated."""
        key = (now % self.cycle, thread.rank)
        standing = StandingPoll(thread, event, now, key)
        insort(self.standing, (*key, standing))
        return standing

    def remove(self, standing: StandingPoll) -> None:
        """Stop a standing cycle."""
        i = bisect_left(self.standing, standing.key)
        if i < len(self.standing) and self.standing[i][2] is standing:
            del self.standing[i]

    def leave(self, standing: StandingPoll, now: float) -> Poll:
        """Stop a standing cycle: its current poll becomes a held poll, as in exact mode."""
        self.remove(standing)
        poll = self.current(standing, now)
        self.hold(poll)
        return poll

    def current(self, standing: StandingPoll, now: float) -> Poll:
        """A standing cycle's current poll, as the held poll it is in exact mode (not queued)."""
        cycle = self.cycle
        arrival = standing.first + cycle * math.floor((now - standing.first) / cycle)
        # The cycle's polls keep their place among polls of the same instant (exact mode's order).
        return Poll(standing.thread, standing.event, arrival, standing.key[1])

    def repolls(self, standing: StandingPoll, now: float) -> int:
        """Polls of a standing cycle after its first, sent before `now`."""
        return max(0, ticks_before(now, standing.first, self.cycle) - 1)


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
        self.groups = {g: WorkerGroup(g, rng, config.long_poll) for g in groups}
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

    # --- throttling ------------------------------------------------------------------------------

    def admit(self, op: int) -> bool:
        """Whether the account's rate limit lets this call through (a throttled call fails)."""
        bucket = self.buckets[op]
        if bucket is None or bucket.take(self.env.now):
            return True
        self.log.throttled[op] += 1
        return False

    # --- tasks entering the queues ---------------------------------------------------------------

    def submit(self, task: Task) -> None:
        """A new task (or a retry whose delay has passed) becomes ready in its worker group."""
        self.log.tasks.append(task)
        self._ready(task)

    def _ready(self, task: Task) -> None:
        if task.status != "pending":  # ended by a stale writer while waiting for its retry
            return
        group = self.groups[task.kind.worker_group]
        now = self.env.now
        poll = group.pop_poll(now)
        if poll is None:
            group.ready.append(task)
            return
        # A held poll gets the first task that becomes ready (reference section 1).
        thread = poll.thread
        if poll.__class__ is StandingPoll:
            self.count_repolls(group.repolls(poll, now))  # type: ignore[arg-type]
            thread.standing = None
            if thread.acks_at_once():
                thread.take(self._assign(task, thread, timer=False))
                return
            if thread.runner.cut_off(now):
                # A partition began in this instant and the thread has not left its cycle yet:
                # its current poll is held, as in exact mode, and the reply is lost below.
                poll = thread.poll = self._held(group.current(poll, now))  # type: ignore[arg-type]
        else:
            poll.open = False  # type: ignore[union-attr]
        if poll.__class__ is Poll and thread.runner.reply_lost(POLL):
            # The reply carrying the task never reaches the runner (a partition in force now, or
            # message loss): the task is assigned to a thread that never hears of it, and its
            # acknowledgement window runs out; the thread gives up when the hold would have ended.
            poll.open, poll.lost = True, True  # type: ignore[union-attr]
            self._assign(task, thread).runner_outcome = "unheard"
            return
        poll.event.succeed(self._assign(task, thread))

    def count_repolls(self, n: int) -> None:
        """Polls of standing cycles (fast mode), counted in bulk."""
        self.log.calls[POLL] += n
        if self.checks is not None:
            self.checks.handled[POLL] += n

    def leave(self, standing: StandingPoll) -> Poll:
        """Fast mode: a standing cycle stops; its current poll is held until its hold ends."""
        group = self.groups[standing.thread.worker_group]
        now = self.env.now
        self.count_repolls(group.repolls(standing, now))
        return self._held(group.leave(standing, now))

    def _held(self, poll: Poll) -> Poll:
        """A standing cycle's poll, now held: it ends when its hold would have."""
        now = self.env.now
        self.env.timeout(poll.arrival + self.long_poll - now, poll).callbacks.append(
            self._end_hold
        )
        return poll

    def drop(self, standing: StandingPoll) -> None:
        """Fast mode: a standing cycle's thread dies; its current poll closes with it."""
        group = self.groups[standing.thread.worker_group]
        self.count_repolls(group.repolls(standing, self.env.now))
        group.remove(standing)

    def settle(self, until: float) -> None:
        """Count the polls of the standing cycles still running at the end of the run."""
        for group in self.groups.values():
            for *_, standing in group.standing:
                self.count_repolls(group.repolls(standing, until))

    def _retry_later(self, event: Event) -> None:
        self._ready(event.value)

    # --- PollForTask -----------------------------------------------------------------------------

    def poll_for_task(self, thread: Thread) -> Attempt | Poll:
        """A ready task at once, else a poll held for `long_poll` (empty reply when it ends)."""
        group = self.groups[thread.worker_group]
        task = group.pop_ready()
        if task is not None:
            # The thread goes on to acknowledge it in this instant if it `acks_at_once`.
            return self._assign(task, thread, timer=not thread.acks_at_once())
        env = self.env
        if thread.can_stand():
            standing = thread.standing = group.stand(thread, env.now, thread.parked_on())
            return standing
        poll = Poll(thread, Event(env), env.now, thread.rank)
        group.hold(poll)
        env.timeout(self.long_poll, poll).callbacks.append(self._end_hold)
        return poll

    @staticmethod
    def _end_hold(event: Event) -> None:
        poll: Poll = event.value
        if poll.open:
            poll.open = False
            if not poll.lost:
                # The empty reply may be lost too: counted, but the runner gives up at this very
                # time without it (the end of a long poll), so nothing else changes.
                poll.thread.runner.reply_lost(POLL)
            if not poll.thread.hold_ended(poll):
                poll.event.succeed(None)

    def _assign(self, task: Task, thread: Thread, timer: bool = True) -> Attempt:
        """A new attempt of `task`, held by `thread`; `timer`: arm its acknowledgement timer.

        The timer is left out only when the thread acknowledges in this same instant (fast mode,
        `Thread.acks_at_once`): the first report's lease replaces the window before it matters.
        """
        now = self.env.now
        if self.checks is not None:
            self.checks.assigned(task)
        attempt = Attempt(task, task.attempt_number, thread.runner.name, thread.index, now)
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
        now = self.env.now
        deadline = attempt.deadline
        if attempt.fast is not None:  # reports counted in bulk: the schedule says when they came
            deadline = max(deadline, attempt.fast.deadline_at(now))
        left = deadline - now
        if not due(deadline, now):  # renewed since this timer was armed: watch the new deadline
            fast = attempt.fast
            if fast is not None and fast.start <= deadline and fast.interval < fast.renew:
                # Reports counted in bulk renew it before it can run out, for as long as the
                # schedule runs; when it stops, `watch_lease` arms the timer again. (Not when the
                # first of them comes too late, e.g. a 5-minute first lease and 6-minute reports.)
                attempt.timer = None
                return
            attempt.timer = LeaseTimer(self.env, left, attempt, self._check_lease)
            return
        self._expire(attempt)

    def watch_lease(self, attempt: Attempt) -> None:
        """Make sure the live attempt's lease timer fires no later than its deadline."""
        timer = attempt.timer
        if attempt.task.live is attempt and (timer is None or not due(timer.at, attempt.deadline)):
            left = max(attempt.deadline - self.env.now, 0.0)
            attempt.timer = LeaseTimer(self.env, left, attempt, self._check_lease)

    def _expire(self, attempt: Attempt) -> None:
        """The lease ran out: the task is taken back; the holder is not told (reference 3.4)."""
        now = self.env.now
        task = attempt.task
        attempt.lease_lost_at = now
        attempt.expired_alive = attempt.runner_outcome != "crashed"
        self._end_attempt(attempt, "ack_timeout" if attempt.reports == 0 else "progress_timeout")
        task.reassignments += 1
        if self.on_expiry == "fail_and_retry":
            self._fail(task, delay=True)
        elif self.on_expiry == "new_attempt_no_delay":
            self._fail(task, delay=False)
        else:  # reassign_same_attempt: pollable at once, same attempt number, no retry used
            task.status = "pending"
            self._ready(task)

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
        attempt.ended_at = self.env.now
        attempt.outcome = outcome
        attempt.task.live = None
        # The lease is gone: a pending timer finds the attempt ended, and nothing reads these again
        # (dropping them keeps week-long runs of thousands of runners small).
        attempt.timer = None
        attempt.deadline = NAN
        if attempt.fast is not None:  # the holder counts its reports in bulk: tell its next one
            attempt.fast.thread.superseded(attempt.fast)

    def _end_task(self, task: Task, status: str, finished_by: Attempt | None = None) -> None:
        if self.checks is not None:
            self.checks.task_ends(task)
        task.status = status
        task.ended_at = self.env.now
        task.finished_by = finished_by

    # --- ReportTaskProgress ----------------------------------------------------------------------

    def report_progress(self, attempt: Attempt) -> int:
        """The first report acknowledges the task; each one renews the lease of its holder."""
        task = attempt.task
        if task.live is not attempt:
            return self.stale_progress
        now = self.env.now
        if self.checks is not None:
            self.checks.lease_renewed(attempt, now)
        if attempt.reports == 0:
            attempt.acked_at = now
        attempt.reports += 1
        timeouts = task.kind.timeouts
        deadline = now + (timeouts[1] if attempt.reports == 1 else timeouts[2])
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
            task.ended_at = self.env.now
            self.log.stale_status_accepted += 1
        elif task.status == "failed" and finished:
            task.status = "finished"
            task.finished_by = attempt
            task.ended_at = self.env.now
            self.log.stale_status_accepted += 1
        return OK

    def _finish_by_stale(self, task: Task, attempt: Attempt) -> None:
        if task.live is not None:
            self._end_attempt(task.live, "superseded")
        self._end_task(task, "finished", attempt)
        self.log.stale_status_accepted += 1

    # --- ReportTaskRunnerHeartbeat ---------------------------------------------------------------

    def runner_heartbeat(self, runner: Runner) -> int:
        """Counted; renews the runner's task leases only if the scenario says so (reference 3.5)."""
        if self.heartbeat_renews:
            now = self.env.now
            for thread in runner.threads:
                attempt = thread.attempt
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
