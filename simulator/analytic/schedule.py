"""The time left on an attempt's lease at each moment of its life, from the model's report rules.

Measured from the assignment (age a), with startup s0, call latency L, progress interval I: the
acknowledgement is sent at s0; until it arrives the lease ends `ack` after the assignment. Each
later report is sent I after the previous reply (replies are immediate, so I after the previous
arrival): sends are at s_k = s0 + k (I + L), arrivals L later. A request in flight reaches the
service whatever its runner does meanwhile, so from the moment report k is sent the lease is
already bound to end at s_k + L + R_k, with R_0 = `first` and R_k = `renew` for k >= 1:

    remaining(a) = ack - a                     for a < s0,
    remaining(a) = R_k + L - (a - s_k)         for s_k <= a < s_(k+1).

A crash at age a is noticed after exactly remaining(a). A pause at age a sends nothing until it
ends, then the overdue report goes out at once (or, in startup, the rest of the startup runs
first); it costs the lease when that report arrives after the deadline, i.e. when the pause is
longer than `pause_threshold(a)`: remaining(a) - L after the acknowledgement, and ack - s0 - L
during startup. The grid below samples a profile at the midpoints of small cells, aligned with
the sends (where the profile jumps), over the longest life the work allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator import arithmetic
from simulator.scenario.schema import DistSpec

MAX_POINTS = 100_000  # grid cells per startup value: keeps every estimate well under a second


@dataclass(frozen=True)
class Lease:
    """The lease lengths and report timing of one fleet group serving one workload."""

    ack: float
    first: float
    renew: float
    interval: float
    latency: float

    @property
    def cycle(self) -> float:
        """Time between two report arrivals."""
        return self.interval + self.latency


def remaining(lease: Lease, s0: float, age: np.ndarray) -> np.ndarray:
    """The lease left at each age (seconds since the assignment), for startup s0."""
    u = age - s0
    k = np.floor(np.maximum(u, 0.0) / lease.cycle)
    length = np.where(k == 0, lease.first, lease.renew)
    return np.where(u < 0, lease.ack - age, length + lease.latency - (u - k * lease.cycle))


def pause_threshold(lease: Lease, s0: float, age: np.ndarray) -> np.ndarray:
    """The longest pause starting at each age that still keeps the lease."""
    after = remaining(lease, s0, age) - lease.latency
    return np.where(age < s0, lease.ack - s0 - lease.latency, after)


@dataclass(frozen=True)
class Grid:
    """Midpoints `age` of cells of width `width` covering an attempt's possible life."""

    age: np.ndarray
    width: np.ndarray
    a0: float  # when the acknowledgement arrives (work starts)

    def survival(self, work: DistSpec) -> np.ndarray:
        """P(the attempt is still alive at each age): the work has not ended yet."""
        return np.where(self.age < self.a0, 1.0, arithmetic.survival(work, self.age - self.a0))


def longest_work(work: DistSpec) -> float:
    """The work's upper bound, or a quantile so far out that nothing beyond it matters."""
    top = arithmetic.upper_bound(work)
    return top if math.isfinite(top) else arithmetic.quantile(work, 1.0 - 1e-10)


def grid(lease: Lease, s0: float, work: DistSpec, per_cycle: int = 32) -> Grid:
    """Cells over [0, s0 + L + longest work]: `per_cycle` per report cycle (fewer for long work)."""
    a0 = s0 + lease.latency
    span = longest_work(work) + lease.latency  # life: [0, s0 + L + work)
    cycles = max(1, math.ceil(span / lease.cycle))
    n = max(4, min(per_cycle, MAX_POINTS // cycles))
    head_n = max(1, min(n, math.ceil(n * s0 / lease.cycle))) if s0 > 0 else 0
    head = (np.arange(head_n) + 0.5) * (s0 / head_n) if head_n else np.empty(0)
    step = lease.cycle / n
    body = s0 + (np.arange(cycles * n) + 0.5) * step
    age = np.concatenate([head, body])
    width = np.concatenate([np.full(head_n, s0 / head_n if head_n else 0.0),
                            np.full(cycles * n, step)])  # fmt: skip
    return Grid(age, width, a0)
