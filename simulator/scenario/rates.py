"""Estimates from the scenario alone: each operation's peak call rate, tasks in progress, arrival
rates and the mean and tail of a distribution spec. The warnings and the size guards use them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulator import arithmetic, arrival_profile
from simulator.scenario.leases import timeouts
from simulator.scenario.schema import (
    Empirical,
    Explicit,
    Exponential,
    Fixed,
    FleetGroup,
    Lognormal,
    Periodic,
    Poisson,
    Profile,
    Scenario,
    Service,
    Uniform,
    Workload,
)


@dataclass(frozen=True)
class CallRates:
    """Calls per second each operation sends at the fleet's busiest sustained moment (estimates).

    `in_progress` is the most tasks in progress at once and `idle` the most idle threads at once,
    both over the whole fleet (a busy group and an idle one may add up); each rate sums its fleet
    groups' peaks.
    """

    poll: float
    progress: float
    status: float
    heartbeat: float
    threads: float
    in_progress: float
    idle: float


def call_rates(scenario: Scenario) -> CallRates:
    """Estimate each operation's peak sustained call rate from the scenario alone.

    A working thread reports every `progress_interval`, plus one acknowledgement per task; an idle
    thread long-polls once per `service.long_poll` when nothing is ready, and polls again at once
    after each task; every task ends with one SetTaskStatus; every runner heartbeats. Tasks in
    progress follow the arrivals (a periodic batch or a list of times puts its tasks in progress
    together, for their mean duration; Poisson arrivals keep their mean load, a rate profile the
    load of its busiest segment), never more than the threads. Retries, faults and back-off are
    left out.
    """
    service = scenario.service
    poll = progress = status = heartbeat = in_progress = idle = 0.0
    for worker_group in dict.fromkeys(g.worker_group for g in scenario.fleet):
        groups = [g for g in scenario.fleet if g.worker_group == worker_group]
        threads = as_count(sum(g.runners * g.threads for g in groups))
        served = [w for w in scenario.workload if w.worker_group == worker_group]
        low, high = _in_progress(served, scenario.duration)
        low, high = min(low, threads), min(high, threads)
        starts = sum(peak_rate(w, scenario.duration) for w in served)
        in_progress += high
        idle += threads - low
        for g in groups:
            share = as_count(g.runners * g.threads) / threads
            poll += share * ((threads - low) / service.long_poll + starts)
            progress += share * (high / g.progress_interval + starts)
            status += share * starts
            heartbeat += as_count(g.runners) / g.runner_heartbeat_interval
    total = as_count(sum(g.runners * g.threads for g in scenario.fleet))
    return CallRates(poll, progress, status, heartbeat, total, in_progress, idle)


def as_count(n: int) -> float:
    """A whole number as a float; inf past the largest float (a fleet of 10**400 runners)."""
    try:
        return float(n)
    except OverflowError:
        return math.inf


_MAX_BATCHES = 10_000  # beyond this many batches, a periodic workload counts by its mean load


def _in_progress(workloads: Sequence[Workload], horizon: float) -> tuple[float, float]:
    """(fewest, most) tasks of `workloads` in progress at once during the run, with unlimited
    threads and every task lasting its mean duration (Poisson arrivals: their mean load)."""
    steady = swing = 0.0  # swing: a rate profile's busiest segment above its quietest
    changes: dict[float, float] = {}  # time -> change in tasks in progress
    for w in workloads:
        work = spec_mean(w.duration)
        if work is None:
            continue
        arrivals = w.arrivals
        if isinstance(arrivals, Periodic):
            starts = arithmetic.batch_times(arrivals, horizon, _MAX_BATCHES)  # as the model's clock
            if starts is None:
                steady += arrivals.batch * work / arrivals.every
                continue
            batches = [(float(t), float(arrivals.batch)) for t in starts]
        elif isinstance(arrivals, Explicit):
            batches = [(t, 1.0) for t in arithmetic.explicit_times(arrivals, horizon)]
        elif isinstance(arrivals, Profile):  # the quietest and the busiest segment reached
            reached = [rate for start, rate in arrivals.rates if start < horizon]
            steady += min(reached) * work
            swing += (max(reached) - min(reached)) * work
            continue
        else:
            steady += arrival_rate(w, horizon) * work
            continue
        for t, n in batches:
            changes[t] = changes.get(t, 0.0) + n
            changes[t + work] = changes.get(t + work, 0.0) - n
    if not changes:
        return steady, steady + swing
    times = sorted(changes)
    level, low, high = 0.0, math.inf, 0.0
    if times[0] > 0:
        low = 0.0  # nothing is in progress before the first arrival
    for t, following in zip(times, [*times[1:], math.inf], strict=True):
        level += changes[t]
        if t >= horizon:
            break
        high = max(high, level)
        if following > t:
            low = min(low, level)
    return steady + (0.0 if low == math.inf else low), steady + swing + high


def arrival_rate(workload: Workload, horizon: float) -> float:
    """Mean tasks per second over the run."""
    arrivals = workload.arrivals
    if isinstance(arrivals, Poisson):
        return arrivals.rate
    if isinstance(arrivals, Profile):
        return arrival_profile.mean_rate(arrivals.period, arrivals.rates, horizon)
    return arithmetic.arrival_rate(arrivals, horizon)  # as the model submits them


def peak_rate(workload: Workload, horizon: float) -> float:
    """Tasks per second at the busiest sustained moment: a rate profile's highest segment the run
    reaches; for the other kinds, `arrival_rate`."""
    arrivals = workload.arrivals
    if isinstance(arrivals, Profile):
        return max(rate for start, rate in arrivals.rates if start < horizon)
    return arrival_rate(workload, horizon)


def spec_mean(spec: Any) -> float | None:
    """Mean of a distribution spec in seconds (None if unknown, e.g. an unfilled empirical)."""
    if not isinstance(spec, Fixed | Exponential | Lognormal | Uniform | Empirical):
        return None
    if isinstance(spec, Empirical) and not spec.values:
        return None
    return arithmetic.mean(spec)


share_above = arithmetic.share_above  # P(X > limit), None if unknown


def lost_before_work(group: FleetGroup, workload: Workload, service: Service) -> float:
    """The chance that message loss costs an attempt before its work starts (an estimate).

    Two ways (docs/model.md, "Faults"): the PollForTask reply handing the task over is lost (the
    thread never hears of it), or every report the runner sends within the acknowledgement
    window is lost on the way (a lost acknowledgement is not resent; the next report goes out an
    interval later). The start-up is taken at its mean; partitions, pauses and throttling are
    left out.
    """
    faults = group.faults
    ack = timeouts(service, workload)[0]
    startup = spec_mean(group.startup) or 0.0
    reports = 1 + max(0, math.floor((ack - startup) / group.progress_interval))
    heard = (1.0 - faults.reply_loss) * (1.0 - faults.request_loss**reports)
    return 1.0 - heard
