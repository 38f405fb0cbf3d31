"""Exact mode's engine: `clock.Clock` processes events in SimPy's own order, ties included (events
of one instant, scheduled from outside and from callbacks, with every priority the model uses),
with SimPy's event ids."""

from __future__ import annotations

import random

import pytest
from simpy import Environment, Event
from simpy.events import NORMAL, URGENT

from simulator.model.clock import Clock
from simulator.model.lease import LATE


def _ties(env: Environment, seed: int) -> list[tuple[float, int, float]]:
    """Events crowded onto a few instants, from outside and from callbacks (at once, or later,
    with every priority the model uses), and what was processed: (clock, label, id order)."""
    rng = random.Random(seed)
    seen: list[tuple[float, int, float]] = []
    labels = iter(range(10**6))

    def add(delay: float, priority: int, depth: int) -> None:
        event = Event(env)
        event._ok, event._value = True, None
        label = next(labels)

        def fire(_: Event) -> None:
            seen.append((env.now, label, env.now))
            for _ in range(rng.randrange(3) if depth < 4 else 0):
                # At this very instant (delay 0, 0.0) or a later one of the few: ties on ties.
                add(rng.choice([0, 0.0, 1.0, 0.5, 2.0]), rng.choice(priorities), depth + 1)

        event.callbacks.append(fire)
        env.schedule(event, priority, delay)

    priorities = [URGENT, NORMAL, NORMAL, LATE]
    for _ in range(40):
        add(rng.choice([0, 0.0, 1.0, 1.5, 3.0]), rng.choice(priorities), 0)
    env.timeout(1.5).callbacks.append(lambda _: seen.append((env.now, -1, env.now)))
    env.run(until=2.0)  # stops amid an instant's events; the rest run on resuming
    env.run()
    seen.append((env.now, next(env._eid), env.now))  # type: ignore[attr-defined]
    return seen


@pytest.mark.parametrize("seed", range(20))
def test_clock_breaks_ties_as_simpy_does(seed: int) -> None:
    expected = _ties(Environment(), seed)
    got = _ties(Clock(), seed)
    assert len(expected) > 40
    assert [(t, label) for t, label, _ in got] == [(t, label) for t, label, _ in expected]
    # The clock's own number at each step, type included (0 and 0.0 are one instant).
    assert [type(now) for *_, now in got] == [type(now) for *_, now in expected]


def test_clock_steps_one_event_at_a_time_outside_run() -> None:
    """`step` alone processes one event (the invariant checker steps this way); `run` loops."""

    def program(env: Environment) -> list[tuple[float, int]]:
        seen: list[tuple[float, int]] = []
        for i, delay in enumerate([1.0, 1.0, 2.0, 0.5]):
            env.timeout(delay).callbacks.append(lambda _, i=i: seen.append((env.now, i)))
        env.step()
        env.step()
        seen.append((env.now, -1))  # after two steps: two events processed, no more
        env.run()
        return seen

    expected = program(Environment())
    assert program(Clock()) == expected
    assert expected[2] == (1.0, -1)
