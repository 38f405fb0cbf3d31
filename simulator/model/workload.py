"""Workloads: arrival processes that submit tasks to the service's worker groups."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from heapq import heappush
from typing import Any

from simpy import Environment, Event
from simpy.events import NORMAL

from simulator.distributions import Sampler
from simulator.model.log import Kind, Task
from simulator.model.service import Service
from simulator.scenario.leases import timeouts
from simulator.scenario.schema import (
    Explicit,
    Exponential,
    Periodic,
    Poisson,
    Profile,
    Workload,
)
from simulator.scenario.schema import Service as ServiceConfig
from simulator.seeds import Stream


class Tick:
    """A reusable entry of SimPy's event queue: what a `Timeout` is to `Environment.step` (its
    callbacks, already triggered and ok), without building a new event for each arrival.

    SimPy takes an event's callbacks when it processes it and needs nothing else of it, so one
    object per arrival chain serves every arrival: each is pushed as `Environment.schedule` would
    push a timeout (same time arithmetic, same priority, the next event id), so the run's order
    and its event count are the same as with a timeout per arrival.
    """

    __slots__ = ("callbacks", "_ok", "_value")

    def __init__(self) -> None:
        self.callbacks: list | None = None
        self._ok = True
        self._value = None


class Source:
    """One workload: submits tasks at its arrival times, each with work drawn at submission."""

    def __init__(
        self, env: Environment, config: Workload, service_config: ServiceConfig, service: Service,
        ids: Iterator[int], arrivals: Stream, work: Sampler,
    ) -> None:  # fmt: skip
        self.env = env
        self.config = config
        self.service = service
        self.ids = ids
        self.arrivals = arrivals
        self.work = work
        self._gap: Sampler | None = None
        self._tick = Tick()
        self.kind = Kind(
            config.name, config.worker_group, config.max_retries,
            # retryDelay has a documented minimum (2 min on the limits page; settable floor).
            max(config.retry_delay, service_config.retry_delay_floor),
            timeouts(service_config, config), config.attempt_timeout, config.failure_probability,
        )  # fmt: skip

    def submit(self) -> None:
        self.service.submit(Task(next(self.ids), self.kind, self.env.now, self.work()))

    def start(self) -> None:
        """Start submitting tasks at the arrival times."""
        arrivals = self.config.arrivals
        if isinstance(arrivals, Poisson):
            # Drawn in batches: NumPy gives the same numbers as one draw at a time.
            mean = 1.0 / arrivals.rate
            self._gap = Sampler(Exponential(dist="exponential", mean=mean), self.arrivals)
            # A chain of queue entries rather than a process: one arrival per task, on the hot
            # path (`Tick`).
            self._next(self._gap())
        elif isinstance(arrivals, Profile):
            self.env.process(self.profile(arrivals))
        else:
            self.env.process(self.run())

    def _next(self, gap: float) -> None:
        """The next Poisson arrival, `gap` from now (`Environment.schedule`, inlined)."""
        env, tick = self.env, self._tick
        tick.callbacks = [self._arrive]
        heappush(env._queue, (env._now + gap, NORMAL, next(env._eid), tick))  # noqa: SLF001

    def _arrive(self, _: Tick) -> None:
        env = self.env
        # `submit`, inlined: the task's work is drawn at submission, before the next gap.
        self.service.submit(Task(next(self.ids), self.kind, env._now, self.work()))  # noqa: SLF001
        self._next(self._gap())  # type: ignore[misc]

    def run(self) -> Generator[Event, Any, None]:
        """Periodic or explicit arrivals."""
        env, arrivals = self.env, self.config.arrivals
        if isinstance(arrivals, Periodic):
            yield env.timeout(arrivals.offset)
            while True:
                for _ in range(arrivals.batch):
                    self.submit()
                yield env.timeout(arrivals.every)
        elif isinstance(arrivals, Explicit):
            for t in sorted(arrivals.times):
                if t > env.now:
                    yield env.timeout(t - env.now)
                self.submit()

    def profile(self, arrivals: Profile) -> Generator[Event, Any, None]:
        """Poisson arrivals at a piecewise-constant rate, exactly (no thinning).

        Within a segment the gaps are exponential at its rate (a unit exponential from the
        workload's stream over the rate); a gap that would reach past the segment's end is
        dropped and the clock moves to the end, where the next segment draws afresh at its own
        rate: the Poisson process is memoryless, so this is the exact non-homogeneous process.
        """
        env, period = self.env, arrivals.period
        unit = Sampler(Exponential(dist="exponential", mean=1.0), self.arrivals)
        starts = [start for start, _ in arrivals.rates]
        ends = [*starts[1:], period]
        cycle = 0
        while True:
            base = cycle * period
            for (_, rate), offset in zip(arrivals.rates, ends, strict=True):
                end = base + offset
                if rate > 0:
                    while True:
                        gap = unit() / rate
                        if not env.now + gap < end:
                            break
                        yield env.timeout(gap)
                        self.submit()
                if end > env.now:
                    yield env.timeout(end - env.now)
            cycle += 1
