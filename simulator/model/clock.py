"""Simulated time: the model's one rule for comparing instants, and its guard against livelock.

Simulated time is float seconds, and one instant reached by two paths (a stall's end computed as
`start + duration`, a report time as `start + k * interval`, the clock after a chain of
timeouts) can differ in its last bits. Every comparison of an instant with the clock in the model
therefore uses one rule: an instant is *due* when it is at or before now, within `EPSILON`.
Two rules for the same question (one with slack, one strict) let a process find a report due
but its runner still stalled, and loop for ever without time moving (issue 13, A1).

A process that still loops without simulated time advancing (a bug) fails loudly with
`SimulationStuck`, naming who and when, instead of hanging: see `SPIN_LIMIT`.

`Clock` is the environment every simulation runs on: SimPy's, with the clock a plain attribute and
a lighter event queue.
"""

from __future__ import annotations

import math
from heapq import heappop, heappush

from simpy import Environment
from simpy.core import EmptySchedule, Infinity, StopSimulation
from simpy.events import NORMAL, Event, EventPriority, Timeout

#: Float slack, in seconds, within which two instants are the same instant.
EPSILON = 1e-9

#: Consecutive iterations of a process's loop at one simulated instant before it is declared stuck.
#: A legitimate loop turns a few times per instant (a report, a reply, a retry); 10,000 is
#: generous, and counting costs one float comparison per turn.
SPIN_LIMIT = 10_000

#: A queued event: (priority, id, event, time), SimPy's order among the events of one instant.
Entry = tuple[int, int, Event, float]


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
    """SimPy's environment, lighter where every event passes: the clock is a plain attribute, and
    the queue holds one heap entry per instant instead of one per event.

    The model reads the clock dozens of times per task (every call, lease and fault check), and a
    property costs a function call per read: `now` is set as `_now` moves.

    SimPy's queue is one heap of (time, priority, id, event) tuples. Comparing two tuples costs
    several float comparisons, and a heap operation makes a dozen comparisons: that was a quarter
    of a large run's time. Here the heap (`_times`) holds the instants at which events are due,
    plain floats, and `_at` maps each instant to its entry (priority, id, event, time), or, when
    several events share the instant, to a heap of such entries. The events still run in SimPy's
    order (time, then priority, then id) with SimPy's ids, so results and event counts are
    SimPy's (tests/test_sim_clock.py runs both); `step` is otherwise SimPy's own (simpy 4.1).
    """

    now = 0.0  # shadows `Environment.now` (a property); the instance's own value is the clock

    def __init__(self) -> None:
        super().__init__()
        self.now = self._now
        del self._queue  # SimPy's queue, replaced by the two below: none of its code left reads it
        self._times: list[float] = []  # a heap of the instants that have events due
        # Per instant: its one entry, or a heap of its entries (the same entry tuples).
        self._at: dict[float, Entry | list[Entry]] = {}
        # SimPy binds its event classes to the instance (`BoundClass.bind_early`), but only those
        # of the instance's own class: bound here for this subclass, as SimPy would.
        for name in ("process", "event", "all_of", "any_of"):
            setattr(self, name, getattr(self, name))

    def schedule(self, event: Event, priority: int = NORMAL, delay: float = 0) -> None:
        """`Environment.schedule`: `event` is processed `delay` from now, after the events already
        due then with its `priority` or a more urgent one."""
        at = self._now + delay
        # Each event keeps the time it was scheduled for: SimPy's clock reads it (0 and 0.0 are
        # one instant but not the same number).
        entry = (priority, next(self._eid), event, at)
        if self._at.setdefault(at, entry) is entry:  # the first event of its instant (the rule)
            heappush(self._times, at)
        else:
            self._share(at, entry)

    def _share(self, at: float, entry: Entry) -> None:
        """Queue `entry` at an instant that has events already: SimPy's order decides among them."""
        found = self._at[at]
        if found.__class__ is tuple:
            self._at[at] = [found, entry] if found < entry else [entry, found]  # type: ignore[operator]
        else:
            heappush(found, entry)  # type: ignore[arg-type]

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
        at = self._now + delay  # `schedule`, inlined
        entry = (NORMAL, next(self._eid), event, at)
        if self._at.setdefault(at, entry) is entry:
            heappush(self._times, at)
        else:
            self._share(at, entry)
        return event

    def peek(self) -> float:
        """The time of the next event (`Environment.peek`); infinity when none is left."""
        return self._times[0] if self._times else Infinity

    def pending(self) -> list[Event]:
        """The events still to be processed, in no particular order (for tests)."""
        return [
            entry[2]
            for found in self._at.values()
            for entry in ([found] if found.__class__ is tuple else found)  # type: ignore[list-item]
        ]

    def step(self) -> None:
        """Process the next event (`Environment.step`, and the clock moved with it)."""
        times = self._times
        try:
            at = times[0]
        except IndexError:
            raise EmptySchedule from None
        entry = self._at.pop(at)
        if entry.__class__ is tuple:  # the instant's only event
            heappop(times)
        else:
            shared: list[Entry] = entry  # type: ignore[assignment]
            entry = heappop(shared)
            if shared:
                self._at[at] = shared
            else:
                heappop(times)
        _, _, event, self._now = entry  # type: ignore[misc]
        self.now = self._now
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
