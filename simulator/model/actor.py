"""A runner's process as it calls the service: the machinery its threads and heartbeat share.

An `Actor` is one SimPy process of a task runner (a poll thread or the runner heartbeat). It
models what a call goes through under the runner's faults: waiting that a pause freezes and a
crash ends (`Crashed`, from the interrupt causes `PAUSE` and `CRASH`; fast mode also uses `WAKE`),
exponential back-off while throttled, and one call's trip: sent (`_departs`: counted, or lost to a
partition or message loss), delivered after latency (`_send`, `_deliver`), handled or throttled at
the service (`_arrives`), and its reply heard or lost on the way back.

The runner it belongs to is seen only through `Host`, the few attributes those calls consult;
`simulator.model.runner` defines the runner, its threads and heartbeat on top of this module.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from simpy import Environment, Event, Interrupt, Process

from simulator.distributions import Sampler, Uniforms
from simulator.model.clock import EPSILON
from simulator.model.log import POLL, Attempt, Log
from simulator.model.service import LOST, THROTTLED, Service
from simulator.scenario.schema import FleetGroup

PAUSE, CRASH, WAKE = "pause", "crash", "wake"  # interrupt causes

Wait = Generator[Event, Any, Any]


class Crashed(Exception):
    """Raised inside a runner's processes when the runner dies."""


class Group(Protocol):
    """What an actor reads of its runner's fleet group: a group-wide partition's end."""

    @property
    def partition_until(self) -> float: ...


class Host(Protocol):
    """The runner as its actors see it (`simulator.model.runner.Runner`): exactly what their
    waiting and calling read. Read-only here: an actor changes none of it."""

    @property
    def env(self) -> Environment: ...
    @property
    def config(self) -> FleetGroup: ...  # its `backoff`
    @property
    def group(self) -> Group: ...
    @property
    def service(self) -> Service: ...
    @property
    def log(self) -> Log: ...
    @property
    def latency(self) -> Sampler: ...
    @property
    def uniforms(self) -> Uniforms: ...
    @property
    def instant(self) -> bool: ...
    @property
    def loss(self) -> float: ...
    @property
    def reply_loss(self) -> float: ...
    @property
    def alive(self) -> bool: ...
    @property
    def paused(self) -> bool: ...
    @property
    def resumed(self) -> Event: ...
    @property
    def generation(self) -> int: ...
    @property
    def partition_until(self) -> float: ...

    def reply_lost(self, op: int) -> bool:
        """Whether the reply to a call the service handles now is lost on its way back (counted)."""


class Actor:
    """A process of a runner (a thread or the heartbeat): waiting and calling under its faults.

    Its hooks say what a fault does to it; in exact mode a crash or a pause interrupts the
    process, and every other fault is state the process consults at its next call.
    """

    runner: Host
    process: Process | None

    def run(self, delay: float = 0.0) -> Wait:
        """The process: `delay` (the runner's late first start, which a pause stretches and a
        crash ends) first, then its loop."""
        raise NotImplementedError

    def start(self, delay: float) -> None:
        """The runner (re)starts: a new process, after `delay` (the runner's first start)."""
        # The delay is the process's own first sleep, not a wrapping generator: a wrapper would be
        # one more frame to pass through at every event of the process's life.
        self.process = self.runner.env.process(self.run(delay))

    def crash(self) -> None:
        """The runner dies: the process ends (`Crashed`)."""
        process = self.process
        if process is not None and process.is_alive:
            process.interrupt(CRASH)

    def pause(self) -> None:
        """The runner pauses: the process freezes until the resume (`_frozen`)."""
        process = self.process
        if process is not None and process.is_alive:
            process.interrupt(PAUSE)

    def resume(self) -> None:
        """The pause ends (the frozen process waits on `runner.resumed`, which fires next)."""

    def disturb(self, polls: bool = False) -> None:
        """A stall or a partition begins: its calls consult it when they are made."""

    def drain(self) -> None:
        """The runner drains (stops polling): see `Thread.drain`."""

    def finish(self, until: float) -> None:
        """The run ends at `until`: nothing left uncounted."""

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

    def _sleep(self, delay: float) -> Wait:
        """Sleep `delay` of wall time, ending no earlier than the runner's resume if it pauses."""
        if delay > 0:
            # `_wait`, inlined: a heartbeat sleeps here at every beat.
            event = self.runner.env.timeout(delay)
            while True:
                try:
                    yield event
                    return
                except Interrupt as interrupt:
                    if interrupt.cause == CRASH:
                        raise Crashed from None
                yield from self._frozen()  # `event` may happen while frozen

    def _sure(self) -> bool:
        """Whether no message loss can drop its calls and nothing counts them one by one beyond
        the log (a subclass's `_departs`, a subclass's `Service.handle`, invariant checks): its
        calls answered at once and never throttled may then inline `_departs` and
        `Service.handle`, as only a partition can stop them (the runner's hot paths)."""
        runner = self.runner
        service = runner.service
        return (
            not runner.loss
            and not runner.reply_loss
            and type(self)._departs is Actor._departs
            and type(service).handle is Service.handle
            and service.checks is None
        )

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
        now = runner.env._now
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
        if not self._departs(op):  # (fast mode's threads draw the loss their own way)
            return LOST
        runner = self.runner
        # `_arrives`, inlined: fast mode makes this call once or twice per task.
        service = runner.service
        if service.buckets[op] is None or service.admit(op):
            reply = service.handle(op, arg, finished)
        else:
            reply = THROTTLED
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
