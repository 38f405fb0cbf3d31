"""An attempt's lease timer (its lengths under each reading: `simulator.scenario.leases`).

The service owns one lease per live attempt. Its deadline moves with every accepted report, but a
SimPy timeout cannot be cancelled, so each lease keeps a single pending `LeaseTimer`: when it fires
and finds the deadline moved, it is re-armed at the new deadline instead of expiring the lease.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heappush

from simpy import Environment, Event

# After every NORMAL event of the same instant: a report arriving exactly at the deadline is
# processed first and keeps the lease ("a report that arrives at or before the deadline").
LATE = 2


class LeaseTimer(Event):
    """A timer that fires `delay` from now, after every other event of that instant.

    Like `simpy.Timeout`, but scheduled with a lower priority than NORMAL so that same-instant
    reports are handled first. It carries the attempt whose lease it watches.
    """

    __slots__ = ("attempt", "at")

    def __init__(
        self, env: Environment, delay: float, attempt: object, callback: Callable[[Event], None]
    ) -> None:
        self.env = env
        self.callbacks = [callback]
        self._value = None
        self._ok = True
        self.attempt = attempt
        self.at = at = env._now + delay  # type: ignore[attr-defined]
        # `env.schedule(self, LATE, delay)`, inlined (a lease timer per attempt, and per renewal
        # it outlives): the same queue entry.
        heappush(env._queue, (at, LATE, next(env._eid), self))  # type: ignore[attr-defined]
