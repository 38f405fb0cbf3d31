"""The assumptions estimates share, checked against a scenario: each returns why it fails ("")."""

from __future__ import annotations

from simulator import arithmetic
from simulator.analytic.pools import Pool, fault_fraction, faults_named, latency
from simulator.scenario.leases import timeouts
from simulator.scenario.schema import Poisson, Profile, Scenario
from simulator.units import format_duration

RARE = 0.05  # faults taking less than this share of runner time are ignored (approximately)


def _d(seconds: float) -> str:
    return format_duration(seconds)


def lease_problem(scenario: Scenario, pool: Pool) -> str:
    """Why a healthy runner of this pool could still lose a lease ("" if it never can).

    It cannot when the acknowledgement always arrives within its window (startup + latency <=
    ack), every report gap (interval + jitter + latency) fits both the first and the later lease,
    and no attemptTimeout can end an attempt that is still working.
    """
    top_latency = arithmetic.upper_bound(scenario.service.call_latency)
    for g in pool.groups:
        for w in pool.workloads:
            ack, first, renew = timeouts(scenario.service, w)
            start = arithmetic.upper_bound(g.startup) + top_latency
            if start > ack:
                return (
                    f"fleet group {g.name!r}: startup plus call latency can reach {_d(start)}, "
                    f"past the {_d(ack)} acknowledgement window, so healthy runners lose tasks"
                )
            gap = g.progress_interval + g.progress_jitter + top_latency
            if gap > min(first, renew):
                return (
                    f"fleet group {g.name!r}: reports can be {_d(gap)} apart, longer than the "
                    f"{_d(min(first, renew))} lease, so healthy runners lose tasks"
                )
            if w.attempt_timeout is not None:
                longest = start + arithmetic.upper_bound(w.duration) + 2 * top_latency
                if longest >= w.attempt_timeout:
                    return (
                        f"workload {w.name!r}: attempt_timeout {_d(w.attempt_timeout)} can end "
                        "attempts that are still working"
                    )
    return ""


def fault_problem(scenario: Scenario, pool: Pool, allowed: float, hold: float,
                  exclude: tuple[str, ...] = ()) -> tuple[str, bool]:  # fmt: skip
    """(why faults rule the estimate out, whether there are any faults to ignore).

    Faults other than `exclude` are ignored (and the estimate becomes approximate) while they take
    at most `allowed` of a runner's time (pools.fault_fraction); more rules the estimate out.
    """
    present = False
    for g in pool.groups:
        kinds = faults_named(g, exclude)
        if not kinds:
            continue
        present = True
        share = fault_fraction(g, hold, scenario.duration, exclude)
        if share > allowed:
            return (
                f"fleet group {g.name!r} has faults ({', '.join(kinds)}) taking about "
                f"{share:.1%} of its time, more than the {allowed:.1%} this estimate can ignore",
                True,
            )
    return "", present


def non_poisson(pool: Pool) -> str:
    for w in pool.workloads:
        if isinstance(w.arrivals, Profile):
            return (
                f"workload {w.name!r} has profile arrivals: Poisson, but at a rate that changes "
                "(no steady state)"
            )
        if not isinstance(w.arrivals, Poisson):
            return f"workload {w.name!r} has {w.arrivals.kind} arrivals, not Poisson"
    return ""


def non_uniform(pool: Pool) -> str:
    if pool.uniform:
        return ""
    return (
        f"the fleet groups serving worker group {pool.worker_group!r} differ in progress "
        "interval, jitter or startup (the threads are not identical servers)"
    )


def latency_problem(scenario: Scenario) -> str:
    spec = scenario.service.call_latency
    if arithmetic.upper_bound(spec) != latency(scenario):
        return "call_latency is random (the schedule is worked out for a fixed latency)"
    return ""


def changing_fleet(scenario: Scenario) -> str:
    """Why the fleet is not a fixed set of threads ("" if it is): every estimate but the arrival
    count assumes `runners x threads` threads for the whole run."""
    for g in scenario.fleet:
        if g.scaling is not None:
            return (
                f"fleet group {g.name!r} scales between {g.scaling.min} and {g.scaling.max} "
                "runners (the estimates assume a fixed number of threads)"
            )
        if g.faults.interruption is not None:
            return (
                f"fleet group {g.name!r} has spot interruptions: runners leave for good (the "
                "estimates assume a fixed number of threads)"
            )
    return ""
