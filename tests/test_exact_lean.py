"""Exact mode's engine: `clock.Clock` processes events in SimPy's own order, ties included (events
of one instant, scheduled from outside and from callbacks, with every priority the model uses),
with SimPy's event ids."""

from __future__ import annotations

import random

import pytest
from simpy import Environment, Event
from simpy.events import NORMAL, URGENT

from simulator.model.clock import Clock, succeed_next
from simulator.model.lease import LATE, LeaseTimer


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


def _handovers(
    env: Environment, seed: int, at_once: bool, handed: list[bool]
) -> list[tuple[float, int]]:
    """Timers whose last act triggers an event a process waits on, among other events of the
    same instants (every priority, some scheduled by callbacks): the order processed, and in
    `handed` whether each process resumed inside the timer's callback (handed over at once)."""
    rng = random.Random(seed)
    seen: list[tuple[float, int]] = []
    ending: list[bool] = [False]  # inside a timer's callback

    def waiter(label: int, reply: Event):  # type: ignore[no-untyped-def]
        got = yield reply
        seen.append((env.now, label))
        handed.append(ending[0])
        yield env.timeout(rng.choice([0.0, 1.0]))  # and on, perhaps at this same instant
        seen.append((env.now, -label))
        assert got == label

    for label in range(1, 30):
        reply = env.event()
        env.process(waiter(label, reply))

        def ends(_: Event, reply: Event = reply, label: int = label) -> None:
            seen.append((env.now, 1000 + label))
            if rng.random() < 0.3:  # something else due at this instant, scheduled now
                env.timeout(0.0).callbacks.append(lambda _: seen.append((env.now, 2000)))
            ending[0] = True
            if at_once:
                succeed_next(reply, label)
            else:
                reply.succeed(label)
            ending[0] = False

        at = rng.choice([float(label), float(label), 2.0])  # alone at its instant, or not
        env.timeout(at).callbacks.append(ends)
        if rng.random() < 0.5:
            LeaseTimer(env, rng.choice([at, 2.0]), None, lambda _: seen.append((env.now, 3000)))
        if rng.random() < 0.3:
            urgent = Event(env)
            urgent._ok, urgent._value = True, None
            urgent.callbacks.append(lambda _: seen.append((env.now, 4000)))
            env.schedule(urgent, URGENT, rng.choice([at, 2.0]))
    env.run()
    return seen


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("engine", [Environment, Clock])
def test_succeed_next_keeps_simpys_order(engine: type[Environment], seed: int) -> None:
    queued, env = engine(), engine()
    handed_queued: list[bool] = []
    handed: list[bool] = []
    expected = _handovers(queued, seed, False, handed_queued)
    assert _handovers(env, seed, True, handed) == expected
    # The same event ids as SimPy's: one taken by every event, handed over at once or not.
    assert next(env._eid) == next(queued._eid)  # type: ignore[attr-defined]
    # Some handovers skipped the queue, never all of them here (other events were due).
    assert not any(handed_queued)
    assert 0 < sum(handed) < len(handed)
