"""How long the service takes to notice a crashed runner: the distribution of detection time.

A crash at age a of an attempt is detected when the lease runs out: after `remaining(a)`, the
lease left at that age (see `schedule`). Crashes are a Poisson process, so the age at which one
hits is distributed like the time a thread spends at each age: the chance the attempt is still
alive at age a, times exp(-crash rate x a) for the chance that no earlier crash ended it. The
detection time is `remaining` under that weighting; a crash later than run end - detection is not
seen within the run, so each value is also weighted by (T - detection) / T.

With `progress_jitter` J each interval is I + U, U uniform on [-J, J], drawn afresh for every
report. The schedule is then a renewal process, and a crash meets a report cycle with a chance
proportional to the cycle's length (the inspection paradox): the time since the last send has
mean E[X^2] / (2 E[X]) = (c^2 + J^2/3) / (2c), c = I + L, not c/2. The distribution is therefore
a mixture of fixed-cycle schedules (cycle c + u at Gauss-Legendre nodes u of the jitter), each
weighted by its cycle length: for long work the mean is R + L - (c^2 + J^2/3) / (2c) (with I =
120 s, J = 100 s, R = 15 min, L = 0: 826.1 s, where the fixed schedule would give 840 s).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from simulator import arithmetic
from simulator.analytic.pools import Pool, arrival_rate, latency, pools
from simulator.analytic.schedule import Lease, grid, remaining
from simulator.scenario.leases import timeouts
from simulator.scenario.schema import FleetGroup, Scenario, Workload


@dataclass(frozen=True)
class DetectionTime:
    """The distribution of crash-to-expiry times, as weighted values (a discrete stand-in)."""

    values: np.ndarray
    weights: np.ndarray  # sum to 1

    @property
    def mean(self) -> float:
        return float(np.dot(self.values, self.weights))

    @property
    def low(self) -> float:
        return float(self.values[self.weights > 0].min())

    @property
    def high(self) -> float:
        return float(self.values[self.weights > 0].max())

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        """P(detection time <= x)."""
        order = np.argsort(self.values)
        v, c = self.values[order], np.cumsum(self.weights[order])
        i = np.searchsorted(v, np.asarray(x, dtype=float), side="right")
        return np.where(i > 0, c[np.maximum(i - 1, 0)], 0.0)

    def quantile(self, q: float) -> float:
        order = np.argsort(self.values)
        v, c = self.values[order], np.cumsum(self.weights[order])
        return float(v[min(np.searchsorted(c, q, side="left"), len(v) - 1)])


JITTER_NODES = 6  # Gauss-Legendre nodes over the jitter: exact for polynomials up to degree 11


def lease_of(scenario: Scenario, group: FleetGroup, workload: Workload) -> Lease:
    """Lease lengths (scenario.leases.timeouts) and report timing for a group serving a workload."""
    ack, first, renew = timeouts(scenario.service, workload)
    return Lease(ack, first, renew, group.progress_interval, latency(scenario))


def jitter_mixture(lease: Lease, jitter: float) -> list[tuple[Lease, float]]:
    """Fixed-interval leases standing in for a jittered schedule, with their weights (sum 1).

    Node u of U(-jitter, jitter) gets its probability times (cycle + u) / cycle: a crash falls
    in a cycle with a chance proportional to its length. Without jitter: the lease itself.
    """
    if jitter <= 0:
        return [(lease, 1.0)]
    x, w = np.polynomial.legendre.leggauss(JITTER_NODES)
    u = x * jitter
    weights = (w / 2.0) * (lease.cycle + u) / lease.cycle
    leases = [replace(lease, interval=lease.interval + float(du)) for du in u]
    return list(zip(leases, (weights / weights.sum()).tolist(), strict=True))


def _pieces(scenario: Scenario, group: FleetGroup, workload: Workload,
            crash_rate: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(detection values, unnormalised weights) for crashes of `group` holding `workload` tasks."""
    values, weights = [], []
    starts, probs = arithmetic.nodes(group.startup, 16)
    mixture = jitter_mixture(lease_of(scenario, group, workload), group.progress_jitter)
    for lease, q in mixture:
        for s0, p in zip(starts, probs, strict=True):
            g = grid(lease, s0, workload.duration)
            alive = g.survival(workload.duration) * np.exp(-crash_rate * g.age)
            d = remaining(lease, s0, g.age)
            values.append(d)
            weights.append(q * p * g.width * alive)
    return np.concatenate(values), np.concatenate(weights)


def detection_time(scenario: Scenario, pool: Pool | None = None) -> DetectionTime | None:
    """Detection time over the crashes of the scenario (or of one pool); None without crashes.

    Each (fleet group, workload) pair is weighted by how often crashes meet its attempts: the
    workload's arrival rate x the group's share of the pool's threads x the group's crash rate.
    """
    chosen = [pool] if pool is not None else pools(scenario)
    values, weights = [], []
    for p in chosen:
        for g in p.groups:
            crash = g.faults.crash
            if crash is None:
                continue
            share = g.runners * g.threads / p.threads
            for w in p.workloads:
                v, wt = _pieces(scenario, g, w, crash.rate)
                lam = arrival_rate(w, scenario.duration)
                values.append(v)
                weights.append(wt * lam * share * crash.rate)
    if not values:
        return None
    v = np.concatenate(values)
    w = np.concatenate(weights) * np.clip(scenario.duration - v, 0.0, None) / scenario.duration
    total = w.sum()
    if total <= 0:
        return None
    return DetectionTime(v, w / total)
