"""Reading a sweep's tidy DataFrame for plotting: parameter axes, derived metrics, mean and CI.

A sweep frame has one row per (point, replication); each swept parameter is a column named by its
path (`fleet.etl.progress_interval`) and each summary metric is a column. Parameter values may be
numbers (seconds, per second: the resolved values) or the strings of a scenario file ("30s",
"50/h"); both give the same axis.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, get_args, get_origin

import numpy as np
import pandas as pd
from pydantic import BaseModel

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.plots.style import TimeScale, metric_scale
from simulator.results.metrics import METRICS
from simulator.results.stats import mean_ci
from simulator.scenario.schema import Distribution, PerSecond, Scenario, Seconds
from simulator.units import UnitError, format_duration, format_rate, parse_duration, parse_rate


def _field_kinds() -> dict[str, str]:
    """Field name -> "duration" or "rate", for every Seconds or PerSecond field of the schema."""
    # A distribution given as a bare number is a fixed duration (e.g. startup: 30s).
    markers = {id(Seconds.__metadata__[0]): "duration", id(PerSecond.__metadata__[0]): "rate",
               id(Distribution.__metadata__[-1]): "duration"}  # fmt: skip
    kinds: dict[str, str] = {}
    seen: set[type] = set()

    def visit(annotation: Any, name: str | None) -> None:
        origin = get_origin(annotation)
        if origin is typing.Annotated:
            for meta in annotation.__metadata__:
                if name is not None and id(meta) in markers:
                    kinds.setdefault(name, markers[id(meta)])
            visit(get_args(annotation)[0], name)
        elif origin in (typing.Union, types.UnionType, tuple, list):
            for arg in get_args(annotation):
                visit(arg, name)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation in seen:
                return
            seen.add(annotation)
            for field_name, info in annotation.model_fields.items():
                for meta in info.metadata:
                    if id(meta) in markers:
                        kinds.setdefault(field_name, markers[id(meta)])
                visit(info.annotation, field_name)

    visit(Scenario, None)
    return kinds


FIELD_KINDS = MappingProxyType(_field_kinds())
# Lists of [start, rate] pairs: the first element a duration, the second a rate.
_PAIRS = MappingProxyType({"rates": ("duration", "rate")})


def human_fields(data: Any, kind: str | None = None) -> Any:
    """Resolved scenario data (`Scenario.model_dump(mode="json")`: seconds, per-second rates)
    with every duration and rate field as a human string, by `FIELD_KINDS`: 86400.0 -> "1d",
    1.157e-05 -> "1/d", 0.0139 -> "50/h". Other values are returned as they are."""
    if isinstance(data, dict):
        return {k: human_fields(v, FIELD_KINDS.get(k) if isinstance(k, str) else None)
                if k not in _PAIRS else _pairs(v, _PAIRS[k]) for k, v in data.items()}
    if isinstance(data, list):
        return [human_fields(v, kind) for v in data]
    if isinstance(data, int | float) and not isinstance(data, bool) and math.isfinite(data):
        if kind == "duration":
            return format_duration(float(data))
        if kind == "rate":
            return format_rate(float(data))
    return data


def _pairs(rows: Any, kinds: tuple[str, str]) -> Any:
    if not isinstance(rows, list):
        return human_fields(rows)
    return [[human_fields(x, k) for x, k in zip(row, kinds, strict=False)]
            if isinstance(row, list) else human_fields(row) for row in rows]  # fmt: skip


@dataclass(frozen=True)
class Derived:
    """A metric computed per run from summary metrics, before averaging over replications."""

    unit: str
    needs: tuple[str, ...]
    compute: Callable[[pd.DataFrame], pd.Series]


def _per_1000(column: str) -> Callable[[pd.DataFrame], pd.Series]:
    def compute(df: pd.DataFrame) -> pd.Series:
        return 1000.0 * df[column] / df["tasks_submitted"].where(df["tasks_submitted"] > 0)

    return compute


DERIVED = MappingProxyType({
    "false_reassignments_per_1000_tasks": Derived(
        "per 1000 tasks", ("false_reassignments", "tasks_submitted"),
        _per_1000("false_reassignments")),
    "reassignments_per_1000_tasks": Derived(
        "per 1000 tasks", ("reassignments", "tasks_submitted"), _per_1000("reassignments")),
})  # fmt: skip


def require(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """A clear error when the sweep frame lacks a column the figure needs."""
    if not isinstance(df, pd.DataFrame):
        raise LeasesimError(
            USAGE_ERROR, f"{what}: expected the DataFrame of a sweep, got {type(df).__name__}."
        )
    missing = [c for c in columns if c not in df.columns]
    if missing:
        have = ", ".join(map(str, df.columns[:30])) + (" ..." if len(df.columns) > 30 else "")
        raise LeasesimError(
            USAGE_ERROR,
            f"{what}: the sweep frame has no column {', '.join(map(repr, missing))}; its columns "
            f"are: {have}. Parameters are named by their path (fleet.etl.progress_interval), "
            "metrics by their summary name (latency_p95_s).",
        )


def metric_column(df: pd.DataFrame, name: str, what: str) -> tuple[pd.Series, str]:
    """A metric's per-run values and its unit: a summary column or a derived metric."""
    if name in DERIVED and name not in df.columns:
        d = DERIVED[name]
        require(df, d.needs, what)
        return d.compute(df).astype(float), d.unit
    require(df, [name], what)
    unit = METRICS[name].unit if name in METRICS else ""
    return pd.to_numeric(df[name], errors="coerce").astype(float), unit


@dataclass(frozen=True)
class ParamAxis:
    """A swept parameter as an axis: numeric values (scaled), its label and whether log suits it."""

    values: np.ndarray  # per row of the frame, in display units (or category positions)
    raw: np.ndarray  # per row, in seconds or per second as the model uses them (or positions)
    label: str
    categories: tuple[str, ...] | None  # tick labels when the parameter is not a number
    log: bool
    column: str = ""  # the swept path
    kind: str | None = None  # "duration", "rate" or None
    unit: str = ""  # the display unit of `values` (s, min, h, d; per s, per h)


def param_axis(df: pd.DataFrame, column: str, logx: bool | None) -> ParamAxis:
    """The axis for swept parameter `column`: durations in s/min/h, rates per s or h."""
    raw = df[column]
    name = column.rsplit(".", 1)[-1]
    kind = FIELD_KINDS.get(name)
    numbers = pd.to_numeric(raw, errors="coerce")
    if numbers.notna().all():
        values = numbers.to_numpy(dtype=float)
    else:
        values, kind = _parse_texts(raw, kind)
        if values is None:  # a reading, a mode, ...: one position per value, in first-seen order
            cats = tuple(dict.fromkeys(str(v) for v in raw))
            pos = np.array([cats.index(str(v)) for v in raw], dtype=float)
            return ParamAxis(pos, pos, column, cats, False, column)
    largest = float(np.nanmax(np.abs(values))) if len(values) else 0.0
    unit, divisor = "", 1.0
    if kind == "duration":
        scale = TimeScale.for_span(largest)
        unit, divisor = scale.unit, scale.seconds
    elif kind == "rate":
        unit, divisor = ("per h", 1 / 3600.0) if largest < 1 else ("per s", 1.0)
    shown = values / divisor
    positive = shown[np.isfinite(shown)]
    all_positive = len(positive) > 0 and positive.min() > 0
    spans_decades = all_positive and positive.max() / positive.min() >= 10
    log = spans_decades if logx is None else bool(logx)
    if log and not all_positive:
        raise LeasesimError(
            USAGE_ERROR, f"a log axis needs {column} > 0 at every point; use logx=False."
        )
    label = f"{column} ({unit})" if unit else column
    return ParamAxis(shown, values, label, None, log, column, kind, unit)


def _parse_texts(raw: pd.Series, kind: str | None) -> tuple[np.ndarray | None, str | None]:
    """Durations or rates written as text, or (None, None) when they are neither."""
    parsers = [("duration", parse_duration), ("rate", parse_rate)]
    if kind == "rate":
        parsers.reverse()
    for found, parse in parsers:
        try:
            return np.array([parse(v) for v in raw], dtype=float), found
        except UnitError:
            continue
    return None, None


def point_stats(
    x: np.ndarray, y: pd.Series, confidence: float
) -> pd.DataFrame:
    """Mean, CI bounds and n of `y` at each distinct `x` (replications of one point pooled).

    A metric that is never negative (counts, times, rates, fractions) keeps its band above 0.
    """
    rows = []
    frame = pd.DataFrame({"x": x, "y": y.to_numpy(dtype=float)})
    floor = 0.0 if bool((frame["y"].dropna() >= 0).all()) else -math.inf
    for value, group in frame.groupby("x", sort=True):
        mean, half, n = mean_ci(group["y"], confidence)
        rows.append((float(value), mean, max(mean - half, floor), mean + half, n))
    return pd.DataFrame(rows, columns=["x", "mean", "low", "high", "n"])


def groups(df: pd.DataFrame, by: str | None) -> list[tuple[str | None, pd.DataFrame]]:
    """(label, rows) per value of the `by` column, in first-seen order; one group without `by`."""
    if by is None:
        return [(None, df)]
    return [(f"{by} = {value}", df[df[by] == value]) for value in dict.fromkeys(df[by])]


def display_scale(unit: str, values: Sequence[float]) -> tuple[str, float]:
    """(unit shown, divisor) for a metric column, chosen on its largest finite value."""
    finite = [abs(v) for v in values if isinstance(v, float | int) and math.isfinite(v)]
    return metric_scale(unit, max(finite, default=0.0))
