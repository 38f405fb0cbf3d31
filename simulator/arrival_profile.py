"""The arithmetic of a rate profile: a piecewise-constant Poisson rate repeating every period.

A profile is `period` and its points `((start_0, rate_0), (start_1, rate_1), ...)`: from `start_i`
to the next start (the last one: to the end of the period) tasks arrive as a Poisson process at
`rate_i` per second; the pattern repeats every `period`. Counts of arrivals in disjoint stretches
of time are independent Poisson variables whose mean is the integral of the rate over the stretch,
so every closed form here is that integral: the expected count before a time (`expected_before`),
in each segment over a run (`segment_loads`), the mean rate over a run (`mean_rate`) and the peak
rate (`peak_rate`). The rules a profile must obey (`problem`) live here too, so that the schema and
the CSV reader check the same thing.

Plain numbers in, plain numbers out: this module imports nothing of leasesim but `units`, so the
schema can use it. `simulator.arithmetic` (the arrival counts of every kind) calls it for profile
arrivals; it can be folded into that module once nothing below the schema needs it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulator.units import format_duration as _d
from simulator.units import format_rate

Points = Sequence[tuple[float, float]]  # (start within the period in s, rate per s), ascending

__all__ = [
    "Points", "SegmentLoad", "boundaries_before", "expected_before", "held_work", "mean_rate",
    "peak_rate", "per_period", "problem", "segment_loads",
]  # fmt: skip


def problem(
    period: float, points: Points, show_values: bool = True
) -> tuple[int, int | None, str] | None:
    """The first rule the profile breaks, as (point index, 0 = its time | 1 = its rate | None =
    the whole list, message); None if it is a valid profile.

    Rules: at least one point; the first starts at 0; starts strictly ascending and inside the
    period; rates >= 0 and finite, and not all 0 (a profile that never submits is a mistake).
    `show_values=False` leaves the points' values out of the message (they came from a file whose
    contents a message should not repeat; the caller names the line instead).
    """

    def at(value: float) -> str:
        return f" ({_d(value)})" if show_values else ""

    if not points:
        return 0, None, "needs at least one [start, rate] point, the first at 0"
    for i, (start, rate) in enumerate(points):
        if i == 0 and start != 0:
            why = (
                f"the first point must start at 0, not later{at(start)}: the profile gives the "
                "rate at every moment of the period"
            )
            return i, 0, why
        if i > 0 and not start > points[i - 1][0]:
            why = (
                f"point {i + 1} starts{at(start)} no later than point {i}{at(points[i - 1][0])}: "
                "start times must be in strictly ascending order"
            )
            return i, 0, why
        if not start < period:
            why = (
                f"point {i + 1} starts{at(start)} outside the period ({_d(period)}): every start "
                "must be below the period"
            )
            return i, 0, why
        if not (rate >= 0 and math.isfinite(rate)):
            shown = f" ({format_rate(rate)})" if show_values else ""
            return i, 1, f"point {i + 1}'s rate{shown} must be 0 or more and finite"
    if not any(rate > 0 for _, rate in points):
        return 0, None, "every rate is 0, so no task would ever arrive; give some segment a rate"
    return None


def _arrays(period: float, points: Points) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, rates) of the segments of one period."""
    starts = np.array([s for s, _ in points], dtype=float)
    rates = np.array([r for _, r in points], dtype=float)
    ends = np.append(starts[1:], period)
    return starts, ends, rates


def per_period(period: float, points: Points) -> float:
    """Expected arrivals in one whole period: the sum of rate x segment length."""
    starts, ends, rates = _arrays(period, points)
    return float(np.sum(rates * (ends - starts)))


def expected_before(period: float, points: Points, horizons: Sequence[float] | np.ndarray
                    ) -> np.ndarray:  # fmt: skip
    """Expected arrivals at times < each horizon (0 for a horizon <= 0): the rate's integral."""
    h = np.maximum(np.asarray(horizons, dtype=float), 0.0)
    starts, ends, rates = _arrays(period, points)
    before = np.concatenate(([0.0], np.cumsum(rates * (ends - starts))))  # at each start
    cycles = np.floor(h / period)
    x = h - cycles * period  # position within the period, in [0, period)
    i = np.clip(np.searchsorted(starts, x, side="right") - 1, 0, len(starts) - 1)
    return cycles * before[-1] + before[i] + rates[i] * (x - starts[i])


@dataclass(frozen=True)
class SegmentLoad:
    """One segment of a profile over a run: where it lies in the period, its rate, how long the
    run spends in it over all repetitions (`exposure`, s) and the expected arrivals there."""

    index: int
    start: float
    end: float
    rate: float
    exposure: float
    expected: float


def segment_loads(period: float, points: Points, horizon: float) -> list[SegmentLoad]:
    """Each segment's exposure and expected arrivals over a run of length `horizon`.

    Over k whole periods a segment of length L is exposed k x L; the partial last period adds the
    part of the segment before the horizon. Expected arrivals: rate x exposure (a Poisson count).
    """
    starts, ends, rates = _arrays(period, points)
    horizon = max(horizon, 0.0)
    whole = math.floor(horizon / period)
    rest = horizon - whole * period
    out = []
    for i in range(len(starts)):
        partial = min(max(rest - starts[i], 0.0), ends[i] - starts[i])
        exposure = whole * (ends[i] - starts[i]) + partial
        out.append(SegmentLoad(i, float(starts[i]), float(ends[i]), float(rates[i]),
                               float(exposure), float(rates[i] * exposure)))  # fmt: skip
    return out


def peak_rate(points: Points) -> float:
    """The highest rate of the profile (per second): what throttling and overload must absorb."""
    return max(rate for _, rate in points)


def mean_rate(period: float, points: Points, horizon: float | None = None) -> float:
    """Mean arrivals per second: over one period, or over a run of length `horizon` (a run
    shorter than the period sees only the segments it covers)."""
    if horizon is None or horizon <= 0:
        return per_period(period, points) / period
    return float(expected_before(period, points, [horizon])[0]) / horizon


def boundaries_before(period: float, points: Points, horizon: float) -> int:
    """Segment starts at times < `horizon` (each is one timer event of the model)."""
    if horizon <= 0:
        return 0
    whole = math.floor(horizon / period)
    rest = horizon - whole * period
    return whole * len(points) + sum(1 for start, _ in points if start < rest)


def held_work(period: float, points: Points, horizon: float, hold: float) -> float:
    """Expected thread-seconds of work before `horizon` when each arrival at t holds a thread for
    `hold` seconds, cut at the horizon: the integral of rate(t) x min(hold, horizon - t).

    With L(t) the expected arrivals before t (piecewise linear), it is hold x L(T - hold) plus the
    integral of L(t) - L(T - hold) over [T - hold, T] (by parts), which the trapezoid rule on the
    segment boundaries gives exactly (on a uniform grid past 100,000 boundaries: within 1e-5).
    """
    if horizon <= 0 or hold <= 0:
        return 0.0
    a = max(horizon - hold, 0.0)
    base = float(expected_before(period, points, [a])[0])
    n = boundaries_before(period, points, horizon) - boundaries_before(period, points, a)
    if n <= 100_000:
        starts = np.array([s for s, _ in points], dtype=float)
        first, last = math.floor(a / period), math.floor(horizon / period)
        cuts = (np.arange(first, last + 1)[:, None] * period + starts[None, :]).ravel()
        grid = np.concatenate(([a], cuts[(cuts > a) & (cuts < horizon)], [horizon]))
    else:
        grid = np.linspace(a, horizon, 100_001)
    tail = float(np.trapezoid(expected_before(period, points, grid) - base, grid))
    return hold * base + tail
