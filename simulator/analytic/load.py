"""API load: calls per second of each operation, and the account's rate limits against them.

Long-run rates for a fleet and its workload (docs/analytic.md, "API load"):

* ReportTaskProgress: each attempt sends its acknowledgement, then a report every I + L while its
  work lasts: 1 + sum_{k>=1} P(W > k I + (k-1) L) reports per attempt.
* PollForTask: an idle thread holds a long poll and polls again when it ends, so idle threads
  send 1 / long_poll each; each assignment adds the poll that received the task, less the share
  of a hold that had already run (FIFO hands a task to the oldest held poll).
* SetTaskStatus: one per attempt that runs to the end (resent while lost).
* ReportTaskRunnerHeartbeat: one per runner every runner_heartbeat_interval.

Rate-limit ceilings (reference section 1: token buckets per account): reports from n running
tasks every I + L seconds fit under a limit of r per second while n <= r (I + L); idle threads
fit under PollForTask's limit while their number is at most r x long_poll.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator import arithmetic
from simulator.analytic.pools import (
    Pool,
    arrival_rate,
    attempts_per_task,
    latency,
    offered_load,
    pools,
)
from simulator.analytic.queueing import idle_servers_at_arrival
from simulator.analytic.schedule import longest_work
from simulator.scenario.schema import FleetGroup, Periodic, Scenario, Workload

OPERATIONS = ("PollForTask", "ReportTaskProgress", "SetTaskStatus", "ReportTaskRunnerHeartbeat")
FIT = 0.9  # offered load at most this share of a limit: the bucket practically never empties


def report_times(workload: Workload, group: FleetGroup, lat: float) -> np.ndarray:
    """Offsets from the work's start of the reports after the acknowledgement: k I + (k-1) L."""
    cycle = group.progress_interval + lat
    k = np.arange(1, math.ceil(longest_work(workload.duration) / group.progress_interval) + 2)
    return k * group.progress_interval + (k - 1) * lat if cycle > 0 else np.empty(0)


def reports_per_attempt(workload: Workload, group: FleetGroup, lat: float) -> float:
    """Acknowledgement + reports sent while the work lasts (a report due as it ends is not sent).

    With jitter j the interval is uniform on I +- j: the renewal function then gains about
    j^2 / (6 I^2) reports per attempt that lasts several intervals (an approximation).
    """
    t = report_times(workload, group, lat)
    n = 1.0 + float(arithmetic.survival(workload.duration, t).sum())
    j, i = group.progress_jitter, group.progress_interval
    if j > 0:
        n += j * j / (6.0 * i * i) * float(arithmetic.survival(workload.duration, np.array([i]))[0])
    return n


def thread_share(pool: Pool, group: FleetGroup) -> float:
    return group.runners * group.threads / pool.threads


def call_rates(scenario: Scenario, attempts: dict[str, float] | None = None) -> dict[str, float]:
    """Long-run calls per second of each operation for the whole fleet (calls sent, lost ones
    included). `attempts` maps workload name to expected attempts per task (default: from
    failure_probability alone)."""
    att = attempts or {
        w.name: attempts_per_task(w, w.failure_probability) for w in scenario.workload
    }
    lat = latency(scenario)
    rates = dict.fromkeys(OPERATIONS, 0.0)
    for pool in pools(scenario):
        busy = offered_load(scenario, pool, att)
        # An overloaded pool runs at most `threads` attempts at a time: scale its work down.
        scale = min(1.0, pool.threads / busy) if busy > 0 else 1.0
        lam = scale * sum(arrival_rate(w, scenario.duration) * att[w.name] for w in pool.workloads)
        idle = max(pool.threads - busy, 0.0)
        rates["PollForTask"] += idle / scenario.service.long_poll + lam * assignment_polls(
            pool.threads, busy
        )
        for g in pool.groups:
            share = thread_share(pool, g)
            # SetTaskStatus is sent again until a reply comes back: request and reply must both
            # get through, (1 - p_request)(1 - p_reply) per try.
            answered = (1.0 - g.faults.request_loss) * (1.0 - g.faults.reply_loss)
            for w in pool.workloads:
                lam_w = scale * arrival_rate(w, scenario.duration) * att[w.name] * share
                rates["ReportTaskProgress"] += lam_w * reports_per_attempt(w, g, lat)
                rates["SetTaskStatus"] += lam_w / answered if answered > 0 else math.inf
    for g in scenario.fleet:
        rates["ReportTaskRunnerHeartbeat"] += g.runners / g.runner_heartbeat_interval
    return rates


def assignment_polls(threads: int, busy: float) -> float:
    """Polls per assignment beyond the idle threads' 1 / long_poll each.

    Each assignment ends an idle spell of D seconds, which took floor(D / long_poll) + 1 polls:
    D / long_poll + 1 - frac(D / long_poll). The fraction is the age of the held poll that got
    the task over long_poll: 0 when the task was already waiting, else the oldest of the k held
    polls, about k / (k + 1) of a hold when their phases are independent and uniform; k from the
    M/M/c idle-thread distribution seen by an arrival. (An approximation.)
    """
    if threads < 1 or busy >= threads:
        return 1.0
    seen = idle_servers_at_arrival(threads, busy)
    k = np.arange(threads + 1)
    return float(1.0 - np.sum(seen * k / (k + 1.0)))


def report_ceiling(limit: float, interval: float, latency: float = 0.0,
                   acks_per_s: float = 0.0) -> float:  # fmt: skip
    """The most tasks that can run at once with their reports under `limit` calls per second."""
    return max(limit - acks_per_s, 0.0) * (interval + latency)


def poll_ceiling(limit: float, long_poll: float, assignments_per_s: float = 0.0) -> float:
    """The most idle threads whose long polls fit under `limit` PollForTask calls per second."""
    return max(limit - assignments_per_s, 0.0) * long_poll


@dataclass(frozen=True)
class LimitCheck:
    """One operation's offered load against the account's token bucket."""

    operation: str
    offered_per_s: float
    limit_per_s: float
    burst: float
    peak: float  # most calls sent at the same instant

    @property
    def fits(self) -> bool:
        """Offered load under FIT x the rate and no simultaneous burst beyond the bucket."""
        return self.offered_per_s <= FIT * self.limit_per_s and self.peak <= self.burst

    def why(self) -> str:
        if self.offered_per_s > FIT * self.limit_per_s:
            return (
                f"{self.operation} is offered {self.offered_per_s:.3g} calls/s, more than "
                f"{FIT:.0%} of its {self.limit_per_s:g}/s limit"
            )
        if self.peak > self.burst:
            return (
                f"{self.peak:g} {self.operation} calls go out at the same instant, more than the "
                f"bucket's burst of {self.burst:g}"
            )
        return ""


def _simultaneous(workload: Workload) -> int:
    """Most tasks submitted at one instant."""
    arrivals = workload.arrivals
    if isinstance(arrivals, Periodic):
        return arrivals.batch
    times = getattr(arrivals, "times", None)
    if times:
        _, counts = np.unique(np.asarray(times, dtype=float), return_counts=True)
        return int(counts.max())
    return 1


def rate_limits(scenario: Scenario) -> list[LimitCheck]:
    """Every operation's offered load and largest instant burst against its limit (empty when
    throttling is off).

    Bursts: every thread polls at time 0 (and idle threads stay in step, every long_poll); a
    batch of b tasks handed out at once sends b acknowledgements together (if startup is fixed)
    and, with fixed interval and no jitter, b reports together every interval after.
    """
    throttle = scenario.service.throttle
    if throttle is None:
        return []
    rates = call_rates(scenario)
    threads = sum(g.runners * g.threads for g in scenario.fleet)
    batch = 0
    for pool in pools(scenario):
        same = all(arithmetic.upper_bound(g.startup) == arithmetic.mean(g.startup)
                   for g in pool.groups)  # fmt: skip
        b = max(_simultaneous(w) for w in pool.workloads)
        batch = max(batch, min(b, pool.threads) if same else 1)
    limits = (throttle.poll, throttle.progress, throttle.status, throttle.heartbeat)
    peaks = (threads, batch, batch, 1)
    return [
        LimitCheck(op, rates[op], limit, throttle.burst, peak)
        for op, limit, peak in zip(OPERATIONS, limits, peaks, strict=True)
    ]


def throttle_problem(scenario: Scenario) -> str:
    """Why throttling may bite in this scenario ("" when every operation fits its limit)."""
    for check in rate_limits(scenario):
        if not check.fits:
            return check.why()
    return ""


@dataclass(frozen=True)
class Ceiling:
    """One fleet group's expected load against the account's limits, as if it were alone."""

    group: str
    running: float  # tasks it runs at once on average
    running_max: float  # report_ceiling at its interval and latency
    idle: float  # idle threads on average
    idle_max: float  # poll_ceiling at the service's long poll
    poll_per_s: float  # idle threads' long-poll load: idle / long_poll


def ceilings(scenario: Scenario) -> list[Ceiling]:
    """Per fleet group: running tasks against the ReportTaskProgress ceiling, idle threads against
    the PollForTask ceiling (empty when throttling is off)."""
    throttle = scenario.service.throttle
    if throttle is None:
        return []
    att = {w.name: attempts_per_task(w, w.failure_probability) for w in scenario.workload}
    lat = latency(scenario)
    long_poll = scenario.service.long_poll
    out = []
    for pool in pools(scenario):
        busy = min(offered_load(scenario, pool, att), float(pool.threads))
        for g in pool.groups:
            share = thread_share(pool, g)
            running, idle = busy * share, (pool.threads - busy) * share
            out.append(Ceiling(
                g.name, running, report_ceiling(throttle.progress, g.progress_interval, lat),
                idle, poll_ceiling(throttle.poll, long_poll), idle / long_poll,
            ))  # fmt: skip
    return out
