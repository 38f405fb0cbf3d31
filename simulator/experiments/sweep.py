"""Parameter sweeps: a grid of scenario variants, replicated, as one tidy DataFrame.

The grid comes from the scenario's `sweep:` block (or the `grid` argument, in the same form;
see `simulator.scenario.sweep`), applied after the `--set` overrides. Each point is the base
scenario with its values applied, validated on its own. Replication i of every point uses the
same random streams (common random numbers), so differences between points are measured like
with like.
"""

from __future__ import annotations

import json
import os
import platform
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simulator.errors import USAGE_ERROR, VALIDATION_ERROR, LeasesimError
from simulator.experiments.batch import Interrupted, Outcome, Point, run_points
from simulator.experiments.precision import Precision
from simulator.experiments.replicate import BOOKKEEPING, records_frame, warn_failures
from simulator.experiments.runs import ScenarioLike, check_index, resolve
from simulator.experiments.store import OutputFolderWarning, SweepStore, versions
from simulator.results import health
from simulator.results.metrics import METRICS
from simulator.results.stats import mean_ci, range_interval
from simulator.scenario.load import load_scenario_dict, scenario_to_dict, scenario_warnings
from simulator.scenario.schema import Scenario
from simulator.scenario.sweep import Grid, SweepError, locate
from simulator.scenario.sweep import grid as expand

SUMMARY_COLUMNS = ("metric", "mean", "ci_low", "ci_high", "half_width", "n", "method")


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _shown(resolved: Any, written: Any) -> Any:
    """A swept value as a DataFrame cell: the validated value when it is a plain one (seconds,
    per second), else the value as written (`60s` for a fixed distribution), sections as compact
    YAML text."""
    if _scalar(resolved):
        return resolved
    if _scalar(written):
        return written
    return yaml.safe_dump(written, default_flow_style=True, width=10**6).strip()


def _label(parameters: Mapping[str, Any]) -> str:
    return ", ".join(f"{path}={value}" for path, value in parameters.items())


def with_grid(base: Scenario, grid: Mapping[str, Any] | None) -> Scenario:
    """`base` with its sweep block replaced by `grid` (validated like a file's block)."""
    if grid is None:
        return base
    if not isinstance(grid, Mapping):
        raise LeasesimError(USAGE_ERROR, "grid must be a mapping of field path -> list of values "
                            "(or a range {from, to, steps, scale}), with an optional zip: list")
    data = scenario_to_dict(base)
    data["sweep"] = dict(grid)
    return load_scenario_dict(data, source="the sweep grid")


def plan(base: Scenario, seed: int | None = None) -> tuple[Grid, list[Point]]:
    """The grid of `base`'s sweep block and its points, each validated as a whole scenario."""
    if base.sweep is None:
        raise LeasesimError(
            USAGE_ERROR,
            f"scenario {base.name!r} has no sweep: block, so there is nothing to vary; add one "
            "(e.g. `sweep: {fleet.etl.progress_interval: [30s, 60s, 120s]}`, see "
            "docs/scenarios.md), pass grid=..., or --set 'sweep={PATH: [A, B]}'.",
        )
    try:
        grid = expand(base, base.sweep)
    except SweepError as exc:  # cannot happen for a validated scenario, but say it well
        raise LeasesimError(VALIDATION_ERROR, f"sweep: {exc.message}") from None
    data = scenario_to_dict(base)
    data["sweep"] = None  # a point is a plain scenario
    points = []
    for index, values in enumerate(grid.points):
        sets = [f"{path}={json.dumps(value)}" for path, value in values.items()]
        # Errors name the point: "sweep point 3 (fleet.etl.runners=0) is not a valid scenario".
        label = f"sweep point {index} ({_label(values)})"
        scenario = load_scenario_dict(data, source=label, overrides=sets)
        shown = {path: _shown(locate(scenario, path).value, values[path]) for path in grid.paths}
        point_seed = scenario.seed if seed is None else seed
        points.append(Point(index, shown, scenario_to_dict(scenario), point_seed))
    return grid, points


def manifest(
    base: Scenario, grid: Grid, points: Sequence[Point], seed: int | None, replications: int,
    precision: Precision | None, overrides: Sequence[str], source: str | None,
) -> dict[str, Any]:  # fmt: skip
    """What `--out` records beside the runs: enough to know, and redo, what was run."""
    return {
        "format": 1,
        "kind": "leasesim sweep",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source,
        "overrides": list(overrides),
        "scenario": scenario_to_dict(base),
        "seed": seed if seed is not None else base.seed,
        "seeds": {
            "rule": "replication i of every point uses numpy SeedSequence(seed, spawn_key=(i,)),"
            " spawned into one named stream per component",
            "per_point": sorted({p.seed for p in points}),
        },
        "replications": replications,
        "precision": None if precision is None else asdict(precision),
        "grid": {"paths": list(grid.paths), "points": [p.parameters for p in points]},
        "versions": versions(),
        "platform": platform.platform(),
    }


def sweep(
    scenario: ScenarioLike,
    grid: Mapping[str, Any] | None = None,
    replications: int | None = None,
    *,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    precision: Precision | Mapping[str, Any] | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Run every point of a sweep `replications` times; one row per (point, replication).

    Columns: `point`, each swept path (values in seconds / per second for fields with units),
    `replication`, `seed`, every summary metric, `wall_time_s`, `events` and `error` (the
    exception of a failed run, whose metrics are NaN). `summarize(df)` gives mean and CI per point.

    - `grid`: a sweep block (path -> values or range, `zip:` groups) replacing the scenario's.
    - `executor`: "processes" (the default, or "dask" when a `scheduler` address is given;
      `workers`, default one per core), "serial", "dask" (`scheduler`, or a local cluster) or a
      `distributed.Client`. Results do not depend on it.
    - `precision`: add replications per point until the named metrics' CIs are narrow enough
      (see `Precision`).
    - `out`: a folder that receives each run as it finishes, a manifest, and at the end
      results.csv and summary.csv; `resume=True` runs only what is missing there.

    `df.attrs` holds the plan and what happened: parameters, failures, precision, notes, the
    scenario's `warnings` (also issued once as `ScenarioWarning`s), ...
    Ctrl-C raises `Interrupted` (a LeasesimError) after saving what finished.
    """
    source = os.fspath(scenario) if isinstance(scenario, str | os.PathLike) else None
    resolved = resolve(scenario, overrides)  # issues the scenario's warnings, once
    base = with_grid(resolved, grid)
    if seed is not None:
        check_index("seed", seed, 0)
    n = base.replications if replications is None else check_index("replications",
                                                                   replications, 1)  # fmt: skip
    rule = Precision.of(precision) if precision is not None else None
    spec, points = plan(base, seed)
    if seed is not None and "seed" in spec.paths:
        raise LeasesimError(USAGE_ERROR, "the sweep varies seed, so a single seed cannot also be "
                            "given; drop seed= (--seed) or the seed sweep")  # fmt: skip
    store = SweepStore(out) if out is not None else None
    finished, notes = [], []
    if store is not None:
        finished, notes = store.open(
            manifest(base, spec, points, seed, n, rule, overrides, source), resume
        )
        for note in notes:
            warnings.warn(note, OutputFolderWarning, stacklevel=2)
    started = datetime.now(UTC)
    try:
        outcome = run_points(
            points, n, executor=executor, workers=workers, scheduler=scheduler,
            default_executor="processes", store=store, finished=finished, precision=rule,
            progress=progress,
        )  # fmt: skip
    except Interrupted as exc:
        if store is not None:
            exc.saved = store.kept_files()  # on disk, whole
            store.close()  # the folder's lock
            exc.message = (f"{exc.message}; every finished run is saved under {out}: run the same "
                           "sweep again with resume=True (--resume) to finish it")  # fmt: skip
        else:
            exc.message = f"{exc.message}; nothing was saved (use out=DIR / --out DIR to keep runs)"
        raise
    except BaseException:
        if store is not None:
            store.close()
        raise
    wall = (datetime.now(UTC) - started).total_seconds()
    frame = tidy(outcome, points)
    by_point = {p.index: p for p in points}
    warn_failures(outcome.failures, sum(outcome.replications.values()),
                  lambda f: f"point {f.point} ({_label(by_point[f.point].parameters)}), "
                  f"replication {f.replication}, seed {f.seed}")  # fmt: skip
    written = []
    if store is not None:
        try:
            written = store.finish(frame, summarize(frame, confidence=confidence))
        finally:
            store.close()
    frame.attrs.update({
        "scenario": base.name, "seeds": sorted({p.seed for p in points}),
        "replications": n, "points": len(points), "executor": outcome.executor,
        "failures": [f.to_dict() | {"parameters": by_point[f.point].parameters}
                     for f in outcome.failures],
        "precision": outcome.precision.to_dict() if outcome.precision else None,
        "warmup": base.warmup, "notes": notes, "resumed": outcome.resumed,
        "out": None if out is None else os.fspath(out), "written": [str(p) for p in written],
        "wall_time_s": wall,
        "warnings": [str(w) for w in scenario_warnings(resolved)],  # issued as ScenarioWarning
    })  # fmt: skip
    return frame


def tidy(outcome: Outcome, points: Sequence[Point]) -> pd.DataFrame:
    """The sweep's runs as one row each, sorted by (point, replication)."""
    return records_frame(outcome.records, outcome.failures, {p.index: p.parameters for p in points})


def difference(
    frame: pd.DataFrame, metric: str, column: str, a: Any, b: Any, confidence: float = 0.95,
) -> dict[str, float]:  # fmt: skip
    """Mean and CI of `metric` at `column == b` minus at `column == a`, paired by replication.

    With common random numbers (the default: replication i of every point shares its streams),
    the pairs are strongly correlated and the interval of the difference is much narrower than
    either point's own interval. Replications missing at either point are left out.
    """
    for name in (metric, column):
        if name not in frame.columns:
            raise LeasesimError(USAGE_ERROR, f"difference: no column {name!r}")
    pairs = []
    for value in (a, b):
        rows = frame[frame[column] == value]
        if rows.empty:
            raise LeasesimError(USAGE_ERROR, f"difference: no rows with {column} == {value!r}")
        if rows["replication"].duplicated().any():
            raise LeasesimError(USAGE_ERROR, f"difference: {column} == {value!r} matches several "
                                "points; select one point per side first")  # fmt: skip
        pairs.append(rows.set_index("replication")[metric])
    diff = (pairs[1] - pairs[0]).dropna()
    mean, half, n = mean_ci(diff.to_numpy(dtype=float), confidence)
    return {"mean": mean, "ci_low": mean - half, "ci_high": mean + half, "half_width": half,
            "n": n}  # fmt: skip


def summarize(
    frame: pd.DataFrame, by: Sequence[str] | str | None = None,
    metrics: Sequence[str] | None = None, confidence: float = 0.95,
) -> pd.DataFrame:  # fmt: skip
    """Mean and CI of every metric per group of rows (default: per sweep point).

    One row per (group, metric): the `by` columns, metric, mean, ci_low, ci_high, half_width, n,
    the number of runs where the metric had a value (NaN-safe: failed runs and metrics undefined
    in a run are left out), and method: "t" (Student t), or a bootstrap where the t interval would
    leave the metric's range (as in a run's summary, `results.stats.range_interval`). `by`
    defaults to the swept parameters (`frame.attrs["parameters"]`); with none, the whole frame is
    one group. `attrs["flags"]` lists the points whose means raise a health flag
    (`results.health`): [(point key, [Flag, ...]), ...].
    """
    if isinstance(by, str):
        by = [by]
    by = list(frame.attrs.get("parameters", []) if by is None else by)
    missing = [c for c in by if c not in frame.columns]
    if missing:
        raise LeasesimError(USAGE_ERROR, f"summarize: no column {', '.join(map(repr, missing))}; "
                            f"the columns are {', '.join(map(str, frame.columns))}")  # fmt: skip
    if metrics is None:
        metrics = [m for m in METRICS if m in frame.columns]
        metrics += [c for c in frame.columns if c not in METRICS and c not in BOOKKEEPING
                    and c not in by and c not in frame.attrs.get("parameters", [])
                    and pd.api.types.is_numeric_dtype(frame[c])]  # fmt: skip
    rows = []
    broken: list[tuple[tuple[Any, ...], list[health.Flag]]] = []
    groups = frame.groupby(by, sort=False, dropna=False) if by else [((), frame)]
    for key, group in groups:
        key = key if isinstance(key, tuple) else (key,)
        for metric in metrics:
            # Each metric's interval stays inside its range, as in a run's summary (stats).
            spec = METRICS.get(metric)
            low, high = spec.range if spec else (-np.inf, np.inf)
            mean, lo, hi, n, method = range_interval(
                group[metric].to_numpy(dtype=float), low, high, confidence,
                count=spec.count if spec else False,
            )  # fmt: skip
            half = max(mean - lo, hi - mean)
            rows.append((*key, metric, mean, lo, hi, half, n, method))
        # A point whose fleet does not keep up must not pass for a good one (results.health),
        # judged on its means like a run's summary, whichever metrics were asked for.
        means = {m: float(group[m].mean()) for m in health.INPUTS if m in group.columns}
        found = health.flags(means)
        if found:
            broken.append((key, found))
    out = pd.DataFrame(rows, columns=[*by, *SUMMARY_COLUMNS])
    out["n"] = out["n"].astype(np.int64)
    out.attrs["parameters"] = by
    out.attrs["flags"] = broken  # [(point key, [Flag, ...]), ...]: the points that are broken
    return out
