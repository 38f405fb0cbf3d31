"""Empirical distributions: the samples of each `{dist: empirical, file, column}` read from its
CSV file (durations, blank cells skipped), with errors that name the file, line and column.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from simulator.errors import FILE_ERROR, VALIDATION_ERROR, LeasesimError
from simulator.scenario.paths import did_you_mean, human_path, quoted_list
from simulator.scenario.schema import Empirical, Scenario
from simulator.scenario.source import DataPath, SourceMap
from simulator.units import UnitError, parse_duration

MAX_CSV_BYTES = 50 * 1024 * 1024  # empirical samples may be long, but not unbounded


def fill_empirical(scenario: Scenario, data: dict[str, Any], source: SourceMap) -> Scenario:
    """The scenario with every empirical distribution's `values` read from its CSV file.

    Values already given inline (as in a run manifest) are kept and the file is not read.
    """
    cache: dict[tuple[Path, str], tuple[float, ...]] = {}

    def fill(value: Any, path: DataPath) -> Any:
        if isinstance(value, Empirical):
            if value.values:
                return value
            key = ((source.base_dir / value.file).resolve(), value.column)
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
    """The durations in `spec.column` of `spec.file`, in seconds; blank cells are skipped."""
    field_name = human_path(path, data)
    csv_path = source.base_dir / spec.file

    def error(code: str, at: str, message: str) -> LeasesimError:
        detail = source.detail((*path, at), f"{field_name}.{at}", message)
        summary = f"{source.file}: the empirical samples of {field_name} cannot be used."
        return LeasesimError(code, summary, [detail])

    header, rows = read_csv(spec.file, csv_path, "empirical sample", error)
    if spec.column not in header:
        raise error(
            VALIDATION_ERROR,
            "column",
            f"{spec.file!r} has no column {spec.column!r}; its columns (first row) are "
            f"{quoted_list(header)}.{did_you_mean(spec.column, header)}",
        )
    col = header.index(spec.column)
    values: list[float] = []
    try:
        for line_no, row in enumerate(rows, start=2):
            cell = row[col].strip() if col < len(row) else ""
            if not cell:
                continue
            try:
                seconds = parse_duration(cell)
            except UnitError as exc:
                raise error(
                    VALIDATION_ERROR, "column", f"{spec.file!r}, line {line_no}: {exc}."
                ) from None
            if seconds < 0:
                raise error(
                    VALIDATION_ERROR,
                    "column",
                    f"{spec.file!r}, line {line_no}: {cell!r} is negative; durations must be >= 0.",
                )
            values.append(seconds)
    except csv.Error as exc:
        raise error(VALIDATION_ERROR, "file", f"{spec.file!r} is not valid CSV: {exc}.") from None
    if not values:
        raise error(
            VALIDATION_ERROR, "column", f"column {spec.column!r} of {spec.file!r} has no values."
        )
    return tuple(values)


def read_csv(
    file: str, csv_path: Path, what: str, error: Callable[[str, str, str], LeasesimError]
) -> tuple[list[str], Iterator[list[str]]]:
    """The header (names stripped) and the remaining rows of a CSV file, read defensively: a
    regular file, at most MAX_CSV_BYTES, UTF-8 text, not empty. `what` names the file's role in
    messages ("empirical sample"); `error(code, field, message)` builds the error to raise (the
    field is "file"). Shared by every CSV a scenario names (empirical samples, arrival files)."""
    if not csv_path.is_file():
        found = "does not exist"
        if csv_path.exists():
            found = "is a folder" if csv_path.is_dir() else "is not a regular file"
        raise error(
            FILE_ERROR,
            "file",
            f"the {what} file {file!r} {found} (looked for {str(csv_path)!r}; "
            "relative paths are read from the scenario file's folder).",
        )
    try:
        with csv_path.open("rb") as handle:
            raw = handle.read(MAX_CSV_BYTES + 1)
        if len(raw) > MAX_CSV_BYTES:
            raise error(
                FILE_ERROR,
                "file",
                f"{file!r} is larger than the {MAX_CSV_BYTES // (1024 * 1024)} MB limit for "
                f"{what} files.",
            )
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(FILE_ERROR, "file", f"{file!r} is not UTF-8 text.") from None
    except OSError as exc:
        raise error(
            FILE_ERROR, "file", f"{file!r} cannot be read: {exc.strerror or exc}."
        ) from None
    rows: Iterator[list[str]] = csv.reader(text.splitlines())
    try:
        header = [name.strip() for name in next(rows)]
    except StopIteration:
        raise error(VALIDATION_ERROR, "file", f"{file!r} is empty.") from None
    except csv.Error as exc:
        raise error(VALIDATION_ERROR, "file", f"{file!r} is not valid CSV: {exc}.") from None
    return header, rows
