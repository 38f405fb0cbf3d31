"""A task runner's heartbeat: ReportTaskRunnerHeartbeat every `runner_heartbeat_interval`.

One SimPy process per runner (`simulator.model.runner.Runner.heartbeat`): a beat, then a sleep of
one interval, for the runner's life. A heartbeat stall holds the beats up (the beat it holds goes
out when the stall ends); a crash or a pause reaches it as it reaches the threads (`Actor`).
Whether a beat renews leases is the service's reading (`Service.runner_heartbeat`).

This is exact mode: every beat is an event. `_beat` is the hook fast mode
(`simulator.model.fast.heartbeat`) overrides to count beats that renew nothing in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable
from heapq import heappush
from typing import Protocol

from simpy import Interrupt, Process
from simpy.events import NORMAL, Timeout

from simulator.model.actor import CRASH, Actor, Crashed, Host, Wait
from simulator.model.clock import EPSILON
from simulator.model.log import HEARTBEAT, Attempt


class Runner(Host, Protocol):
    """The runner as its heartbeat sees it (`simulator.model.runner.Runner`): its calls' state,
    when it beats, and the leases its threads hold (the service's `Holder`)."""

    @property
    def heartbeat_phase(self) -> float: ...
    @property
    def heartbeat_stall_until(self) -> float: ...
    @property
    def direct(self) -> list[bool]: ...

    def leases(self) -> Iterable[Attempt | None]:
        """The attempt each of the runner's threads holds (None: idle)."""
        ...


class Heartbeat(Actor):
    """ReportTaskRunnerHeartbeat every `runner_heartbeat_interval` (reference section 1)."""

    runner: Runner

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.interval = runner.config.runner_heartbeat_interval
        self.process: Process | None = None

    def run(self, delay: float = 0.0) -> Wait:
        runner = self.runner
        try:
            yield from self._sleep(delay)  # the runner's first start, if late
            yield from self._sleep(runner.heartbeat_phase)
            if type(self)._beat is not Heartbeat._beat or not (
                runner.direct[HEARTBEAT] and self._sure()
            ):
                while True:
                    yield from self._beat()
            # `_beat`, inlined for a beat answered at once that nothing can lose or throttle
            # (`Actor._sure`): `_now`, `_departs` and `Service.handle` with it.
            env = runner.env
            queue, eid = env._queue, env._eid  # type: ignore[attr-defined]
            group = runner.group
            calls = runner.log.calls
            beat = runner.service.runner_heartbeat
            interval = self.interval
            sleep: Timeout | None = None
            while True:
                now = env.now
                blocked = runner.heartbeat_stall_until - now
                if blocked > EPSILON:  # as in `_beat`
                    yield from self._sleep(blocked)
                    continue
                calls[HEARTBEAT] += 1
                if (  # partitioned: its end not yet due (`clock.due`, inlined)
                    runner.partition_until - now > EPSILON or group.partition_until - now > EPSILON
                ):
                    runner.log.lost[HEARTBEAT] += 1
                else:
                    beat(runner)
                # `_sleep(interval)`, inlined; its timeout, once processed (held by nobody else),
                # is queued again for the next beat rather than a new one made (as `Thread._work`).
                if sleep is not None and sleep.callbacks is None:
                    sleep.callbacks = []
                    heappush(queue, (now + interval, NORMAL, next(eid), sleep))
                else:
                    sleep = env.timeout(interval)
                while True:
                    try:
                        yield sleep
                        break
                    except Interrupt as interrupt:
                        if interrupt.cause == CRASH:
                            raise Crashed from None
                    yield from self._frozen()  # the beat's sleep may end while frozen
        except Crashed:
            return

    def _beat(self) -> Wait:
        """One beat, or the wait a heartbeat stall imposes on it."""
        runner = self.runner
        blocked = runner.heartbeat_stall_until - runner.env.now
        if blocked > EPSILON:  # the stall's end is not yet due (`clock.due`)
            # A stalled heartbeat thread sends nothing; the beat it holds up goes out when the
            # stall ends (as a stalled reporter's report does).
            yield from self._sleep(blocked)
            return
        if runner.direct[HEARTBEAT]:
            self._now(HEARTBEAT, runner)
        else:
            yield from self._call(HEARTBEAT, runner)
        yield from self._sleep(self.interval)
