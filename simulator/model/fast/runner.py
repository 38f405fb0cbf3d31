"""Fast mode's runner: threads and heartbeats that count their calls in bulk where they can.

`FastRunner`, `FastThread` and `FastHeartbeat` are the exact classes of `simulator.model.runner`
with their hooks overridden; `simulation.Simulation` picks them for each fleet group that can run
fast (`schedule.fallbacks`). Where every call is certain to land at once, an idle thread stands at
the service (`StandingPoll`), and a task it is handed is acknowledged, counted in bulk and
completed by callbacks (`FastThread.take`) while its process sleeps. A pause freezes that work and
a crash ends it without waking the process (`freeze_work`, `die`); anything else that changes what
a call does (a stall, a partition, a lease ended by someone else) wakes it, and it goes on one step
at a time from exactly where the callbacks left off, in the exact code.

The rule that keeps the two modes equal: a hook may skip an event only where exact mode's event
could not change a lease, an assignment or a random draw's order; tie-breaks between events of one
instant go through the same ranks (`service.Poll.rank`) in both modes.
"""

from __future__ import annotations

import math

import numpy as np
from simpy import Event, Interrupt

from simulator.model.clock import EPSILON, due, ticks_before
from simulator.model.fast.schedule import FastSchedule
from simulator.model.fast.service import BulkClient, FastService, StandingPoll
from simulator.model.log import HEARTBEAT, POLL, PROGRESS, STATUS, Attempt
from simulator.model.runner import CRASH, PAUSE, WAKE, Crashed, Heartbeat, Runner, Thread, Wait
from simulator.model.service import CANCELED, NOT_FOUND, OK, Poll
from simulator.seeds import Stream


class FastRunner(Runner):
    """A runner whose threads and heartbeat count their calls in bulk where nothing can happen.

    `fast_stream` draws the gaps between reports lost to message loss, and the losses among
    calls counted in bulk.
    """

    service: FastService

    def __init__(self, *args: object, fast_stream: Stream, **kwargs: object) -> None:
        self._fast_stream = fast_stream
        self._fast_rng: np.random.Generator | None = None
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # No call is certain to be answered: polls cannot stand, tasks are not taken at once.
        self.lossy = bool(self.loss or self.reply_loss)

    def fast_rng(self) -> np.random.Generator:
        if self._fast_rng is None:
            self._fast_rng = self._fast_stream()
        return self._fast_rng


class FastHeartbeat(Heartbeat):
    """A heartbeat that, while beats only count, counts them at the end of a stretch
    (`beating`: the first beat of it) instead of one event each."""

    runner: FastRunner

    def __init__(self, runner: Runner) -> None:
        super().__init__(runner)
        self.beating: float | None = None  # heartbeats counted in bulk from here
        self.due: float | None = None  # the beat a pause holds up (see `freeze`)
        self.dormant = False  # its runner died while it beat in bulk (`die`)

    # --- hooks -----------------------------------------------------------------------------------

    def start(self, delay: float) -> None:
        if self.dormant:  # its process slept through the crash (`die`)
            self.restart()
        else:
            super().start(delay)

    def crash(self) -> None:
        if self.beating is not None:
            self.die()
        else:
            super().crash()

    def pause(self) -> None:
        if self.beating is not None:
            self.freeze()
        else:
            super().pause()

    def resume(self) -> None:
        if self.due is not None:
            self.thaw()

    def disturb(self, polls: bool = False) -> None:
        # A heartbeat stall or a partition: beats counted in bulk stop here and go on one by one
        # (`_beat`). A paused runner's heartbeat checks at the resume (`thaw`).
        process = self.process
        if self.beating is not None and process is not None and process.is_alive:
            process.interrupt(WAKE)

    def finish(self, until: float) -> None:
        self.settle(until)

    def _beat(self) -> Wait:
        if self._can_skip():
            yield from self._fast()
        else:
            yield from super()._beat()

    def _can_skip(self) -> bool:
        """Heartbeats that only count (they renew no lease) need no event each (fast mode)."""
        runner = self.runner
        now = runner.env.now
        return (
            not runner.service.heartbeat_renews
            and due(runner.heartbeat_stall_until, now)
            and runner.connected(now)
        )

    def _fast(self) -> Wait:
        """Beat every interval from now, uncounted until a fault or the end of the run."""
        env = self.runner.env
        self.beating = env.now
        cause = None
        try:
            yield env.event()  # never triggered: only an interrupt ends this
        except Interrupt as interrupt:
            cause = interrupt.cause
        start = self.beating
        self.settle()
        if cause == CRASH:
            raise Crashed
        if cause == PAUSE:
            yield from self._frozen()
        # The beat that came due meanwhile goes out now, or when it is due (`start` may be ahead).
        sent = ticks_before(env.now, start, self.interval)
        yield from self._sleep(start + sent * self.interval - env.now)

    def freeze(self) -> None:
        """The runner pauses while beats are counted in bulk: they stop, and the process sleeps on.

        As in exact mode, the beat that falls due during the pause goes out when it ends (`thaw`).
        """
        start = self.beating
        assert start is not None
        now = self.runner.env.now
        self.settle(now)
        sent = ticks_before(now, start, self.interval)
        self.due = start + sent * self.interval

    def die(self) -> None:
        """The runner dies while beats are counted in bulk: they stop; the process sleeps on."""
        self.settle()
        self.dormant = True

    def restart(self) -> None:
        """The runner restarts: beats start again after the phase, as from a new process."""
        runner = self.runner
        self.dormant = False
        self.beating = runner.env.now + runner.heartbeat_phase
        if not self._can_skip():  # partitioned: beat one by one
            self.process.interrupt(WAKE)  # type: ignore[union-attr]

    def thaw(self) -> None:
        """The pause ends: the held-up beat goes out now (or when due), then one every interval."""
        now = self.runner.env.now
        held, self.due = self.due, None
        assert held is not None
        self.beating = now if due(held, now) else held
        # A partition began during the pause: beat one by one again (unless a crash ends it).
        if not self._can_skip() and self.runner.alive:
            self.process.interrupt(WAKE)  # type: ignore[union-attr]

    def settle(self, now: float | None = None) -> None:
        """Count the heartbeats sent in bulk before now; message loss drops each independently."""
        if self.beating is None:
            return
        runner = self.runner
        now = runner.env.now if now is None else now
        sent = ticks_before(now, self.beating, self.interval)
        self.beating = None
        lost = int(runner.fast_rng().binomial(sent, runner.loss)) if runner.loss and sent else 0
        handled = sent - lost
        if runner.reply_loss and handled:  # replies of the beats that arrived, lost independently
            unanswered = int(runner.fast_rng().binomial(handled, runner.reply_loss))
            lost += unanswered
            runner.log.lost_replies[HEARTBEAT] += unanswered
        runner.log.calls[HEARTBEAT] += sent
        runner.log.lost[HEARTBEAT] += lost
        if runner.service.checks is not None:
            runner.service.checks.handled[HEARTBEAT] += handled


class FastThread(Thread, BulkClient):
    """A poll thread that stands at the service while idle and counts its reports in bulk while
    it works, where every call is certain to land at once (see the module's docstring)."""

    runner: FastRunner

    def __init__(self, runner: Runner, index: int) -> None:
        super().__init__(runner, index)
        self.schedule: FastSchedule | None = None  # set while its reports are counted in bulk
        self.standing: StandingPoll | None = None  # set while its polls are counted in bulk
        self.woken: object = None  # what interrupted the work begun by `take`
        self.parked: Event | None = None  # what the process sleeps on (`parked_on`)
        self.frozen: float | None = None  # the next report when a pause froze the work
        self.dormant = False  # its runner died while it ran on callbacks (`die`)
        self.heard: int | None = None  # the reply to a report `_counted` sent

    # --- hooks -----------------------------------------------------------------------------------

    def start(self, delay: float) -> None:
        if self.dormant:  # its process slept through the crash (`die`)
            self.restart()
        else:
            super().start(delay)

    def crash(self) -> None:
        if self.on_callbacks():
            self.die()
        else:
            super().crash()

    def pause(self) -> None:
        # Calls counted in bulk just stop (see `freeze`); a process is interrupted otherwise.
        if self.standing is not None:
            self.freeze()
        elif self.schedule is not None and self.parked is not None:
            self.freeze_work()  # at work on a task it took (`take`)
        else:
            super().pause()

    def resume(self) -> None:
        if self.frozen is not None:
            self.thaw_work()

    def disturb(self, polls: bool = False) -> None:
        """A stall (progress reports) or a partition (`polls`: every call) begins: a process
        counting such calls in bulk wakes and goes on one step at a time."""
        bulk = self.schedule is not None or (polls and self.standing is not None)
        if bulk and self.process is not None and self.process.is_alive:
            self.process.interrupt(WAKE)

    def finish(self, until: float) -> None:
        self.settle(until)

    def _crashed(self) -> None:
        self.settle()
        super()._crashed()

    def _await_poll(self, reply: Poll) -> Wait:  # type: ignore[override]
        """A standing poll: the thread runs on callbacks until its process is needed; a held
        poll: as in exact mode."""
        if reply.__class__ is not StandingPoll:
            return (yield from super()._await_poll(reply))
        runner = self.runner
        # Fast mode: from here on the thread runs on callbacks, polling in bulk, taking tasks
        # and completing them (`take`), while its process sleeps until something needs it: a
        # hand-over it cannot take at once, or an interrupt.
        event = reply.event
        try:
            value = yield event
        except Interrupt as interrupt:
            cause = interrupt.cause
        else:
            self.parked = None
            if self.poll is not None:  # a pause froze the cycle meanwhile (see `freeze`)
                self.poll = None
                self.attempt = value  # a crash during the pause finds it
                yield from self._frozen()
            return value
        self.parked = None
        if self.schedule is not None:  # at work on a task it took: `_execute` goes on
            self.woken = cause
            return self.attempt
        standing, self.standing = self.standing, None
        if event.triggered:  # handed over at the same instant as the interrupt
            attempt = event.value
            if cause == CRASH:
                self.attempt = attempt
                raise Crashed from None
        elif self.poll is not None:  # frozen by a pause: its poll is held already
            reply = self.poll
            if cause == CRASH:
                raise Crashed from None
        else:
            # The current poll stays held at the service, as in exact mode.
            assert standing is not None
            reply = runner.service.leave(standing)
            if cause == CRASH:
                self.poll = reply
                raise Crashed from None
        if cause == PAUSE:
            yield from self._frozen()
        if event.triggered:
            self.poll = None  # a poll a pause froze ended, or brought a task, meanwhile
            return event.value
        return (yield from super()._await_poll(reply))

    def freeze(self) -> None:
        """The runner pauses while this thread's polls are counted in bulk (fast mode).

        Its current poll is held at the service, as in exact mode, and the thread sleeps on it
        without an interrupt: whatever the poll brings, it handles after the resume.
        """
        standing, self.standing = self.standing, None
        assert standing is not None
        self.poll = self.runner.service.leave(standing)

    def can_stand(self) -> bool:
        """Whether this thread's polls can be counted in bulk (see `StandingPoll`)."""
        runner = self.runner
        now = runner.env.now
        return not runner.lossy and runner.connected(now)

    def _execute(self, attempt: Attempt) -> Wait:
        if self.schedule is None:
            return (yield from super()._execute(attempt))
        # A task it took on callbacks (`take`), acknowledged and counted in bulk since: the
        # interrupt that woke the process (`woken`) hands the work over to it here.
        cause, self.woken = self.woken, None
        done = self.done
        next_report = yield from self._counted(self.schedule, cause, math.inf, math.inf)
        if self.heard is not None and self._hears_stop(attempt, done):
            return None
        return (yield from self._work(attempt, done, next_report))

    def _await_report(self, attempt: Attempt, next_report: float, left: float, done: float) -> Wait:
        if not self._can_skip(attempt, self.runner.env.now):
            return (yield from super()._await_report(attempt, next_report, left, done))
        next_report = yield from self._fast(attempt, next_report, left)
        if self.heard is not None and self._hears_stop(attempt, done):
            return None
        return next_report

    def _hears_stop(self, attempt: Attempt, done: float) -> bool:
        """Fast mode: whether the reply to the report `_counted` sent (`heard`) stops the work."""
        reply, self.heard = self.heard, None
        if reply in (CANCELED, NOT_FOUND):
            self._stop(attempt, done)
            return True
        return False

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

    def acks_at_once(self) -> bool:
        """Fast mode: whether a task handed to this thread now is acknowledged in this instant.

        Its acknowledgement window then needs no lease timer: the first report replaces it before
        anything else can happen, and `_bulk` watches the lease from there.
        """
        runner = self.runner
        now = runner.env.now
        return (
            not runner.lossy
            and runner.alive
            and not runner.paused
            and runner.direct[PROGRESS]
            and runner.startup.fixed == 0.0
            and due(runner.stall_until, now)
            and runner.connected(now)
        )

    def on_callbacks(self) -> bool:
        """Fast mode: whether the thread runs on callbacks while its process sleeps on `parked`.

        It stands, works on a task it took, or holds a poll a pause froze (none brought yet).
        """
        parked = self.parked
        return parked is not None and not parked.triggered and (
            self.standing is not None or self.schedule is not None or self.poll is not None
        )

    def die(self) -> None:
        """The runner dies while the thread runs on callbacks: what a crash does to it (its poll
        closes, its task is lost), without waking its process, which sleeps on until the restart
        (`wake`) instead of ending and being replaced by a new one.
        """
        standing, self.standing = self.standing, None
        if standing is not None:
            self.runner.service.drop(standing)
        self._crashed()
        self.dormant = True

    def restart(self) -> None:
        """The runner restarts: the thread polls again, at once, as a new process would."""
        self.dormant = False
        self._poll_again()

    def _poll_again(self) -> None:
        """PollForTask from a thread on callbacks: it takes a task, stands, or wakes its process."""
        parked = self.parked
        assert parked is not None
        if not self.can_stand():  # the process polls itself (not under fast mode's conditions)
            parked.succeed(None)
            return
        reply = self._lands(POLL, self)  # a task at once, or the thread stands again on `parked`
        if reply.__class__ is Attempt:
            if reply.timer is None:  # type: ignore[union-attr]
                self.take(reply)  # type: ignore[arg-type]
            else:
                parked.succeed(reply)

    def hold_ended(self, poll: Poll) -> bool:
        """A poll that a pause froze (`freeze`) ends empty after the pause: poll again on
        callbacks, without waking the process. False: the process sees the empty reply itself.
        """
        runner = self.runner
        if self.poll is not poll or self.parked is not poll.event or runner.paused:
            return False
        self.poll = None
        self._poll_again()
        return True

    def parked_on(self) -> Event:
        """Fast mode: the event the process sleeps on while the thread runs on callbacks.

        Every standing poll of one such stretch shares it; it fires only to hand the process a
        task it must handle itself (or None: poll again).
        """
        if self.parked is None:
            self.parked = Event(self.runner.env)
        return self.parked

    def take(self, attempt: Attempt) -> None:
        """Start a task handed over when the thread `acks_at_once` (fast mode, process asleep).

        The thread acknowledges it and counts its reports in bulk in the same instant; one event,
        the work's completion (`_taken_done`), stands for the whole task, instead of waking the
        process to acknowledge it, an acknowledgement timer, and a wake-up at completion.
        """
        runner = self.runner
        now = runner.env.now
        self.attempt = attempt
        self._lands(PROGRESS, attempt)  # nothing can stop it (`acks_at_once`)
        attempt.work_started_at = now
        work = attempt.task.work
        self.done = now - runner.pause_total + work
        self._until_done(*self._bulk(attempt, now + self.interval, work))

    def _until_done(self, schedule: FastSchedule, wake: float) -> None:
        """Sleep on callbacks until the work completes (`wake`), counting reports in bulk."""
        env = self.runner.env
        env.timeout(wake - env.now, schedule).callbacks.append(self._taken_done)

    def _taken_done(self, event: Event) -> None:
        """The work of a task the thread took is done: SetTaskStatus, then poll again at once."""
        schedule = event.value
        if self.schedule is not schedule:  # an interrupt woke the process first: it took over
            return
        runner = self.runner
        attempt = schedule.attempt
        self.settle(watch=False)
        finished = self._complete(attempt, self.done - runner.active_time())
        # Lands: a stall or partition would have woken the process (`Runner.wake_fast`), and a
        # pause would have frozen the work (`freeze_work`).
        self._lands(STATUS, attempt, finished)
        self.attempt = None
        self._poll_again()

    def freeze_work(self) -> None:
        """The runner pauses while this thread works on a task it took (fast mode).

        No interrupt: the reports sent so far are counted, and the lease is watched if the pause
        may outlast it; the work and its reports stop until `thaw_work`.
        """
        schedule = self.schedule
        assert schedule is not None
        sent = self.settle(watch=False)
        self.frozen = schedule.start + sent * schedule.interval
        runner = self.runner
        if due(schedule.attempt.deadline, runner.paused_until):
            runner.service.watch_lease(schedule.attempt)

    def thaw_work(self) -> None:
        """The pause ends: the work and its reports go on, a report that fell due first.

        As in exact mode, the overdue report goes out at the resume. Where the pause changed
        anything (the lease ended, a stall or a partition began), the process goes on step by step;
        after a crash, the crash's interrupt does.
        """
        runner = self.runner
        now = runner.env.now
        next_report, self.frozen = self.frozen, None
        attempt = self.attempt
        assert next_report is not None and attempt is not None
        left = max(self.done - runner.active_time(), 0.0)
        schedule, wake = self._bulk(attempt, max(next_report, now), left)
        if not runner.alive:
            return
        if attempt.task.live is attempt and self.acks_at_once():
            self._until_done(schedule, wake)
        else:
            self.process.interrupt(WAKE)  # type: ignore[union-attr]

    def _fast(self, attempt: Attempt, next_report: float, left: float) -> Wait:
        """Sleep until the work completes or a report is lost, counting the reports in between.

        Returns the time of the next report still to send. A fault, the lease ending, or the end
        of the run interrupts the sleep; the reports sent until then are counted as they happened.
        """
        env = self.runner.env
        done_at = env.now + left
        schedule, wake = self._bulk(attempt, next_report, left)
        cause = None
        try:
            yield env.timeout(wake - env.now)
        except Interrupt as interrupt:
            cause = interrupt.cause
        return (yield from self._counted(schedule, cause, wake, done_at))

    def _bulk(
        self, attempt: Attempt, next_report: float, left: float
    ) -> tuple[FastSchedule, float]:
        """Start counting reports in bulk from `next_report`; returns the schedule and its wake-up.

        The wake-up is when the work completes or, under message loss, the next lost report.
        """
        runner = self.runner
        now = runner.env.now
        wake = now + left
        lost = math.inf
        if runner.loss:
            # Reports are lost independently: the next loss is a geometric number of reports away
            # (memoryless, so drawing it afresh at each entry keeps the distribution exact, as
            # long as the entry does not depend on the draw: see `_counted`).
            gap = int(runner.fast_rng().geometric(runner.loss))
            lost = next_report + (gap - 1) * self.interval
            wake = min(wake, lost)
        renew = attempt.task.kind.timeouts[2]
        schedule = FastSchedule(next_report, self.interval, renew, self, attempt, lost)
        self.schedule = attempt.fast = schedule
        covered = next_report <= attempt.deadline and self.interval < renew
        if attempt.timer is None and not covered:
            # No timer (the acknowledgement landed at once, see `acks_at_once`), and the reports
            # do not renew the lease before it runs out: it must be watched.
            runner.service.watch_lease(attempt)
        return schedule, wake

    def _counted(self, schedule: FastSchedule, cause: object, wake: float, done_at: float) -> Wait:
        """The wait of a schedule ended (`cause`: the interrupt, if any): count its reports."""
        runner = self.runner
        # Work done with no loss to fear: SetTaskStatus reaches the service at this very instant
        # (fast mode has no latency or throttling), so the lease needs no timer before it lands.
        sent = self.settle(watch=cause is not None or bool(runner.loss))
        if cause == CRASH:
            raise Crashed
        if cause == PAUSE:
            yield from self._frozen()
        next_report = schedule.start + sent * schedule.interval
        now = runner.env.now
        if cause is None and wake < done_at - EPSILON:  # woken by a lost report
            runner.log.calls[PROGRESS] += 1
            runner.log.lost[PROGRESS] += 1
            next_report = now + self.interval
        elif (
            cause == WAKE
            and next_report - now <= EPSILON  # woken at a report time (`superseded`)...
            and schedule.lost - now > EPSILON  # ...of a report the draw let through
            and not runner.paused
            and self.done - runner.active_time() > EPSILON  # work not done (then: SetTaskStatus)
            and self._can_skip(schedule.attempt, now, live=False)
        ):
            # `superseded` wakes the thread at its next report, and only while the schedule still
            # runs, i.e. when the geometric draw did not lose an earlier one: that draw already
            # decided this report arrives (unless it is `lost` itself, when the thread woke on
            # its own). Drawing loss again would stop a superseded holder with probability
            # (1 - loss)^2 instead of 1 - loss (issue 13, A2), so it lands here, and the process
            # goes on with its reply (`heard`).
            self.heard = self._lands(PROGRESS, schedule.attempt)  # type: ignore[assignment]
            next_report = now + self.interval
        return next_report

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
        sent = schedule.sent_before(self.runner.env.now if now is None else now)
        if sent:
            self.runner.log.calls[PROGRESS] += sent
            if self.runner.reply_loss:
                # Every one arrived (a lost request wakes the thread: `_counted`), and each answer
                # is lost on the way back independently: counted only, since a reply lost here
                # could only have said OK (the lease's end wakes the thread, `superseded`).
                lost = int(self.runner.fast_rng().binomial(sent, self.runner.reply_loss))
                self.runner.log.lost[PROGRESS] += lost
                self.runner.log.lost_replies[PROGRESS] += lost
            live = sent
            if attempt.task.live is not attempt:  # only reports up to the lease's end renewed it
                live = min(sent, schedule.sent_by(attempt.ended_at))
            checks = self.runner.service.checks
            if checks is not None:
                checks.bulk_reports(schedule, sent, live)
            if live:
                attempt.reports += live
                last = schedule.start + (live - 1) * schedule.interval
                attempt.deadline = max(attempt.deadline, last + schedule.renew)
        if watch:
            # The lease timer may be unset while the schedule renews; the lease needs it again.
            self.runner.service.watch_lease(attempt)
        return sent

    def superseded(self, schedule: FastSchedule) -> None:
        """The lease ended while this thread counted its reports: its next report hears of it."""
        env = self.runner.env
        at = schedule.next_after(env.now)

        def wake(_: Event) -> None:
            if self.schedule is schedule and self.process is not None and self.process.is_alive:
                self.process.interrupt(WAKE)

        env.timeout(at - env.now).callbacks.append(wake)


FastRunner.thread_class = FastThread
FastRunner.heartbeat_class = FastHeartbeat
