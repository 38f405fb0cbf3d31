"""Fast mode under the account's rate limits, for fleets too large for the fluid bound: a lower
bound of exact mode's tokens from the calls in bulk counted themselves.

The fluid bound (`fast.throttle.BucketBound`) charges each stream of calls counted in bulk (a
thread's reports, an idle thread's standing polls, a runner's heartbeats) as a fluid plus one
token: a stream may send a call at any moment, so N streams may all call in one instant, and its
bound is capped at `burst - N`. With the documented burst of 100 that stops fast mode wherever
more than about 90 threads count one operation's calls in bulk at once, however slowly they call
(a 45-runner fleet's idle threads, say), though exact mode's bucket never runs low.

`CountBound` knows more: every stream's calls fall on a fixed grid, one every `interval` at its
phase (`first` modulo the interval), so the number of its calls in any stretch of time is
known without simulating them. It keeps the phases of the running streams in a sorted list per
interval, and when brought up to date counts the calls of the stretch since the last update:
for `n` streams of one interval over a stretch of `q` whole intervals and a remainder, `n * q`
plus the streams whose phase falls in the remainder's arc (two bisections). That bounds exact
mode's bucket from below (`update`): with C the calls in a stretch (u, t] and T(u) the tokens
after the calls at u,

- every call in the stretch found at least T(u) - (C - 1) tokens (the others came first, with no
  refill between), and
- T(t) >= min(b, T(u) + r (t - u)) - C (all the calls moved to the stretch's end: refilling
  before taking never leaves fewer tokens, as the cap only limits a rise).

So a level V <= T(u) is carried from update to update as V <- min(b, V + r (t - u)) - C, and the
proof asks V - C >= `MARGIN` in each stretch (every call found two tokens, where it needs one).
Counting more calls than came only lowers V; counting one in an earlier stretch than its own
would not, so the stretches tile time exactly: each is (u, t] moved `SLACK` (1 us) later, far
above the rounding of `first + k * interval`, so that a call in an update's very instant belongs
to the stretch that update closes. (One less than 1 us after it would too, a stretch early; no
delay of the model is that short, and the margin's spare token would cover it.)

Streams begin and end between updates (the thread's reports with each task, a standing cycle
with each stand and hand-over): each change is logged with its instant, and counted over its
part of the stretch only: a begun stream's calls from its beginning, none of an ended stream's
after its end. A stretch long enough for the running streams to send more than a third of the
burst is counted in pieces of a sixth each (the changes taken in as the pieces pass their
instants), so that taking a piece's calls all at its start (for the dip) and all at its end (for
the level) costs little. A change after the running streams have sent two bursts brings the
bound up to date (`span`), and so does the 64th change waiting (`CHANGES`): an update costs more
than a piece, so a stretch is taken in whole, as a dozen pieces at most. The calls counted
one by one (`pending`, kept by the service) are taken at the stretch's start for the dip and at
its end for the level, which again only lowers both. A standing cycle's first poll is one of
these, and a point of its grid: `CountPollBound.stood` takes it off the one-by-one count.

The fluid bound costs an increment a change; this one a logged change, a bisection into a list
and a count over each interval's phases: about 10 us a task (aws-defaults at 80 runners, a
simulated day: 0.23 CPU s, against 0.135 s with no limits and 0.68 s in exact mode).
`model.simulation` uses it (`CountedService`, `CountedRunner`) where the fleet can have more
threads than half the burst (`counts_calls`); smaller fleets keep the fluid bound.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort

from simulator.model.fast.schedule import FastSchedule
from simulator.model.fast.service import StandingPoll
from simulator.model.fast.thread import FastThread
from simulator.model.fast.throttle import (
    MARGIN,
    BoundedRunner,
    BoundedThread,
    BucketBound,
    ThrottledService,
)
from simulator.model.log import HEARTBEAT, POLL, PROGRESS, STATUS, Attempt, Task
from simulator.model.service import Poll
from simulator.scenario.schema import Scenario, Throttle

#: s: a call this close after an update's instant is counted as at it (module docstring).
SLACK = 1e-6


def calls_between(phases: list[float], interval: float, start: float, end: float) -> int:
    """Calls in (start, end] of streams with these sorted phases (one call at each phase + k *
    interval, for every integer k)."""
    n = len(phases)
    if not n or end <= start:
        return 0
    length = end - start
    whole = math.floor(length / interval)
    rest = length - whole * interval
    # A stream of phase p calls in (start, end] once per whole interval, and once more if p lies
    # in the arc (start, start + rest] modulo the interval.
    arc_start = start % interval
    arc_end = arc_start + rest
    if arc_end < interval:
        arc = bisect_right(phases, arc_end) - bisect_right(phases, arc_start)
    else:  # the arc wraps past the interval's end
        arc = n - bisect_right(phases, arc_start) + bisect_right(phases, arc_end - interval)
    return n * whole + arc


def _calls_of(phase: float, interval: float, start: float, end: float) -> int:
    """Calls in (start, end] of one stream of this phase."""
    if end <= start:
        return 0
    return math.floor((end - phase) / interval) - math.floor((start - phase) / interval)


Change = tuple[float, int, float, float]  # (instant, +1 begun / -1 ended, interval, phase)


class CountBound(BucketBound):
    """A lower bound of the tokens in exact mode's bucket of one operation, from the calls of
    its streams counted on their grids (module docstring). It keeps `BucketBound`'s interface:
    `begin` and `end` of a stream, `update`, `close`; `fluid` is the calls in bulk it charged."""

    __slots__ = ("phases", "changes", "span")

    #: Changes that wait for an update at most. An update costs more than a piece of a stretch
    #: (`update`), so the changes of a few hundred calls are taken in at once.
    CHANGES = 64

    def __init__(
        self, op: int, rate: float, burst: float, pending: list[int], flush: int = 1
    ) -> None:
        super().__init__(op, rate, burst, pending, flush)
        self.phases: dict[float, list[float]] = {}  # interval: the running streams' phases
        self.changes: list[Change] = []  # since the last update, in time order
        # s: how long the streams running take to send two bursts. A change after a longer
        # stretch brings the bound up to date, so that a stretch is at most a dozen pieces.
        self.span = math.inf

    def begin(self, now: float, first: float, interval: float) -> None:
        changes = self.changes
        changes.append((now, 1, interval, first % interval))
        if len(changes) >= self.CHANGES or now - self.updated > self.span:
            self.update(now)

    def end(self, interval: float, now: float = 0.0, first: float = 0.0) -> None:
        changes = self.changes
        changes.append((now, -1, interval, first % interval))
        if len(changes) >= self.CHANGES or now - self.updated > self.span:
            self.update(now)

    def update(self, now: float) -> None:
        pending = self.pending
        k = pending[self.op]
        pending[self.op] = 0
        self.counted += k
        at, changes = self.updated, self.changes
        self.changes = []
        level = low = self.level  # a call at the stretch's start finds the level
        rate, burst, phases = self.rate, self.burst, self.phases
        # The stretch in as many pieces as keep each piece's calls under a sixth of the burst, at
        # the rate of the streams running now (most stretches are one piece): each piece's calls
        # all at its start for the dip, all at its end for the level. Within a piece: the calls
        # of the streams running at its start; a stream begun in it, from its beginning (its
        # call then, a standing cycle's first poll, too); none of a stream ended in it after its
        # end (well after: never a call it sent). The windows are moved `SLACK` later, so that
        # pieces and stretches tile time.
        # (The calls to expect: the running streams' and the begun ones', as if they ran all the
        # stretch, and a first call each in the instant it began.)
        begun, grow = 0, 0.0
        for change in changes:
            if change[1] > 0:
                begun += 1
                grow += 1.0 / change[2]
        flow = (self.drain + grow) * (now - at) + begun
        pieces = 1 if flow <= burst / 3.0 else math.ceil(flow * 6.0 / burst)
        step = (now - at) / pieces
        i, n = 0, len(changes)
        for p in range(pieces):
            a = at + p * step
            b = now if p == pieces - 1 else a + step
            start, end = a + SLACK, b + SLACK
            calls = 0
            for interval, same in phases.items():
                calls += calls_between(same, interval, start, end)
            while i < n and changes[i][0] <= b:
                instant, sign, interval, phase = changes[i]
                i += 1
                same = phases.get(interval)
                if sign > 0:
                    calls += _calls_of(phase, interval, instant - SLACK, end)
                    if same is None:
                        phases[interval] = [phase]
                    else:
                        insort(same, phase)
                else:
                    calls -= _calls_of(phase, interval, max(start, instant + SLACK), end)
                    assert same is not None, "a stream ended that never began"
                    j = bisect_left(same, phase)
                    assert same[j] == phase, "a stream ended that never began"
                    del same[j]
                self.streams += sign
                self.drain += sign / interval
            self.fluid += calls
            if level - calls < low:
                low = level - calls
            level = min(burst, level + rate * (b - a)) - calls
        if n:
            if not self.streams:  # back to exactly 0: sums and differences of 1/x leave dust
                self.drain = 0.0
            self.span = 2.0 * burst / self.drain if self.drain > 0.0 else math.inf
        if now > self.updated:
            self.updated = now
        # The calls counted one by one: all at the stretch's start for the dip, all at its end
        # for the level.
        self.level = level - k
        if low - k < MARGIN:
            self._dry(now)


class CountPollBound(CountBound):
    """The PollForTask `CountBound`: its streams are the standing cycles, one poll every
    `cycle` (the long poll) from the poll that began one, which was counted one by one."""

    __slots__ = ("cycle",)

    def __init__(
        self, rate: float, burst: float, pending: list[int], flush: int, cycle: float
    ) -> None:
        super().__init__(POLL, rate, burst, pending, flush)
        self.cycle = cycle

    def stood(self, now: float) -> None:
        # Its phase is its first poll's (`FastWorkerGroup.stand`), which the service counted one
        # by one (`pending`) and the grid counts too: taken off the one-by-one count unless an
        # update took that in already (then it is counted twice, which only lowers the bound).
        # The grid counts it in the stretch after the change, at that stretch's start: where an
        # update comes in this very instant, the level it leaves does not hold the poll yet, and
        # the next stretch takes it at its start, which is where it came.
        pending = self.pending
        if pending[POLL] > 0:
            pending[POLL] -= 1
        self.begin(now, now, self.cycle)

    def left(self, standing: StandingPoll, now: float) -> None:
        """A standing cycle ends now (a hand-over, a pause, a partition, a crash)."""
        self.end(self.cycle, now, standing.first)


class CountedService(ThrottledService):
    """The throttled fast service with `CountBound`s: for fleets that can count more calls of an
    operation in bulk at once than half the burst (`counts_calls`). It tells the PollForTask
    bound where each standing cycle ends."""

    def _bounds(self, throttle: Throttle) -> list[BucketBound]:
        pending, flush, burst = self.pending, self.flush, throttle.burst
        return [
            CountPollBound(throttle.poll, burst, pending, flush, self.long_poll),
            CountBound(PROGRESS, throttle.progress, burst, pending, flush),
            BucketBound(STATUS, throttle.status, burst, pending, flush),  # no streams
            CountBound(HEARTBEAT, throttle.heartbeat, burst, pending, flush),
        ]

    def _hand_over(self, poll: Poll, task: Task) -> None:
        if poll.__class__ is StandingPoll:
            self.bounds[POLL].left(poll, self.env._now)  # type: ignore[attr-defined]
        super()._hand_over(poll, task)

    def leave(self, standing: StandingPoll) -> Poll:
        self.bounds[POLL].left(standing, self.env._now)  # type: ignore[attr-defined]
        return super().leave(standing)

    def drop(self, standing: StandingPoll) -> None:
        self.bounds[POLL].left(standing, self.env._now)  # type: ignore[attr-defined]
        super().drop(standing)


class CountedThread(BoundedThread):
    """A bounded thread whose reports in bulk are a stream of its `CountBound`: it says where
    each begins and ends."""

    def _bulk(
        self, attempt: Attempt, next_report: float, left: float, acks: bool = False
    ) -> tuple[FastSchedule, float]:
        bulk = FastThread._bulk(self, attempt, next_report, left, acks)
        self.bound.begin(self.runner.env._now, next_report, self.interval)  # noqa: SLF001
        return bulk

    def settle(self, now: float | None = None, watch: bool = True) -> int:
        schedule = self.schedule
        if schedule is not None:
            end = self.runner.env._now if now is None else now  # noqa: SLF001
            self.bound.end(self.interval, end, schedule.start)
        return FastThread.settle(self, now, watch)


class CountedRunner(BoundedRunner):
    """A bounded runner whose threads tell their `CountBound` where their reports begin and
    end."""

    service: CountedService


CountedRunner.thread_class = CountedThread


def counts_calls(scenario: Scenario) -> bool:
    """Whether the throttled fast run needs `CountBound`s: its fleet can have more threads (with
    auto-scaling, at its most runners) counting one operation's calls in bulk at once than half
    the burst, where the fluid bound's cap (`burst - N`) would stop it however slowly they call."""
    throttle = scenario.service.throttle
    if throttle is None:
        return False
    threads = sum(
        (max(g.runners, g.scaling.max) if g.scaling is not None else g.runners) * g.threads
        for g in scenario.fleet
    )
    return threads > throttle.burst / 2
