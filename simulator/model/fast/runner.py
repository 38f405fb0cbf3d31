"""Fast mode's runner: threads and heartbeats that count their calls in bulk where they can.

`FastRunner`, `FastThread` and `FastHeartbeat` are the exact classes of `simulator.model.runner`
with their hooks overridden; `simulation.Simulation` picks them for each fleet group that can run
fast (`fallbacks`). Where every call is certain to land at once, an idle thread stands at the
service (`StandingPoll`), and a task it is handed is acknowledged, counted in bulk and completed by
callbacks (`FastThread.take`) while its process sleeps. A pause freezes that work and a crash ends
it without waking the process (`freeze_work`, `die`); anything else that changes what a call does
(a stall, a partition, a lease ended by someone else) wakes it, and it goes on one step at a time
from exactly where the callbacks left off, in the exact code. A thread's state is one `Phase`
(`FastThread.state`; the diagram is in `FastThread`'s docstring).

The rule that keeps the two modes equal: a hook may skip an event only where exact mode's event
could not change a lease, an assignment or a random draw's order; tie-breaks between events of one
instant go through the same ranks (`service.Poll.rank`) in both modes.
"""

from __future__ import annotations

import enum
import math

import numpy as np
from simpy import Event, Interrupt

from simulator.model.actor import CRASH, PAUSE, WAKE, Crashed, Wait
from simulator.model.clock import EPSILON, due, ticks_before
from simulator.model.fast.schedule import FastSchedule
from simulator.model.fast.service import BulkClient, FastService, StandingPoll
from simulator.model.log import HEARTBEAT, POLL, PROGRESS, STATUS, Attempt
from simulator.model.runner import Heartbeat, Runner, Thread
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


class Phase(enum.Enum):
    """Where a `FastThread` is in the protocol, and who drives it: its process or callbacks.

    Each phase names the data it needs (see `FastThread`); any other field is not read in it.
    """

    STEPPING = "stepping"  # the process runs the exact code, one call at a time
    STANDING = "standing"  # idle, its polls stand at the service (`standing`); on callbacks
    HOLDING = "holding"  # a pause stopped the cycle: its poll (`poll`) is held; on callbacks
    WORKING = "working"  # works on a task it took (`take`), reports in bulk (`schedule`); callbacks
    FROZEN = "frozen"  # a pause froze that work; its next report is `frozen_report`; on callbacks
    REPORTING = "reporting"  # the process sleeps while its reports are counted (`schedule`)
    DORMANT = "dormant"  # the runner died while the thread ran on callbacks; asleep until restart


# Module-level names: a phase test on the hot path is one global load and an identity comparison.
STEPPING, STANDING, HOLDING, WORKING, FROZEN, REPORTING, DORMANT = Phase


class FastThread(Thread, BulkClient):
    """A poll thread that stands at the service while idle and counts its reports in bulk while
    it works, where every call is certain to land at once (see the module's docstring).

    Its state is one `Phase` (`state`) plus the data that phase needs. "On callbacks" means the
    process sleeps on `parked` while the service and timers drive the thread, "wake" that the
    process is handed a value on `parked` and goes on in the exact code:

        STEPPING --poll, none ready, can stand--> STANDING          (service: `stand`)
        STANDING --handed a task, acks at once--> WORKING           (service: `take`)
        STANDING --handed a task otherwise------> STEPPING (wake)   (service: `wake`)
        STANDING --handed a task, partitioned---> HOLDING           (service: `hold`; reply lost)
        STANDING --pause------------------------> HOLDING           (`freeze`)
        STANDING --partition (interrupt)--------> STEPPING          (its poll held, exact)
        HOLDING  --hold ends, not paused--------> poll again        (`answered`)
        HOLDING  --answered otherwise-----------> STEPPING (wake)
        HOLDING  --pause (interrupt)------------> STEPPING          (its poll held, exact)
        WORKING  --work done--------------------> SetTaskStatus, poll again (`_taken_done`)
        WORKING  --pause------------------------> FROZEN            (`freeze_work`)
        FROZEN   --resume, still fast-----------> WORKING           (`thaw_work`)
        FROZEN   --resume otherwise-------------> WORKING + interrupt
        WORKING  --stall, partition, superseded-> STEPPING          (interrupt: `_counted`)
        STANDING, HOLDING, WORKING --crash------> DORMANT           (`die`, no interrupt)
        DORMANT  --restart----------------------> poll again        (`restart`)
        STEPPING --report due, nothing can happen--> REPORTING      (`_fast`)
        REPORTING --work done, lost report, interrupt--> STEPPING   (`_counted`)

    "Poll again" (`_poll_again`, on callbacks) ends in STANDING, WORKING or STEPPING (wake).
    In STEPPING and REPORTING a pause or a crash interrupts the process, as in exact mode.
    """

    runner: FastRunner

    def __init__(self, runner: Runner, index: int) -> None:
        super().__init__(runner, index)
        self.state = STEPPING
        self.parked: Event | None = None  # what the process sleeps on while on callbacks
        self.standing: StandingPoll | None = None  # STANDING: its cycle at the service
        self.schedule: FastSchedule | None = None  # WORKING, REPORTING: its reports in bulk
        self.frozen_report = 0.0  # FROZEN: the next report, due when the pause ends

    # --- hooks -----------------------------------------------------------------------------------

    def start(self, delay: float) -> None:
        if self.state is DORMANT:  # its process slept through the crash (`die`)
            self.restart()
        else:
            super().start(delay)

    def crash(self) -> None:
        state = self.state
        if state is STANDING or state is HOLDING or state is WORKING:
            self.die()  # on callbacks: no process to interrupt
        else:
            super().crash()

    def pause(self) -> None:
        # Calls counted in bulk just stop (see `freeze`); a process is interrupted otherwise.
        state = self.state
        if state is STANDING:
            self.freeze()
        elif state is WORKING:
            self.freeze_work()
        else:
            super().pause()

    def resume(self) -> None:
        if self.state is FROZEN:
            self.thaw_work()

    def disturb(self, polls: bool = False) -> None:
        """A stall (progress reports) or a partition (`polls`: every call) begins: a process
        counting such calls in bulk wakes and goes on one step at a time."""
        state = self.state
        bulk = state is WORKING or state is REPORTING or (polls and state is STANDING)
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
        # Fast mode: from here on the thread runs on callbacks, polling in bulk, taking tasks
        # and completing them (`take`), while its process sleeps until something needs it: a
        # hand-over it cannot take at once (`wake`), or an interrupt.
        event = reply.event
        while True:
            try:
                value = yield event
            except Interrupt as interrupt:
                if self.state is DORMANT or self.state is FROZEN:
                    # An interrupt of this instant found nothing to take over (the runner died,
                    # or paused, since): `restart` or `thaw_work` goes on from here.
                    continue
                cause = interrupt.cause
                break
            # Woken (`wake`): a task to handle, or None: poll again.
            self.parked = None
            if self.poll is not None:  # woken from HOLDING: a pause had stopped its cycle
                self.poll = None
                self.attempt = value  # a crash during the pause finds it
                yield from self._frozen()
            return value
        self.parked = None
        state, self.state = self.state, STEPPING
        if state is WORKING:
            # At work on a task it took: the process takes the work over here.
            attempt = self.attempt
            assert attempt is not None and self.schedule is not None
            next_report = yield from self._counted(self.schedule, cause, math.inf, math.inf)
            if next_report is not None:
                yield from self._work(attempt, self.done, next_report)
            self.attempt = None
            return None
        if state is STEPPING:  # woken (`wake`) in the instant of the interrupt
            if cause == CRASH:
                self.attempt = event.value
                raise Crashed from None
        elif state is HOLDING:  # its poll is held already (a pause, or a partition's hand-over)
            reply = self.poll  # type: ignore[assignment]
            if cause == CRASH:
                raise Crashed from None
        else:  # STANDING: the current poll stays held at the service, as in exact mode
            standing, self.standing = self.standing, None
            assert standing is not None
            reply = self.runner.service.leave(standing)
            if cause == CRASH:
                self.poll = reply
                raise Crashed from None
        if cause == PAUSE:
            yield from self._frozen()
        if event.triggered:  # a task (or None) arrived meanwhile
            self.poll = None
            return event.value
        return (yield from super()._await_poll(reply))

    # --- transitions driven by the service (`fast.service.StandingClient`) ----------------------

    def parked_on(self) -> Event:
        """The event the process sleeps on while the thread runs on callbacks.

        Every standing poll of one such stretch shares it; it fires only to hand the process a
        task it must handle itself, or None: poll again (`wake`).
        """
        if self.parked is None:
            self.parked = Event(self.runner.env)
        return self.parked

    def stand(self, standing: StandingPoll) -> StandingPoll:
        """-> STANDING: its polls stand at the service (`parked_on` is their event)."""
        self.state = STANDING
        self.standing = standing
        return standing

    def hold(self, poll: Poll) -> None:
        """STANDING -> HOLDING: its cycle stopped; its current poll is held, as in exact mode."""
        self.standing = None
        self.state = HOLDING
        self.poll = poll

    def wake(self, value: Attempt | None) -> None:
        """-> STEPPING: the process is handed `value` (a task to handle, or None: poll again)."""
        self.standing = None
        self.state = STEPPING
        self.parked.succeed(value)  # type: ignore[union-attr]

    def answered(self, poll: Poll, attempt: Attempt | None) -> None:
        """A held poll left from a standing cycle is answered: `attempt`, or None when its hold
        ends empty. In HOLDING, an empty answer after the pause is a poll again on callbacks,
        without waking the process; otherwise the process receives the answer."""
        if self.state is HOLDING and self.poll is poll:
            if attempt is None and not self.runner.paused:
                self.poll = None
                self._poll_again()
            else:
                self.wake(attempt)
        else:  # the process waits on this poll itself (STEPPING)
            poll.event.succeed(attempt)

    def connected(self, now: float) -> bool:
        """Whether its runner's calls land at once at `now` (`Runner.connected`)."""
        return self.runner.connected(now)

    def can_stand(self) -> bool:
        """Whether this thread's polls can be counted in bulk (see `StandingPoll`)."""
        runner = self.runner
        now = runner.env.now
        return not runner.lossy and runner.connected(now)

    def acks_at_once(self) -> bool:
        """Whether a task handed to this thread now is acknowledged in this instant.

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

    def take(self, attempt: Attempt) -> None:
        """-> WORKING: start a task handed over when the thread `acks_at_once` (process asleep).

        The thread acknowledges it and counts its reports in bulk in the same instant; one event,
        the work's completion (`_taken_done`), stands for the whole task, instead of waking the
        process to acknowledge it, an acknowledgement timer, and a wake-up at completion.
        """
        runner = self.runner
        now = runner.env.now
        self.standing = None
        self.attempt = attempt
        self._lands(PROGRESS, attempt)  # nothing can stop it (`acks_at_once`)
        attempt.work_started_at = now
        work = attempt.task.work
        self.done = now - runner.pause_total + work
        schedule, wake = self._bulk(attempt, now + self.interval, work)
        self.state = WORKING
        self._until_done(schedule, wake)

    # --- transitions on callbacks ----------------------------------------------------------------

    def freeze(self) -> None:
        """STANDING -> HOLDING: the runner pauses while this thread's polls are counted in bulk.

        Its current poll is held at the service, as in exact mode, and the thread sleeps on it
        without an interrupt: whatever the poll brings, it handles after the resume.
        """
        standing = self.standing
        assert standing is not None
        self.hold(self.runner.service.leave(standing))

    def die(self) -> None:
        """STANDING, HOLDING or WORKING -> DORMANT: what a crash does to it (its poll closes, its
        task is lost), without waking its process, which sleeps on until the restart instead of
        ending and being replaced by a new one.
        """
        if self.state is STANDING:
            standing, self.standing = self.standing, None
            self.runner.service.drop(standing)  # type: ignore[arg-type]
        self._crashed()
        self.state = DORMANT

    def restart(self) -> None:
        """DORMANT -> poll again: the runner restarts; it polls at once, as a new process would."""
        self._poll_again()

    def _poll_again(self) -> None:
        """PollForTask on callbacks: it takes a task (WORKING), stands, or wakes its process."""
        if not self.can_stand():  # the process polls itself (not under fast mode's conditions)
            self.wake(None)
            return
        reply = self._lands(POLL, self)  # a task at once, or the thread stands again (`stand`)
        if reply.__class__ is Attempt:
            if reply.timer is None:  # type: ignore[union-attr]
                self.take(reply)  # type: ignore[arg-type]
            else:
                self.wake(reply)  # type: ignore[arg-type]

    def _until_done(self, schedule: FastSchedule, wake: float) -> None:
        """Sleep on callbacks until the work completes (`wake`), counting reports in bulk."""
        env = self.runner.env
        env.timeout(wake - env.now, schedule).callbacks.append(self._taken_done)

    def _taken_done(self, event: Event) -> None:
        """WORKING: the work is done: SetTaskStatus, then poll again at once."""
        schedule = event.value
        if self.schedule is not schedule:  # an interrupt woke the process first: it took over
            return
        runner = self.runner
        attempt = schedule.attempt
        self.settle(watch=False)
        finished = self._complete(attempt, self.done - runner.active_time())
        # Lands: a stall or partition would have woken the process (`disturb`), and a pause
        # would have frozen the work (`freeze_work`).
        self._lands(STATUS, attempt, finished)
        self.attempt = None
        self._poll_again()

    def freeze_work(self) -> None:
        """WORKING -> FROZEN: the runner pauses while this thread works on a task it took.

        No interrupt: the reports sent so far are counted, and the lease is watched if the pause
        may outlast it; the work and its reports stop until `thaw_work`.
        """
        schedule = self.schedule
        assert schedule is not None
        sent = self.settle(watch=False)
        self.state = FROZEN
        self.frozen_report = schedule.start + sent * schedule.interval
        runner = self.runner
        if due(schedule.attempt.deadline, runner.paused_until):
            runner.service.watch_lease(schedule.attempt)

    def thaw_work(self) -> None:
        """FROZEN -> WORKING: the pause ends; the work and its reports go on, a report that fell
        due first.

        As in exact mode, the overdue report goes out at the resume. Where the pause changed
        anything (the lease ended, a stall or a partition began), the process goes on step by step
        (an interrupt); after a crash, the crash does (`die`).
        """
        runner = self.runner
        now = runner.env.now
        attempt = self.attempt
        assert attempt is not None
        left = max(self.done - runner.active_time(), 0.0)
        schedule, wake = self._bulk(attempt, max(self.frozen_report, now), left)
        self.state = WORKING
        if not runner.alive:
            return
        if attempt.task.live is attempt and self.acks_at_once():
            self._until_done(schedule, wake)
        else:
            self.process.interrupt(WAKE)  # type: ignore[union-attr]

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
        """STEPPING -> REPORTING -> STEPPING: sleep until the work completes or a report is lost,
        counting the reports in between.

        Returns the time of the next report still to send, or None if the work must stop. A
        fault, the lease ending, or the end of the run interrupts the sleep; the reports sent
        until then are counted as they happened.
        """
        env = self.runner.env
        done_at = env.now + left
        schedule, wake = self._bulk(attempt, next_report, left)
        self.state = REPORTING
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
        """-> STEPPING: the wait of a schedule ended (`cause`: the interrupt, if any): count its
        reports. Returns the next report's time, or None when a report sent here was answered
        `canceled` or `not_found` (the work stops)."""
        runner = self.runner
        self.state = STEPPING
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
            # goes on with its reply.
            reply = self._lands(PROGRESS, schedule.attempt)
            if reply in (CANCELED, NOT_FOUND):
                self._stop(schedule.attempt, self.done)
                return None
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
        """The lease ended while its reports were counted in bulk: the next one hears of it."""
        env = self.runner.env
        at = schedule.next_after(env.now)

        def wake(_: Event) -> None:
            if self.schedule is schedule and self.process is not None and self.process.is_alive:
                self.process.interrupt(WAKE)

        env.timeout(at - env.now).callbacks.append(wake)


FastRunner.thread_class = FastThread
FastRunner.heartbeat_class = FastHeartbeat
