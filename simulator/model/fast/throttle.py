"""Fast mode under the account rate limits: a proof, kept as the run goes, that none is throttled.

Exact mode takes a token from the account's bucket of an operation (`throttle.TokenBucket`: rate
r, burst b) for every call that reaches the service. Fast mode counts calls in bulk, so no bucket
sees them one by one. But while no call of the run could be throttled in exact mode, the buckets
change nothing, and a fast run is then the exact run (event for event, where both modes draw the
same numbers). `BucketBound` keeps a lower bound of the tokens exact mode's bucket would hold, from
what fast mode knows without simulating the skipped calls; while the bound stays at or above one
spare token, no call can have been throttled. The moment it cannot be proved, the fast run stops
(`MayThrottle`), and `simulation.simulate` runs the replication again in exact mode from the
same seed: its result is then exact mode's.

The bound. A stream of calls counted in bulk (a working thread's reports, an idle thread's standing
polls, a runner's heartbeats) sends one call every `interval` from its first call `first`. Charge
it as a fluid: at `1/interval` tokens per second from the moment the stream begins (`now`), plus
`1 - (first - now) / interval` at once (0 to 1 token: the fluid the stream would have drawn since
`first - interval`). Then, in every window of time, the stream's calls exceed its fluid by at
most one, and only if the stream was running at the window's start. Exact mode's tokens after
the calls at t are

    T(t) = min over s <= t of [b + r (t - s) - calls in [s, t]],

so T(t) >= V(t) = min over s of [b - N(s) + r (t - s) - calls counted one by one in [s, t]
- fluid in [s, t]], with N(s) the streams running at s. V is a fluid bucket whose ceiling is
b - N, refilled at r, drained at the sum of the running streams' rates, less one token per call
counted one by one: piecewise linear between the instants it is brought up to date (a call, a
stream's start or end), so checking it there checks it everywhere. Where V >= 1 (`MARGIN`: one
token to spare, far above float rounding) after every update, every call found at least two
tokens in exact mode's bucket.

The fast layer's classes here (`ThrottledService`, `BoundedRunner`, `BoundedThread`,
`BoundedHeartbeat`) override the hooks where streams begin and end, and the service's `handle`,
which every call that reaches the service goes through. Standing polls need no hook: the
PollForTask bound (`PollBound`) reads the worker groups' standing cycles when it is updated.

What the bound costs is on fast mode's hot path (about five changes a task: three calls, a stream
of reports begun and ended, a standing cycle begun), so each change costs an increment or two,
taken in by the next update (`BucketBound`), and only the thread's reports need hooks around the
methods where they begin and end.
"""

from __future__ import annotations

from simpy import Environment

from simulator.model.actor import Wait
from simulator.model.fast.runner import FastHeartbeat, FastRunner, FastThread
from simulator.model.fast.schedule import FastSchedule
from simulator.model.fast.service import FastService, FastWorkerGroup, StandingPoll
from simulator.model.invariants import Invariants
from simulator.model.log import HEARTBEAT, OPERATIONS, POLL, PROGRESS, STATUS, Attempt, Log
from simulator.model.runner import Runner
from simulator.scenario.schema import Service as ServiceConfig
from simulator.scenario.schema import Throttle
from simulator.seeds import Stream
from simulator.units import format_duration

#: Tokens the bound must keep to spare: a call then finds two tokens where it needs one.
MARGIN = 1.0


class MayThrottle(Exception):  # noqa: N818 - a signal to `simulate`, not an error of the user's
    """Fast mode cannot prove that no call would be throttled: run the replication exact."""


class BucketBound:
    """A lower bound of the tokens in exact mode's bucket of one operation (module docstring).

    It is brought up to date (`update`) only every few changes, and each change is taken in at
    the worst moment of the stretch since the last update, which only lowers the bound:
    - calls counted one by one wait in `pending` (kept by the service: one increment per call)
      and are taken in as if all came at the stretch's start, with no refill after them;
    - a stream that begins is charged from the stretch's start (its lump at once), and one that
      ends is charged to the stretch's end: every stream running at any moment of the stretch
      counts in `N` and in the drain for the whole of it.

    A stream is charged by `begin` and `end`, or by the same increments inlined where it begins
    and ends once per task (`BoundedThread`), or counted at the update (`PollBound`).
    """

    __slots__ = (
        "op", "rate", "burst", "level", "updated", "drain", "streams", "fluid", "counted",
        "pending", "lumps", "begun", "ending", "ended", "flush",
    )  # fmt: skip

    def __init__(
        self, op: int, rate: float, burst: float, pending: list[int], flush: int = 1
    ) -> None:
        self.op = op
        self.rate = rate
        self.burst = burst
        self.level = burst  # V at `updated`: the bucket starts full, as `TokenBucket` does
        self.updated = 0.0
        self.drain = 0.0  # the fluid rate of the streams counted: sum of 1 / interval
        self.streams = 0  # N: streams running at some moment since `updated`
        self.fluid = 0.0  # tokens charged to streams so far (`ThrottledService.audit`)
        self.counted = 0  # calls counted one by one so far
        self.pending = pending  # per operation: calls counted one by one since the last update
        self.lumps = 0.0  # streams' lumps since the last update
        self.begun = 0  # streams begun since the last update
        self.ending = 0.0  # drain of the streams ended since the last update
        self.ended = 0  # and their number
        self.flush = flush  # changes that wait for an update at most

    def update(self, now: float) -> None:
        """Take in the changes so far: bring the bound up to `now`; raise `MayThrottle` if it
        dipped below `MARGIN` since the last update.

        Over the stretch since the last update the bound moves at `rate - drain`, capped at
        `burst - streams`, and loses one token per pending call and each lump. Its lowest point
        is at least its level at the start, less the drain where it exceeds the refill, less
        those; its level at `now` is at least min(cap, level + slope * dt) less those.
        """
        pending = self.pending
        k = pending[self.op]
        pending[self.op] = 0
        self.counted += k
        dt = now - self.updated
        slope = self.rate - self.drain
        level = self.level
        taken = k + self.lumps
        low = (level + slope * dt if slope < 0.0 else level) - taken
        level += slope * dt
        ceiling = self.burst - self.streams
        self.level = (level if level < ceiling else ceiling) - taken
        self.fluid += self.drain * dt + self.lumps
        self.lumps = 0.0
        self.begun = 0
        if self.ended:
            self.streams -= self.ended
            # Back to exactly 0 when none runs: sums and differences of 1/interval leave dust.
            self.drain = self.drain - self.ending if self.streams else 0.0
            self.ending = 0.0
            self.ended = 0
        if dt > 0.0:
            self.updated = now
        if low < MARGIN:
            self._dry(now)

    def _dry(self, now: float) -> None:
        raise MayThrottle(
            f"the account's {OPERATIONS[self.op]} token bucket ({self.rate:g}/s, burst "
            f"{self.burst:g}) could have run dry by {format_duration(now)}"
        )

    def begin(self, now: float, first: float, interval: float) -> None:
        """A stream of calls counted in bulk begins: one every `interval` from `first` (>= now).
        (`BoundedThread._bulk` repeats it.)"""
        lump = 1.0 - (first - now) / interval
        self.lumps += 0.0 if lump < 0.0 else 1.0 if lump > 1.0 else lump
        self.streams += 1
        self.drain += 1.0 / interval
        self.begun += 1
        if self.begun >= self.flush:
            self.update(now)

    def end(self, interval: float, now: float = 0.0, first: float = 0.0) -> None:
        """A stream ends `now`: its calls before now were all it sent (charged to the stretch's
        end, the next update; `now` and its `first` call matter to `counting.CountBound`).
        (`BoundedThread.settle` repeats it.)"""
        self.ending += 1.0 / interval
        self.ended += 1

    def close(self, now: float) -> None:
        """The run ends at `now`: the bound must hold up to it."""
        self.update(now)
        if self.level < MARGIN:
            self._dry(now)


class PollBound(BucketBound):
    """The PollForTask bound: its streams, the worker groups' standing cycles, are counted from
    the groups at each update instead of by a call per cycle begun or ended.

    A standing cycle (`StandingPoll`) is a stream of polls one every `long_poll` (`cycle`, one
    for every group: a setting of the service) from `long_poll` after it began, its first poll
    being counted one by one: `begin(now, now + long_poll, long_poll)`, whose lump is 0. Every
    cycle running at some moment since the last update either stood at it (`running`: the
    groups' `standing` then) or began since (the groups count them, `FastWorkerGroup.stood`),
    so `running` + begun is the `N` that `begin` and `end` would have kept, and the drain is `N`
    times 1/long_poll: the same bound, to the rounding of the drain (a product here, a running
    sum there), at no cost to a hand-over. After the update the cycles running are those
    standing now. A cycle counts whether it ended by a hand-over, a pause, a partition or a
    crash: whatever takes it out of `standing` ends it, and nothing else does. Its polls are
    counted at its end by `FastService.count_repolls` (`ThrottledService.audit` checks them
    against the fluid).

    A cycle begins only in answer to a poll (`FastService.poll_for_task`): the service's
    `handle` sees it begin there, and brings the bound up to date after `flush` of them, as
    `begin` does (it only bounds how many wait; their number comes from the groups).
    """

    __slots__ = ("groups", "running", "seen", "inverse")

    def __init__(
        self, rate: float, burst: float, pending: list[int], flush: int,
        groups: list[FastWorkerGroup], cycle: float,
    ) -> None:  # fmt: skip
        super().__init__(POLL, rate, burst, pending, flush)
        self.groups = groups
        self.running = sum(len(group.standing) for group in groups)  # at the last update
        self.seen = sum(group.stood for group in groups)  # cycles begun by the last update
        self.inverse = 1.0 / cycle

    def stood(self, now: float) -> None:
        """A standing cycle began now (counted from its group at the update): as with any stream
        begun, the flush bounds how many wait for an update."""
        self.begun += 1
        if self.begun >= self.flush:
            self.update(now)

    def update(self, now: float) -> None:
        stood = running = 0
        for group in self.groups:
            stood += group.stood
            running += len(group.standing)
        streams = self.running + stood - self.seen
        self.seen = stood
        self.running = running
        self.streams = streams
        self.drain = streams * self.inverse
        BucketBound.update(self, now)
        # From now on (as `end` leaves them): the cycles standing now.
        self.streams = running
        self.drain = running * self.inverse


class ThrottledService(FastService):
    """The fast service when the account's rate limits are on (`service.throttle`).

    Its buckets are `BucketBound`s instead of `TokenBucket`s: no call is throttled, and the run
    stops (`MayThrottle`) if one could have been. The runners see no bucket (`Runner.direct`), so
    their calls take exact mode's path for a call that is not throttled.
    """

    def __init__(
        self, env: Environment, config: ServiceConfig, log: Log, groups: list[str],
        dispatch: Stream, checks: Invariants | None = None,
    ) -> None:  # fmt: skip
        super().__init__(env, config, log, groups, dispatch, checks)
        throttle = config.throttle
        assert throttle is not None
        #: Per operation: calls counted one by one since their bound's last update.
        self.pending = [0, 0, 0, 0]
        # Calls and streams wait for an update at most this many at a time: they are taken in
        # at the worst moment of their stretch (`BucketBound`), so a few at a time costs little.
        self.flush = max(1, int(throttle.burst // 8))
        self.bounds = self._bounds(throttle)
        self.buckets = [None] * 4

    def _bounds(self, throttle: Throttle) -> list[BucketBound]:
        """One bound per operation, in `OPERATIONS` order."""
        rates = (throttle.poll, throttle.progress, throttle.status, throttle.heartbeat)
        groups: list[FastWorkerGroup] = list(self.groups.values())  # type: ignore[arg-type]
        pending, flush = self.pending, self.flush
        return [
            PollBound(rate, throttle.burst, pending, flush, groups, self.long_poll)
            if op == POLL
            else BucketBound(op, rate, throttle.burst, pending, flush)
            for op, rate in enumerate(rates)
        ]

    def handle(self, op: int, caller: object, finished: bool = True) -> object:
        # Every call that reaches the service comes here (`Actor._arrives`, `Actor._lands`).
        pending = self.pending
        pending[op] += 1
        if pending[op] >= self.flush:
            self.bounds[op].update(self.env._now)
        # `Service.handle`'s dispatch, repeated rather than called: every call passes here.
        if self.checks is not None:
            self.checks.handled[op] += 1
        if op == PROGRESS:
            return self.report_progress(caller)  # type: ignore[arg-type]
        if op == POLL:
            reply = self.poll_for_task(caller)  # type: ignore[arg-type]
            if reply.__class__ is StandingPoll:
                self.bounds[POLL].stood(self.env._now)  # type: ignore[attr-defined]
            return reply
        if op == STATUS:
            return self.set_task_status(caller, finished)  # type: ignore[arg-type]
        if op == HEARTBEAT:
            return self.runner_heartbeat(caller)  # type: ignore[arg-type]
        raise ValueError(f"unknown operation {op}")

    def finish(self, until: float) -> None:
        super().finish(until)
        for bound in self.bounds:
            bound.close(until)

    def audit(self) -> None:
        """After the run: every call that reached the service was counted one by one or drawn
        as fluid (a stream's calls never exceed its fluid over its whole life). A call that
        slipped past both would void the proof: the run is then redone exact (`MayThrottle`)."""
        log = self.log
        for bound in self.bounds:
            op = bound.op
            arrived = log.calls[op] - (log.lost[op] - log.lost_replies[op])
            bulk = arrived - bound.counted
            if bulk < 0 or bulk > bound.fluid + 1e-6 * (1.0 + bound.fluid):
                raise MayThrottle(
                    f"fast mode counted {bulk:,} {OPERATIONS[op]} calls in bulk against "
                    f"{bound.fluid:,.1f} tokens drawn for them (an internal inconsistency)"
                )


class BoundedThread(FastThread):
    """A fast thread whose reports counted in bulk draw on the ReportTaskProgress bound.

    Its hooks run once per task: each calls `FastThread`'s method by name (`super()` builds a
    proxy object per call).
    """

    runner: BoundedRunner

    def __init__(self, runner: Runner, index: int) -> None:
        super().__init__(runner, index)
        self.bound: BucketBound = runner.service.bounds[PROGRESS]  # type: ignore[attr-defined]

    def _bulk(
        self, attempt: Attempt, next_report: float, left: float, acks: bool = False
    ) -> tuple[FastSchedule, float]:
        bulk = FastThread._bulk(self, attempt, next_report, left, acks)
        # Every schedule a thread starts has its progress interval (`BulkReporter._bulk`), so
        # `end` takes off exactly what `begin` added. `bound.begin(now, next_report, interval)`,
        # inlined: once a task.
        bound = self.bound
        now = self.runner.env.now
        interval = self.interval
        lump = 1.0 - (next_report - now) / interval
        bound.lumps += 0.0 if lump < 0.0 else 1.0 if lump > 1.0 else lump
        bound.streams += 1
        bound.drain += 1.0 / interval
        bound.begun += 1
        if bound.begun >= bound.flush:
            bound.update(now)
        return bulk

    def settle(self, now: float | None = None, watch: bool = True) -> int:
        if self.schedule is not None:
            # The stream ends now (charged to the next update, so before or after the count
            # below makes no difference): `bound.end(interval)`, inlined (once a task).
            bound = self.bound
            bound.ending += 1.0 / self.interval
            bound.ended += 1
        return FastThread.settle(self, now, watch)


class BoundedHeartbeat(FastHeartbeat):
    """A fast heartbeat whose beats counted in bulk draw on the ReportTaskRunnerHeartbeat bound."""

    runner: BoundedRunner

    def _began(self) -> None:
        if self.beating is not None:
            now = self.runner.env.now
            self.runner.service.bounds[HEARTBEAT].begin(now, self.beating, self.interval)

    def _fast(self) -> Wait:
        # The bulk beats begin with one now (`FastHeartbeat._fast`).
        now = self.runner.env.now
        self.runner.service.bounds[HEARTBEAT].begin(now, now, self.interval)
        return (yield from super()._fast())

    def restart(self) -> None:
        super().restart()
        self._began()

    def thaw(self) -> None:
        super().thaw()
        self._began()

    def settle(self, now: float | None = None) -> None:
        beating = self.beating
        super().settle(now)
        if beating is not None:
            end = self.runner.env.now if now is None else now
            self.runner.service.bounds[HEARTBEAT].end(self.interval, end, beating)


class BoundedRunner(FastRunner):
    """A fast runner under the account's rate limits: its calls in bulk draw on the bounds."""

    service: ThrottledService


BoundedRunner.thread_class = BoundedThread
BoundedRunner.heartbeat_class = BoundedHeartbeat
