"""Fast mode: a healthy thread's progress reports counted in bulk instead of one event each.

While nothing can change a lease (the runner is not paused, stalled or partitioned, no throttling,
reports every `progress_interval` exactly), the reports a working thread sends follow a fixed
schedule and each one simply renews the lease. `FastSchedule` is that schedule: the thread sleeps
until its work completes (or the next report that message loss will drop), and whoever needs the
lease's state in between — the lease timer, a fault, the end of the run — derives it from the
schedule. Every derived quantity equals what exact mode would have produced for the same schedule,
so fast mode's results have exactly exact mode's distribution.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING, Protocol

from simulator.model.clock import due, ticks_before, ticks_by

if TYPE_CHECKING:
    from simulator.model.log import Attempt


class Reporter(Protocol):
    """The thread that sends a schedule's reports (`fast.runner.FastThread`), as its schedule
    knows it: told when the lease it renews has ended."""

    def superseded(self, schedule: FastSchedule) -> None:
        """The lease ended while the reports were counted in bulk: the next one hears of it."""
        ...


class FastSchedule:
    """Reports at start, start + interval, ... each renewing the lease for `renew` seconds.

    `lost`: which reports message loss drops, as offsets 0, 1, ... from `start`, ascending
    (drawn when the schedule begins, see `FastThread._bulk`; empty without loss). A lost report
    renews nothing, so the lease's deadline comes from the last report that arrived. It is the
    `log.BulkReports` of its attempt (`Attempt.fast`) while it runs.

    `acks`: the first report is the acknowledgement, at the end of a fixed start-up
    (`FastThread._work_on`); it renews the lease for `first` (the lease after the first report,
    `Kind.timeouts[1]`), where every other report renews it for `renew`.
    """

    __slots__ = ("start", "interval", "renew", "thread", "attempt", "lost", "acks", "first")

    def __init__(
        self, start: float, interval: float, renew: float, thread: Reporter, attempt: Attempt,
        lost: list[int] | None = None, first: float | None = None,
    ) -> None:  # fmt: skip
        self.start = start
        self.interval = interval
        self.renew = renew
        self.thread = thread
        self.attempt = attempt
        self.lost: list[int] = [] if lost is None else lost
        self.acks = first is not None
        self.first = renew if first is None else first

    def sent_before(self, t: float) -> int:
        """Reports sent strictly before `t` (a report at `t` itself is still to come)."""
        return ticks_before(t, self.start, self.interval)

    def sent_by(self, t: float) -> int:
        """Reports sent at or before `t`."""
        return ticks_by(t, self.start, self.interval)

    def deadline_at(self, t: float) -> float:
        """The lease deadline at `t`, counting a report sent at `t` (handled before expiry)."""
        k = ticks_by(t, self.start, self.interval)
        lost = self.lost
        if lost:  # the last report by `t` that arrived
            i = bisect_right(lost, k - 1) - 1
            while i >= 0 and lost[i] == k - 1:
                k -= 1
                i -= 1
        if k > 1:  # `lease_after(k - 1)`, without the call: this runs once a task or more
            return self.start + (k - 1) * self.interval + self.renew
        return self.start + self.first if k else -math.inf

    def lease_after(self, k: int) -> float:
        """The lease deadline report `k` (an offset from `start`) sets, if it arrives."""
        if k == 0:
            return self.start + self.first
        return self.start + k * self.interval + self.renew

    def arrived(self, n: int) -> int:
        """How many of the first `n` reports arrived (were not lost)."""
        return n - bisect_left(self.lost, n) if self.lost else n

    def gap_expiry(self, deadline: float, end: float) -> float:
        """When the lease runs out in a gap that lost reports leave before `end` (the work's end,
        when SetTaskStatus goes out), or inf; `deadline`: the lease's deadline before `start`.

        A run of lost reports a..b leaves the lease at the deadline the report before a set, until
        report b + 1 (or `end`): it runs out if that comes later (a report at the deadline itself
        is handled first, `lease.LATE`).
        """
        lost, start, interval = self.lost, self.start, self.interval
        i, n = 0, len(lost)
        while i < n:
            first = last = lost[i]
            i += 1
            while i < n and lost[i] == last + 1:
                last += 1
                i += 1
            # Report first - 1 arrived and set the lease (it replaces it, a shorter one too).
            held = deadline if first == 0 else self.lease_after(first - 1)
            renewed = min(start + (last + 1) * interval, end)
            if not due(renewed, held):
                return held
        return math.inf

    def superseded(self) -> None:
        """The lease ended (the service's `_end_attempt`): the thread's next report hears of it."""
        self.thread.superseded(self)

    def next_after(self, t: float) -> float:
        """The first report strictly after `t` (not yet due at `t`)."""
        if not due(self.start, t):
            return self.start
        return self.start + ticks_by(t, self.start, self.interval) * self.interval
