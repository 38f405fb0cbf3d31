"""Faults: crash, pause, stalls, partition and spot interruptions, striking runners at random.

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
from simulator.scenario.schema import Crash, Fault, Interruption
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
        if self.runner.retired:  # gone for good (issue 16): nothing left to crash
            return
        now = self.env.now
        down = self.restart() if self.restart is not None else INF
        self.log.faults.append((self.runner.name, "crash", now, now + down))
        self.runner.crash()
        if self.restart is not None:
            self.env.timeout(down).callbacks.append(self._back)
        elif not self.runner.retired:
            self.runner.stop("crash")  # it never comes back: its life ends here

    def _back(self, _: Event) -> None:
        if self.runner.retired:  # stopped while down (a drain, an interruption's end)
            return
        self.runner.start()
        self._wait()


class Interruptions:
    """A spot interruption (issue 16): at a Poisson time, a notice; at its end the runner is gone.

    Under `on_notice: drain` the runner stops polling at the notice and finishes what it can
    (`Runner.drain`); under `ignore` it works on. At the end of the notice it stops
    (`Runner.stop`): tasks it still holds are lost, their leases left to expire.
    """

    def __init__(
        self, env: Environment, runner: Runner, config: Interruption, stream: Stream, log: Log
    ) -> None:
        self.env = env
        self.runner = runner
        self.config = config
        self.log = log
        rng = stream()
        env.timeout(rng.exponential(1.0 / config.rate)).callbacks.append(self._notice)

    def _notice(self, _: Event) -> None:
        runner = self.runner
        if runner.retired:
            return
        now = self.env.now
        notice = self.config.notice
        self.log.faults.append((runner.name, "interruption", now, now + notice))
        # Out of service from the notice on: a scaling policy replaces it at its next evaluation.
        runner.noticed = True
        runner.noted()
        if self.config.on_notice == "drain":
            runner.drain("interruption")
        self.env.timeout(notice).callbacks.append(self._gone)

    def _gone(self, _: Event) -> None:
        self.runner.stop("interruption")


class Spells:
    """A fault that lasts a while (pause, stall, partition): `begin` applies it, `end` lifts it.

    `begin(duration)` returns False when the fault cannot strike now (e.g. the runner is down);
    the next spell is then drawn from now.
    """

    def __init__(
        self, env: Environment, kind: str, config: Fault, stream: Stream, log: Log,
        victims: list[str], begin: Callable[[float], bool], end: Callable[[], None] | None = None,
        gone: Callable[[], bool] | None = None,
    ) -> None:  # fmt: skip
        self.env = env
        self.kind = kind
        self.log = log
        self.victims = victims
        self.begin = begin
        self.end = end
        self.gone = gone  # the victim left the fleet for good: no more spells (issue 16)
        self.rng = rng = stream()
        self.length = Sampler(config.duration, lambda: rng)
        self.mean_gap = 1.0 / config.rate
        self._wait()

    def _wait(self) -> None:
        self.env.timeout(self.rng.exponential(self.mean_gap)).callbacks.append(self._strike)

    def _strike(self, _: Event) -> None:
        if self.gone is not None and self.gone():
            return
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
