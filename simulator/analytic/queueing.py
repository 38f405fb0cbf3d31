"""Queueing formulas for the wait before a task is first handed to a runner thread.

A worker group with c poll threads behaves as a c-server queue: a held long poll takes a ready
task at once, and a thread polls again as soon as it has reported the task's status, so a thread is
a server busy for the task's startup and work. See docs/analytic.md, "Queue wait".
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def erlang_b(c: int, a: float) -> float:
    """Erlang's loss formula B(c, a) by the stable recursion B(k) = aB(k-1) / (k + aB(k-1))."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """P(wait > 0) in an M/M/c queue with offered load a = lambda * E[S] erlangs (a < c)."""
    if a <= 0:
        return 0.0
    if a >= c:
        return 1.0
    b = erlang_b(c, a)
    return c * b / (c - a * (1.0 - b))


def mmc_wait(lam: float, mean_service: float, c: int) -> float:
    """Mean wait in queue of M/M/c (Erlang C): C(c, a) * E[S] / (c - a); inf when a >= c."""
    a = lam * mean_service
    if a >= c:
        return math.inf
    return erlang_c(c, a) * mean_service / (c - a)


def allen_cunneen_wait(
    lam: float, mean_service: float, c: int, scv_arrivals: float, scv_service: float
) -> float:
    """Allen-Cunneen's G/G/c approximation: the M/M/c wait times (ca^2 + cs^2) / 2."""
    return mmc_wait(lam, mean_service, c) * (scv_arrivals + scv_service) / 2.0


def idle_servers_at_arrival(c: int, a: float) -> np.ndarray:
    """P(an arrival finds k idle servers), k = 0..c, in an M/M/c queue at offered load a < c.

    Below c busy the M/M/c state probabilities are proportional to a^n / n!, a truncated Poisson
    law, and P(all busy) is Erlang C; arrivals see time averages (PASTA).
    """
    wait = erlang_c(c, a)
    n = np.arange(c)
    below = stats.poisson.pmf(n, a)
    below = below / below.sum() * (1.0 - wait)
    out = np.zeros(c + 1)
    out[c - n] = below  # n busy = c - n idle
    out[0] += wait
    return out


def relaxation_time(mean_service: float, c: int, a: float) -> float:
    """Rough time scale on which an M/M/c queue forgets its start: E[S] / (sqrt(c) - sqrt(a))^2.

    (The heavy-traffic relaxation time of the many-server queue; used only to judge whether a run
    is long enough for steady-state formulas.)
    """
    gap = math.sqrt(c) - math.sqrt(a)
    return math.inf if gap <= 0 else mean_service / gap**2
