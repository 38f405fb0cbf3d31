"""Simulated time: the model's one rule for comparing instants, and its guard against livelock.

Simulated time is float seconds, and one instant reached by two paths (a stall's end computed as
`start + duration`, a report time as `start + k * interval`, the clock after a chain of
timeouts) can differ in its last bits. Every comparison of an instant with the clock in the model
therefore uses one rule: an instant is *due* when it is at or before now, within `EPSILON`.
Two rules for the same question (one with slack, one strict) let a process find a report due
but its runner still stalled, and loop for ever without time moving (issue 13, A1).

A process that still loops without simulated time advancing (a bug) fails loudly with
`SimulationStuck`, naming who and when, instead of hanging: see `SPIN_LIMIT`.

`Clock` is the environment every simulation runs on: SimPy's, with the clock a plain attribute.
"""

from __future__ import annotations

import math
from heapq import heappop, heappush

from simpy import Environment
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import NORMAL, Event, EventPriority, Timeout

#: Float slack, in seconds, within which two instants are the same instant.
EPSILON = 1e-9

#: Consecutive iterations of a process's loop at one simulated instant before it is declared stuck.
#: A legitimate loop turns a few times per instant (a report, a reply, a retry); 10,000 is
#: generous, and counting costs one float comparison per turn.
SPIN_LIMIT = 10_000


def due(t: float, now: float) -> bool:
    """Whether instant `t` has come at `now`: at or before it, within `EPSILON`.

    Hot loops inline it as `t - now <= EPSILON` (or its negation `t - now > EPSILON`).
    """
    return t - now <= EPSILON


def ticks_before(t: float, start: float, interval: float) -> int:
    """How many of the instants start, start + interval, ... come strictly before `t`.

    An instant due at `t` itself (within `EPSILON`) is not counted: it is still to come.
    """
    return max(0, math.ceil((t - start - EPSILON) / interval))


def ticks_by(t: float, start: float, interval: float) -> int:
    """How many of the instants start, start + interval, ... are due at `t` (at or before it)."""
    if not due(start, t):
        return 0
    return math.floor((t - start + EPSILON) / interval) + 1


def succeed_next(event: Event, value: object) -> None:
    """Trigger `event` as the last act of the event being processed (its last callback's).

    SimPy would queue `event` at this instant, behind any other event due now, and process it
    next if there is none: then its callbacks run here and now, in the same order, without the
    trip through the queue (two heap operations). It takes its event id all the same, so ids and
    event counts stay SimPy's. Otherwise it is queued.
    """
    env = event.env
    queue = env._queue  # type: ignore[attr-defined]
    if queue and queue[0][0] == env._now and queue[0][1] <= NORMAL:  # type: ignore[attr-defined]
        event.succeed(value)
        return
    next(env._eid)  # type: ignore[attr-defined]
    event._ok = True
    event._value = value
    callbacks, event.callbacks = event.callbacks, None
    for callback in callbacks:  # type: ignore[union-attr]
        callback(event)


class SimulationStuck(RuntimeError):
    """An internal error: a process looped `SPIN_LIMIT` times without simulated time advancing.

    A bug in the model, never the scenario's fault; raised instead of hanging for ever.
    """


def stuck(who: str, now: float) -> SimulationStuck:
    """The error for a process `who` (e.g. "runner g-1, thread 0") stuck at instant `now`."""
    return SimulationStuck(
        f"internal error: {who} looped {SPIN_LIMIT:,} times at simulated time {now!r} s "
        "without time advancing (a bug in leasesim's model; please report it with the scenario "
        "and seed)"
    )


class Clock(Environment):
    """SimPy's environment with its clock, `now`, a plain attribute instead of a property.

    The model reads the clock dozens of times per task (every call, lease and fault check), and a
    property costs a function call per read. `step` is SimPy's own (simpy 4.1), which also sets
    `now` as it moves `_now`: the events, their order and their ids are SimPy's.
    """

    now = 0.0  # shadows `Environment.now` (a property); the instance's own value is the clock
    _running = False  # inside `run`: `step` goes on to the next event

    def __init__(self) -> None:
        super().__init__()
        self.now = self._now
        # SimPy binds its event classes to the instance (`BoundClass.bind_early`), but only those
        # of the instance's own class: bound here for this subclass, as SimPy would.
        for name in ("process", "event", "all_of", "any_of"):
            setattr(self, name, getattr(self, name))

    def timeout(self, delay: float = 0, value: object = None) -> Timeout:
        """`Environment.timeout`: the same `Timeout`, scheduled the same way, in one call instead
        of three (the bound class, `Timeout.__init__`, `schedule`); most events are timeouts."""
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        event = Timeout.__new__(Timeout)
        event.env = self
        event.callbacks = []
        event._value = value
        event._delay = delay
        event._ok = True
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), event))
        return event

    def run(self, until: float | Event | None = None) -> object:
        """`Environment.run`. SimPy's loop calls `step` for every event; here `step` itself loops
        while a run is on (`_running`), until the run's end or the queue's stops it as SimPy's loop
        would: one Python call fewer per event, the same events in the same order."""
        self._running = True
        try:
            return super().run(until)
        finally:
            self._running = False

    def step(self) -> None:
        """Process the next event (`Environment.step`, and the clock moved with it); within `run`,
        every next event until the run stops."""
        queue = self._queue
        running = self._running  # only `run` sets it, around its loop
        while True:
            try:
                self.now = self._now = (entry := heappop(queue))[0]
            except IndexError:
                raise EmptySchedule from None
            event = entry[3]
            callbacks, event.callbacks = event.callbacks, None
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation:
                # As SimPy: the remaining callbacks run when the simulation resumes.
                event.callbacks = callbacks[callbacks.index(callback) + 1 :]
                self.schedule(event, EventPriority(-1))
                raise
            if not event._ok and not hasattr(event, "_defused"):
                # A failed event nobody handled: raised anew, as SimPy does.
                exc = type(event._value)(*event._value.args)
                exc.__cause__ = event._value
                raise exc
            if not running:
                return
