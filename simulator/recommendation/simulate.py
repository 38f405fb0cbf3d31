"""Confirming candidates by simulation, with common random numbers across all of them.

A batch of candidates is one sweep whose grid is a single `zip:` group (one point per candidate),
run with the same seed and replications as every other batch: replication i of every candidate,
in every batch, draws the same arrivals, work and faults, so differences between candidates are
measured like with like.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from simulator.experiments.sweep import summarize, sweep
from simulator.recommendation.evidence import Measure, measure
from simulator.results.stats import mean_ci
from simulator.scenario.schema import Scenario


def simulate(
    base: Scenario, settings: Sequence[Mapping[str, Any]], ids: Sequence[int], *,
    replications: int, seed: int, executor: Any, progress: bool | None,
) -> pd.DataFrame:  # fmt: skip
    """One row per (candidate, replication): the candidate's id, its values and every metric."""
    paths = list(settings[0])
    grid = {"zip": [{p: [s[p] for s in settings] for p in paths}]}
    frame = sweep(base, grid, replications, seed=seed, executor=executor, progress=progress)
    failures = frame.attrs.get("failures", [])
    frame = frame.copy()
    frame.insert(0, "candidate", [ids[p] for p in frame["point"]])
    frame = frame.drop(columns=["point"])
    frame.attrs = {"failures": failures}
    return frame


def summaries(runs: pd.DataFrame, metrics: Sequence[str],
              confidence: float) -> dict[int, dict[str, dict[str, float]]]:  # fmt: skip
    """Per candidate: metric -> {mean, ci_low, ci_high, n} over its replications."""
    wanted = list(dict.fromkeys([*metrics, "tasks_finished", "tasks_failed"]))
    wanted = [m for m in wanted if m in runs.columns]
    table = summarize(runs, by=["candidate"], metrics=wanted, confidence=confidence)
    out: dict[int, dict[str, dict[str, float]]] = {}
    for row in table.to_dict(orient="records"):
        out.setdefault(int(row["candidate"]), {})[row["metric"]] = row
    return out


def measures(rows: Mapping[str, Mapping[str, float]], metrics: Sequence[str],
             confidence: float) -> dict[str, Measure]:  # fmt: skip
    return {m: measure(m, rows, confidence) for m in metrics}


def paired(runs: pd.DataFrame, metric: str, a: int, b: int,
           confidence: float) -> Measure:  # fmt: skip
    """Mean and CI of `metric` of candidate b minus candidate a, paired by replication (common
    random numbers make this much narrower than either candidate's own interval)."""
    if metric not in runs.columns:
        return Measure(metric, math.nan, math.nan, math.nan, 0, "")
    sides = []
    for c in (a, b):
        rows = runs[runs["candidate"] == c]
        sides.append(rows.drop_duplicates("replication").set_index("replication")[metric])
    diff = (sides[1] - sides[0]).dropna().to_numpy(dtype=float)
    mean, half, n = mean_ci(diff, confidence)
    if n >= 2 and np.all(diff == diff[0]):
        half = 0.0
    return Measure(metric, mean, mean - half, mean + half, n, "paired t")
