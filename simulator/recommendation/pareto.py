"""The Pareto frontier of simulated candidates: those no other candidate beats on every metric.

The metrics are the objective and each requirement's metric, each in its own direction (smaller
is better for the objective when minimising and for `<=` requirements; larger otherwise). A
candidate is dominated when another is at least as good on every metric and better on one, by the
means over replications. The frontier shows what each requirement costs: moving along it trades
one metric for another.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def frontier(values: np.ndarray, larger_is_better: Sequence[bool]) -> np.ndarray:
    """A boolean mask of the non-dominated rows of `values` (rows: candidates, columns: metrics).

    Rows with a missing value take no part (False).
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 2 or not len(x):
        return np.zeros(len(x), dtype=bool)
    signs = np.where(np.asarray(larger_is_better, dtype=bool), -1.0, 1.0)
    cost = x * signs  # smaller is better in every column
    finite = np.isfinite(cost).all(axis=1)
    keep = finite.copy()
    for i in np.flatnonzero(finite):
        others = cost[finite]
        dominated = np.all(others <= cost[i], axis=1) & np.any(others < cost[i], axis=1)
        if dominated.any():
            keep[i] = False
    return keep
