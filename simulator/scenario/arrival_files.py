"""Arrival files: the rate profile of `{kind: profile, file, time_column, rate_column}` and the
recorded times of `{kind: trace, file, column}`, read from CSV files named relative to the scenario
file, with errors that name the file, its line and the column.

Files are read the way empirical samples are (`empirical.read_csv`: inside the scenario's folder,
a regular file, at most 50 MB, UTF-8, strict CSV). A bad cell's error names the file, the line
and the column and says what was expected; it never repeats the cell (a file may hold more than
the scenario's author meant to show).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from simulator import arrival_profile
from simulator.errors import VALIDATION_ERROR, LeasesimError
from simulator.scenario.empirical import csv_rows, missing_column, read_csv
from simulator.scenario.paths import human_path
from simulator.scenario.schema import Profile, Scenario, Trace
from simulator.scenario.source import DataPath, SourceMap
from simulator.units import UnitError, parse_duration, parse_number, parse_rate


def fill_arrival_files(scenario: Scenario, data: dict[str, Any], source: SourceMap) -> Scenario:
    """The scenario with each profile's `rates` and each trace's `times` read from its file.

    Values already given inline (as in a run manifest) are kept and the file is not read.
    """
    workloads = list(scenario.workload)
    changed = False
    for wi, workload in enumerate(workloads):
        arrivals = workload.arrivals
        path: DataPath = ("workload", wi, "arrivals")
        if isinstance(arrivals, Profile) and arrivals.file is not None and not arrivals.rates:
            filled: Profile | Trace = arrivals.model_copy(
                update={"rates": _read_profile(arrivals, path, data, source)}
            )
        elif isinstance(arrivals, Trace) and not arrivals.times:
            times = _read_trace(arrivals, path, data, source)
            filled = arrivals.model_copy(update={"times": times})
        else:
            continue
        workloads[wi] = workload.model_copy(update={"arrivals": filled})
        changed = True
    return scenario.model_copy(update={"workload": tuple(workloads)}) if changed else scenario


class _Reader:
    """One arrival file: its errors (located at the scenario's `file`/column field) and rows."""

    def __init__(self, file: str, path: DataPath, data: dict[str, Any], source: SourceMap,
                 what: str) -> None:  # fmt: skip
        self.file, self.path, self.source, self.what = file, path, source, what
        self.field_name = human_path(path, data)

    def error(self, code: str, at: str, message: str) -> LeasesimError:
        detail = self.source.detail((*self.path, at), f"{self.field_name}.{at}", message)
        summary = f"{self.source.file}: the {self.what} of {self.field_name} cannot be used."
        return LeasesimError(code, summary, [detail])

    def columns(self, wanted: dict[str, str]) -> tuple[dict[str, int], Iterator[list[str]]]:
        """The position of each wanted column ({field: column name}) and the rows after the
        header; an error naming the field if a column is missing."""
        header, rows = read_csv(self.file, self.source, self.what, self.error)
        found = {}
        for field, name in wanted.items():
            if name not in header:
                raise self.error(VALIDATION_ERROR, field, missing_column(self.file, name, header))
            found[field] = header.index(name)
        return found, rows

    def cells(self, rows: Iterator[list[str]], columns: dict[str, int]
              ) -> Iterator[tuple[int, dict[str, str]]]:  # fmt: skip
        """(line, {field: stripped cell}) of each row with a non-blank wanted cell."""
        for line, row in csv_rows(self.file, rows, self.error):
            cells = {f: (row[c].strip() if c < len(row) else "") for f, c in columns.items()}
            if any(cells.values()):
                yield line, cells

    def bad_cell(self, at: str, column: str, line: int, expected: str) -> LeasesimError:
        return self.error(
            VALIDATION_ERROR, at, f"{self.file!r}, line {line}, column {column!r}: {expected}."
        )


def _read_profile(spec: Profile, path: DataPath, data: dict[str, Any], source: SourceMap
                  ) -> tuple[tuple[float, float], ...]:  # fmt: skip
    """The [start, rate] points of a profile file, checked as the schema checks inline rates."""
    assert spec.file is not None
    reader = _Reader(spec.file, path, data, source, "arrival profile")
    columns, rows = reader.columns({"time_column": spec.time_column,
                                    "rate_column": spec.rate_column})  # fmt: skip
    points: list[tuple[float, float]] = []
    lines: list[int] = []
    for line, cells in reader.cells(rows, columns):
        try:
            start = parse_duration(cells["time_column"])
        except UnitError:
            raise reader.bad_cell(
                "time_column", spec.time_column, line,
                "not a start time; write seconds or a duration such as 2h or 1d2h30m",
            ) from None  # fmt: skip
        try:
            rate = parse_rate(cells["rate_column"])
        except UnitError:
            raise reader.bad_cell(
                "rate_column", spec.rate_column, line,
                "not a rate; write a number per second or N/UNIT such as 400/h",
            ) from None  # fmt: skip
        if start < 0:
            raise reader.bad_cell("time_column", spec.time_column, line,
                                  "a start time must be 0 or more")  # fmt: skip
        if rate < 0:
            raise reader.bad_cell("rate_column", spec.rate_column, line,
                                  "a rate must be 0 or more")  # fmt: skip
        points.append((start, rate))
        lines.append(line)
    if not points:
        raise reader.error(
            VALIDATION_ERROR, "file", f"{spec.file!r} has no rows of start times and rates."
        )
    found = arrival_profile.problem(spec.period, points, show_values=False)
    if found is not None:
        index, part, message = found
        at, column = ("rate_column", spec.rate_column) if part == 1 else (
            "time_column", spec.time_column)  # fmt: skip
        raise reader.error(
            VALIDATION_ERROR, at, f"{spec.file!r}, line {lines[index]}, column {column!r}: "
            f"{message} (the rows of the file are the profile's points)."
        )  # fmt: skip
    return tuple(points)


def _read_trace(spec: Trace, path: DataPath, data: dict[str, Any], source: SourceMap
                ) -> tuple[float, ...]:  # fmt: skip
    """The recorded submission times, in seconds after the earliest, in order.

    A column holds numbers of seconds (any origin, e.g. Unix time) or ISO-8601 timestamps, all of
    one kind; timestamps all with a UTC offset or all without.
    """
    reader = _Reader(spec.file, path, data, source, "trace")
    columns, rows = reader.columns({"column": spec.column})
    numbers: list[float] = []
    stamps: list[datetime] = []
    first_kind: str | None = None
    expected = "not a time; write seconds (a number) or an ISO-8601 timestamp"
    for line, cells in reader.cells(rows, columns):
        cell = cells["column"]
        kind: str
        try:
            number = parse_number(cell)  # not float(): it reads full-width digits too
            kind = "number"
        except ValueError:
            try:
                stamp = datetime.fromisoformat(cell)
            except ValueError:
                ascii_hint = "" if cell.isascii() else (", typed with ASCII characters (the "
                                                        "cell has look-alike digits)")
                raise reader.bad_cell(
                    "column", spec.column, line,
                    f"{expected} such as 2026-01-05T02:00:00Z{ascii_hint}",
                ) from None
            kind = "aware timestamp" if stamp.tzinfo is not None else "timestamp"
        if first_kind is None:
            first_kind = kind
        elif kind != first_kind:
            raise reader.bad_cell(
                "column", spec.column, line,
                f"{_article(kind)} {kind} where the rows before hold {_plural(first_kind)}; every "
                "row must hold the same kind (numbers of seconds, or ISO-8601 timestamps all "
                "with or all without a UTC offset)",
            )  # fmt: skip
        if kind == "number":
            if not math.isfinite(number):
                raise reader.bad_cell("column", spec.column, line,
                                      "not a finite number of seconds")  # fmt: skip
            numbers.append(number)
        else:
            stamps.append(stamp)
    if stamps:
        origin = min(stamps)
        times = sorted((s - origin).total_seconds() for s in stamps)
    elif numbers:
        low = min(numbers)
        times = sorted(n - low for n in numbers)
    else:
        raise reader.error(
            VALIDATION_ERROR, "column", f"column {spec.column!r} of {spec.file!r} has no values."
        )
    return tuple(times)


def _plural(kind: str) -> str:
    return {"number": "numbers", "timestamp": "timestamps without a UTC offset",
            "aware timestamp": "timestamps with a UTC offset"}[kind]  # fmt: skip


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"
