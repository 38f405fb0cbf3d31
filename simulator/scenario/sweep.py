"""A scenario's `sweep:` block: which fields vary, over which values, and the grid they make.

```yaml
sweep:
  fleet.etl.progress_interval: {from: 15s, to: 5m, steps: 8, scale: log}
  service.lease_reading: [15min, 5min]
  zip:                                    # these vary together, value by value
    - fleet.etl.runners: [5, 10, 20]
      workload.batch.arrivals.rate: [25/h, 50/h, 100/h]
```

Each key is a field path written as for `--set`; its value is a list of values (as they would be
written in the file) or a range. The grid is the product of the plain paths' values and of the
rows of each zip group. Paths, values and ranges are checked against the schema when the scenario
is validated (`problem`), so a typo fails at load time with its line; `grid` expands the block.

The schema imports this module, so it imports nothing of the schema: it walks any pydantic model
by its fields, with the walker of `--set` (`simulator.scenario.paths`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from simulator.scenario.numbers import Whole
from simulator.scenario.paths import (
    did_you_mean,
    element_type,
    entry_label,
    one_model,
    quoted_list,
    select_entry,
)

RESERVED = ("sweep", "replications")  # a sweep cannot vary itself or the replication count
MAX_POINTS = 100_000  # a grid larger than this is a typo (a range with steps: 10000000)

Location = tuple[str | int, ...]  # a position inside the sweep block, for error messages


class Sweep(BaseModel):
    """The `sweep:` block: field path -> values (a list or a range), plus `zip:` groups.

    The paths are the block's own keys (pydantic "extra" fields), so an error about one points at
    the line where it is written.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    zip: tuple[dict[str, Any], ...] = ()

    def axes(self) -> dict[str, Any]:
        """The plain (not zipped) paths and their value specs, in file order."""
        return dict(self.__pydantic_extra__ or {})


class SweepRange(BaseModel):
    """`{from, to, steps, scale}`: `steps` values from `from` to `to`, both included, evenly
    spaced (linear) or in a constant ratio (log)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: Any = Field(alias="from")
    to: Any
    steps: Whole = Field(ge=2, le=10_000)  # not steps: '8' nor steps: yes (issue 19 item 4)
    scale: Literal["linear", "log"] = "linear"


class SweepError(ValueError):
    """A problem with the sweep block, located inside it (`at`)."""

    def __init__(self, at: Location, message: str) -> None:
        super().__init__(message)
        self.at = at
        self.message = message


@dataclass(frozen=True)
class FieldRef:
    """A field that a path names: its type (with constraints) and its value in the scenario.

    `value` is None when the path goes through an optional section the scenario leaves unset.
    """

    path: str
    annotation: Any
    value: Any


@dataclass(frozen=True)
class Grid:
    """The expanded sweep: the varied paths, in column order, and one mapping per point."""

    paths: tuple[str, ...]
    points: tuple[dict[str, Any], ...]


# --- walking a model by a path -------------------------------------------------------------------


def locate(model: BaseModel, path: str) -> FieldRef:
    """The field `path` names in `model` (e.g. a Scenario), or ValueError saying why none does.

    List entries (fleet, workload) are chosen by name, or by position when no entry has that name,
    as `--set` does; an optional section left unset is walked through its schema.
    """
    segments = path.split(".")
    if not all(s.strip() for s in segments):
        raise ValueError(f"{path!r} has an empty part; write names joined by dots")
    node: Any = model
    tp: Any = type(model)
    for i, segment in enumerate(segments):
        here = ".".join(segments[:i]) or "the top level"
        if isinstance(node, tuple):
            index = select_entry(node, segment)
            if index is None:
                names = [entry_label(item, n) for n, item in enumerate(node)]
                raise ValueError(
                    f"{here} has no entry named {segment!r}; its entries are "
                    f"{quoted_list(names)}.{did_you_mean(segment, [str(n) for n in names])}"
                )
            tp, node = element_type(tp), node[index]
            continue
        owner = type(node) if isinstance(node, BaseModel) else None
        if owner is None and node is None:
            owner = one_model(tp)  # an optional section left unset: walk its schema
        if owner is None:
            raise ValueError(
                f"{here} is a single value, not a section, so it has no {segment!r}; vary "
                f"{here} as a whole."
            )
        fields = owner.model_fields
        if segment not in fields:
            raise ValueError(
                f"{here} has no field {segment!r}.{did_you_mean(segment, list(fields))} "
                f"Its fields are: {', '.join(fields)}."
            )
        info = fields[segment]
        tp = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        node = getattr(node, segment) if isinstance(node, BaseModel) else None
    return FieldRef(path, tp, node)


# --- values ---------------------------------------------------------------------------------------


def _message(exc: ValidationError) -> str:
    error = exc.errors()[0]
    text = str(error["msg"]).removeprefix("Value error, ").replace("Input should be", "must be")
    return f"{text} (got {error.get('input')!r})"


def _number(adapter: TypeAdapter[Any], raw: Any, at: Location) -> float | int:
    try:
        value = adapter.validate_python(raw)
    except ValidationError as exc:
        raise SweepError(at, _message(exc)) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SweepError(
            at, "a range needs a numeric field (a count, number, duration or rate); list the "
            "values instead: [a, b, c]",
        )  # fmt: skip
    return value


def values(ref: FieldRef, spec: Any, at: Location) -> list[Any]:
    """The values a sweep spec (a list, or a range mapping) gives the field `ref`, checked.

    A list's values are kept as written (validation happens again with the whole scenario); a
    range's are numbers in the field's unit (seconds, per second), integers for integer fields.
    """
    adapter: TypeAdapter[Any] = TypeAdapter(ref.annotation)
    if isinstance(spec, list | tuple):
        if not spec:
            raise SweepError(at, "needs at least one value")
        for i, value in enumerate(spec):
            try:
                adapter.validate_python(value)
            except ValidationError as exc:
                raise SweepError((*at, i), _message(exc)) from None
        return list(spec)
    if not isinstance(spec, Mapping):
        raise SweepError(
            at, f"must be a list of values, [a, b, c], or a range {{from: 15s, to: 5m, steps: 8, "
            f"scale: log}}, not {spec!r}",
        )  # fmt: skip
    try:
        rng = SweepRange.model_validate(spec)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ["from" if e == "start" else e for e in error["loc"]]
        text = "a range needs `from`, `to` and `steps`" if error["type"] == "missing" else None
        raise SweepError((*at, *key), text or _message(exc)) from None
    low = _number(adapter, rng.start, (*at, "from"))
    high = _number(adapter, rng.to, (*at, "to"))
    if rng.scale == "log":
        if low <= 0 or high <= 0:
            raise SweepError(at, f"a log range needs from and to above 0, got {low:g} and {high:g}")
        grid = np.geomspace(low, high, rng.steps)
    else:
        grid = np.linspace(low, high, rng.steps)
    # 12 significant digits: a log range's 119.99999999999997 is meant as 120.
    out: list[Any] = [float(f"{x:.12g}") for x in grid]
    if isinstance(low, int) and isinstance(high, int):
        out = [int(round(x)) for x in out]
        if len(set(out)) < len(out):
            raise SweepError(
                (*at, "steps"), f"{rng.steps} steps from {low} to {high} repeat whole numbers "
                f"({', '.join(map(str, out))}); use fewer steps",
            )  # fmt: skip
    for value in out:
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            raise SweepError(at, _message(exc)) from None
    return out


# --- the grid -------------------------------------------------------------------------------------


def grid(model: BaseModel, sweep: Sweep) -> Grid:
    """The points of `sweep` over `model` (a scenario); SweepError if the block is wrong."""
    groups: list[list[tuple[str, list[Any]]]] = []
    seen: dict[str, Location] = {}

    def axis(path: Any, spec: Any, at: Location) -> tuple[str, list[Any]]:
        if not isinstance(path, str):
            raise SweepError(at, f"a sweep key must be a field path such as "
                             f"fleet.etl.progress_interval, not {path!r}")  # fmt: skip
        if path.split(".")[0] in RESERVED:
            raise SweepError(at, f"{path} cannot be swept; sweepable fields are those of the "
                             "scenario other than sweep and replications")  # fmt: skip
        if path in seen:
            raise SweepError(at, f"{path} is swept twice; list it once")
        try:
            ref = locate(model, path)
        except ValueError as exc:
            raise SweepError(at, str(exc)) from None
        seen[path] = at
        return path, values(ref, spec, at)

    for path, spec in sweep.axes().items():
        groups.append([axis(path, spec, (path,))])
    for g, group in enumerate(sweep.zip):
        if not group:
            raise SweepError(("zip", g), "a zip group needs at least one path")
        members = [axis(path, spec, ("zip", g, path)) for path, spec in group.items()]
        lengths = {len(v) for _, v in members}
        if len(lengths) > 1:
            counts = ", ".join(f"{p}: {len(v)}" for p, v in members)
            raise SweepError(
                ("zip", g), f"the paths of a zip group vary together, so they need the same "
                f"number of values; got {counts}",
            )  # fmt: skip
        groups.append(members)
    if not groups:
        raise SweepError((), "lists no field to vary; write `PATH: [values]` entries, e.g. "
                         "fleet.etl.progress_interval: [30s, 60s]")  # fmt: skip
    sizes = [len(group[0][1]) for group in groups]
    if math.prod(sizes) > MAX_POINTS:
        raise SweepError((), f"makes {math.prod(sizes):,} points ({' x '.join(map(str, sizes))});"
                         f" at most {MAX_POINTS:,} are allowed")  # fmt: skip
    paths = tuple(path for group in groups for path, _ in group)
    points = []
    for rows in itertools.product(*(range(n) for n in sizes)):
        point = {path: vals[row] for group, row in zip(groups, rows, strict=True)
                 for path, vals in group}  # fmt: skip
        points.append(point)
    return Grid(paths, tuple(points))


def problem(model: BaseModel, sweep: Sweep) -> SweepError | None:
    """The first problem of the sweep block over `model`, or None (for the schema's validator)."""
    try:
        grid(model, sweep)
    except SweepError as exc:
        return exc
    return None
