"""Independent replications of one scenario, with their means and confidence intervals.

`replicate(scenario, n)` runs replications 0..n-1: replication i uses the streams of
`SeedSequence(seed, spawn_key=(i,))`, the i-th child of the scenario's seed sequence, so it is the
same run wherever it executes, and replication i of two scenarios that differ in one setting share
every other random draw (common random numbers).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, overload

import pandas as pd

from simulator.experiments.batch import Interrupted, Point, run_points
from simulator.experiments.executors import stop_reason
from simulator.experiments.precision import Precision, PrecisionReport
from simulator.experiments.runs import (
    Failure,
    RunRecord,
    ScenarioLike,
    check_index,
    resolve,
    run_job,
)
from simulator.experiments.store import OutputFolderWarning, ReplicationStore
from simulator.results.health import Flag
from simulator.results.health import flags as health_flags
from simulator.results.metrics import METRICS
from simulator.results.result import Result
from simulator.results.stats import summarize_replications
from simulator.scenario.load import scenario_to_dict, scenario_warnings
from simulator.scenario.schema import Scenario

BOOKKEEPING = ("point", "replication", "seed", "wall_time_s", "events", "error")


class RunFailures(UserWarning):
    """Some runs of an experiment raised; the others are kept (see `failures`)."""


class HealthWarning(UserWarning):
    """A summary raised a health flag (`simulator.results.health`): its numbers mislead if read
    as a normal answer (the backlog grows without bound, most attempts are reassigned)."""


def warn_failures(failures: Sequence[Failure], total: int, where: Callable[[Failure], str]) -> None:
    """One warning naming the first failure and how many there were."""
    if failures:
        first = failures[0]
        warnings.warn(
            f"{len(failures)} of {total} runs failed (kept apart; the others are complete). "
            f"First: {where(first)}: {first.describe()}",
            RunFailures,
            stacklevel=3,
        )


def records_frame(
    records: Sequence[RunRecord], failures: Sequence[Failure],
    parameters: Mapping[int, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One row per run (failed runs too, with NaN metrics and their `error`), sorted by key."""
    names = [m for m in METRICS if any(m in r.summary for r in records)]
    for r in records:
        names += [k for k in r.summary if k not in names]
    paths = list(next(iter(parameters.values()))) if parameters else []
    rows = []
    for item in sorted([*records, *failures], key=lambda x: x.key):
        row: dict[str, Any] = {"point": item.point}
        if parameters:
            row.update(parameters[item.point])
        row.update(replication=item.replication, seed=item.seed)  # a swept seed is this seed
        if isinstance(item, RunRecord):
            row.update({m: item.summary.get(m, float("nan")) for m in names})
            row.update(wall_time_s=item.wall_time_s, events=item.events, error=None)
        else:
            row.update(dict.fromkeys(names, float("nan")))
            row.update(wall_time_s=float("nan"), events=None, error=item.describe())
        rows.append(row)
    seed = [] if "seed" in paths else ["seed"]
    columns = ["point", *paths, "replication", *seed, *names, "wall_time_s", "events", "error"]
    frame = pd.DataFrame(rows, columns=columns)
    # Same dtypes whether or not some run failed: whole numbers and text, missing where failed.
    frame["events"] = frame["events"].astype("Int64")
    frame["error"] = frame["error"].astype("str")
    frame.attrs["parameters"] = paths
    return frame


class Replications(Sequence[RunRecord]):
    """The replications of one scenario: each run's summary (`reps[i].summary`), the runs that
    failed, how a precision target was met, and the mean and CI of every metric (`summarize()`).
    """

    def __init__(
        self, scenario: Scenario, seed: int, records: list[RunRecord], failures: list[Failure],
        precision: PrecisionReport | None = None, executor: str = "serial",
        saved: Sequence[str] = (), notes: Sequence[str] = (), resumed: int = 0,
    ) -> None:  # fmt: skip
        self.scenario = scenario
        self.seed = seed
        self.records = records
        self.failures = failures
        self.precision = precision
        self.executor = executor
        self.saved = sorted(saved)
        self.notes = list(notes)
        self.resumed = resumed
        #: The scenario's warnings (`ScenarioWarning`s, issued once by `replicate`), as text.
        self.warnings = [str(w) for w in scenario_warnings(scenario)]

    @overload
    def __getitem__(self, index: int) -> RunRecord: ...
    @overload
    def __getitem__(self, index: slice) -> list[RunRecord]: ...
    def __getitem__(self, index: int | slice) -> RunRecord | list[RunRecord]:
        return self.records[index]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[RunRecord]:
        return iter(self.records)

    @property
    def summaries(self) -> list[dict[str, float]]:
        return [r.summary for r in self.records]

    @property
    def results(self) -> list[Result]:
        """Each run's `Result` (tables, no log): only with `replicate(..., tables=True)`."""
        return [r.result for r in self.records if r.result is not None]

    def frame(self) -> pd.DataFrame:
        """One row per replication: replication, seed, every metric, wall time, error."""
        return records_frame(self.records, self.failures)

    def summarize(self, confidence: float = 0.95, warn: bool = True) -> pd.DataFrame:
        """Per metric: mean, ci_low, ci_high, half_width (Student t) and n over replications.

        The health flags of the means (a growing backlog, most attempts reassigned: see
        `simulator.results.health`) are in `frame.attrs["flags"]`, and each is also issued as a
        `HealthWarning` (unless `warn=False`: the CLI prints them under its table), so a broken
        setting cannot pass for a good one in a notebook.
        """
        frame = summarize_replications(self.summaries, confidence)
        for flag in frame.attrs.get("flags", []) if warn else []:
            warnings.warn(f"{self.scenario.name}: {flag}", HealthWarning, stacklevel=2)
        return frame

    @property
    def flags(self) -> list[Flag]:
        """Health flags of the mean summary over the replications (`simulator.results.health`)."""
        means = summarize_replications(self.summaries)
        return health_flags(dict(zip(means["metric"], means["mean"], strict=True)))

    def calls(self) -> pd.DataFrame:
        """Per API operation: the mean `calls`, `throttled` and `lost` per replication, and `n`,
        the replications that have them (not those resumed from disk). Empty if none has."""
        known = [r.calls for r in self.records if r.calls is not None]
        columns = ["operation", "calls", "throttled", "lost", "n"]
        if not known:
            return pd.DataFrame(columns=columns)
        rows = [
            [op, *(sum(c[op][k] for c in known) / len(known)
                   for k in ("calls", "throttled", "lost")), len(known)]
            for op in known[0]
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=columns)

    def __repr__(self) -> str:
        failed = f", {len(self.failures)} failed" if self.failures else ""
        names = ", ".join(f.name for f in self.flags) if self.records else ""
        flagged = f", WARNING: {names}" if names else ""
        return (f"Replications({self.scenario.name!r}, seed={self.seed}, "
                f"n={len(self.records)}{failed}{flagged})")  # fmt: skip


def replicate(
    scenario: ScenarioLike,
    n: int | None = None,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    *,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    precision: Precision | Mapping[str, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool | None = None,
    tables: bool = False,
    run_fn: Callable[..., Result] | None = None,
) -> Replications:
    """Run `n` independent replications (default: the scenario's `replications`).

    - `executor`: "serial" (default: a scenario's few replications rarely pay for starting
      workers), "processes" (`workers`, default one per core), "dask" (`scheduler` address, or a
      local cluster), or a `distributed.Client`. Results do not depend on it.
    - `precision`: e.g. `{"metrics": ["duplicated_fraction"], "relative": 0.05}`: replications
      are added in batches of `n` until every named metric's 95% CI half-width is within the
      target, or `max_replications` is reached; `.precision` says which.
    - `out`: save each replication as it finishes (`out/rep-000/`, ...: tables, summary,
      scenario, meta); the folder is locked meanwhile (a second writer is refused) and must hold
      no replications unless `resume=True`, which keeps the ones already there, each checked to
      be of this scenario and seed (another run's are refused), and runs only the missing ones.
    - `tables`: keep each run's tables in memory (`.results`).
    - `run_fn`: the function that runs one replication (default `run`); a seam for tests.

    A replication that raises is reported in `.failures` (with a `RunFailures` warning) and the
    others are kept. Ctrl-C raises `Interrupted` (a LeasesimError) listing what finished.
    """
    base = resolve(scenario, overrides)
    seed = base.seed if seed is None else check_index("seed", seed, 0)
    n = base.replications if n is None else check_index("n", n, 1)
    rule = Precision.of(precision) if precision is not None else None
    data = scenario_to_dict(base)
    point = Point(0, {}, data, seed)
    store = ReplicationStore(out) if out is not None else None
    finished: list[RunRecord] = []
    notes: list[str] = []
    if store is not None:
        cap = n if rule is None else max(n, rule.max_replications)
        finished, notes = store.open(data, seed, n if rule is None else cap, resume)  # locks
    job_fn = partial(run_job, run_fn=run_fn) if run_fn is not None else run_job
    try:
        for note in notes:
            warnings.warn(note, OutputFolderWarning, stacklevel=2)
        outcome = run_points(
            [point], n, executor=executor, workers=workers, scheduler=scheduler, store=store,
            finished=finished, precision=rule, progress=progress,
            tables=tables or store is not None, keep_tables=tables, job_fn=job_fn,
        )  # fmt: skip
    except Interrupted as exc:
        exc.saved = store.kept() if store is not None else []  # on disk, whole
        kept = (f"{len(exc.saved)} saved under {out}" if store is not None
                else "nothing was saved (pass out=DIR to keep finished replications)")
        reason = stop_reason(exc)  # every Dask worker gone, not Ctrl-C
        exc.message = f"{reason + '; ' if reason else ''}{exc.message}; {kept}"
        raise
    finally:
        if store is not None:
            store.close()  # the folder's lock: another command may write there now
    warn_failures(outcome.failures, sum(outcome.replications.values()),
                  lambda f: f"replication {f.replication} (seed {f.seed})")  # fmt: skip
    return Replications(
        base, seed, outcome.records, outcome.failures, outcome.precision, outcome.executor,
        store.saved if store is not None else (), notes, outcome.resumed,
    )  # fmt: skip
