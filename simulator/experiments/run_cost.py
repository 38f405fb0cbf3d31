"""What a run costs: a replication's SimPy events and peak memory, estimated from the scenario.

The estimate follows the model's own event sources (see `simulator.model`): a working thread wakes
once per progress interval, an idle one holds a long poll (a timer and a reply), every attempt
has a handful of timers (start-up, lease, the end of its work), each lease timer re-arms once per
lease length, runners send heartbeats, faults strike and interrupt, and a throttled caller retries
after each back-off. It is calibrated against real runs of the shipped scenarios
(tests/test_guards.py holds it within a factor of 2; `make bench` prints it beside the measured
events and peak memory: bench/scenarios.py). Memory is per-runner process state plus about 250
bytes per task or attempt record (the log's columns, then its tables; tracemalloc and the growth
of peak RSS), the closed-form estimates' report schedule and the scenario's empirical samples. Each
replication has a fixed cost (set-up, tables, summary), keeps its summary (or its tables) until
the command ends, and writes its scenario and tables when saved. `simulator.experiments.guards`
refuses runs past the limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from simulator import arrival_profile
from simulator.arithmetic import (
    explicit_times,
    mean,
    periodic_batches,
    quantile,
    share_above,
    upper_bound,
)
from simulator.scenario.leases import timeouts
from simulator.scenario.modes import fallbacks
from simulator.scenario.schema import Explicit, FleetGroup, Periodic, Poisson, Profile, Scenario

# --- calibration constants (see the module docstring and tests/test_guards.py) -----------------

#: Timers and replies per attempt besides its progress reports: the reply to a held poll, the
#: start-up timer, the end of the work, the acknowledgement lease timer and its last firing.
EVENTS_PER_ATTEMPT = 5.0
#: The same in fast mode, with the idle spell before it when no message is lost: an attempt is
#: handed out and ended in bulk (1.24 measured on bench/fleet-500.yaml without faults, the
#: arrivals and process starts left out; the estimate was 6, three times too high).
FAST_EVENTS_PER_ATTEMPT = 1.25
#: What a start-up adds to that: one timer at its end, where the acknowledgement lands (1.0
#: measured on aws-defaults, 6 h: 1,009 events with the 5 s start-up, 712 without, 295 tasks).
FAST_STARTUP_EVENTS = 1.0
#: Events a lost poll reply, acknowledgement or SetTaskStatus costs in fast mode, where it hands
#: the thread to its process (about 5 measured on aws-defaults, 6 h, message_loss 0.2).
FAST_LOST_CALL_EVENTS = 5.0
#: Events a pause or crash adds per thread of the runner (an interrupt, then a resume or restart).
EVENTS_PER_INTERRUPTED_PROCESS = 2.0
RUNNER_BYTES = 12_000  # a runner: its SimPy processes, generators and random streams
THREAD_BYTES = 2_000  # one poll thread's process and generator frames
FAULT_PROCESS_BYTES = 2_000  # one fault process of one runner, with its random stream
RECORD_BYTES = 250  # one task or attempt: its columns in the log, then its rows in the tables
FAULT_RECORD_BYTES = 100  # one fault record: its columns in the log, then its row
BASE_BYTES = 1_000_000  # the environment, the service, the queues
#: The closed-form estimates that run and report print build arrays of one point per report of
#: the longest task (`analytic.load.report_times` and its companions): bytes per point at their
#: peak, measured with tracemalloc (552).
SCHEDULE_POINT_BYTES = 560
#: One value of an empirical distribution: a float in the scenario, in each replication's copy of
#: it (sent to a worker, written to scenario.json with --out) and in its JSON text.
EMPIRICAL_VALUE_BYTES = 60
EMPIRICAL_VALUE_TEXT = 20  # characters of one value in scenario.json
SCENARIO_TEXT = 20_000  # scenario.json without empirical values
TABLE_ROW_TEXT = 120  # characters of one task, attempt or fault row in a saved CSV table
#: The fixed cost of a replication in SimPy events' worth of time: building the model, its
#: tables, its summary and the bookkeeping of replicate (7 ms measured, at EVENTS_PER_SECOND).
REPLICATION_EVENTS = 1_000
SUMMARY_BYTES = 5_000  # one replication's summary and call counts, kept until the end (4.4 kB)
#: A rough speed, only to put the event count in hours: 119,000 to 170,000 events/s measured on
#: the shipped scenarios and the 500-runner fleet in exact mode (`make bench`).
EVENTS_PER_SECOND = 150_000


# --- the estimate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """What one replication of a scenario is expected to cost, and how many will run.

    `events` and `memory` (bytes, at the peak) are per replication; `events_by_source` and
    `memory_by_source` say where they come from, largest first. Besides its events, each
    replication costs `overhead` events' worth of time (set-up, tables, summary), keeps `kept`
    bytes until the command ends (its summary, or all its tables when they are kept), and writes
    `output` bytes when saved (--out: scenario.json and the tables).
    """

    replications: int
    events: float
    memory: float
    tasks: float
    attempts: float
    events_by_source: dict[str, float]
    memory_by_source: dict[str, float]
    overhead: float = REPLICATION_EVENTS
    kept: float = SUMMARY_BYTES
    output: float = 0.0

    @property
    def total_events(self) -> float:
        """Events of every replication, with each one's fixed cost counted as events."""
        return (self.events + self.overhead) * self.replications

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, for error details and `--json` output."""
        return {
            "replications": self.replications,
            "events_per_replication": _whole(self.events),
            "total_events": _whole(self.total_events),
            "memory_bytes_per_replication": _whole(self.memory),
            "tasks": _whole(self.tasks),
            "attempts": _whole(self.attempts),
            "events_by_source": {k: _whole(v) for k, v in self.events_by_source.items()},
            "memory_by_source": {k: _whole(v) for k, v in self.memory_by_source.items()},
            "overhead_events_per_replication": _whole(self.overhead),
            "kept_bytes_per_replication": _whole(self.kept),
            "output_bytes_per_replication": _whole(self.output),
        }


def _whole(x: float) -> int | None:
    """A count for JSON: rounded, or None (null) past any float."""
    return round(x) if math.isfinite(x) else None


@dataclass
class _Group:
    """One fleet group's share of the work, filled in while estimating."""

    config: FleetGroup
    busy: float = 0.0  # thread-seconds spent on attempts
    attempts: float = 0.0
    renew: float = math.inf  # the shortest lease of the workloads it serves
    #: API calls sent over the run, and the callers waiting to send them at a time, by throttle
    #: bucket (its field in `service.throttle`).
    calls: dict[str, float] = field(default_factory=dict)
    callers: dict[str, float] = field(default_factory=dict)

    @property
    def threads(self) -> int:
        return self.config.runners * self.config.threads


def estimate(scenario: Scenario, replications: int = 1, tables: bool = False) -> Estimate:
    """The events and peak memory of one replication of `scenario`, and the replication count.

    `tables`: the command keeps every replication's tables to the end (report, compare), not
    only its summary.
    """
    try:
        found = _estimate(scenario, replications, tables)
        if not any(map(math.isnan, (found.events, found.memory, found.kept, found.output))):
            return found
    except OverflowError:  # e.g. runners: 10**400, valid to the schema but beyond any float
        pass
    # Past any float (inf * 0 is NaN): too big to estimate, hence too big to run unasked.
    inf = math.inf
    return Estimate(replications, inf, inf, inf, inf, {"everything": inf}, {"everything": inf},
                    kept=inf, output=inf)  # fmt: skip


class _Tally:
    """Events and bytes by source, as the estimate adds them up."""

    def __init__(self) -> None:
        self.events: dict[str, float] = {}
        self.memory: dict[str, float] = {}

    @staticmethod
    def _add(table: dict[str, float], source: str, amount: float) -> None:
        if math.isnan(amount):  # inf * 0 on the way: some count is beyond any float
            amount = math.inf
        if amount > 0:
            table[source] = table.get(source, 0.0) + amount

    def event(self, source: str, amount: float) -> None:
        self._add(self.events, source, amount)

    def byte(self, source: str, amount: float) -> None:
        self._add(self.memory, source, amount)


def _estimate(scenario: Scenario, replications: int, tables: bool = False) -> Estimate:
    groups = [_Group(g) for g in scenario.fleet]
    tally = _Tally()
    tasks, attempts = _workloads(scenario, groups, tally)
    exact = _exact_groups(scenario)
    for group in groups:
        _fleet_group(scenario, group, group.config.name in exact, tally)
    _throttled(scenario, groups, tally)
    records = tasks + attempts
    tally.byte("task and attempt records", records * RECORD_BYTES)
    tally.byte("simulation", BASE_BYTES)
    tally.byte("closed-form report schedule", _schedule_points(scenario) * SCHEDULE_POINT_BYTES)
    samples = _empirical_values(scenario)
    tally.byte("empirical samples", samples * EMPIRICAL_VALUE_BYTES)
    faults = tally.memory.get("fault records", 0.0) / FAULT_RECORD_BYTES
    kept = SUMMARY_BYTES
    if tables:  # the log is dropped, its tables kept: about half of a record's bytes
        kept += (records * RECORD_BYTES + faults * FAULT_RECORD_BYTES) / 2
    output = SCENARIO_TEXT + samples * EMPIRICAL_VALUE_TEXT + (records + faults) * TABLE_ROW_TEXT
    return Estimate(
        replications=replications,
        events=sum(tally.events.values()),
        memory=sum(tally.memory.values()),
        tasks=tasks,
        attempts=attempts,
        events_by_source=dict(sorted(tally.events.items(), key=lambda kv: -kv[1])),
        memory_by_source=dict(sorted(tally.memory.items(), key=lambda kv: -kv[1])),
        kept=kept,
        output=output,
    )


def _workloads(scenario: Scenario, groups: list[_Group], tally: _Tally) -> tuple[float, float]:
    """(tasks, attempts) of the run; fills each group's busy time, attempts and shortest lease.

    A worker group's threads share its work in proportion to their number, up to all of their
    time: an overloaded group leaves tasks queued, and those are never attempted.
    """
    horizon, service = scenario.duration, scenario.service
    tasks_total = attempts_total = 0.0
    offered: dict[str, list[tuple[float, float]]] = {}  # worker group: (attempts, work) each
    for w in scenario.workload:
        serving = [g for g in groups if g.config.worker_group == w.worker_group]
        threads = sum(g.threads for g in serving) or 1
        startup = sum(_mean(g.config.startup) * g.threads for g in serving) / threads
        ack, first, renew = timeouts(service, w)
        for g in serving:
            g.renew = min(g.renew, first, renew)
        # An attempt fails on its own, or because its start-up outlasts the acknowledgement window
        # (the lease runs out before the first report); each failure costs one more attempt.
        late = max((share_above(g.config.startup, ack) or 0.0) for g in serving) if serving else 0
        fail = 1 - (1 - w.failure_probability) * (1 - late)
        per_task = sum(fail**k for k in range(w.max_retries + 1))
        tasks, arrival_events, work = _arrivals(
            w.arrivals, horizon, per_task * (startup + _mean(w.duration))
        )
        tally.event("arrivals", arrival_events)
        offered.setdefault(w.worker_group, []).append((tasks * per_task, work))
        if w.attempt_timeout is not None:
            tally.event("attempt timeouts", tasks * per_task)
        if max(w.retry_delay, service.retry_delay_floor) > 0:
            tally.event("retry delays", tasks * (per_task - 1))
        tasks_total += tasks

    for worker_group, streams in offered.items():
        serving = [g for g in groups if g.config.worker_group == worker_group]
        threads = sum(g.threads for g in serving)
        demand = sum(work for _, work in streams)
        busy = min(demand, threads * horizon)
        served = busy / demand if demand > 0 else 1.0
        attempts = sum(a for a, _ in streams) * served
        attempts_total += attempts
        for g in serving:
            g.busy += busy * g.threads / threads
            g.attempts += attempts * g.threads / threads
    return tasks_total, attempts_total


def _fleet_group(scenario: Scenario, g: _Group, exact: bool, tally: _Tally) -> None:
    """The events and memory of one fleet group's runners, given its busy time and attempts."""
    c, service, horizon = g.config, scenario.service, scenario.duration
    idle = max(g.threads * horizon - g.busy, 0.0)
    reports = g.busy / c.progress_interval
    polls = idle / service.long_poll
    heartbeats = c.runners * horizon / c.runner_heartbeat_interval
    rearms = g.busy / g.renew if math.isfinite(g.renew) else 0.0
    # Each attempt is handed out by a poll, acknowledged by a report and ended by a status.
    g.calls = {"poll": polls + g.attempts, "progress": reports + g.attempts,
               "status": g.attempts, "heartbeat": heartbeats}  # fmt: skip
    working = g.busy / horizon  # threads working at a time, on average
    g.callers = {"poll": g.threads - working, "progress": working, "status": working,
                 "heartbeat": float(c.runners)}  # fmt: skip
    if exact:
        tally.event("progress reports", reports)
        tally.event("idle polls", 2 * polls)  # the hold's timer and the (empty) reply
        tally.event("heartbeats", heartbeats)
        tally.event("lease timers", rearms)
    else:
        # Fast mode counts a healthy runner's calls in bulk: a working thread wakes only for a
        # report that message loss drops (its lease needs no timer meanwhile), a lost reply or
        # acknowledgement hands the thread to its process, and heartbeats are events only when
        # they renew leases.
        loss = c.faults.message_loss
        tally.event("progress reports", reports * loss)
        # A lossy idle thread still stands at the service: one timer per idle spell.
        tally.event("idle polls", g.attempts if loss else 0.0)
        tally.event("lost calls", 3 * g.attempts * loss * FAST_LOST_CALL_EVENTS)
        tally.event("heartbeats", heartbeats if service.heartbeat_renews_leases else 0.0)
        tally.event("lease timers", rearms * loss)
    per_attempt = EVENTS_PER_ATTEMPT if exact else FAST_EVENTS_PER_ATTEMPT + (
        FAST_STARTUP_EVENTS if _mean(c.startup) > 0 else 0.0)  # fmt: skip
    tally.event("task hand-outs and ends", g.attempts * per_attempt)
    if _mean(service.call_latency) > 0:  # every call travels: a timer for the trip, a reply
        tally.event("call latency", 2 * (reports + polls + 3 * g.attempts + heartbeats))
    faults, processes, records = _faults(c, horizon)
    tally.event("faults", faults)
    tally.event("process starts", c.runners * (c.threads + 1 + processes))
    tally.byte("runners", c.runners * (RUNNER_BYTES + c.threads * THREAD_BYTES))
    tally.byte("runners", c.runners * processes * FAULT_PROCESS_BYTES)
    tally.byte("fault records", records * FAULT_RECORD_BYTES)


def _throttled(scenario: Scenario, groups: list[_Group], tally: _Tally) -> None:
    """Retries of throttled calls: a bucket offered more calls than its rate (reference section 1)
    leaves that share of its callers backing off and retrying, from when its burst is spent
    until the run ends.

    A caller throttled k times waits min(cap, base * 2**k), times 3/4 on average with jitter; it
    gets through after about offered / rate tries, so it waits the delay of that try. Its tries
    replace its regular calls (a report, a held poll, a heartbeat): only a delay shorter than
    their period adds events.
    """
    throttle = scenario.service.throttle
    if throttle is None or scenario.duration <= 0:
        return
    for bucket in ("poll", "progress", "status", "heartbeat"):
        rate = getattr(throttle, bucket)
        offered = sum(g.calls.get(bucket, 0.0) for g in groups) / scenario.duration
        if not offered > rate:
            continue
        # The bucket's burst is spent first: throttling starts when it is empty.
        span = max(scenario.duration - throttle.burst / (offered - rate), 0.0)
        for g in groups:
            b = g.config.backoff
            tries = min(offered / rate, 1000.0)
            delay = min(b.cap, b.base * 2.0 ** (tries - 1)) * (0.75 if b.jitter else 1.0)
            waiting = max(g.callers.get(bucket, 0.0), 0.0) * (1 - rate / offered)
            regular = {"poll": scenario.service.long_poll, "status": math.inf,
                       "progress": g.config.progress_interval,
                       "heartbeat": g.config.runner_heartbeat_interval}[bucket]  # fmt: skip
            extra = 1 / delay - 1 / regular if delay > 0 else math.inf
            tally.event("throttled retries", waiting * span * max(extra, 0.0))


def _schedule_points(scenario: Scenario) -> float:
    """Points of the largest closed-form report schedule: the longest task over the interval."""
    most = 0.0
    for w in scenario.workload:
        top = _longest(w.duration)
        for g in scenario.fleet:
            if g.worker_group == w.worker_group:
                most = max(most, math.ceil(top / g.progress_interval) + 2)
    return most


def _longest(spec: Any) -> float:
    """The work's upper bound, or its 1 - 1e-10 quantile (as `analytic.schedule.longest_work`)."""
    if getattr(spec, "dist", None) == "empirical":
        return max(spec.values, default=0.0)
    top = upper_bound(spec)
    return top if math.isfinite(top) else quantile(spec, 1.0 - 1e-10)


def _empirical_values(node: Any) -> float:
    """How many empirical samples the scenario holds (each replication copies them)."""
    if getattr(node, "dist", None) == "empirical":
        return float(len(node.values))
    if isinstance(node, BaseModel):
        return sum(_empirical_values(getattr(node, name)) for name in type(node).model_fields)
    if isinstance(node, (list, tuple)):
        return sum(_empirical_values(item) for item in node)
    return 0.0


def _mean(spec: Any) -> float:
    """The mean in seconds; 0 for an empirical distribution whose samples are not read yet."""
    if getattr(spec, "dist", None) == "empirical" and not spec.values:
        return 0.0
    return mean(spec)


def _exact_groups(scenario: Scenario) -> set[str]:
    """Names of the fleet groups whose every progress report is an event."""
    names = {g.name for g in scenario.fleet}
    if scenario.simulation.mode != "fast":
        return names
    why = fallbacks(scenario)
    return names if "*" in why else names & set(why)


def _arrivals(arrivals: Any, horizon: float, hold: float) -> tuple[float, float, float]:
    """(tasks, timer events, thread-seconds of work) an arrival process brings before `horizon`.

    A task arriving at t occupies a thread for `hold` seconds, but only until the run ends: it
    contributes min(hold, horizon - t).
    """
    if isinstance(arrivals, Poisson):
        tasks = arrivals.rate * horizon
        if hold <= horizon:  # rate * integral over s in [0, T] of min(hold, s)
            work = arrivals.rate * (hold * horizon - hold**2 / 2)
        else:
            work = arrivals.rate * horizon**2 / 2
        return tasks, tasks, work
    if isinstance(arrivals, Periodic):
        span = horizon - arrivals.offset
        if span <= 0:
            return 0.0, 0.0, 0.0
        batches = periodic_batches(arrivals, horizon)  # as the model's clock reaches them
        # The first `full` batches run for all of `hold`; the rest are cut off by the horizon.
        full = min(batches, math.floor((span - hold) / arrivals.every) + 1) if span >= hold else 0
        cut = batches - full
        rest = cut * span - arrivals.every * (full + batches - 1) * cut / 2
        return arrivals.batch * batches, batches, arrivals.batch * (full * hold + rest)
    if isinstance(arrivals, Profile):  # expected arrivals, plus a timer at each segment start
        period, points = arrivals.period, arrivals.rates
        tasks = float(arrival_profile.expected_before(period, points, [horizon])[0])
        events = tasks + arrival_profile.boundaries_before(period, points, horizon)
        return tasks, events, arrival_profile.held_work(period, points, horizon, hold)
    assert isinstance(arrivals, Explicit)
    times = explicit_times(arrivals, horizon)
    work = sum(min(hold, horizon - t) for t in times)
    return float(len(times)), float(len(set(times))), work


def _faults(group: FleetGroup, horizon: float) -> tuple[float, int, float]:
    """(events, fault processes per runner, fault records) of one fleet group's faults."""
    faults = group.faults
    events = records = 0.0
    processes = 0
    interrupted = EVENTS_PER_INTERRUPTED_PROCESS * (group.threads + 1)
    for spec, cost in (
        (faults.crash, 2 + interrupted),  # the strike, the restart, every process interrupted
        (faults.pause, 2 + interrupted),  # the strike, the end, every process frozen and resumed
        (faults.progress_stall, 2.0),
        (faults.heartbeat_stall, 2.0),
        (faults.partition, 2.0),
    ):
        if spec is None:
            continue
        group_wide = getattr(spec, "scope", "runner") == "group"
        strikes = spec.rate * horizon * (1 if group_wide else group.runners)
        events += strikes * cost
        records += strikes * (group.runners if group_wide else 1)
        processes += 0 if group_wide else 1
    return events, processes, records


