"""Empirical distributions: the samples of each `{dist: empirical, file, column}` read from its
CSV file (durations, blank cells skipped), with errors that name the file, line and column; and
`read_csv`, the one reader of the CSV files a scenario names.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel

from simulator.errors import FILE_ERROR, VALIDATION_ERROR, LeasesimError
from simulator.scenario.files import FileRefused, confine, read_regular
from simulator.scenario.paths import did_you_mean, human_path, quoted_list
from simulator.scenario.schema import Empirical, Scenario
from simulator.scenario.source import DataPath, SourceMap
from simulator.units import UnitError, parse_duration

MAX_CSV_BYTES = 50 * 1024 * 1024  # empirical samples may be long, but not unbounded


def fill_empirical(scenario: Scenario, data: dict[str, Any], source: SourceMap) -> Scenario:
    """The scenario with every empirical distribution's `values` read from its CSV file.

    Values already given inline (as in a run manifest) are kept and the file is not read.
    """
    cache: dict[tuple[str, str], tuple[float, ...]] = {}

    def fill(value: Any, path: DataPath) -> Any:
        if isinstance(value, Empirical):
            if value.values:
                return value
            key = (value.file, value.column)  # as written: resolving is `read_csv`'s job
            if key not in cache:
                cache[key] = _read_column(value, path, data, source)
            return value.model_copy(update={"values": cache[key]})
        if isinstance(value, BaseModel):
            updates = {}
            for name in type(value).model_fields:
                old = getattr(value, name)
                new = fill(old, (*path, name))
                if new is not old:
                    updates[name] = new
            return value.model_copy(update=updates) if updates else value
        if isinstance(value, tuple):
            items = tuple(fill(item, (*path, n)) for n, item in enumerate(value))
            if any(a is not b for a, b in zip(items, value, strict=True)):
                return items
        return value

    return fill(scenario, ())


def _read_column(
    spec: Empirical, path: DataPath, data: dict[str, Any], source: SourceMap
) -> tuple[float, ...]:
    """The durations in `spec.column` of `spec.file`, in seconds; blank cells are skipped.

    A bad cell's error names the line and column and says what was expected; it never repeats
    the cell (a file may hold more than the scenario's author meant to show)."""
    field_name = human_path(path, data)

    def error(code: str, at: str, message: str) -> LeasesimError:
        detail = source.detail((*path, at), f"{field_name}.{at}", message)
        summary = f"{source.file}: the empirical samples of {field_name} cannot be used."
        return LeasesimError(code, summary, [detail])

    header, rows = read_csv(spec.file, source, "empirical sample", error)
    if spec.column not in header:
        raise error(VALIDATION_ERROR, "column", missing_column(spec.file, spec.column, header))
    col = header.index(spec.column)
    values: list[float] = []
    where = f"{spec.file!r}, line {{}}, column {spec.column!r}"
    for line_no, row in csv_rows(spec.file, rows, error):
        cell = row[col].strip() if col < len(row) else ""
        if not cell:
            continue
        try:
            seconds = parse_duration(cell)
        except UnitError:
            raise error(
                VALIDATION_ERROR, "column", f"{where.format(line_no)}: not a duration; write "
                "seconds (a number) or a duration such as 90s, 2m or 1h30m.",
            ) from None  # fmt: skip
        if seconds < 0:
            raise error(VALIDATION_ERROR, "column",
                        f"{where.format(line_no)}: a negative duration; durations must be >= 0.")
        values.append(seconds)
    if not values:
        raise error(
            VALIDATION_ERROR, "column", f"column {spec.column!r} of {spec.file!r} has no values."
        )
    return tuple(values)


MAX_COLUMNS_SHOWN = 20  # a header line can be the whole file: list a few of its names, shortened


def missing_column(file: str, column: str, header: list[str]) -> str:
    """The message for a column the file lacks: its columns (names only, escaped and capped:
    the only part of a file's content a message repeats) and the closest one."""
    names = [name if len(name) <= 40 else name[:37] + "..." for name in header]
    shown = quoted_list(names[:MAX_COLUMNS_SHOWN])
    if len(names) > MAX_COLUMNS_SHOWN:
        shown += f" and {len(names) - MAX_COLUMNS_SHOWN} more"
    return (f"{file!r} has no column {column!r}; its columns (first row) are {shown}."
            f"{did_you_mean(column, header)}")  # fmt: skip


def csv_rows(
    file: str, rows: Iterator[list[str]], error: Callable[[str, str, str], LeasesimError]
) -> Iterator[tuple[int, list[str]]]:
    """(line of the file, cells) of each row after the header; a malformed row is an error that
    names its line (a quote never closed would otherwise swallow the lines after it)."""
    try:
        for number, row in enumerate(rows, start=2):
            yield getattr(rows, "line_num", number), row
    except csv.Error as exc:
        raise error(VALIDATION_ERROR, "file", _csv_problem(file, rows, exc)) from None


def _csv_problem(file: str, rows: Iterator[list[str]], exc: csv.Error) -> str:
    line = getattr(rows, "line_num", None)
    where = f"{file!r}, line {line}" if line else repr(file)
    hint = ""
    if "end of data" in str(exc):
        hint = ": a quote (\") opens a quoted cell that is never closed"
    elif "expected after" in str(exc):
        hint = ": a quoted cell must be followed by a comma or the end of the line"
    return f"{where} is not valid CSV ({exc}){hint}."


def read_csv(
    file: str, source: SourceMap, what: str, error: Callable[[str, str, str], LeasesimError]
) -> tuple[list[str], Iterator[list[str]]]:
    """The header (names stripped) and the remaining rows of the CSV file a scenario names,
    read defensively: inside the scenario's folder (`files.confine`), a regular file of at most
    MAX_CSV_BYTES (`files.read_regular`), UTF-8 text without NUL bytes, not empty, quotes
    balanced (strict CSV). `what` names the file's role in messages ("empirical sample");
    `error(code, field, message)` builds the error to raise (the field is "file"). Shared by
    every CSV a scenario names (empirical samples, arrival files); the file is added to
    `source.inputs`. No message repeats the file's content beyond its column names."""
    try:
        csv_path = confine(file, source.base_dir)
        raw = read_regular(csv_path, MAX_CSV_BYTES)
    except FileRefused as exc:
        hint = ""
        if exc.reason == "does not exist":
            hint = (f" (looked for {str(source.base_dir / file)!r}; relative paths are read from "
                    "the scenario file's folder)")  # fmt: skip
        raise error(FILE_ERROR, "file", f"the {what} file {file!r} {exc.reason}{hint}.") from None
    if csv_path not in source.inputs:
        source.inputs.append(csv_path)
    if b"\x00" in raw:
        raise error(FILE_ERROR, "file",
                    f"the {what} file {file!r} is a binary file (it contains NUL bytes), not CSV.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error(FILE_ERROR, "file", f"the {what} file {file!r} is not UTF-8 text (line "
                    f"{line}); save it as UTF-8.") from None  # fmt: skip
    rows: Iterator[list[str]] = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [name.strip() for name in next(rows)]
    except StopIteration:
        raise error(VALIDATION_ERROR, "file", f"{file!r} is empty.") from None
    except csv.Error as exc:
        raise error(VALIDATION_ERROR, "file", _csv_problem(file, rows, exc)) from None
    return header, rows
