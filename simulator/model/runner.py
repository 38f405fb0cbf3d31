"""A task runner: poll threads that acknowledge, work and report, and a runner heartbeat.

Each thread is one SimPy process that reads like the Task Runner's loop: poll, start up,
acknowledge with the first ReportTaskProgress, work while reporting every `progress_interval`,
then SetTaskStatus. Faults reach the runner from `faults`: a crash or a pause interrupts every
process of the runner; a stall (of progress reports or of runner heartbeats), a partition or
message loss is state a call consults.

This is exact mode: every call is an event. The heartbeat is `simulator.model.heartbeat`. What a
fault or a reply does to a thread or to the heartbeat goes through hook methods (`start`, `crash`,
`pause`, `resume`, `disturb`, `finish`, and inside the thread's loop `_await_poll` and
`_await_report`, which the loop inlines unless overridden); here they interrupt the process or do
nothing. Fast mode (`simulator.model.fast.runner`) overrides the same hooks to count calls in bulk;
nothing in this module knows it exists. The call machinery the threads and the heartbeat share
(waiting under pauses, back-off, a call's trip to the service and back) is `simulator.model.actor`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from heapq import heappush

from simpy import Environment, Interrupt, Process
from simpy.events import NORMAL, Timeout

from simulator.distributions import Sampler, Uniforms
from simulator.model.actor import CRASH, Actor, Crashed, Wait
from simulator.model.clock import EPSILON, SPIN_LIMIT, due, stuck
from simulator.model.heartbeat import Heartbeat
from simulator.model.log import POLL, PROGRESS, STATUS, Attempt, Log, RunnerRecord
from simulator.model.service import (
    CANCELED,
    LOST,
    NOT_FOUND,
    THROTTLED,
    Poll,
    Service,
)
from simulator.scenario.schema import FleetGroup

#: Before any instant: the end of a fault that never began. One object for every runner: the hot
#: paths read these at every call, and one float per runner would be one more cache miss each.
NEVER = float("-inf")


class GroupState:
    """What one fleet group's runners share: a group-wide partition (a zone outage)."""

    __slots__ = ("env", "partition_until", "members", "names")

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.partition_until = NEVER
        self.members: list[Runner] = []
        self.names: list[str] = []  # the members' names, for a group fault's records

    def begin_partition(self, duration: float) -> bool:
        self.partition_until = max(self.partition_until, self.env.now + duration)
        for runner in self.members:
            runner.disturb(polls=True)
        return True


class Runner:
    """One task runner process: its threads, its heartbeat, and the faults it is under."""

    # Slots, not a dict: with this many fields an instance dict no longer shares its keys with the
    # class and costs about 1.6 KB a runner; a fleet of 100,000 runners holds them all at once.
    __slots__ = (
        "env", "name", "config", "group", "service", "log", "latency", "instant", "startup",
        "uniforms", "heartbeat_phase", "start_offset", "ranks", "loss", "reply_loss", "direct",
        "alive", "paused", "resumed", "pause_total", "paused_since", "paused_until",
        "pause_record", "generation", "stall_until", "heartbeat_stall_until", "partition_until",
        "record", "draining", "retired", "noticed", "stop_reason", "threads_out", "threads",
        "heartbeat",
    )  # fmt: skip

    # What its processes are (the fast layer's runner names its own subclasses).
    thread_class: type[Thread]
    heartbeat_class: type[Heartbeat]

    def __init__(
        self, env: Environment, name: str, config: FleetGroup, group: GroupState,
        service: Service, log: Log, latency: Sampler, startup: Sampler, uniforms: Uniforms,
        heartbeat_phase: float,
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
        # Message loss per direction (docs/model.md, "Faults"): a lost request never reaches the
        # service; a lost reply leaves the call handled but the runner without an answer.
        self.loss = config.faults.request_loss
        self.reply_loss = config.faults.reply_loss
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
        self.stall_until = NEVER  # progress_stall: progress reports blocked until then
        self.heartbeat_stall_until = NEVER  # heartbeat_stall: runner heartbeats blocked
        self.partition_until = NEVER
        # Its life (issue 16): launched, ready, stopped, and why (set by `Simulation`).
        self.record: RunnerRecord | None = None
        self.draining = False  # stops polling; stops once its threads have finished (`drain`)
        self.retired = False  # stopped for good: never restarts (`stop`)
        self.noticed = False  # under an interruption notice (`faults.Interruptions`)
        self.stop_reason = ""
        self.threads_out = 0  # threads that left their loop while draining
        self.threads = [self.thread_class(self, i) for i in range(config.threads)]
        self.heartbeat = self.heartbeat_class(self)
        self.start()

    def start(self) -> None:
        """(Re)start the runner's processes: one per thread, one for the runner heartbeat."""
        self.alive = True
        self.generation += 1
        # The first start waits for the runner's start offset; a restart begins at once.
        delay = self.start_offset if self.generation == 1 else 0.0
        for thread in self.threads:
            thread.start(delay)
        self.heartbeat.start(delay)

    def connected(self, now: float) -> bool:
        """Whether this runner's calls land at once at `now`: no partition (the runner's own or
        its group's) is in force. The one place this is decided (`Actor._departs` inlines it)."""
        return due(self.partition_until, now) and due(self.group.partition_until, now)

    def reply_lost(self, op: int) -> bool:
        """Whether the reply to a call the service handles now is lost on its way back: the
        runner is cut off by a partition in force now, or message loss drops it. Counted."""
        now = self.env.now
        if (  # not `connected` (inlined: this runs at the end of every held poll)
            self.partition_until - now > EPSILON
            or self.group.partition_until - now > EPSILON
            or (self.reply_loss and self.uniforms() < self.reply_loss)
        ):
            self.log.lost[op] += 1
            self.log.lost_replies[op] += 1
            return True
        return False

    def in_service(self) -> bool:
        """Whether the runner counts as capacity: neither draining nor stopped for good."""
        return not (self.draining or self.retired or self.noticed)

    def busy(self) -> int:
        """Threads holding a task now (a read-only query for the scaling controller)."""
        return sum(thread.attempt is not None for thread in self.threads)

    def leases(self) -> Iterable[Attempt | None]:
        """The attempt each thread holds (None: idle), for a heartbeat that renews leases."""
        return [thread.attempt for thread in self.threads]

    def active_time(self) -> float:
        """The runner's own clock: wall time less time spent paused (work advances only on it)."""
        now = self.env.now
        frozen = now - self.paused_since if self.paused else 0.0
        return now - self.pause_total - frozen

    # --- faults ----------------------------------------------------------------------------------

    # --- leaving the fleet (issue 16) ------------------------------------------------------------

    def drain(self, reason: str) -> None:
        """Stop polling: idle threads leave at once (an open poll closes), working threads finish
        their task, then leave; when the last one has, the runner stops (`stop`). A hook: each
        thread's `drain` closes its poll."""
        if self.draining or self.retired:
            return
        self.draining = True
        self.stop_reason = reason
        self.noted()
        if not self.alive:  # down after a crash: nothing to finish
            self.stop(reason)
            return
        for thread in self.threads:
            thread.drain()

    def noted(self) -> None:
        """Record when the runner was first told to leave (its record's `notice_at`)."""
        record = self.record
        if record is not None and record.notice_at != record.notice_at:  # NaN: not yet
            record.notice_at = self.env.now

    def thread_left(self) -> None:
        """A thread left its loop while draining; the last one stops the runner."""
        self.threads_out += 1
        if self.threads_out >= len(self.threads) and not self.retired:
            # From a callback of this instant: the leaving thread's process cannot end itself.
            self.env.timeout(0.0).callbacks.append(lambda _: self.stop(self.stop_reason))

    def stop(self, reason: str) -> None:
        """The runner is gone for good (a terminate scale-in, the end of an interruption notice,
        the end of a drain, a crash that never restarts): its processes end as in a crash, and
        the leases of tasks it still holds are left to expire; the service is not told."""
        if self.retired:
            return
        self.retired = True
        self.stop_reason = reason
        self.noted()
        if self.record is not None:
            self.record.stopped_at = self.env.now
            self.record.reason = reason
        if self.alive:
            self.crash()

    def crash(self) -> None:
        """The runner dies: every thread and the heartbeat stop; held tasks are lost with them."""
        self.alive = False
        if self.paused:
            # The crash cuts the pause short: its record ends now, not when it was due to.
            runner, kind, start, _ = self.log.faults[self.pause_record]
            self.log.faults[self.pause_record] = (runner, kind, start, self.env.now)
            self.resume()
        for thread in self.threads:
            thread.crash()
        self.heartbeat.crash()
        if self.draining and not self.retired:  # a crash ends a drain: no restart
            self.stop(self.stop_reason)

    def begin_pause(self, duration: float) -> bool:
        """Every thread, heartbeat included, freezes (a GC or VM pause)."""
        if not self.alive or self.paused:
            return False
        self.pause_record = len(self.log.faults)  # `faults.Spells` appends the record next
        self.paused = True
        self.paused_since = self.env.now
        self.paused_until = self.env.now + duration
        for thread in self.threads:
            thread.pause()
        self.heartbeat.pause()
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
        self.disturb()
        return True

    def begin_heartbeat_stall(self, duration: float) -> bool:
        """`heartbeat_stall`: only ReportTaskRunnerHeartbeat stops (a blocked heartbeat thread);
        task threads go on. It costs leases only where heartbeats renew them
        (`heartbeat_renews_leases`, reference section 3.5)."""
        if not self.alive:
            return False
        self.heartbeat_stall_until = max(self.heartbeat_stall_until, self.env.now + duration)
        self.heartbeat.disturb()
        return True

    def begin_partition(self, duration: float) -> bool:
        """No call reaches the service; the work goes on."""
        self.partition_until = max(self.partition_until, self.env.now + duration)
        self.disturb(polls=True)
        return True

    def disturb(self, polls: bool = False) -> None:
        """A fault changes what this runner's calls do: a stall stops progress reports only, a
        partition (`polls`) every call. Exact processes consult that state at each call."""
        for thread in self.threads:
            thread.disturb(polls)
        if polls:
            self.heartbeat.disturb()

    def resume(self) -> None:
        self.paused = False
        self.pause_total += self.env.now - self.paused_since
        self.heartbeat.resume()
        for thread in self.threads:
            thread.resume()
        resumed, self.resumed = self.resumed, self.env.event()
        resumed.succeed()

    def finish(self, until: float) -> None:
        """The run ends at `until`: the heartbeat and the threads account for it (a hook)."""
        self.heartbeat.finish(until)
        for thread in self.threads:
            thread.finish(until)


class Thread(Actor):
    """One poll thread of a runner: at most one task and one outstanding poll at a time."""

    runner: Runner

    def __init__(self, runner: Runner, index: int) -> None:
        self.runner = runner
        self.name = runner.name  # as a `service.Client`: recorded on its attempts
        self.index = index
        self.rank = runner.ranks[index]  # its place among polls of one instant (`service.Poll`)
        self.worker_group = runner.config.worker_group
        self.attempt: Attempt | None = None
        self.poll: Poll | None = None
        self.interval = runner.config.progress_interval
        self.jitter = runner.config.progress_jitter
        self.process: Process | None = None
        self.done = 0.0  # when the current task's work completes, on the runner's own clock
        # As a `service.Client`: whether the reply to a call handled now is lost (counted). The
        # runner's own method, not a method calling it: the end of every held poll asks.
        self.reply_lost: Callable[[int], bool] = runner.reply_lost
        self.sure = self._sure()  # its direct calls inline `_departs` and `Service.handle`

    def run(self, delay: float = 0.0) -> Wait:
        """The Task Runner's loop: poll; acknowledge and work on the task polled, if any."""
        runner = self.runner
        env = runner.env
        service = runner.service
        # Answered at once and never throttled: a poll is a plain call (`Actor._now`, inlined).
        direct = runner.direct[POLL]
        sure = direct and self.sure
        calls = runner.log.calls
        group = runner.group
        # A held poll is waited on here (`_await_poll`, inlined: one generator fewer per poll)
        # unless a subclass waits its own way.
        one_wait = type(self)._await_poll is Thread._await_poll
        spun_at, spins = -1.0, 0  # polls at one instant (`clock.SPIN_LIMIT`)
        try:
            yield from self._sleep(delay)  # the runner's first start, if late
            while not runner.draining:
                now = env.now
                if now == spun_at:
                    spins += 1
                    if spins > SPIN_LIMIT:
                        raise stuck(f"runner {runner.name}, thread {self.index}", now)
                else:
                    spun_at, spins = now, 0
                # PollForTask: a task now, a task handed to the held poll, or nothing.
                if sure:
                    calls[POLL] += 1
                    if (  # partitioned: its end not yet due (`clock.due`, inlined)
                        runner.partition_until - now > EPSILON
                        or group.partition_until - now > EPSILON
                    ):
                        runner.log.lost[POLL] += 1
                        reply = LOST
                    else:
                        reply = service.poll_for_task(self)
                elif direct:
                    reply = service.handle(POLL, self) if self._departs(POLL) else LOST
                    # A held poll's reply leaves later (`Service._ready`); a task's, now.
                    if reply.__class__ is Attempt and runner.reply_loss and self.reply_lost(POLL):
                        reply = self._unheard(POLL, reply)
                else:
                    reply = yield from self._call(POLL, self)
                if reply.__class__ is Attempt:
                    attempt = reply
                elif reply.__class__ is int:  # LOST (`_call` retries a throttled poll)
                    # No reply to a lost request: the client gives up when a long poll would have
                    # ended.
                    yield from self._sleep(runner.service.long_poll)
                    continue
                elif one_wait:
                    # `_await_poll`, inlined: every idle thread waits here once per long poll.
                    event = reply.event  # type: ignore[union-attr]
                    if runner.draining and not event.triggered:  # sent before the drain began
                        reply.open = False  # type: ignore[union-attr]
                        continue
                    self.poll = reply  # type: ignore[assignment]
                    while True:
                        try:
                            attempt = yield event
                            break
                        except Interrupt as interrupt:
                            if interrupt.cause == CRASH:
                                raise Crashed from None
                        # Paused: the poll may be answered while frozen; seen after the resume.
                        yield from self._frozen()
                    self.poll = None
                    if attempt is None:
                        continue
                else:
                    attempt = yield from self._await_poll(reply)  # type: ignore[arg-type]
                    if attempt is None:
                        continue
                self.attempt = attempt
                started = yield from self._acknowledge(attempt)
                if started is not None:
                    yield from self._work(attempt, *started)
                self.attempt = None
        except Crashed:
            self._crashed()
            return
        runner.thread_left()  # draining: it polls no more

    def drain(self) -> None:
        """The runner drains: an open held poll closes with an empty reply (a task handed to it
        in this same instant is kept, and finished); the loop leaves before its next poll."""
        poll = self.poll
        if poll is not None and poll.open and not poll.event.triggered:
            poll.open = False
            poll.end()

    def _crashed(self) -> None:
        """The process ended with the runner: its poll closes, its task is lost."""
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

    def _await_poll(self, poll: Poll) -> Wait:
        """Wait on a held poll: the task it is handed, or None when the hold ends empty. A hook:
        `run` inlines this one, and calls a subclass's own."""
        if self.runner.draining and not poll.event.triggered:  # sent before the drain began
            poll.open = False
            return None
        self.poll = poll
        event = poll.event
        while True:  # `Actor._wait`, inlined: every idle thread waits here once per long poll
            try:
                attempt = yield event
                break
            except Interrupt as interrupt:
                if interrupt.cause == CRASH:
                    raise Crashed from None
            # Paused: the poll may be answered while frozen; it is seen only after the resume.
            yield from self._frozen()
        self.poll = None
        return attempt

    def _report_blocked(self) -> float:
        """How long a progress stall still blocks this runner's progress reports."""
        return self.runner.stall_until - self.runner.env.now

    def _acknowledge(self, attempt: Attempt) -> Wait:
        """Start up, then the first ReportTaskProgress, due within ack_timeout of the assignment.

        Returns (when the work completes on the runner's clock, when the next report is due), or
        None if the service says the task is no longer this thread's.
        """
        startup = self.runner.startup()
        if startup > 0:
            yield from self._work_for(startup)
        return (yield from self._first_report(attempt))

    def _first_report(self, attempt: Attempt) -> Wait:
        """The acknowledgement itself, once the start-up is over; returns as `_acknowledge`."""
        runner = self.runner
        blocked = self._report_blocked()
        if blocked > EPSILON:  # the stall's end is not yet due (`clock.due`)
            yield from self._sleep(blocked)
        if runner.direct[PROGRESS]:
            reply = self._now(PROGRESS, attempt)
        else:
            reply = yield from self._call(PROGRESS, attempt)
        if reply in (CANCELED, NOT_FOUND):
            attempt.runner_outcome = "canceled"
            return None
        now = attempt.work_started_at = runner.env.now
        # Work advances on the runner's own clock (wall time less pauses); this code only runs
        # while the runner is not paused, so that clock reads `now - pause_total` here.
        done = self.done = now - runner.pause_total + attempt.task.work
        return done, now + self._next_interval()

    def _work(self, attempt: Attempt, done: float, next_report: float) -> Wait:
        """Work until `done`, reporting progress when due, then SetTaskStatus (resent if lost)."""
        runner = self.runner
        env = runner.env
        service = runner.service
        # Fixed for the runner: a report answered at once (no latency), and of those, one never
        # throttled: that one, the common case, is a plain call (`Actor._now`, inlined below).
        instant = runner.instant
        direct = runner.direct[PROGRESS]
        # Of those, one no message loss can drop either (`sure`): `_departs` and `Service.handle`
        # are inlined below, as only a partition can keep such a report.
        sure = direct and self.sure
        report = service.report_progress if sure else None
        # The sleep to the next report is one timeout, yielded here (a generator fewer per
        # report), unless a subclass sleeps its own way (`_await_report`).
        one_sleep = type(self)._await_report is Thread._await_report
        queue, eid = env._queue, env._eid  # type: ignore[attr-defined]
        sleep: Timeout | None = None
        calls = runner.log.calls
        group = runner.group
        interval = self.interval
        jitter = self.jitter
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
                if sure:
                    calls[PROGRESS] += 1
                    if (  # partitioned: its end not yet due (`clock.due`, inlined)
                        runner.partition_until - now > EPSILON
                        or group.partition_until - now > EPSILON
                    ):
                        runner.log.lost[PROGRESS] += 1
                        reply = LOST
                    else:
                        reply = report(attempt)
                elif direct:
                    reply = service.handle(PROGRESS, attempt) if self._departs(PROGRESS) else LOST
                    loss = runner.reply_loss
                    if loss and reply != LOST and runner.uniforms() < loss:
                        # The report renewed the lease, but its reply (`canceled` too) is lost.
                        runner.log.lost[PROGRESS] += 1
                        runner.log.lost_replies[PROGRESS] += 1
                        reply = LOST
                elif instant:
                    reply = self._now(PROGRESS, attempt)
                else:
                    reply = yield from self._send(PROGRESS, attempt)
                    now = env.now
                if reply:  # not OK
                    if reply == THROTTLED:
                        # The reporter backs off; the work goes on, and ends the task if it
                        # completes first.
                        next_report = now + self._backoff(throttled)
                        throttled += 1
                        continue
                    if reply in (CANCELED, NOT_FOUND):
                        self._stop(attempt, done)
                        return
                throttled = 0
                next_report = now + (self._next_interval() if jitter else interval)
                if not instant:
                    continue  # the call took time: the work may have ended meanwhile
            # Sleep until the next report is due or the work is done.
            if not one_sleep:
                next_report = yield from self._await_report(attempt, next_report, left, done)
                if next_report is None:
                    return
                continue
            # `Clock.timeout`, inlined (one call fewer per report): the same event, queued alike;
            # its delay is above EPSILON (the loop's checks above, and jitter below the interval).
            until_report = next_report - now
            delay = left if left < until_report else until_report
            if sleep is not None and sleep.callbacks is None:
                # The last sleep, processed (it woke this turn) and held by nobody else: queued
                # again rather than a new one made (a pause may have left it still queued).
                sleep.callbacks, sleep._delay = [], delay
            else:
                # Attributes set in `Timeout.__init__`'s order: every timeout then shares its keys.
                sleep = Timeout.__new__(Timeout)
                sleep.env, sleep.callbacks, sleep._value = env, [], None
                sleep._delay, sleep._ok = delay, True
            heappush(queue, (now + delay, NORMAL, next(eid), sleep))
            try:
                yield sleep
            except Interrupt as interrupt:
                if interrupt.cause == CRASH:
                    raise Crashed from None
                # A pause froze the sleep; on resume an overdue report goes out at once.
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

    def _await_report(self, attempt: Attempt, next_report: float, left: float, done: float) -> Wait:
        """Sleep until the next report is due or the work is done (`left` on the runner's clock).
        A hook: `_work` inlines this one, and calls a subclass's own.

        Returns when the next report is due, or None if the thread learnt it must stop. A pause
        freezes the sleep; on resume an overdue report goes out at once (`next_report` is past).
        """
        env = self.runner.env
        until_report = next_report - env.now
        try:
            yield env.timeout(left if left < until_report else until_report)
        except Interrupt as interrupt:
            if interrupt.cause == CRASH:
                raise Crashed from None
            yield from self._frozen()
        return next_report

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

    def _work_for(self, seconds: float) -> Wait:
        """Spend `seconds` of the runner's own time (pauses stretch it)."""
        runner = self.runner
        end = runner.active_time() + seconds
        while (left := end - runner.active_time()) > EPSILON:
            yield from self._wait(runner.env.timeout(left))


Runner.thread_class = Thread
Runner.heartbeat_class = Heartbeat
