"""An attempt's lease: how long it lasts under each documented reading, and the timer that ends it.

The service owns one lease per live attempt. Its deadline moves with every accepted report, but a
SimPy timeout cannot be cancelled, so each lease keeps a single pending `LeaseTimer`: when it fires
and finds the deadline moved, it is re-armed at the new deadline instead of expiring the lease.
"""

from __future__ import annotations

from collections.abc import Callable

from simpy import Environment, Event

from simulator.schema import Service, Workload

# After every NORMAL event of the same instant: a report arriving exactly at the deadline is
# processed first and keeps the lease ("a report that arrives at or before the deadline").
LATE = 2


def timeouts(service: Service, workload: Workload) -> tuple[float, float, float]:
    """(ack, first, renew): the lease until the first report, after it, and after each later one.

    Reference section 3: contradiction 1 gives the four readings of 15 vs 5 minutes; contradiction
    2 (does an activity's reportProgressTimeout replace the 2-minute acknowledgement?) is
    `ack_uses_report_timeout`.
    """
    rpt = workload.report_progress_timeout or service.report_progress_timeout
    short = service.short_timeout
    first, renew = {
        "15min": (rpt, rpt),
        "5min": (short, short),
        "min": (min(short, rpt), min(short, rpt)),
        "two_stage": (short, rpt),  # 5 min until the second report, then reportProgressTimeout
    }[service.lease_reading]
    ack = service.ack_timeout
    if service.ack_uses_report_timeout and workload.report_progress_timeout is not None:
        ack = workload.report_progress_timeout
    return ack, first, renew


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
        self.at = env.now + delay
        env.schedule(self, LATE, delay)
