"""Interval arithmetic on a result's tables: when each attempt really worked, and where two did.

The definitions are those of docs/metrics.md: work runs from work_started_at to work_ended_at (or
the run end), minus the runner's pauses; a fault's end that is NaN, infinite or past the run end is
the run end; duplicate execution is the time covered by at least two attempts of one task.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

Interval = tuple[float, float]


def fault_end(end: float, duration: float) -> float:
    """A fault's end clipped to the run: never (NaN) or still on (inf) ends at the run end."""
    return duration if math.isnan(end) else min(end, duration)


def pauses_by_runner(faults: pd.DataFrame, duration: float) -> dict[str, list[Interval]]:
    """runner -> its pause intervals, merged and sorted (only runners that paused)."""
    raw: dict[str, list[Interval]] = {}
    for runner, kind, start, end in faults[["runner", "kind", "start", "end"]].itertuples(
        index=False
    ):
        if kind == "pause":
            stop = fault_end(float(end), duration)
            if stop > start:
                raw.setdefault(str(runner), []).append((float(start), stop))
    return {runner: union(spans) for runner, spans in raw.items()}


def union(spans: Sequence[Interval]) -> list[Interval]:
    """Sorted, merged intervals covering the same points."""
    merged: list[list[float]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def subtract(start: float, end: float, holes: Sequence[Interval]) -> list[Interval]:
    """The pieces of [start, end] outside the sorted, merged `holes`."""
    pieces = []
    cursor = start
    for a, b in holes:
        if b <= cursor:
            continue
        if a >= end:
            break
        if a > cursor:
            pieces.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        pieces.append((cursor, end))
    return pieces


def work_pieces(attempt: pd.Series, duration: float, pauses: Sequence[Interval]) -> list[Interval]:
    """The net work intervals of one attempts row (empty if its runner never started it)."""
    start = float(attempt["work_started_at"])
    if math.isnan(start):
        return []
    stop = float(attempt["work_ended_at"])
    end = min(duration if math.isnan(stop) else stop, duration)
    return subtract(start, end, pauses) if end > start else []


def covered_twice(lists: Sequence[Sequence[Interval]]) -> list[Interval]:
    """Where at least two of the interval lists overlap (touching ends do not count)."""
    edges = sorted((x, d) for pieces in lists for a, b in pieces for x, d in ((a, 1), (b, -1)))
    out: list[Interval] = []
    level, opened = 0, 0.0
    for x, d in edges:  # at a tie an end (-1) sorts first, so touching intervals do not overlap
        before = level
        level += d
        if before < 2 <= level:
            opened = x
        elif before >= 2 > level and x > opened:
            out.append((opened, x))
    return union(out)


def intersect(pieces: Sequence[Interval], spans: Sequence[Interval]) -> list[Interval]:
    """The parts of `pieces` inside `spans` (both sorted lists of disjoint intervals)."""
    out = []
    for a, b in pieces:
        for c, d in spans:
            lo, hi = max(a, c), min(b, d)
            if hi > lo:
                out.append((lo, hi))
    return out


def length(spans: Sequence[Interval]) -> float:
    return sum(b - a for a, b in spans)
