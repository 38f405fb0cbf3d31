"""Fast mode: a working thread's reports counted in bulk, and its requests under message loss.

`BulkReporter` is the part of `fast.thread.FastThread` that works on a task: while nothing can
change a lease, the reports follow a `FastSchedule` and the thread sleeps until its work completes
(`_fast`, or on callbacks `FastThread.take`); the schedule is counted when it ends (`settle`).

Message loss costs no event: which of the thread's requests are lost is one sequence drawn ahead
(`draws.RequestLosses`), which every request takes the next element of, one sent at a time
(`_departs`) or counted in bulk (`settle`). A lost report renews nothing: it leaves a gap in the
lease, and only a gap as long as the lease needs a timer (`FastSchedule.gap_expiry`).
"""

from __future__ import annotations

import math

from simpy import Event, Interrupt

from simulator.model.actor import CRASH, PAUSE, WAKE, Crashed, Wait
from simulator.model.clock import EPSILON, due
from simulator.model.fast.draws import FastRunner, RequestLosses
from simulator.model.fast.phases import REPORTING, STEPPING, Phase
from simulator.model.fast.schedule import FastSchedule
from simulator.model.lease import LeaseTimer
from simulator.model.log import PROGRESS, Attempt
from simulator.model.runner import Runner, Thread
from simulator.model.service import OK


class BulkReporter(Thread):
    """A poll thread whose reports are counted in bulk while nothing can change its lease, and
    whose requests message loss drops as its drawn sequence says (`losses`)."""

    runner: FastRunner

    def __init__(self, runner: Runner, index: int) -> None:
        super().__init__(runner, index)
        self.state: Phase = STEPPING
        self.schedule: FastSchedule | None = None  # WORKING, REPORTING: its reports in bulk
        # Which of its requests message loss drops (None: no loss), drawn ahead.
        self.losses = RequestLosses(runner.loss, runner) if runner.loss else None  # type: ignore[arg-type]
        # Which replies counted in bulk (to reports, to polls whose hold ended empty) are lost:
        # replies are lost independently, so a sequence of its own serves (None: no loss).
        self.reply_losses = (
            RequestLosses(runner.reply_loss, runner) if runner.reply_loss else None  # type: ignore[arg-type]
        )

    # --- requests one at a time ------------------------------------------------------------------

    def _departs(self, op: int) -> bool:
        """As in exact mode, but a request's loss is the next of the thread's drawn sequence
        (`RequestLosses`), shared with the requests counted in bulk."""
        runner = self.runner
        runner.log.calls[op] += 1
        now = runner.env.now
        if (  # partitioned: its end not yet due (`clock.due`); a partition draws no loss
            runner.partition_until - now > EPSILON
            or runner.group.partition_until - now > EPSILON
            or (self.losses is not None and self.losses.send())
        ):
            runner.log.lost[op] += 1
            return False
        return True

    def _unheard(self, op: int, answer: object) -> int:  # type: ignore[override]
        """A lost reply: as in exact mode. A task it carried may have been assigned without a
        lease timer (to be acknowledged at once, `acks_at_once`): its window needs one now."""
        if answer.__class__ is Attempt and answer.timer is None:  # type: ignore[attr-defined]
            self.runner.service.watch_lease(answer)  # type: ignore[arg-type]
        return Thread._unheard(op, answer)

    def _acknowledge(self, attempt: Attempt) -> Wait:
        # Assigned without a lease timer (acknowledged on callbacks, `acks_at_once`) but the
        # process acknowledges it: after a start-up (which a pause or a stall may stretch past
        # the window), or the acknowledgement is lost, as drawn: its window needs the timer, as
        # in exact mode.
        losses = self.losses
        if attempt.timer is None and (
            self.runner.startup.fixed or (losses is not None and losses.next_lost())
        ):
            self.runner.service.watch_lease(attempt)
        return (yield from super()._acknowledge(attempt))

    # --- reports counted in bulk by the process (REPORTING) --------------------------------------

    def _await_report(self, attempt: Attempt, next_report: float, left: float, done: float) -> Wait:
        if not self._can_skip(attempt, self.runner.env.now):
            return (yield from super()._await_report(attempt, next_report, left, done))
        return (yield from self._fast(attempt, next_report, left))

    def _can_skip(self, attempt: Attempt, now: float, live: bool = True) -> bool:
        """Whether the coming reports can only renew the lease (or be lost independently).

        `live=False`: leave out the lease's state (whether the service still answers OK).
        """
        runner = self.runner
        return (
            attempt.reports > 0  # acknowledged: every report from now on renews for `renew`
            and due(runner.stall_until, now)
            and runner.connected(now)
            and (not live or attempt.task.live is attempt or runner.service.stale_progress == OK)
        )

    def _fast(self, attempt: Attempt, next_report: float, left: float) -> Wait:
        """STEPPING -> REPORTING -> STEPPING: sleep until the work completes, counting the reports
        in between.

        Returns the time of the next report still to send. A fault, the lease ending, or the end
        of the run interrupts the sleep; the reports sent until then are counted as they happened.
        """
        env = self.runner.env
        schedule, wake = self._bulk(attempt, next_report, left)
        self.state = REPORTING
        cause = None
        try:
            yield env.timeout(wake - env.now)
        except Interrupt as interrupt:
            cause = interrupt.cause
        return (yield from self._counted(schedule, cause))

    def _bulk(
        self, attempt: Attempt, next_report: float, left: float, acks: bool = False
    ) -> tuple[FastSchedule, float]:
        """Start counting reports in bulk from `next_report`; returns the schedule and its wake-up,
        when the work completes. `acks`: the first of them is the acknowledgement
        (`FastSchedule.acks`).

        Under message loss, which of the reports are lost is drawn here (`RequestLosses.within`):
        a lost report only leaves a gap in the lease, so the thread does not wake for it; if a
        gap is long enough for the lease to run out, its timer is armed for that instant.
        """
        runner = self.runner
        now = runner.env.now
        wake = now + left
        timeouts = attempt.task.kind.timeouts
        renew = timeouts[2]
        schedule = FastSchedule(  # positional: once a task
            next_report, self.interval, renew, self, attempt, None, timeouts[1] if acks else None
        )
        losses = self.losses
        if losses is not None:
            n = schedule.sent_before(wake)  # the reports the work leaves time for
            if n:
                schedule.lost = losses.within(n)
        self.schedule = attempt.fast = schedule
        if next_report <= attempt.deadline and self.interval < renew:
            # The reports renew the lease before it runs out (`FastService._check_lease` lets
            # its timer go), unless message loss leaves a gap as long as the lease.
            if schedule.lost:
                expiry = schedule.gap_expiry(attempt.deadline, wake)
                if expiry < math.inf:
                    service = runner.service
                    attempt.timer = LeaseTimer(
                        runner.env,
                        expiry - now,
                        attempt,
                        service._check_lease,  # noqa: SLF001
                    )
        elif attempt.timer is None:
            # No timer (the acknowledgement landed at once, see `acks_at_once`), and the reports
            # do not renew the lease before it runs out: it must be watched.
            runner.service.watch_lease(attempt)
        return schedule, wake

    def _counted(self, schedule: FastSchedule, cause: object) -> Wait:
        """-> STEPPING: the wait of a schedule ended (`cause`: the interrupt, if any): count its
        reports. Returns the next report's time; the exact code sends it (a superseded holder is
        woken at that report, which hears `canceled` unless message loss drops it, as drawn)."""
        runner = self.runner
        self.state = STEPPING
        sent = self.settle(watch=False)
        # Work done (no interrupt), SetTaskStatus next: it reaches the service at this very
        # instant (no latency or throttling in fast mode), so the lease needs its timer again
        # only if message loss drops it.
        losses = self.losses
        if cause is not None or (losses is not None and losses.next_lost()):
            runner.service.watch_lease(schedule.attempt)
        if cause == CRASH:
            raise Crashed
        if cause == PAUSE:
            yield from self._frozen()
        return schedule.start + sent * schedule.interval

    def settle(self, now: float | None = None, watch: bool = True) -> int:
        """Count the reports the current fast schedule sent before now; leave fast mode.

        `watch`: make sure the lease timer fires by the deadline the counted reports leave.
        """
        schedule = self.schedule
        if schedule is None:
            return 0
        self.schedule = None
        attempt = schedule.attempt
        attempt.fast = None
        runner = self.runner
        start, interval = schedule.start, schedule.interval
        # `schedule.sent_before(now)`, inlined as the rest of the common path (once a task or
        # more): the reports sent strictly before now.
        sent = math.ceil(((runner.env._now if now is None else now) - start - EPSILON) / interval)
        if sent > 0:
            log = runner.log
            log.calls[PROGRESS] += sent
            lost = 0
            if self.losses is not None:
                lost = self.losses.skip(sent)  # the drawn losses among them (`schedule.lost`)
                log.lost[PROGRESS] += lost
            arrived = sent - lost
            if self.reply_losses is not None and arrived:
                # Each answer is lost on the way back independently: counted only, since a reply
                # lost here could only have said OK (the lease's end wakes the thread).
                unheard = self.reply_losses.skip(arrived)
                log.lost[PROGRESS] += unheard
                log.lost_replies[PROGRESS] += unheard
            renewing = sent
            if attempt.task.live is not attempt:  # only reports up to the lease's end renewed it
                renewing = min(sent, schedule.sent_by(attempt.ended_at))
            live = schedule.arrived(renewing) if schedule.lost else renewing
            service = runner.service
            checks = service.checks
            if checks is not None:
                checks.bulk_reports(schedule, arrived, live)
            if live:
                if schedule.acks:  # the first was the acknowledgement: the work began with it
                    attempt.acked_at = attempt.work_started_at = start
                attempt.reports += live
                last = start + (renewing - 1) * interval
                if schedule.lost:
                    reported = schedule.deadline_at(last)
                else:  # `deadline_at(last)`: the lease the last report set
                    reported = last + schedule.renew if renewing > 1 else start + schedule.first
                # `service.renewed`, inlined: the report replaces the lease; a heartbeat that
                # renews leases may have set a later deadline meanwhile.
                if service.heartbeat_renews:
                    reported = max(attempt.deadline, reported)
                attempt.deadline = reported
        else:
            sent = 0
        if watch:
            # The lease timer may be unset while the schedule renews; the lease needs it again.
            runner.service.watch_lease(attempt)
        return sent

    def superseded(self, schedule: FastSchedule) -> None:
        """The lease ended while its reports were counted in bulk: the next one hears of it."""
        env = self.runner.env
        at = schedule.next_after(env.now)

        def wake(_: Event) -> None:
            if self.schedule is schedule and self.process is not None and self.process.is_alive:
                self.process.interrupt(WAKE)

        env.timeout(at - env.now).callbacks.append(wake)
