"""Size and time guards: estimate a run's SimPy events and peak memory before starting it.

A scenario of a few lines can ask for a week of 50,000 runners: hours of simulation and more
memory than the machine has. `guard` estimates, from the scenario alone, how many SimPy events one
replication schedules and how much memory it holds at its peak, and refuses (a `LeasesimError`
with code LIMIT_EXCEEDED) when the run would pass the `Limits`, saying what the estimate is made of
and how to proceed. Commands call it before running; `--force` skips it.

The estimate follows the model's own event sources (see `simulator.model`): a working thread wakes
once per progress interval, an idle one holds a long poll (a timer and a reply), every attempt
has a handful of timers (start-up, lease, the end of its work), each lease timer re-arms once per
lease length, runners send heartbeats, faults strike and interrupt. It is calibrated against real
runs of the shipped scenarios (tests/test_guards.py holds it within a factor of 2). Memory is
per-runner process state plus about 500 bytes per task or attempt record (the log, then its
tables), measured with tracemalloc.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, get_args

from simulator import arrival_profile
from simulator.arithmetic import explicit_times, mean, periodic_batches, share_above
from simulator.errors import LIMIT_EXCEEDED, USAGE_ERROR, LeasesimError
from simulator.scenario.leases import timeouts
from simulator.scenario.modes import fallbacks
from simulator.scenario.schema import (
    Explicit,
    FleetGroup,
    Periodic,
    Poisson,
    Profile,
    Scenario,
    SimulationOptions,
)
from simulator.units import format_duration

# --- calibration constants (see the module docstring and tests/test_guards.py) --------------------

#: Timers and replies per attempt besides its progress reports: the reply to a held poll, the
#: start-up timer, the end of the work, the acknowledgement lease timer and its last firing.
EVENTS_PER_ATTEMPT = 5.0
#: Events a pause or crash adds per thread of the runner (an interrupt, then a resume or restart).
EVENTS_PER_INTERRUPTED_PROCESS = 2.0
RUNNER_BYTES = 12_000  # a runner: its SimPy processes, generators and random streams
THREAD_BYTES = 2_000  # one poll thread's process and generator frames
FAULT_PROCESS_BYTES = 2_000  # one fault process of one runner, with its random stream
RECORD_BYTES = 500  # one task or attempt: the log's object, then its rows in the tables
FAULT_RECORD_BYTES = 300  # one fault record and its row
BASE_BYTES = 1_000_000  # the environment, the service, the queues
#: A rough speed, only to put the event count in hours: measured 250,000 to 400,000 events/s.
EVENTS_PER_SECOND = 300_000

DEFAULT_MAX_EVENTS = 300_000_000  # about a quarter of an hour at EVENTS_PER_SECOND
FALLBACK_MAX_MEMORY = 4_000_000_000  # when the machine's memory cannot be read
MAX_EVENTS_VARIABLE = "LEASESIM_MAX_EVENTS"
MAX_MEMORY_VARIABLE = "LEASESIM_MAX_MEMORY"


def _half_of_memory() -> float:
    """Half the machine's physical memory (the rest is for the OS and everything else)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return FALLBACK_MAX_MEMORY


@dataclass(frozen=True)
class Limits:
    """The largest run started without `--force`: total events, and peak memory of the runs
    that execute at once (one replication per worker)."""

    max_events: float = DEFAULT_MAX_EVENTS
    max_memory: float = field(default_factory=_half_of_memory)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Limits:
        """The defaults, overridden by LEASESIM_MAX_EVENTS (e.g. 2e9, 500M) and
        LEASESIM_MAX_MEMORY (e.g. 16GB, 512MB) when set."""
        limits = cls()
        events = environ.get(MAX_EVENTS_VARIABLE, "").strip()
        memory = environ.get(MAX_MEMORY_VARIABLE, "").strip()
        return cls(
            max_events=_parse_amount(MAX_EVENTS_VARIABLE, events, _COUNT_UNITS)
            if events
            else limits.max_events,
            max_memory=_parse_amount(MAX_MEMORY_VARIABLE, memory, _BYTE_UNITS)
            if memory
            else limits.max_memory,
        )


_COUNT_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9}
_BYTE_UNITS = {
    "": 1.0, "b": 1.0, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
    "kib": 2.0**10, "mib": 2.0**20, "gib": 2.0**30, "tib": 2.0**40,
}  # fmt: skip
_AMOUNT = re.compile(r"((?:\d+(?:\.\d*)?|\.\d+)(?:e\+?\d+)?)\s*([a-z]*)")


def _parse_amount(variable: str, text: str, units: Mapping[str, float]) -> float:
    """A positive amount such as 500M, 2e9 or 16GB; a USAGE_ERROR naming `variable` otherwise."""
    match = _AMOUNT.fullmatch(text.lower())
    value = 0.0
    if match and match.group(2) in units:
        value = float(match.group(1)) * units[match.group(2)]
    if not value > 0 or not math.isfinite(value):
        example = "500M or 2e9" if units is _COUNT_UNITS else "16GB or 512MB"
        suffixes = "k, M, G" if units is _COUNT_UNITS else "kB, MB, GB, TB, KiB, MiB, GiB, TiB"
        message = (
            f"the environment variable {variable}={text!r} is not a positive amount; write a "
            f"number with an optional unit ({suffixes}), such as {example}."
        )
        detail = {"field": variable, "message": message, "file": None, "line": None}
        raise LeasesimError(USAGE_ERROR, message, [detail])
    return value


# --- the estimate ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """What one replication of a scenario is expected to cost, and how many will run.

    `events` and `memory` (bytes, at the peak) are per replication; `events_by_source` and
    `memory_by_source` say where they come from, largest first.
    """

    replications: int
    events: float
    memory: float
    tasks: float
    attempts: float
    events_by_source: dict[str, float]
    memory_by_source: dict[str, float]

    @property
    def total_events(self) -> float:
        return self.events * self.replications

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

    @property
    def threads(self) -> int:
        return self.config.runners * self.config.threads


def estimate(scenario: Scenario, replications: int = 1) -> Estimate:
    """The events and peak memory of one replication of `scenario`, and the replication count."""
    try:
        found = _estimate(scenario, replications)
        if not (math.isnan(found.events) or math.isnan(found.memory)):
            return found
    except OverflowError:  # e.g. runners: 10**400, valid to the schema but beyond any float
        pass
    # Past any float (inf * 0 is NaN): too big to estimate, hence too big to run unasked.
    inf = math.inf
    return Estimate(replications, inf, inf, inf, inf, {"everything": inf}, {"everything": inf})


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


def _estimate(scenario: Scenario, replications: int) -> Estimate:
    groups = [_Group(g) for g in scenario.fleet]
    tally = _Tally()
    tasks, attempts = _workloads(scenario, groups, tally)
    exact = _exact_groups(scenario)
    for group in groups:
        _fleet_group(scenario, group, group.config.name in exact, tally)
    tally.byte("task and attempt records", (tasks + attempts) * RECORD_BYTES)
    tally.byte("simulation", BASE_BYTES)
    return Estimate(
        replications=replications,
        events=sum(tally.events.values()),
        memory=sum(tally.memory.values()),
        tasks=tasks,
        attempts=attempts,
        events_by_source=dict(sorted(tally.events.items(), key=lambda kv: -kv[1])),
        memory_by_source=dict(sorted(tally.memory.items(), key=lambda kv: -kv[1])),
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
    if exact:
        tally.event("progress reports", reports)
        tally.event("idle polls", 2 * polls)  # the hold's timer and the (empty) reply
        tally.event("heartbeats", heartbeats)
        tally.event("lease timers", rearms)
    else:
        # Fast mode counts a healthy runner's calls in bulk: a working thread wakes only for a
        # report that message loss drops (its lease needs no timer meanwhile), an idle one once
        # per idle spell when loss cannot cut its polls short, and heartbeats are events only
        # when they renew leases.
        loss = c.faults.message_loss
        tally.event("progress reports", reports * loss)
        tally.event("idle polls", 2 * polls if loss else g.attempts)
        tally.event("heartbeats", heartbeats if service.heartbeat_renews_leases else 0.0)
        tally.event("lease timers", rearms * loss)
    tally.event("task hand-outs and ends", g.attempts * EVENTS_PER_ATTEMPT)
    if _mean(service.call_latency) > 0:  # every call travels: a timer for the trip, a reply
        tally.event("call latency", 2 * (reports + polls + 3 * g.attempts + heartbeats))
    faults, processes, records = _faults(c, horizon)
    tally.event("faults", faults)
    tally.event("process starts", c.runners * (c.threads + 1 + processes))
    tally.byte("runners", c.runners * (RUNNER_BYTES + c.threads * THREAD_BYTES))
    tally.byte("runners", c.runners * processes * FAULT_PROCESS_BYTES)
    tally.byte("fault records", records * FAULT_RECORD_BYTES)


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


# --- the guard ------------------------------------------------------------------------------------


def guard(
    scenario: Scenario,
    replications: int = 1,
    limits: Limits | None = None,
    source: str | None = None,
    workers: int = 1,
) -> Estimate:
    """The estimate of running `replications` of `scenario`; LIMIT_EXCEEDED past `limits`.

    `workers` replications run at once (each holds its own memory); `source` names the scenario
    (its file) in the message.
    """
    found = estimate(scenario, replications)
    check([found], limits or Limits(), source, workers, scenario)
    return found


def check(
    estimates: Sequence[Estimate],
    limits: Limits,
    source: str | None = None,
    workers: int = 1,
    scenario: Scenario | None = None,
) -> None:
    """Refuse a run of several parts (e.g. sweep points) past `limits`; events add up over the
    parts, and memory is the largest part's times the replications running at once."""
    if not estimates:
        return
    total = sum(e.total_events for e in estimates)
    at_once = max(1, min(workers, sum(e.replications for e in estimates)))
    peak = max(e.memory for e in estimates) * at_once
    over_events, over_memory = total > limits.max_events, peak > limits.max_memory
    if not (over_events or over_memory):
        return
    largest = max(estimates, key=lambda e: e.total_events)
    parts = [f"{source}: not started" if source else "not started"]
    reasons = []
    if over_events:
        reasons.append(
            f"it would schedule {_about(total)} SimPy events"
            f"{_events_breakdown(estimates)}, more than the limit of {_count(limits.max_events)} "
            f"({MAX_EVENTS_VARIABLE}); {_computing(total)}"
        )
    if over_memory:
        biggest = max(estimates, key=lambda e: e.memory)
        each = f"{_bytes(biggest.memory)} per replication x {at_once} running at once: "
        reasons.append(
            f"it would hold {_about(peak, _bytes)} of memory at its peak ("
            f"{each if at_once > 1 else ''}{_sources(biggest.memory_by_source, _bytes)}), more "
            f"than the limit of {_bytes(limits.max_memory)} ({MAX_MEMORY_VARIABLE})"
        )
    parts[0] += ": " + "; and ".join(reasons) + "."
    parts.append(_how_to_proceed(largest, total, peak, limits, scenario, len(estimates) > 1))
    message = " ".join(parts)
    detail = {
        "field": None, "message": message, "file": source, "line": None,
        "estimate": [e.to_dict() for e in estimates] if len(estimates) > 1
        else estimates[0].to_dict(),
        "limits": {"max_events": limits.max_events, "max_memory_bytes": limits.max_memory},
    }  # fmt: skip
    raise LeasesimError(LIMIT_EXCEEDED, message, [detail])


def _events_breakdown(estimates: Sequence[Estimate]) -> str:
    if len(estimates) > 1:
        return f" over {len(estimates)} points"
    e = estimates[0]
    if not math.isfinite(e.events):
        return ""
    per = f"{e.replications} replications x {_count(e.events)}: " if e.replications > 1 else ""
    return f" ({per}{_sources(e.events_by_source, _count)})"


def _sources(table: Mapping[str, float], show: Any) -> str:
    """The two or three largest sources of a table: '250 million progress reports, ...'."""
    total = sum(table.values())
    if not math.isfinite(total):
        return "too large to count"
    big = [(k, v) for k, v in table.items() if v >= 0.1 * total][:3]
    return ", ".join(f"{show(v)} {k}" for k, v in big)


def _how_to_proceed(
    e: Estimate, total: float, peak: float, limits: Limits, scenario: Scenario | None,
    several: bool,
) -> str:  # fmt: skip
    """Concrete ways to get under the limits, with the numbers they would give."""
    ways = []
    at_once = peak / e.memory if e.memory > 0 else 1.0
    if scenario is not None:
        share = min(limits.max_events / total, 1.0)
        if peak > limits.max_memory:
            # Records grow with the simulated time; the runners' own state does not.
            growing = sum(e.memory_by_source.get(k, 0.0) for k in _GROWING)
            room = limits.max_memory / at_once - (e.memory - growing)
            share = min(share, room / growing if growing > 0 else 0.0)
        fits = _round_down(scenario.duration * share * 0.9) if share > 0 else None
        if fits is not None:
            ways.append(f"a shorter simulated time (--set duration={fits} fits)")
    if total > limits.max_events and not several:
        reps = math.floor(limits.max_events / e.events) if e.events > 0 else 0
        if 1 <= reps < e.replications:
            ways.append(f"fewer replications (-n {reps} fits)")
    if peak > limits.max_memory:
        ways.append("fewer runners or tasks (memory grows with both)")
        if at_once > 1:
            ways.append("fewer replications running at once")
    if scenario is not None and total > limits.max_events:
        fast = _fast_estimate(scenario, e.replications)
        if fast is not None and fast < 0.8 * e.total_events:
            ways.append(
                f"fast mode (--set simulation.mode=fast, about {_count(fast)} events: healthy "
                "runners' progress reports are counted in bulk, results keep their distribution)"
            )
    raised = []
    if total > limits.max_events and math.isfinite(total):
        raised.append(f"{MAX_EVENTS_VARIABLE}={_exponent(_round_up(total))}")
    if peak > limits.max_memory and math.isfinite(peak):
        raised.append(f"{MAX_MEMORY_VARIABLE}={math.ceil(_round_up(peak) / 1e9)}GB")
    if raised:
        ways.append(f"a higher limit ({' and '.join(raised)})")
    ways.append("or --force to run it anyway")
    return "To proceed, choose " + ", ".join(ways) + "."


_GROWING = ("task and attempt records", "fault records")  # memory that grows with the duration


def _fast_estimate(scenario: Scenario, replications: int) -> float | None:
    """Total events in fast mode, if the schema has it and the scenario is not in it already."""
    modes = get_args(SimulationOptions.model_fields["mode"].annotation)
    if "fast" not in modes or scenario.simulation.mode == "fast":
        return None
    fast = scenario.model_copy(
        update={"simulation": scenario.simulation.model_copy(update={"mode": "fast"})}
    )
    return estimate(fast, replications).total_events


def _round_down(seconds: float) -> str | None:
    """A readable duration no longer than `seconds`: whole days, hours, minutes or seconds."""
    for unit in (86400.0, 3600.0, 60.0, 1.0):
        if seconds >= unit:
            return format_duration(math.floor(seconds / unit) * unit)
    return None


def _round_up(n: float) -> float:
    """The next number of one significant digit at or above `n`: 1.6e9 -> 2e9, 8.7e9 -> 9e9."""
    scale = 10.0 ** math.floor(math.log10(n)) if n > 0 else 1.0
    return math.ceil(n / scale) * scale


def _about(n: float, show: Any = None) -> str:
    """'about 1.6 billion' or, past any float, 'an astronomical number of'."""
    if not math.isfinite(n):
        return "an astronomical amount" if show is _bytes else "an astronomical number of"
    return f"about {(show or _count)(n)}"


def _exponent(n: float) -> str:
    """2e9, 3e15: a count as LEASESIM_MAX_EVENTS reads it."""
    mantissa, exponent = f"{n:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _count(n: float) -> str:
    """300 million, 2.6 billion, 45,000; 7.9e15 beyond a thousand billion."""
    if n >= 1e12:
        mantissa, exponent = f"{n:.2g}".split("e")
        return f"{mantissa}e{int(exponent)}"
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if n >= size:
            return f"{n / size:.3g} {word}"
    return f"{n:,.0f}"


def _bytes(n: float) -> str:
    if n >= 1e15:
        return f"{n / 1e12:,.0f} TB"
    for size, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} bytes"


def _computing(events: float) -> str:
    """How long `events` take at a typical speed, as a clause."""
    if not math.isfinite(events):
        return "it would never finish"
    speed = f"at a typical {_count(EVENTS_PER_SECOND)} events per second"
    return f"{speed} that is {_hours(events / EVENTS_PER_SECOND)} of computing"


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        hours = seconds / 3600
        return f"about {hours:,.0f} hours" if hours >= 100 else f"about {hours:.2g} hours"
    if seconds >= 90:
        return f"about {seconds / 60:.2g} minutes"
    return "about a minute" if seconds >= 45 else "under a minute"
