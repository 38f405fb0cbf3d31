"""A task runner: poll threads that acknowledge, work and report, and a runner heartbeat.

Each thread is one SimPy process that reads like the Task Runner's loop: poll, start up,
acknowledge with the first ReportTaskProgress, work while reporting every `progress_interval`,
then SetTaskStatus. Faults reach the runner from `faults`: a crash or a pause interrupts every
process of the runner; a stall (of progress reports or of runner heartbeats), a partition or
message loss is state a call consults.

Fast mode shortcuts that loop where every call is certain to land at once: an idle thread stands
at the service (`StandingPoll`), and a task it is handed is acknowledged, counted in bulk and
completed by callbacks (`Thread.take`) while its process sleeps. A pause freezes that work and a
crash ends it without waking the process (`freeze_work`, `die`); anything else that changes what
a call does (a stall, a partition, a lease ended by someone else) wakes it, and it goes on one
step at a time from exactly where the callbacks left off.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
from simpy import Environment, Event, Interrupt, Process

from simulator.distributions import Sampler, Uniforms
from simulator.model.clock import EPSILON, SPIN_LIMIT, due, stuck, ticks_before
from simulator.model.fast import FastSchedule
from simulator.model.log import HEARTBEAT, POLL, PROGRESS, STATUS, Attempt, Log
from simulator.model.service import (
    CANCELED,
    LOST,
    NOT_FOUND,
    OK,
    THROTTLED,
    Poll,
    Service,
    StandingPoll,
)
from simulator.scenario.schema import FleetGroup
from simulator.seeds import Stream

PAUSE, CRASH, WAKE = "pause", "crash", "wake"  # interrupt causes

Wait = Generator[Event, Any, Any]


class Crashed(Exception):
    """Raised inside a runner's processes when the runner dies."""


class GroupState:
    """What one fleet group's runners share: a group-wide partition (a zone outage)."""

    __slots__ = ("env", "partition_until", "members")

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.partition_until = float("-inf")
        self.members: list[Runner] = []

    def begin_partition(self, duration: float) -> bool:
        self.partition_until = max(self.partition_until, self.env.now + duration)
        for runner in self.members:
            runner.wake_fast(polls=True)
        return True


class Runner:
    """One task runner process: its threads, its heartbeat, and the faults it is under."""

    def __init__(
        self, env: Environment, name: str, config: FleetGroup, group: GroupState,
        service: Service, log: Log, latency: Sampler, startup: Sampler, uniforms: Uniforms,
        heartbeat_phase: float,
        fast_stream: Stream | None = None,
        start_offset: float = 0.0,
        ranks: list[float] | None = None,
    ) -> None:  # fmt: skip
        self.env = env
        self.name = name
        self.config = config
        self.group = group
        self.service = service
        self.log = log
        self.latency = latency
        self.instant = latency.fixed == 0.0  # calls take no time: no latency event per call
        self.startup = startup
        self.uniforms = uniforms
        self.heartbeat_phase = heartbeat_phase
        # When the runner first starts (the fleet group's `start_spread`); a restart is immediate.
        self.start_offset = start_offset
        # Each thread's rank among polls of one instant (`service.Poll`): a random draw, not the
        # order in which the scenario lists the runners.
        self.ranks = ranks if ranks is not None else [float(i) for i in range(config.threads)]
        # Fast mode: whether this runner's calls may be counted in bulk (see `Thread._fast`); its
        # stream draws the gaps between reports lost to message loss.
        self.fast = fast_stream is not None
        self._fast_stream = fast_stream
        self._fast_rng: np.random.Generator | None = None
        # Message loss per direction (docs/model.md, "Faults"): a lost request never reaches the
        # service; a lost reply leaves the call handled but the runner without an answer.
        self.loss = config.faults.request_loss
        self.reply_loss = config.faults.reply_loss
        self.lossy = bool(self.loss or self.reply_loss)  # no call is certain to be answered
        # Per operation: answered at once (no latency, no rate limit to wait out), so a call
        # needs neither a generator nor an event (`Actor._now`).
        self.direct = [self.instant and bucket is None for bucket in service.buckets]
        self.alive = True
        self.paused = False
        self.resumed = env.event()
        self.pause_total = 0.0  # seconds spent paused, for the work clock
        self.paused_since = 0.0
        self.paused_until = 0.0  # when the current pause is due to end (a crash may end it first)
        self.pause_record = -1  # index of the current pause in log.faults
        self.generation = 0  # incremented at each (re)start: a poll's connection dies with it
        self.stall_until = float("-inf")  # progress_stall: progress reports blocked until then
        self.heartbeat_stall_until = float("-inf")  # heartbeat_stall: runner heartbeats blocked
        self.partition_until = float("-inf")
        self.threads = [Thread(self, i) for i in range(config.threads)]
        self.heartbeat = Heartbeat(self)
        self.processes: list[Process] = []
        self.start()

    def start(self) -> None:
        """(Re)start the runner's processes: one per thread, one for the runner heartbeat."""
        env = self.env
        self.alive = True
        self.generation += 1
        # The first start waits for the runner's start offset; a restart begins at once.
        delay = self.start_offset if self.generation == 1 else 0.0
        for thread in self.threads:
            if thread.dormant:  # its process slept through the crash (`Thread.die`)
                thread.wake()
            else:
                body = thread.run()
                thread.process = env.process(thread.after(delay, body) if delay > 0 else body)
        heartbeat = self.heartbeat
        if heartbeat.dormant:
            heartbeat.wake()
        else:
            body = heartbeat.run()
            heartbeat.process = env.process(heartbeat.after(delay, body) if delay > 0 else body)
        self.processes = [t.process for t in self.threads]  # type: ignore[misc]
        self.processes.append(heartbeat.process)  # type: ignore[arg-type]

    def cut_off(self, now: float) -> bool:
        """Whether a partition (the runner's or its group's) is in force at `now`."""
        return not due(self.partition_until, now) or not due(self.group.partition_until, now)

    def reply_lost(self, op: int) -> bool:
        """Whether the reply to a call the service handles now is lost on its way back: the
        runner is cut off by a partition in force now, or message loss drops it. Counted."""
        if self.cut_off(self.env.now) or (self.reply_loss and self.uniforms() < self.reply_loss):
            self.log.lost[op] += 1
            self.log.lost_replies[op] += 1
            return True
        return False

    def fast_rng(self) -> np.random.Generator:
        if self._fast_rng is None:
            self._fast_rng = self._fast_stream()  # type: ignore[misc]
        return self._fast_rng

    def active_time(self) -> float:
        """The runner's own clock: wall time less time spent paused (work advances only on it)."""
        now = self.env.now
        frozen = now - self.paused_since if self.paused else 0.0
        return now - self.pause_total - frozen

    # --- faults ----------------------------------------------------------------------------------

    def crash(self) -> None:
        """The runner dies: every thread and the heartbeat stop; held tasks are lost with them."""
        self.alive = False
        if self.paused:
            # The crash cuts the pause short: its record ends now, not when it was due to.
            runner, kind, start, _ = self.log.faults[self.pause_record]
            self.log.faults[self.pause_record] = (runner, kind, start, self.env.now)
            self.resume()
        for thread in self.threads:
            if thread.on_callbacks():
                thread.die()
            elif thread.process is not None and thread.process.is_alive:
                thread.process.interrupt(CRASH)
        heartbeat = self.heartbeat
        if heartbeat.beating is not None:
            heartbeat.die()
        elif heartbeat.process is not None and heartbeat.process.is_alive:
            heartbeat.process.interrupt(CRASH)

    def begin_pause(self, duration: float) -> bool:
        """Every thread, heartbeat included, freezes (a GC or VM pause)."""
        if not self.alive or self.paused:
            return False
        self.pause_record = len(self.log.faults)  # `faults.Spells` appends the record next
        self.paused = True
        self.paused_since = self.env.now
        self.paused_until = self.env.now + duration
        # Fast mode: calls counted in bulk just stop (see `freeze`); every other process is
        # interrupted and waits for the resume.
        for thread in self.threads:
            if thread.standing is not None:
                thread.freeze()
            elif thread.schedule is not None and thread.parked is not None:
                thread.freeze_work()  # at work on a task it took (`take`)
            elif thread.process is not None and thread.process.is_alive:
                thread.process.interrupt(PAUSE)
        beat = self.processes[-1]
        if self.heartbeat.beating is not None:
            self.heartbeat.freeze()
        elif beat.is_alive:
            beat.interrupt(PAUSE)
        return True

    def end_pause(self) -> None:
        if self.paused:  # a crash during the pause has already ended it
            self.resume()

    def begin_progress_stall(self, duration: float) -> bool:
        """`progress_stall`: progress reports, acknowledgements included, stop (a blocked reporter
        thread) while the work goes on; runner heartbeats go on."""
        if not self.alive:
            return False
        self.stall_until = max(self.stall_until, self.env.now + duration)
        self.wake_fast()
        return True

    def begin_heartbeat_stall(self, duration: float) -> bool:
        """`heartbeat_stall`: only ReportTaskRunnerHeartbeat stops (a blocked heartbeat thread);
        task threads go on. It costs leases only where heartbeats renew them
        (`heartbeat_renews_leases`, reference section 3.5)."""
        if not self.alive:
            return False
        self.heartbeat_stall_until = max(self.heartbeat_stall_until, self.env.now + duration)
        # Fast mode: heartbeats counted in bulk stop here and go on one by one (`Heartbeat.run`).
        # A paused runner's heartbeat checks at the resume (`Heartbeat.thaw`).
        beat = self.processes[-1] if self.processes else None
        if self.heartbeat.beating is not None and beat is not None and beat.is_alive:
            beat.interrupt(WAKE)
        return True

    def begin_partition(self, duration: float) -> bool:
        """No call reaches the service; the work goes on."""
        self.partition_until = max(self.partition_until, self.env.now + duration)
        self.wake_fast(polls=True)
        return True

    def wake_fast(self, polls: bool = False) -> None:
        """A fault changes what this runner's calls do: processes counting them in bulk stop.

        A stall stops progress reports only; a partition (`polls`) every call.
        """
        for thread in self.threads:
            bulk = thread.schedule is not None or (polls and thread.standing is not None)
            if bulk and thread.process is not None and thread.process.is_alive:
                thread.process.interrupt(WAKE)
        beat = self.processes[-1] if self.processes else None
        if polls and self.heartbeat.beating is not None and beat is not None and beat.is_alive:
            beat.interrupt(WAKE)

    def resume(self) -> None:
        self.paused = False
        self.pause_total += self.env.now - self.paused_since
        if self.heartbeat.due is not None:
            self.heartbeat.thaw()
        for thread in self.threads:
            if thread.frozen is not None:
                thread.thaw_work()
        resumed, self.resumed = self.resumed, self.env.event()
        resumed.succeed()


class Actor:
    """A process of a runner (a thread or the heartbeat): waiting and calling under its faults."""

    runner: Runner

    def _wait(self, event: Event) -> Wait:
        """Wait for `event`; if the runner pauses meanwhile, also wait for it to resume."""
        while True:
            try:
                return (yield event)
            except Interrupt as interrupt:
                if interrupt.cause == CRASH:
                    raise Crashed from None
            # Paused: `event` may happen while frozen; it is seen only after the resume.
            yield from self._frozen()

    def _frozen(self) -> Wait:
        """Wait out a pause; a crash during it ends the process."""
        runner = self.runner
        while runner.paused:
            try:
                yield runner.resumed
            except Interrupt as interrupt:
                if interrupt.cause == CRASH:
                    raise Crashed from None

    def after(self, delay: float, body: Wait) -> Wait:
        """Run `body` once `delay` has passed (a runner's late first start); a pause stretches
        the wait, a crash ends it (the restart starts a new process at once)."""
        try:
            yield from self._sleep(delay)
        except Crashed:
            return None
        return (yield from body)

    def _sleep(self, delay: float) -> Wait:
        """Sleep `delay` of wall time, ending no earlier than the runner's resume if it pauses."""
        if delay > 0:
            yield from self._wait(self.runner.env.timeout(delay))

    def _backoff(self, k: int) -> float:
        """Exponential back-off before the next try of a call that failed k times before."""
        backoff = self.runner.config.backoff
        # The exponent stops growing long after the cap is reached (2.0**1024 overflows).
        delay = min(backoff.cap, backoff.base * 2.0 ** min(k, 1000))
        if backoff.jitter:
            delay *= 0.5 + 0.5 * self.runner.uniforms()
        return delay

    def _send(self, op: int, arg: object, finished: bool = True) -> Wait:
        """One try of a call with latency: lost on the way, or throttled or handled on arrival."""
        runner = self.runner
        if not self._departs(op):
            return LOST
        # The request travels on its own: it reaches the service even if the runner pauses or
        # dies meanwhile; the thread sees the reply once it runs again.
        env = runner.env
        if runner.service.checks is not None:
            runner.service.checks.in_flight[op] += 1
        reply = Event(env)
        request = (op, arg, finished, reply, runner.generation)
        env.timeout(runner.latency(), request).callbacks.append(self._deliver)
        return (yield from self._wait(reply))

    def _deliver(self, event: Event) -> None:
        op, arg, finished, reply, generation = event.value
        runner = self.runner
        if runner.service.checks is not None:
            runner.service.checks.in_flight[op] -= 1
        if op == POLL and (not runner.alive or runner.generation != generation):
            runner.log.lost[op] += 1  # the poller died: its connection closed with it
            return
        answer = self._arrives(op, arg, finished)
        # The reply leaves at once; a held poll's reply leaves later (`Service._ready`).
        if (op != POLL or answer.__class__ is Attempt) and runner.reply_lost(op):
            answer = self._unheard(op, answer)
        reply.succeed(answer)

    @staticmethod
    def _unheard(op: int, answer: object) -> int:
        """A reply lost on the way back (counted by the caller): the runner gets no answer. A
        task in a lost PollForTask reply stays assigned to a thread that never heard of it."""
        if op == POLL:
            answer.runner_outcome = "unheard"  # type: ignore[attr-defined]
        return LOST

    def _departs(self, op: int) -> bool:
        """Count a call as sent; False when a partition or message loss keeps it from service."""
        runner = self.runner
        runner.log.calls[op] += 1
        now = runner.env.now
        if (  # partitioned: its end not yet due (`clock.due`, inlined on this hot path)
            runner.partition_until - now > EPSILON
            or runner.group.partition_until - now > EPSILON
            or (runner.loss and runner.uniforms() < runner.loss)
        ):
            runner.log.lost[op] += 1
            return False
        return True

    def _arrives(self, op: int, arg: object, finished: bool = True) -> object:
        """The call reaches the service: throttled by the account's limits, or handled."""
        service = self.runner.service
        if service.buckets[op] is None or service.admit(op):
            return service.handle(op, arg, finished)
        return THROTTLED

    def _lands(self, op: int, arg: object, finished: bool = True) -> object:
        """A call whose request nothing can lose or throttle (fast mode's conditions hold, or its
        loss was drawn already): counted, handled; only message loss may drop its reply."""
        runner = self.runner
        runner.log.calls[op] += 1
        reply = runner.service.handle(op, arg, finished)
        if runner.reply_loss and runner.uniforms() < runner.reply_loss:
            runner.log.lost[op] += 1
            runner.log.lost_replies[op] += 1
            return self._unheard(op, reply) if reply.__class__ is Attempt else LOST
        return reply

    def _now(self, op: int, arg: object, finished: bool = True) -> object:
        """One try of a call with no latency: lost, or throttled or handled, at once."""
        if not self._departs(op):
            return LOST
        reply = self._arrives(op, arg, finished)
        runner = self.runner
        # The reply comes back in the same instant: a partition would have stopped the request,
        # so only message loss can drop it. A held poll's reply leaves later (`Service._ready`).
        if (
            runner.reply_loss
            and (op != POLL or reply.__class__ is Attempt)
            and runner.uniforms() < runner.reply_loss
        ):
            runner.log.lost[op] += 1
            runner.log.lost_replies[op] += 1
            return self._unheard(op, reply)
        return reply

    def _call(self, op: int, arg: object, finished: bool = True) -> Wait:
        """An API call retried with exponential back-off while throttled (reference section 1).

        Callers on the hot path use `_now` instead when `runner.direct[op]`: no throttling then.
        """
        runner = self.runner
        tries = 0
        while True:
            if runner.instant:
                reply = self._now(op, arg, finished)
            else:
                reply = yield from self._send(op, arg, finished)
            if reply != THROTTLED:
                return reply
            yield from self._sleep(self._backoff(tries))
            tries += 1


class Heartbeat(Actor):
    """ReportTaskRunnerHeartbeat every `runner_heartbeat_interval` (reference section 1)."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.interval = runner.config.runner_heartbeat_interval
        self.beating: float | None = None  # fast mode: heartbeats counted in bulk from here
        self.due: float | None = None  # fast mode: the beat a pause holds up (see `freeze`)
        self.dormant = False  # fast mode: its runner died while it beat in bulk (`die`)
        self.process: Process | None = None

    def run(self) -> Wait:
        runner = self.runner
        try:
            yield from self._sleep(runner.heartbeat_phase)
            while True:
                if self._can_skip():
                    yield from self._fast()
                    continue
                blocked = runner.heartbeat_stall_until - runner.env.now
                if blocked > EPSILON:  # the stall's end is not yet due (`clock.due`)
                    # A stalled heartbeat thread sends nothing; the beat it holds up goes out
                    # when the stall ends (as a stalled reporter's report does).
                    yield from self._sleep(blocked)
                    continue
                yield from self._call(HEARTBEAT, runner)
                yield from self._sleep(self.interval)
        except Crashed:
            return

    def _can_skip(self) -> bool:
        """Heartbeats that only count (they renew no lease) need no event each (fast mode)."""
        runner = self.runner
        now = runner.env.now
        return (
            runner.fast
            and not runner.service.heartbeat_renews
            and due(runner.heartbeat_stall_until, now)
            and due(runner.partition_until, now)
            and due(runner.group.partition_until, now)
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

    def wake(self) -> None:
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


class Thread(Actor):
    """One poll thread of a runner: at most one task and one outstanding poll at a time."""

    def __init__(self, runner: Runner, index: int) -> None:
        self.runner = runner
        self.index = index
        self.rank = runner.ranks[index]  # its place among polls of one instant (`service.Poll`)
        self.worker_group = runner.config.worker_group
        self.attempt: Attempt | None = None
        self.poll: Poll | None = None
        self.interval = runner.config.progress_interval
        self.jitter = runner.config.progress_jitter
        self.process: Process | None = None
        self.schedule: FastSchedule | None = None  # set while its reports are counted in bulk
        self.standing: StandingPoll | None = None  # set while its polls are counted in bulk
        self.done = 0.0  # when the current task's work completes, on the runner's own clock
        self.woken: object = None  # fast mode: what interrupted the work begun by `take`
        self.parked: Event | None = None  # fast mode: what the process sleeps on (`parked_on`)
        self.frozen: float | None = None  # fast mode: the next report when a pause froze the work
        self.dormant = False  # fast mode: its runner died while it ran on callbacks (`die`)
        self.heard: int | None = None  # fast mode: the reply to a report `_counted` sent

    def run(self) -> Wait:
        env = self.runner.env
        spun_at, spins = -1.0, 0  # polls at one instant (`clock.SPIN_LIMIT`)
        try:
            while True:
                if env.now == spun_at:
                    spins += 1
                    if spins > SPIN_LIMIT:
                        raise stuck(f"runner {self.runner.name}, thread {self.index}", env.now)
                else:
                    spun_at, spins = env.now, 0
                attempt = yield from self._poll()
                if attempt is not None:
                    self.attempt = attempt
                    yield from self._execute(attempt)
                    self.attempt = None
        except Crashed:
            self._crashed()

    def _crashed(self) -> None:
        self.settle()
        attempt = self.attempt
        poll = self.poll
        if poll is not None:
            # The dead process's connection closes: the service hands nothing more to its poll.
            poll.open = False
            self.poll = None
            if poll.event.triggered and poll.event.value is not None:
                attempt = poll.event.value  # handed over while the thread was frozen
        if attempt is not None and attempt.runner_outcome == "running":
            now = self.runner.env.now
            attempt.runner_outcome = "crashed"
            attempt.crashed_at = now
            if attempt.work_started_at == attempt.work_started_at:  # work had started: it stops
                # ...or had stopped already: done, while a slow call kept the thread busy.
                left = self.done - self.runner.active_time()
                attempt.work_ended_at = now + min(left, 0.0)
        self.attempt = None

    def _next_interval(self) -> float:
        if self.jitter:
            return self.interval + self.jitter * (2.0 * self.runner.uniforms() - 1.0)
        return self.interval

    def _poll(self) -> Wait:
        """PollForTask: a task now, a task handed to the held poll, or nothing after the hold."""
        direct = self.runner.direct[POLL]
        reply = self._now(POLL, self) if direct else (yield from self._call(POLL, self))
        if reply == LOST:
            # No reply to a lost request: the client gives up when a long poll would have ended.
            yield from self._sleep(self.runner.service.long_poll)
            return None
        if reply.__class__ is Attempt:
            return reply
        runner = self.runner
        if reply.__class__ is StandingPoll:
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
        self.poll = reply
        attempt = yield from self._wait(reply.event)
        self.poll = None
        return attempt

    def freeze(self) -> None:
        """The runner pauses while this thread's polls are counted in bulk (fast mode).

        Its current poll is held at the service, as in exact mode, and the thread sleeps on it
        without an interrupt: whatever the poll brings, it handles after the resume.
        """
        standing, self.standing = self.standing, None
        assert standing is not None
        self.poll = self.runner.service.leave(standing)

    def can_stand(self) -> bool:
        """Whether this thread's polls can be counted in bulk (fast mode, see StandingPoll)."""
        runner = self.runner
        now = runner.env.now
        return (
            runner.fast
            and not runner.lossy
            and due(runner.partition_until, now)
            and due(runner.group.partition_until, now)
        )

    def _report_blocked(self) -> float:
        """How long a progress stall still blocks this runner's progress reports."""
        return self.runner.stall_until - self.runner.env.now

    def _execute(self, attempt: Attempt) -> Wait:
        runner = self.runner
        env = runner.env
        if self.schedule is not None:
            # A task it took on callbacks (`take`), acknowledged and counted in bulk since: the
            # interrupt that woke the process (`woken`) hands the work over to it here.
            cause, self.woken = self.woken, None
            done = self.done
            next_report = yield from self._counted(self.schedule, cause, math.inf, math.inf)
            if self.heard is not None and self._hears_stop(attempt, done):
                return
        else:
            startup = runner.startup()
            if startup > 0:
                yield from self._work_for(startup)
            # Acknowledge: the first ReportTaskProgress, due within ack_timeout of the assignment.
            blocked = self._report_blocked()
            if blocked > EPSILON:  # the stall's end is not yet due (`clock.due`)
                yield from self._sleep(blocked)
            if runner.direct[PROGRESS]:
                reply = self._now(PROGRESS, attempt)
            else:
                reply = yield from self._call(PROGRESS, attempt)
            if reply in (CANCELED, NOT_FOUND):
                attempt.runner_outcome = "canceled"
                return
            now = attempt.work_started_at = env.now
            # Work advances on the runner's own clock (wall time less pauses); this code only runs
            # while the runner is not paused, so that clock reads `now - pause_total` here.
            done = self.done = now - runner.pause_total + attempt.task.work
            next_report = now + self._next_interval()
        throttled = 0  # consecutive throttled reports
        spun_at, spins = -1.0, 0  # turns of this loop at one instant (`clock.SPIN_LIMIT`)
        while True:
            now = env.now
            if now == spun_at:
                spins += 1
                if spins > SPIN_LIMIT:
                    raise stuck(f"runner {runner.name}, thread {self.index}", now)
            else:
                spun_at, spins = now, 0
            left = done - (now - runner.pause_total)
            # Every instant below is compared by the one rule of `clock.due`, inlined: the loop
            # must never find a report due while the stall that holds it up is not yet over.
            if left <= EPSILON:
                break
            if next_report - now <= EPSILON:  # a report is due
                if runner.stall_until - now > EPSILON:
                    # A stalled reporter sends nothing until the stall ends; the work goes on.
                    next_report = runner.stall_until
                    continue
                if runner.instant:  # the common case: answered at once (`_now`, inlined here)
                    reply = self._arrives(PROGRESS, attempt) if self._departs(PROGRESS) else LOST
                    loss = runner.reply_loss
                    if loss and reply != LOST and runner.uniforms() < loss:
                        # The report renewed the lease, but its reply (`canceled` too) is lost.
                        runner.log.lost[PROGRESS] += 1
                        runner.log.lost_replies[PROGRESS] += 1
                        reply = LOST
                else:
                    reply = yield from self._send(PROGRESS, attempt)
                if reply == THROTTLED:
                    # The reporter backs off; the work goes on, and ends the task if it completes
                    # first.
                    next_report = env.now + self._backoff(throttled)
                    throttled += 1
                    continue
                throttled = 0
                if reply in (CANCELED, NOT_FOUND):
                    self._stop(attempt, done)
                    return
                next_report = env.now + (self._next_interval() if self.jitter else self.interval)
                if not runner.instant:
                    continue  # the call took time: the work may have ended meanwhile
            # Sleep until the next report is due or the work is done.
            until_report = next_report - now
            if runner.fast and self._can_skip(attempt, now):
                next_report = yield from self._fast(attempt, next_report, left)
                if self.heard is not None and self._hears_stop(attempt, done):
                    return
                continue
            try:
                yield env.timeout(left if left < until_report else until_report)
            except Interrupt as interrupt:
                if interrupt.cause == CRASH:
                    raise Crashed from None
                # On resume an overdue report goes out at once: next_report is in the past.
                yield from self._frozen()
        finished = self._complete(attempt, left)
        tries = 0
        while (
            self._now(STATUS, attempt, finished)
            if runner.direct[STATUS]
            else (yield from self._call(STATUS, attempt, finished))
        ) == LOST:
            # No reply: the runner cannot know the status landed, so it sends it again.
            yield from self._sleep(self._backoff(tries))
            tries += 1

    def _stop(self, attempt: Attempt, done: float) -> None:
        """The only stop signal (reference 3.4): drop the work at once, no SetTaskStatus."""
        runner = self.runner
        left = done - runner.active_time()
        attempt.work_ended_at = runner.env.now + min(left, 0.0)
        attempt.runner_outcome = "completed" if left <= EPSILON else "canceled"

    def _hears_stop(self, attempt: Attempt, done: float) -> bool:
        """Fast mode: whether the reply to the report `_counted` sent (`heard`) stops the work."""
        reply, self.heard = self.heard, None
        if reply in (CANCELED, NOT_FOUND):
            self._stop(attempt, done)
            return True
        return False

    def _complete(self, attempt: Attempt, left: float) -> bool:
        """The work is done (`left`: float slack): succeeded (FINISHED) or failed (FAILED)?"""
        runner = self.runner
        now = runner.env.now
        # Work ran during a slow report call too: date the completion when it really happened.
        attempt.work_ended_at = now + min(left, 0.0)
        if runner.service.checks is not None:
            runner.service.checks.work_completed(attempt, now)
        failure = attempt.task.kind.failure_probability
        finished = failure == 0.0 or runner.uniforms() >= failure  # no draw for a certainty
        attempt.runner_outcome = "completed" if finished else "failed"
        return finished

    # --- fast mode -------------------------------------------------------------------------------

    def _can_skip(self, attempt: Attempt, now: float, live: bool = True) -> bool:
        """Whether the coming reports can only renew the lease (or be lost independently).

        `live=False`: leave out the lease's state (whether the service still answers OK).
        """
        runner = self.runner
        return (
            attempt.reports > 0  # acknowledged: every report from now on renews for `renew`
            and due(runner.stall_until, now)
            and due(runner.partition_until, now)
            and due(runner.group.partition_until, now)
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
            runner.fast
            and not runner.lossy
            and runner.alive
            and not runner.paused
            and runner.direct[PROGRESS]
            and runner.startup.fixed == 0.0
            and due(runner.stall_until, now)
            and due(runner.partition_until, now)
            and due(runner.group.partition_until, now)
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

    def wake(self) -> None:
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

    def _work_for(self, seconds: float) -> Wait:
        """Spend `seconds` of the runner's own time (pauses stretch it)."""
        runner = self.runner
        end = runner.active_time() + seconds
        while (left := end - runner.active_time()) > EPSILON:
            yield from self._wait(runner.env.timeout(left))

