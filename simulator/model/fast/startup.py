"""Fast mode: a poll thread's fixed start-up, and the acknowledgement that ends it.

A thread handed a task on callbacks (`fast.thread.FastThread.take`) with a fixed start-up would
sleep through it on one timer and through the work on another. Where nothing but a hook can hold
the acknowledgement up, one timer stands for both: the acknowledgement is counted in bulk as the
first report of the work (`StartUp._start_in_bulk`, `FastSchedule.acks`), and a hook that comes
before it takes the thread back to its start-up (`StartUp._back_to_start_up`). Otherwise the
start-up runs on a timer of its own (STARTING), and the acknowledgement lands when it ends
(`StartUp._started`), or the process sends it (`StartUp._acknowledged`).
"""

from __future__ import annotations

from simpy import Event

from simulator.model.actor import Wait
from simulator.model.fast.phases import STARTING, WORKING, Then
from simulator.model.fast.reports import BulkReporter
from simulator.model.fast.schedule import FastSchedule
from simulator.model.log import PROGRESS, Attempt
from simulator.model.runner import Runner
from simulator.model.service import CANCELED, NOT_FOUND


class StartUp(BulkReporter):
    """The part of `fast.thread.FastThread` that starts a task it took on callbacks: its fixed
    start-up and the acknowledgement (STARTING, or WORKING with the acknowledgement ahead).

    It hands the rest to the thread's own transitions: `_work_on` (acknowledged: the work),
    `_poll_again` (the task dropped), `wake` (its process goes on), `acks_at_once`.
    """

    def __init__(self, runner: Runner, index: int) -> None:
        super().__init__(runner, index)
        self.startup_end = 0.0  # STARTING: when its start-up ends, on the runner's own clock
        self.startup_timer: Event | None = None  # STARTING: the start-up's end, unless paused
        # What `_start_in_bulk` needs of the run's settings, asked once instead of once a task:
        # nothing to draw (no message loss), and heartbeats that renew no lease.
        self.acks_in_bulk = not (
            self.losses is not None or runner.reply_loss or runner.service.heartbeat_renews
        )

    # The thread's own transitions (`fast.thread.FastThread`).

    def _work_on(self, attempt: Attempt) -> None:
        raise NotImplementedError

    def _poll_again(self) -> None:
        raise NotImplementedError

    def wake(self, value: Attempt | Then | None) -> None:
        raise NotImplementedError

    def acks_at_once(self) -> bool:
        raise NotImplementedError

    def _taken_done(self, event: Event) -> None:
        raise NotImplementedError

    # --- the start-up counted with the work ------------------------------------------------------

    def _start_in_bulk(self, attempt: Attempt, startup: float) -> bool:
        """-> WORKING, where the acknowledgement after a fixed `startup` can be counted in bulk as
        the first report of the work: one timer, the work's end, instead of the start-up's
        (`_started`) and then the work's (`_work_on`). Returns whether it could; else the thread
        goes STARTING.

        Only what a hook hears can then hold the acknowledgement up: a pause or a crash (`pause`,
        `crash`), a stall or a partition (`disturb`), the lease's end (`superseded`); each takes
        the thread back to STARTING while the acknowledgement is still ahead (`_back_to_start_up`).
        It must draw nothing (no message loss), renew no lease but the holder's reports
        (heartbeats that renew leases read `Attempt.reports`), and need no lease timer: it comes
        within its window, leaves a lease at least as long (`Service.report_progress` would
        shorten it), and the next report comes within that lease.
        """
        ack, first, _ = attempt.task.kind.timeouts
        if not (self.acks_in_bulk and startup < ack <= startup + first and self.interval < first):
            return False
        # The instants of the acknowledgement and of the work's end: where the timers of
        # `_start_up` now and of `_work_on` at the acknowledgement would land, to the bit.
        runner = self.runner
        now = runner.env.now
        # `runner.active_time()`, inlined (once a task): handed a task, the runner is not paused.
        active = now - runner.pause_total if not runner.paused else runner.active_time()
        end = active + startup
        acked = now + (end - active)
        work = attempt.task.work
        wake = acked + work
        done = acked + (wake - acked)
        if not done > acked or now + (done - now) != done or acked > 2 * now:
            # Work of no length: the acknowledgement would come in the instant of the work's end,
            # which counts only the reports sent before it (`settle`). Early in a run, rounding:
            # no timer armed now lands on `done` to the bit, or one armed at a hook's instant on
            # `acked` (which it does where that instant is at least half of `acked`: the
            # difference is then exact).
            return False
        self.startup_end = end
        self.done = acked - runner.pause_total + work
        # `settle` counts the acknowledgement with the reports, and dates it and the work's start.
        schedule, _ = self._bulk(attempt, acked, wake - now, acks=True)
        self.state = WORKING
        # `_until_done`, inlined: once a task.
        runner.env.timeout(done - now, schedule).callbacks.append(self._taken_done)
        return True

    def _acks_later(self) -> FastSchedule | None:
        """WORKING: its schedule, if its first report, the acknowledgement, is still to come."""
        schedule = self.schedule
        if schedule is not None and schedule.acks and not schedule.sent_before(self.runner.env.now):
            return schedule
        return None

    def _back_to_start_up(self, schedule: FastSchedule) -> None:
        """WORKING -> STARTING: something that may hold up the acknowledgement still ahead came
        first (`_start_in_bulk`); its schedule ends unsent, and the start-up goes on as STARTING.

        A hook in the acknowledgement's own instant comes before it, as one in a report's does
        (`FastSchedule.sent_before`).
        """
        self.settle(watch=False)
        self.state = STARTING
        env = self.runner.env
        if not self.runner.paused:  # it ends at the acknowledgement's instant (`_start_up`)
            timer = env.timeout(schedule.start - env.now, self.attempt)  # exact: `_start_in_bulk`
            self.startup_timer = timer
            timer.callbacks.append(self._started)

    def superseded(self, schedule: FastSchedule) -> None:
        """The lease ended while its reports were counted in bulk (`BulkReporter.superseded`);
        before the acknowledgement, the start-up goes on: the acknowledgement hears of it
        (`_started`)."""
        if self.state is WORKING and self._acks_later() is schedule:
            self._back_to_start_up(schedule)
            return
        super().superseded(schedule)

    # --- the start-up on a timer of its own (STARTING) --------------------------------------------

    def _start_up(self) -> None:
        """STARTING: the start-up goes on; it ends `startup_end` on the runner's own clock."""
        runner = self.runner
        left = max(self.startup_end - runner.active_time(), 0.0)
        timer = self.startup_timer = runner.env.timeout(left, self.attempt)
        timer.callbacks.append(self._started)

    def freeze_start_up(self) -> None:
        """STARTING: the runner pauses: the start-up stops until `resume` (`_start_up`). As in
        exact mode, the acknowledgement window runs on: its timer is armed."""
        self.startup_timer = None
        self.runner.service.watch_lease(self.attempt)  # type: ignore[arg-type]

    def _started(self, event: Event) -> None:
        """STARTING -> WORKING: the start-up is over; the acknowledgement (`Thread._acknowledge`)
        lands now, unless a stall, a partition or message loss holds it up: the process sends
        it then (`_acknowledged`), its window watched."""
        if event is not self.startup_timer:  # a pause or a crash came first
            return
        self.startup_timer = None
        attempt: Attempt = event.value
        runner = self.runner
        losses = self.losses
        if not self.acks_at_once() or (losses is not None and losses.next_lost()):
            runner.service.watch_lease(attempt)
            self.wake(Then(lambda: self._acknowledged(attempt)))
            return
        if losses is not None:
            losses.send()
        if self._lands(PROGRESS, attempt) in (CANCELED, NOT_FOUND):
            # The lease ended during the start-up (an attempt timeout): as in exact mode, the
            # thread drops the task and polls again.
            attempt.runner_outcome = "canceled"
            self.attempt = None
            self._poll_again()
            return
        self._work_on(attempt)

    def _acknowledged(self, attempt: Attempt) -> Wait:
        """`Thread._first_report`, then `Thread._work`: the process goes on from
        the end of a start-up spent on callbacks."""
        started = yield from self._first_report(attempt)
        if started is not None:
            yield from self._work(attempt, *started)
        self.attempt = None
