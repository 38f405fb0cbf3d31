"""The metrics a record of attempts and a simulation share, computed the same way on both sides.

Both sides go through `task_frame` (one row per task, from the attempts alone, plus
`submitted_at` where recorded), so a metric differs only because the fleets differ, never
because the two sides define it differently. Each metric is a statistic of a set of tasks, so
its interval is a bootstrap over tasks (`scipy.stats.bootstrap`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from simulator.calibration.observed import LEASE_LOSSES, Observed

Stat = Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Measure:
    """A shared metric: its name, unit, what it needs from the record, and its statistic.

    `statistic(columns, idx)` takes the task columns and an index array of shape (..., n) (a
    bootstrap resample of task rows) and returns the value for each resample.
    """

    name: str
    unit: str
    definition: str
    needs: tuple[str, ...]
    statistic: Stat


def _mean(col: str) -> Stat:
    def f(c: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
        return np.nanmean(c[col][idx], axis=-1)

    return f


def _ratio(num: str, den: str) -> Stat:
    def f(c: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
        d = np.sum(c[den][idx], axis=-1)
        return np.sum(c[num][idx], axis=-1) / np.where(d > 0, d, np.nan)

    return f


def _quantile(col: str, q: float) -> Stat:
    def f(c: dict[str, np.ndarray], idx: np.ndarray) -> np.ndarray:
        return np.nanquantile(c[col][idx], q, axis=-1)

    return f


MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure(
            "reassigned_fraction",
            "fraction",
            "tasks with at least one lease loss (outcome "
            "ack_timeout or progress_timeout, or lease_lost_at set), among tasks started",
            (),
            _mean("reassigned"),
        ),
        Measure(
            "duplicated_fraction",
            "fraction",
            "tasks two of whose attempts worked at the same "
            "time (work_started_at..work_ended_at overlap), among tasks started",
            ("work_started_at", "work_ended_at"),
            _mean("duplicated"),
        ),
        Measure(
            "attempts_per_task",
            "attempts",
            "attempts (rows) per task started",
            (),
            _mean("attempts"),
        ),
        Measure(
            "latency_p50_s",
            "s",
            "median of finish - submission over finished tasks (the "
            "first attempt with outcome finished)",
            (),
            _quantile("latency", 0.5),
        ),
        Measure(
            "latency_p95_s", "s", "95th percentile of the same", (), _quantile("latency", 0.95)
        ),
        Measure(
            "queue_wait_mean_s",
            "s",
            "mean of first assignment - submission",
            ("submitted_at",),
            _mean("wait"),
        ),
        Measure(
            "ack_timeout_fraction",
            "fraction",
            "attempts that lost their lease for want of an "
            "acknowledgement (outcome ack_timeout), among all attempts",
            (),
            _ratio("ack_timeouts", "attempts"),
        ),
        Measure(
            "work_per_task_s",
            "s",
            "mean over tasks started of the work of all their attempts "
            "(work_ended_at - work_started_at, else ended_at - assigned_at; duplicates count)",
            (),
            _mean("work"),
        ),
    )
}


def attempt_work(att: pd.DataFrame) -> np.ndarray:
    """Each attempt's work: work_ended_at - work_started_at, else ended_at - assigned_at (NaN
    when neither pair is complete)."""
    end = att["ended_at"].to_numpy(dtype=float)
    work = end - att["assigned_at"].to_numpy(dtype=float)
    if "work_started_at" in att.columns and "work_ended_at" in att.columns:
        w = att["work_ended_at"].to_numpy(dtype=float) - att["work_started_at"].to_numpy(
            dtype=float
        )
        work = np.where(np.isfinite(att["work_started_at"].to_numpy(dtype=float)), w, work)
    return work


def available(observed: Observed) -> list[str]:
    """The metrics this record allows (its optional columns decide)."""
    return [m.name for m in MEASURES.values() if all(observed.has(c) for c in m.needs)]


def task_frame(observed: Observed) -> pd.DataFrame:
    """One row per task of the record: what each shared metric is a statistic of."""
    att = observed.attempts.sort_values(["task_id", "assigned_at"], kind="stable")
    g = att.groupby("task_id", sort=True)
    first = g["assigned_at"].min()
    frame = pd.DataFrame({"first_assigned": first})
    if "submitted_at" in att.columns:
        sub = g["submitted_at"].min()
        frame["submitted"] = sub.where(sub.notna(), first)
    else:
        frame["submitted"] = first
    frame["wait"] = frame["first_assigned"] - frame["submitted"]
    frame["attempts"] = g.size().astype(float)
    lost = att["outcome"].isin(LEASE_LOSSES)
    if "lease_lost_at" in att.columns:
        lost = lost | att["lease_lost_at"].notna()
    frame["reassigned"] = lost.groupby(att["task_id"]).any().astype(float)
    frame["ack_timeouts"] = (att["outcome"] == "ack_timeout").groupby(att["task_id"]).sum()
    fin = att[att["outcome"] == "finished"].groupby("task_id")["ended_at"].min()
    frame["finished_at"] = fin.reindex(frame.index)
    frame["latency"] = frame["finished_at"] - frame["submitted"]
    work = pd.Series(attempt_work(att), index=att.index)
    frame["work"] = work.groupby(att["task_id"]).sum(min_count=1)
    if "work_started_at" in att.columns and "work_ended_at" in att.columns:
        frame["duplicated"] = _duplicated(att).reindex(frame.index).astype(float)
    return frame


def _duplicated(att: pd.DataFrame) -> pd.Series:
    """Per task: did two attempts' work intervals overlap for a positive length?"""
    s = att["work_started_at"].to_numpy(dtype=float)
    e = att["work_ended_at"].to_numpy(dtype=float)
    end = np.where(np.isnan(e), np.inf, e)  # still working when the record ends
    worked = np.isfinite(s)
    part = pd.DataFrame({"task": att["task_id"].to_numpy(), "s": s, "e": end})[worked]
    part = part.sort_values(["task", "s"], kind="stable")
    running_end = part.groupby("task")["e"].cummax()
    prior_end = running_end.groupby(part["task"]).shift(1)
    overlap = (prior_end > part["s"]).groupby(part["task"]).any()
    tasks = pd.Index(att["task_id"].unique())
    return overlap.reindex(tasks, fill_value=False)


def columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy(dtype=float) for c in frame.columns}


def value(measure: Measure, frame: pd.DataFrame) -> float:
    idx = np.arange(len(frame))
    with np.errstate(all="ignore"):
        return float(measure.statistic(columns(frame), idx))


def bootstrap(
    measure: Measure,
    frame: pd.DataFrame,
    confidence: float = 0.95,
    resamples: int = 1999,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(low, high, standard error) of the metric by a percentile bootstrap over tasks."""
    cols = columns(frame)
    n = len(frame)
    if n < 2:
        return float("nan"), float("nan"), float("nan")

    def statistic(idx: np.ndarray, axis: int = -1) -> np.ndarray:
        with np.errstate(all="ignore"):
            return measure.statistic(cols, np.asarray(idx, dtype=np.int64))

    res = stats.bootstrap(
        (np.arange(n),),
        statistic,
        vectorized=True,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        batch=200,
        random_state=np.random.default_rng(seed),
    )
    ci = res.confidence_interval
    return float(ci.low), float(ci.high), float(res.standard_error)
