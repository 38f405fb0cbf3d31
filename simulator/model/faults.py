"""Faults: crash, pause, progress and heartbeat stalls, partition, striking runners at random.

Each fault of a runner is a Poisson process at the scenario's `rate`: the next fault of a kind is
drawn when the previous one ends. Every runner has its own, so they are chains of timeouts rather
than SimPy processes (no process to start, no generator to resume at each step). Message loss is
not a process: each call draws it (see `runner.Actor._departs`).
"""

from __future__ import annotations

from collections.abc import Callable

from simpy import Environment, Event

from simulator.distributions import Sampler
from simulator.model.log import Log
from simulator.model.runner import Runner
from simulator.scenario.schema import Crash, Fault
from simulator.seeds import Stream

INF = float("inf")


class Crashes:
    """The runner dies, losing its work; it comes back after `restart_after`, or never."""

    def __init__(
        self, env: Environment, runner: Runner, config: Crash, stream: Stream, log: Log
    ) -> None:
        self.env = env
        self.runner = runner
        self.log = log
        self.rng = rng = stream()
        self.restart = None
        if config.restart_after is not None:
            self.restart = Sampler(config.restart_after, lambda: rng)  # shares the crash stream
        self.mean_gap = 1.0 / config.rate
        self._wait()

    def _wait(self) -> None:
        self.env.timeout(self.rng.exponential(self.mean_gap)).callbacks.append(self._strike)

    def _strike(self, _: Event) -> None:
        now = self.env.now
        down = self.restart() if self.restart is not None else INF
        self.log.faults.append((self.runner.name, "crash", now, now + down))
        self.runner.crash()
        if self.restart is not None:
            self.env.timeout(down).callbacks.append(self._back)

    def _back(self, _: Event) -> None:
        self.runner.start()
        self._wait()


class Spells:
    """A fault that lasts a while (pause, stall, partition): `begin` applies it, `end` lifts it.

    `begin(duration)` returns False when the fault cannot strike now (e.g. the runner is down);
    the next spell is then drawn from now.
    """

    def __init__(
        self, env: Environment, kind: str, config: Fault, stream: Stream, log: Log,
        victims: list[str], begin: Callable[[float], bool], end: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        self.env = env
        self.kind = kind
        self.log = log
        self.victims = victims
        self.begin = begin
        self.end = end
        self.rng = rng = stream()
        self.length = Sampler(config.duration, lambda: rng)
        self.mean_gap = 1.0 / config.rate
        self._wait()

    def _wait(self) -> None:
        self.env.timeout(self.rng.exponential(self.mean_gap)).callbacks.append(self._strike)

    def _strike(self, _: Event) -> None:
        duration = self.length()
        if not self.begin(duration):
            self._wait()
            return
        now = self.env.now
        self.log.faults.extend((name, self.kind, now, now + duration) for name in self.victims)
        self.env.timeout(duration).callbacks.append(self._lift)

    def _lift(self, _: Event) -> None:
        if self.end is not None:
            self.end()
        self._wait()
