"""Faults: crash, pause, heartbeat stall and partition as processes that strike runners.

Each fault of a runner is a Poisson process at the scenario's `rate`: the next fault of a kind is
drawn when the previous one ends. Message loss is not a process: each call draws it (see
`runner.Actor._call`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from simpy import Environment, Event

from simulator.distributions import Sampler
from simulator.model.log import Log
from simulator.model.runner import Runner
from simulator.schema import Crash, Fault
from simulator.seeds import Stream

Proc = Generator[Event, Any, None]
INF = float("inf")


def crashes(env: Environment, runner: Runner, config: Crash, stream: Stream, log: Log) -> Proc:
    """The runner dies, losing its work; it comes back after `restart_after`, or never."""
    rng = stream()
    restart = None
    if config.restart_after is not None:
        restart = Sampler(config.restart_after, lambda: rng)  # shares the crash stream
    mean_gap = 1.0 / config.rate
    while True:
        yield env.timeout(rng.exponential(mean_gap))
        down = restart() if restart is not None else INF
        log.faults.append((runner.name, "crash", env.now, env.now + down))
        runner.crash()
        if restart is None:
            return
        yield env.timeout(down)
        runner.start()


def spells(
    env: Environment, kind: str, config: Fault, stream: Stream, log: Log,
    victims: list[str], begin: Callable[[float], bool], end: Callable[[], None] | None = None,
) -> Proc:  # fmt: skip
    """A fault that lasts a while (pause, stall, partition): `begin` applies it, `end` lifts it.

    `begin(duration)` returns False when the fault cannot strike now (e.g. the runner is down).
    """
    rng = stream()
    length = Sampler(config.duration, lambda: rng)
    mean_gap = 1.0 / config.rate
    while True:
        yield env.timeout(rng.exponential(mean_gap))
        duration = length()
        if not begin(duration):
            continue
        now = env.now
        log.faults.extend((name, kind, now, now + duration) for name in victims)
        yield env.timeout(duration)
        if end is not None:
            end()
