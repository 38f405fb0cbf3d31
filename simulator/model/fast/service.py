"""Fast mode's side of the service: standing polls, and leases renewed by reports counted in bulk.

An idle thread whose calls are instant and never lost polls again the moment each hold ends, so its
polls arrive on a fixed cycle (`StandingPoll`); a working thread's reports follow a fixed schedule
(`FastSchedule`). `FastService` keeps the exact service's flow (`simulator.model.service`) and
overrides only what these change: who a task is handed to, when a lease timer is needed, and the
counting of the calls no event stood for.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from simpy import Event

from simulator.model.clock import EPSILON, due, ticks_before
from simulator.model.fast.standing import StandingCycles
from simulator.model.lease import LeaseTimer
from simulator.model.log import NAN, POLL, Attempt, Task
from simulator.model.service import OK, Client, Poll, Service, WorkerGroup


class BulkClient:
    """Marks a client whose polls may stand and whose hand-overs may be taken on callbacks
    (`FastThread`); other clients of a fast service (fleet groups that run exact) get the exact
    service's answers. What the service may ask of such a client is `StandingClient`."""

    __slots__ = ()


class StandingClient(Client, Protocol):
    """What the fast service knows of a `BulkClient` (a `fast.runner.FastThread`): whether it
    can stand or acknowledge at once, and the transitions a poll's answer makes it take."""

    def can_stand(self) -> bool:
        """Whether its polls can be counted in bulk now (no loss, no partition)."""
        ...

    def acks_at_once(self) -> bool:
        """Whether a task handed to it now is acknowledged in this very instant."""
        ...

    def connected(self, now: float) -> bool:
        """Whether its runner's calls land at once at `now` (no partition in force)."""
        ...

    def parked_on(self) -> Event:
        """The event its process sleeps on while it runs on callbacks (its standing polls')."""
        ...

    def stand(self, standing: StandingPoll) -> StandingPoll:
        """Its polls stand at the service from now (returns `standing`)."""
        ...

    def take(self, attempt: Attempt) -> None:
        """Acknowledge `attempt` in this instant and work on it on callbacks."""
        ...

    def hold(self, poll: Poll) -> None:
        """Its standing cycle stopped: `poll`, its current poll, is held, as in exact mode."""
        ...

    def wake(self, value: Attempt | None) -> None:
        """Hand its process `value` (a task to handle, or None: poll again)."""
        ...

    def answered(self, poll: Poll, attempt: Attempt | None) -> None:
        """A poll left from its standing cycle is answered (None: its hold ended empty)."""
        ...


class StandingPoll:
    """Fast mode: an idle thread's polls, one every `long_poll` from `first`, none simulated.

    An idle thread whose calls are instant and never lost polls again the moment each hold ends,
    so its polls arrive on a fixed cycle; its place in the queue of waiting polls follows from
    the cycle's phase, and the polls are counted when it leaves the cycle.
    """

    __slots__ = ("thread", "event", "first", "key")

    def __init__(
        self, thread: StandingClient, event: Event, first: float, key: tuple[float, float]
    ) -> None:
        self.thread = thread
        self.event = event
        self.first = first
        self.key = key  # (phase within the cycle, thread's rank): the order of the cycles


class LeftPoll(Poll):
    """The current poll of a standing cycle the thread left (a pause, a partition), held as in
    exact mode. Its process may not be waiting on it: the thread hears the answer
    (`StandingClient.answered`), and may poll again on callbacks when the hold ends empty."""

    __slots__ = ()
    client: StandingClient

    def deliver(self, attempt: Attempt) -> None:
        self.client.answered(self, attempt)

    def end(self) -> None:
        self.client.answered(self, None)


class FastWorkerGroup(WorkerGroup):
    """A worker group whose waiting polls are held polls and standing cycles, in arrival order."""

    __slots__ = ("standing", "cycle", "stood")

    def __init__(self, name: str, rng: np.random.Generator | None, cycle: float) -> None:
        super().__init__(name, rng)
        self.standing = StandingCycles()  # sorted by phase, rank, in blocks
        self.cycle = cycle  # long_poll: the period of standing polls
        # Standing cycles begun so far: with `standing`, all the token-bucket bound needs to know
        # of them (`fast.throttle.PollBound`), so none of its hooks is on the hand-over's path.
        self.stood = 0

    def pop_poll(self, now: float) -> Poll | StandingPoll | None:  # type: ignore[override]
        """The waiting poll that arrived first: FIFO over held polls and standing cycles."""
        polls = self.polls
        while polls and not polls[0].open:
            polls.popleft()
        standing = self.standing
        if standing:
            # The cycle whose latest poll is oldest: the first phase after now's (cyclically).
            cycle = self.cycle
            here = now % cycle
            b, j = standing.first_after((here, math.inf))
            phase, rank, _ = standing.blocks[b][j]
            # Its latest poll, from the two phases (`now - phase` rounded can leave a cycle that
            # began in this very instant, whose phase is now's to the bit, a whole cycle older
            # and first in the queue).
            latest = now - (here - phase) % cycle
            # Same instant (the cycles and the held poll began together): the lower rank first.
            if not polls or (latest, rank) < (polls[0].arrival, polls[0].rank):
                return standing.pop(b, j)[2]
        return polls.popleft() if polls else None

    def stand(self, thread: StandingClient, now: float, event: Event) -> StandingPoll:
        """A poll that will be renewed at every hold's end, none of them simulated."""
        key = (now % self.cycle, thread.rank)
        standing = StandingPoll(thread, event, now, key)
        self.standing.add((*key, standing))
        self.stood += 1
        return standing

    def remove(self, standing: StandingPoll) -> None:
        """Stop a standing cycle."""
        self.standing.discard(standing.key, standing)

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
        return LeftPoll(standing.thread, standing.event, arrival, standing.key[1])

    def repolls(self, standing: StandingPoll, now: float) -> int:
        """Polls of a standing cycle after its first, sent before `now`."""
        return max(0, ticks_before(now, standing.first, self.cycle) - 1)


class FastService(Service):
    """The service when some fleet group runs fast: standing polls, hand-overs taken on callbacks,
    and leases renewed by a schedule of reports instead of one event each."""

    @staticmethod
    def _group(name: str, rng: np.random.Generator | None, long_poll: float) -> WorkerGroup:
        return FastWorkerGroup(name, rng, long_poll)

    def _hand_over(self, poll: Poll, task: Task) -> None:
        if poll.__class__ is not StandingPoll:
            super()._hand_over(poll, task)
            return
        standing: StandingPoll = poll  # type: ignore[assignment]
        group: FastWorkerGroup = self.groups[task.kind.worker_group]  # type: ignore[assignment]
        now = self.env._now
        # `count_repolls(group.repolls(standing, now))`, inlined: once per task handed over.
        repolls = math.ceil((now - standing.first - EPSILON) / group.cycle) - 1
        if repolls > 0:
            self.log.calls[POLL] += repolls
            if self.checks is not None:
                self.checks.handled[POLL] += repolls
        thread = standing.thread
        if thread.acks_at_once():
            thread.take(self._assign(task, thread, timer=False))
            return
        if not thread.connected(now):
            # A partition began in this instant and the thread has not left its cycle yet: its
            # current poll is held, as in exact mode, and the reply is lost.
            held = self._held(group.current(standing, now))
            thread.hold(held)
            thread.reply_lost(POLL)
            held.open, held.lost = True, True
            self._assign(task, thread).runner_outcome = "unheard"
            return
        thread.wake(self._assign(task, thread))

    def count_repolls(self, n: int) -> None:
        """Polls of standing cycles (fast mode), counted in bulk."""
        self.log.calls[POLL] += n
        if self.checks is not None:
            self.checks.handled[POLL] += n

    def leave(self, standing: StandingPoll) -> Poll:
        """A standing cycle stops; its current poll is held until its hold ends."""
        group: FastWorkerGroup = self.groups[standing.thread.worker_group]  # type: ignore[assignment]
        now = self.env._now
        self.count_repolls(group.repolls(standing, now))
        return self._held(group.leave(standing, now))

    def _held(self, poll: Poll) -> Poll:
        """A standing cycle's poll, now held: it ends when its hold would have."""
        now = self.env._now
        self.env.timeout(poll.arrival + self.long_poll - now, poll).callbacks.append(
            self._end_hold
        )
        return poll

    def drop(self, standing: StandingPoll) -> None:
        """A standing cycle's thread dies; its current poll closes with it."""
        group: FastWorkerGroup = self.groups[standing.thread.worker_group]  # type: ignore[assignment]
        self.count_repolls(group.repolls(standing, self.env._now))
        group.remove(standing)

    def finish(self, until: float) -> None:
        """Count the polls of the standing cycles still running at the end of the run."""
        for group in self.groups.values():
            for *_, standing in group.standing:  # type: ignore[attr-defined]
                self.count_repolls(group.repolls(standing, until))  # type: ignore[attr-defined]

    def poll_for_task(self, client: Client) -> Attempt | Poll | StandingPoll:  # type: ignore[override]
        if not isinstance(client, BulkClient):  # a fleet group that runs exact
            return super().poll_for_task(client)
        thread: StandingClient = client  # type: ignore[assignment]
        group: FastWorkerGroup = self.groups[thread.worker_group]  # type: ignore[assignment]
        task = group.pop_ready()
        if task is not None:
            # The thread goes on to acknowledge it in this instant if it `acks_at_once`.
            return self._assign(task, thread, timer=not thread.acks_at_once())
        if thread.can_stand():
            return thread.stand(group.stand(thread, self.env._now, thread.parked_on()))
        return self._hold(thread, group)

    # --- leases renewed by a schedule of reports -----------------------------------------------

    def _check_lease(self, timer: Event) -> None:
        attempt: Attempt = timer.attempt  # type: ignore[attr-defined]
        if attempt.task.live is not attempt or attempt.timer is not timer:
            return
        now = self.env._now
        deadline = attempt.deadline
        if attempt.fast is not None:  # reports counted in bulk: the schedule says when they came
            deadline = self.renewed(attempt, attempt.fast.deadline_at(now))
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

    def renewed(self, attempt: Attempt, reported: float) -> float:
        """The lease's deadline, given the one its last report counted in bulk set (`reported`;
        -inf: none of them arrived yet, so the lease is still the one before them).

        A report replaces the deadline, a shorter one too (`Service.report_progress`: the
        acknowledgement window after a 15-minute reading, `two_stage`'s second report). A
        heartbeat that renews leases only lengthens one, and what it set is in `attempt.deadline`;
        fast mode runs groups exact where a report could then shorten the lease
        (`scenario.modes`), so the later of the two is the lease.
        """
        if reported == -math.inf or self.heartbeat_renews:
            return max(attempt.deadline, reported)
        return reported

    def _acknowledged(self, attempt: Attempt) -> bool:
        # An acknowledgement counted in bulk with the reports after a start-up (`FastSchedule.acks`,
        # never lost) is in `attempt.reports` only once they are counted: it arrived at `start`.
        fast = attempt.fast
        if fast is not None and fast.acks:
            return attempt.reports > 0 or due(fast.start, self.env._now)
        return attempt.reports > 0

    def watch_lease(self, attempt: Attempt) -> None:
        """Make sure the live attempt's lease timer fires no later than its deadline."""
        timer = attempt.timer
        if attempt.task.live is attempt and (timer is None or not due(timer.at, attempt.deadline)):
            left = max(attempt.deadline - self.env._now, 0.0)
            attempt.timer = LeaseTimer(self.env, left, attempt, self._check_lease)

    def set_task_status(self, attempt: Attempt, finished: bool) -> int:
        task = attempt.task
        if task.live is not attempt or not finished:
            return super().set_task_status(attempt, finished)
        # The holder's FINISHED, the common case (once per task), with `_end_attempt` and
        # `_end_task` inlined: the attempt and the task end now.
        checks = self.checks
        if checks is not None:
            checks.attempt_ends(attempt)
        now = self.env._now
        attempt.ended_at = now
        attempt.outcome = "finished"
        task.live = None
        attempt.timer = None
        attempt.deadline = NAN
        if attempt.fast is not None:  # the holder counts its reports in bulk: tell its next one
            attempt.fast.superseded()
        if checks is not None:
            checks.task_ends(task)
        task.status = "finished"
        task.ended_at = now
        task.finished_by = attempt
        return OK

    def _end_attempt(self, attempt: Attempt, outcome: str) -> None:
        Service._end_attempt(self, attempt, outcome)
        if attempt.fast is not None:  # the holder counts its reports in bulk: tell its next one
            attempt.fast.superseded()
