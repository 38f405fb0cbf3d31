"""Fast mode's poll thread: a phase machine that stands while idle and counts its reports in bulk.

Where every call lands at once, an idle thread stands at the service (`StandingPoll`), and a task
it is handed is acknowledged, counted in bulk and completed by callbacks (`FastThread.take`) while
its process sleeps. A pause freezes that work and a crash ends it without waking the process
(`freeze_work`, `die`); anything else that changes what a call does (a stall, a partition, a lease
ended by someone else) wakes it, and it goes on one step at a time from exactly where the callbacks
left off, in the exact code. A thread's state is one `Phase` (`FastThread.state`; the diagram is in
`FastThread`'s docstring).

Message loss does not stop any of this: which requests are lost is drawn ahead
(`draws.RequestLosses`), a lost report only leaves a gap in the lease (`FastSchedule.lost`), and
the rare lost poll, acknowledgement or SetTaskStatus hands the thread to its process
(`Then`), which goes on exactly with the loss already drawn.

The rule that keeps the two modes equal: a hook may skip an event only where exact mode's event
could not change a lease, an assignment or a random draw's order; tie-breaks between events of one
instant go through the same ranks (`service.Poll.rank`) in both modes.
"""

from __future__ import annotations

import math

from simpy import Event, Interrupt
from simpy.events import URGENT

from simulator.model.actor import CRASH, PAUSE, WAKE, Crashed, Wait
from simulator.model.clock import EPSILON, due
from simulator.model.fast.draws import FastRunner
from simulator.model.fast.phases import (
    DORMANT,
    FROZEN,
    HOLDING,
    REPORTING,
    STANDING,
    STARTING,
    STEPPING,
    WORKING,
    Then,
)
from simulator.model.fast.schedule import FastSchedule
from simulator.model.fast.service import BulkClient, StandingPoll
from simulator.model.fast.startup import StartUp
from simulator.model.log import POLL, PROGRESS, STATUS, Attempt
from simulator.model.runner import Runner
from simulator.model.service import LOST, Poll, Service


class FastThread(StartUp, BulkClient):
    """A poll thread that stands at the service while idle and counts its reports in bulk while
    it works, where every call is certain to land at once (see the module's docstring).

    Its state is one `Phase` (`state`) plus the data that phase needs. "On callbacks" means the
    process sleeps on `parked` while the service and timers drive the thread, "wake" that the
    process is handed a value on `parked` and goes on in the exact code:

        STEPPING --poll, none ready, can stand--> STANDING          (service: `stand`)
        STANDING --handed a task, acks at once--> WORKING           (service: `take`)
        STANDING --handed a task, fixed start-up--> WORKING         (`_start_in_bulk`: the ack
                                                                     is its first report)
        WORKING  --ack ahead: pause, stall, partition, lease ended--> STARTING
                                                                    (`_back_to_start_up`)
        STANDING --handed a task, fixed start-up otherwise--> STARTING  (service: `take`)
        STARTING --start-up over, acks at once--> WORKING           (`_started`)
        STARTING --start-up over otherwise------> STEPPING (wake)   (the rest of the ack: `Then`)
        STARTING --pause, resume----------------> STARTING          (start-up stretched)
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
        STANDING, HOLDING, WORKING, STARTING --crash--> DORMANT     (`die`, no interrupt)
        DORMANT  --restart----------------------> poll again        (`restart`)
        STEPPING --report due, nothing can happen--> REPORTING      (`_fast`)
        REPORTING --work done, lost report, interrupt--> STEPPING   (`_counted`)

    "Poll again" (`_poll_again`, on callbacks) ends in STANDING, WORKING, STARTING or STEPPING
    (wake). The start-up's transitions are `fast.startup.StartUp`'s.
    In STEPPING and REPORTING a pause or a crash interrupts the process, as in exact mode.
    """

    runner: FastRunner

    def __init__(self, runner: Runner, index: int) -> None:
        super().__init__(runner, index)
        self.parked: Event | None = None  # what the process sleeps on while on callbacks
        self.standing: StandingPoll | None = None  # STANDING: its cycle at the service
        self.frozen_report = 0.0  # FROZEN: the next report, due when the pause ends
        self.handed_at = -math.inf  # when a task was last handed to its standing poll (`busy`)
        # Whether message loss draws anything for its requests or replies (`_left`).
        self.lossy = self.losses is not None or self.reply_losses is not None
        # What `acks_at_once` needs of the run's settings: reports not throttled, a start-up of
        # fixed length (or none).
        self.fixed_acks = runner.direct[PROGRESS] and runner.startup.fixed is not None
        # Whether its calls on callbacks may go to the service's operation itself, as
        # `Service.handle` would (not overridden, e.g. by the token-bucket bound, and no
        # invariant checks counting calls): one call fewer per call, three a task.
        service = runner.service
        self.plain = type(service).handle is Service.handle and service.checks is None

    # --- hooks -----------------------------------------------------------------------------------

    def start(self, delay: float) -> None:
        if self.state is DORMANT:  # its process slept through the crash (`die`)
            if all(thread.state is DORMANT for thread in self.runner.threads):  # type: ignore[attr-defined]
                self.restart()  # every thread polls at once, in thread order, as in exact mode
                return
            # Some thread starts a new process, whose first poll comes in an urgent event of this
            # instant: this one polls when its own new process would, in thread order.
            env = self.runner.env
            event = Event(env)
            event._ok, event._value = True, None  # noqa: SLF001 - a triggered event, as Initialize
            event.callbacks.append(self._restarted)
            env.schedule(event, URGENT)
        else:
            super().start(delay)

    def _restarted(self, _: Event) -> None:
        if self.state is DORMANT and self.runner.alive:
            self.restart()

    def crash(self) -> None:
        state = self.state
        if state is STANDING or state is HOLDING or state is WORKING or state is STARTING:
            self.die()  # on callbacks: no process to interrupt
        else:
            super().crash()

    def pause(self) -> None:
        # Calls counted in bulk just stop (see `freeze`); a process is interrupted otherwise.
        if self.state is WORKING and (schedule := self._acks_later()) is not None:
            self._back_to_start_up(schedule)  # and the start-up stops (`freeze_start_up`)
        state = self.state
        if state is STANDING:
            self.freeze()
        elif state is WORKING:
            self.freeze_work()
        elif state is STARTING:
            self.freeze_start_up()
        else:
            super().pause()

    def resume(self) -> None:
        state = self.state
        if state is FROZEN:
            self.thaw_work()
        elif state is STARTING:
            self._start_up()

    def disturb(self, polls: bool = False) -> None:
        """A stall (progress reports) or a partition (`polls`: every call) begins: a process
        counting such calls in bulk wakes and goes on one step at a time."""
        state = self.state
        if state is WORKING and (schedule := self._acks_later()) is not None:
            # The acknowledgement still ahead may be held up: `_started` decides at its instant.
            self._back_to_start_up(schedule)
            return
        bulk = state is WORKING or state is REPORTING or (polls and state is STANDING)
        if bulk and self.process is not None and self.process.is_alive:
            self.process.interrupt(WAKE)

    def drain(self) -> None:
        """The runner drains (stops polling), as in exact mode (`Thread.drain`): a standing cycle
        or a held poll closes with an empty reply and the process leaves its loop; a task it
        works on is finished first (`_poll_again` then wakes the process, which leaves)."""
        state = self.state
        if state is STANDING:
            standing = self.standing
            assert standing is not None
            self.runner.service.drop(standing)  # its current poll closes
            self.wake(None)
        elif state is HOLDING:
            poll = self.poll
            if poll is not None and poll.open:
                poll.open = False
                poll.end()  # `answered`: the process is woken and leaves
        else:
            super().drain()

    def finish(self, until: float) -> None:
        if self.standing is not None:  # the empty replies of its holds ended before the end
            self._left(self.standing, until)
        self.settle(until)

    def _crashed(self) -> None:
        self.settle()
        super()._crashed()

    def _await_poll(self, reply: Poll) -> Wait:  # type: ignore[override]
        """A standing poll: the thread runs on callbacks until its process is needed; a held
        poll: as in exact mode. A process woken with `Then` takes those steps, then polls again."""
        if reply.__class__ is not StandingPoll:
            return (yield from super()._await_poll(reply))
        value = yield from self._on_callbacks(reply)
        if value.__class__ is Then:
            yield from value.steps()
            return None
        return value

    def _on_callbacks(self, reply: StandingPoll) -> Wait:
        """Sleep while the thread runs on callbacks; returns what the process is woken with."""
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
                # As in exact mode, a task handed to the held poll is the thread's only once the
                # pause ends (`Runner.busy`); a crash meanwhile finds it on the poll (`_crashed`).
                yield from self._frozen()
                self.poll = None
            return value
        self.parked = None
        state, self.state = self.state, STEPPING
        if state is WORKING:
            # At work on a task it took: the process takes the work over here.
            attempt = self.attempt
            assert attempt is not None and self.schedule is not None
            next_report = yield from self._counted(self.schedule, cause)
            if next_report is not None:
                yield from self._work(attempt, self.done, next_report)
            self.attempt = None
            return None
        if state is STEPPING:  # woken (`wake`) in the instant of the interrupt
            if cause == CRASH:
                if event.value.__class__ is not Then:
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
            self._left(standing, self.runner.env.now)
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
        losses = self.losses
        if losses is not None:
            # Its polls after the first are its next requests: the first of them that message
            # loss drops takes it out of the queue for one hold (`_poll_lost`).
            env = self.runner.env
            at = standing.first + (losses.ahead() + 1) * self.runner.service.long_poll
            env.timeout(at - env.now, standing).callbacks.append(self._poll_lost)
        return standing

    def hold(self, poll: Poll) -> None:
        """STANDING -> HOLDING: its cycle stopped; its current poll is held, as in exact mode."""
        if self.standing is not None:
            self._left(self.standing, self.runner.env.now)
        self.standing = None
        self.state = HOLDING
        self.poll = poll

    def wake(self, value: Attempt | Then | None) -> None:
        """-> STEPPING: the process is handed `value` (a task to handle, steps to take, or None:
        poll again)."""
        standing = self.standing
        if standing is not None:
            self._left(standing, self.runner.env.now)
            self.standing = None
            if value.__class__ is Attempt and self.runner.reply_loss and self.reply_lost(POLL):
                # Handed a task it cannot take at once (`FastService._hand_over`), in a reply that
                # message loss drops, as exact mode's hand-over to a held poll draws it.
                self._handed_unheard(standing, value)  # type: ignore[arg-type]
                return
        self.state = STEPPING
        self.parked.succeed(value)  # type: ignore[union-attr]

    def _left(self, standing: StandingPoll, now: float) -> None:
        """Its standing cycle ends at `now`: the polls after the first (counted by the service)
        were its next requests, none of them lost (`_poll_lost` ends the cycle at the first lost
        one); the empty reply of each hold that ended is lost independently (counted from its
        drawn sequence: a lost empty reply changes nothing, the thread polls again when the hold
        ends)."""
        if not self.lossy:
            return  # nothing drawn to skip (the service counts the polls themselves)
        runner = self.runner
        repolls = runner.service.groups[self.worker_group].repolls(standing, now)  # type: ignore[attr-defined]
        if self.losses is not None and repolls:
            self.losses.skip(repolls)
        self._replies_lost(repolls)

    def _replies_lost(self, replies: int) -> None:
        """`replies` empty replies to polls: count those message loss drops."""
        runner = self.runner
        if self.reply_losses is not None and replies:
            lost = self.reply_losses.skip(replies)
            runner.log.lost[POLL] += lost
            runner.log.lost_replies[POLL] += lost

    def _poll_lost(self, event: Event) -> None:
        """STANDING -> STEPPING: a poll of its standing cycle is lost (`stand`). As in exact mode,
        the hold before it ended empty, and the thread, without a reply, polls again when a long
        poll would have ended: its process does (`Then`)."""
        standing = event.value
        if self.standing is not standing:  # the cycle ended before
            return
        runner = self.runner
        now = runner.env.now
        runner.service.drop(standing)  # counts its polls before this one
        self._left(standing, now)
        self._replies_lost(1)  # the hold that ends now
        self.standing = None
        lost = not self._departs(POLL)  # the lost one (`RequestLosses.ahead` said so)
        assert lost
        self.wake(Then(self._lost_poll_wait))

    def _lost_poll_wait(self) -> Wait:
        """A lost PollForTask has no reply: the thread gives up when a long poll would have ended
        (`Thread._poll`)."""
        yield from self._sleep(self.runner.service.long_poll)

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
        # A draining runner polls no more: its process leaves its loop instead. Asked twice a
        # task: `Runner.connected` is inlined (`clock.due`: `t - now <= EPSILON`).
        return (
            not runner.draining
            and runner.partition_until - now <= EPSILON
            and runner.group.partition_until - now <= EPSILON
        )

    def acks_at_once(self) -> bool:
        """Whether a task handed to this thread now is acknowledged on callbacks: in this instant,
        or after a fixed start-up (`STARTING`, or counted with the reports: `_start_in_bulk`).

        Its acknowledgement window then needs no lease timer: the first report replaces it before
        anything else can happen (whatever could, a pause or a crash during the start-up, arms
        it), and `_bulk` watches the lease from there.
        """
        runner = self.runner
        now = runner.env.now
        # Asked once a task or more: `clock.due` and `Runner.connected` are inlined.
        return (
            self.fixed_acks
            and runner.alive
            and not runner.paused
            and runner.stall_until - now <= EPSILON
            and runner.partition_until - now <= EPSILON
            and runner.group.partition_until - now <= EPSILON
        )

    def take(self, attempt: Attempt) -> None:
        """-> WORKING: start a task handed over when the thread `acks_at_once` (process asleep).

        The thread acknowledges it and counts its reports in bulk in the same instant; one event,
        the work's completion (`_taken_done`), stands for the whole task, instead of waking the
        process to acknowledge it, an acknowledgement timer, and a wake-up at completion.
        """
        runner = self.runner
        now = runner.env.now
        standing = self.standing
        if standing is not None:
            if self.lossy:  # (`_left` has nothing to count otherwise: once a task)
                self._left(standing, now)
            self.standing = None
            self.handed_at = now
            if runner.reply_loss and self.reply_lost(POLL):
                self._handed_unheard(standing, attempt)
                return
        startup = runner.startup.fixed
        if startup:
            # `_take`'s common case, without the call (once a task): the acknowledgement is
            # counted with the work's reports.
            self.attempt = attempt
            if self._start_in_bulk(attempt, startup):
                return
        self._take(attempt, tried=True)

    def _handed_unheard(self, standing: StandingPoll, attempt: Attempt) -> None:
        """STANDING -> HOLDING: the reply handing it `attempt` is lost (counted), as in exact
        mode: the task stays assigned to a thread that never heard of it (its acknowledgement
        window runs out), and the thread, its poll open but answered, polls again when the hold
        ends (`answered`)."""
        service = self.runner.service
        poll = service.groups[self.worker_group].current(standing, self.runner.env.now)  # type: ignore[attr-defined]
        poll.lost = True
        service._held(poll)  # its hold ends as in exact mode  # noqa: SLF001
        attempt.runner_outcome = "unheard"
        service.watch_lease(attempt)  # assigned without a timer: it was to be acknowledged at once
        self.state = HOLDING
        self.poll = poll

    def _take(self, attempt: Attempt, tried: bool = False) -> None:
        """-> WORKING: acknowledge `attempt` in this instant and work on it on callbacks; or ->
        STARTING, where the runner has a fixed start-up (`tried`: `_start_in_bulk` could not
        count the acknowledgement with the work)."""
        runner = self.runner
        startup = runner.startup.fixed
        if startup:
            self.attempt = attempt
            if not tried and self._start_in_bulk(attempt, startup):
                return
            # As `Thread._acknowledge`: the start-up (on the runner's own clock, which a pause
            # stops), then the acknowledgement; one timeout instead of a wake-up, the start-up's
            # timeout and an acknowledgement timer.
            self.state = STARTING
            self.startup_end = runner.active_time() + startup
            if not startup < attempt.task.kind.timeouts[0]:  # the ack may come too late
                runner.service.watch_lease(attempt)
            self._start_up()
            return
        losses = self.losses
        if losses is not None:
            if losses.next_lost():
                # The acknowledgement is lost: the process sends it (the loss drawn already is
                # the one its call takes) and goes on step by step; its window needs the timer.
                runner.service.watch_lease(attempt)
                self.wake(attempt)
                return
            losses.send()
        self.attempt = attempt
        # Nothing can stop it (`acks_at_once`); a lost reply: OK.
        if self.plain and not runner.reply_loss:  # `_lands`, inlined: once a task
            runner.log.calls[PROGRESS] += 1
            runner.service.report_progress(attempt)
        else:
            self._lands(PROGRESS, attempt)
        self._work_on(attempt)

    def _work_on(self, attempt: Attempt) -> None:
        """-> WORKING: acknowledged now: the work starts, its reports are counted in bulk."""
        runner = self.runner
        now = runner.env.now
        attempt.work_started_at = now
        work = attempt.task.work
        self.done = now - runner.pause_total + work
        schedule, wake = self._bulk(attempt, now + self.interval, work)
        self.state = WORKING
        self._until_done(schedule, wake - now)

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
            self._left(standing, self.runner.env.now)  # type: ignore[arg-type]
        elif self.state is STARTING:
            self.startup_timer = None
            # Never acknowledged: its window runs out as in exact mode, where its timer was armed.
            self.runner.service.watch_lease(self.attempt)  # type: ignore[arg-type]
        self._crashed()
        self.state = DORMANT

    def restart(self) -> None:
        """DORMANT -> poll again: the runner restarts; it polls at once, as a new process would."""
        self._poll_again()

    def _poll_again(self) -> None:
        """PollForTask on callbacks: it takes a task (WORKING), stands, or wakes its process."""
        losses = self.losses
        if not self.can_stand() or (losses is not None and losses.next_lost()):
            # The process polls itself: not under fast mode's conditions, or the poll is lost
            # (its call takes the loss drawn already, and it waits out the long poll).
            self.wake(None)
            return
        if losses is not None:
            losses.send()
        runner = self.runner
        runner.log.calls[POLL] += 1
        # A task at once, or the thread stands again (`stand`).
        service = runner.service
        reply = service.poll_for_task(self) if self.plain else service.handle(POLL, self)
        if reply.__class__ is Attempt:
            if runner.reply_loss and self.reply_lost(POLL):
                # As in exact mode: the task stays with a thread that never heard of it, which
                # gives up waiting for the reply when a long poll would have ended.
                self._unheard(POLL, reply)
                self.wake(Then(self._lost_poll_wait))
            elif reply.timer is None:  # type: ignore[union-attr]
                self._take(reply)  # type: ignore[arg-type]
            else:
                self.wake(reply)  # type: ignore[arg-type]

    def _until_done(self, schedule: FastSchedule, delay: float) -> None:
        """Sleep on callbacks until the work completes, `delay` from now, counting reports in
        bulk."""
        self.runner.env.timeout(delay, schedule).callbacks.append(self._taken_done)

    def _taken_done(self, event: Event) -> None:
        """WORKING: the work is done: SetTaskStatus, then poll again at once."""
        schedule = event._value  # noqa: SLF001 - `event.value`, without the property: once a task
        if self.schedule is not schedule:  # an interrupt woke the process first: it took over
            return
        runner = self.runner
        attempt = schedule.attempt
        self.settle(watch=False)
        # Not paused (a pause would have frozen the work): `runner.active_time()`, inlined.
        finished = self._complete(attempt, self.done - (runner.env.now - runner.pause_total))
        # Reaches the service unless message loss drops it: a stall or partition would have
        # woken the process (`disturb`), and a pause would have frozen the work (`freeze_work`).
        if self.losses is None:
            # Without message loss it lands: `_lands` (`_now` less the checks that cannot fail),
            # inlined: once a task.
            log = runner.log
            log.calls[STATUS] += 1
            service = runner.service
            if self.plain:
                reply = service.set_task_status(attempt, finished)
            else:
                reply = service.handle(STATUS, attempt, finished)
            if runner.reply_loss and runner.uniforms() < runner.reply_loss:
                log.lost[STATUS] += 1
                log.lost_replies[STATUS] += 1
                reply = LOST
        else:
            reply = self._now(STATUS, attempt, finished)
        if reply == LOST:
            # No reply: as in exact mode (`Thread._work`), the thread sends it again after a
            # back-off, in its process; the lease, if it still holds, is watched meanwhile.
            runner.service.watch_lease(attempt)
            self.wake(Then(lambda: self._status_again(attempt, finished)))
            return
        self.attempt = None
        self._poll_again()

    def _status_again(self, attempt: Attempt, finished: bool) -> Wait:
        """SetTaskStatus sent again until a reply comes (`Thread._work`'s last loop)."""
        tries = 0
        while True:
            yield from self._sleep(self._backoff(tries))
            tries += 1
            if self._now(STATUS, attempt, finished) != LOST:
                break
        self.attempt = None

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
            self._until_done(schedule, wake - now)
        else:
            self.process.interrupt(WAKE)  # type: ignore[union-attr]
