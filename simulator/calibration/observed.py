"""Recorded attempts in, validated and in seconds out: the input of `leasesim fit` and `compare`.

The file holds one row per attempt, in the columns of leasesim's own `attempts` table
(docs/metrics.md). Required: `task_id`, `runner`, `assigned_at`, `ended_at`, `outcome`; optional:
`submitted_at`, `acked_at`, `work_started_at`, `work_ended_at`, `lease_lost_at`, `workload`
(other columns are kept and ignored). Times are seconds (any origin) or ISO-8601 timestamps, one
kind per file; timestamps become seconds after the file's earliest one (seconds are kept as
given: only differences matter). A blank time is
"never" (NaN). A saved run's folder (`leasesim run --out DIR`: `DIR/rep-000/`) is accepted too:
its `attempts` table, with `submitted_at` taken from its `tasks` table.

Every problem is reported with the file, the line (CSV: the file's line; Parquet: the row) and
the column, up to `MAX_PROBLEMS` of them in one error, so a file is fixed in one pass.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.errors import FILE_ERROR, VALIDATION_ERROR, LeasesimError, did_you_mean

REQUIRED = ("task_id", "runner", "assigned_at", "ended_at", "outcome")
OPTIONAL = (
    "submitted_at",
    "acked_at",
    "work_started_at",
    "work_ended_at",
    "lease_lost_at",
    "workload",
)
TIME_COLUMNS = (
    "submitted_at",
    "assigned_at",
    "acked_at",
    "work_started_at",
    "work_ended_at",
    "lease_lost_at",
    "ended_at",
)
#: The outcomes the issue names, plus the two leasesim's own tables also write (a superseded
#: attempt of `reassign_same_attempt`; an attempt still running when the record ends).
OUTCOMES = (
    "finished",
    "failed",
    "ack_timeout",
    "progress_timeout",
    "attempt_timeout",
    "superseded",
    "running",
)
LEASE_LOSSES = ("ack_timeout", "progress_timeout")
MAX_PROBLEMS = 10
MAX_BYTES = 200 * 1024 * 1024


@dataclass
class Observed:
    """A validated record of attempts, times in seconds (from the earliest timestamp for ISO).

    `attempts` has the required columns and whichever optional ones the file had (missing
    optional times are absent, not NaN columns: `has(column)` says which); `origin` is the
    ISO-8601 timestamp that time 0 stands for (None when the file gave seconds); `source` the
    file's name, for messages.
    """

    attempts: pd.DataFrame
    source: str = "<frame>"
    origin: str | None = None
    notes: list[str] = field(default_factory=list)

    def has(self, column: str) -> bool:
        return column in self.attempts.columns and bool(self.attempts[column].notna().any())

    @property
    def tasks(self) -> int:
        return int(self.attempts["task_id"].nunique())

    @property
    def start(self) -> float:
        """The first submission (or assignment) of the record."""
        return float(np.nanmin(submission_times(self)))

    @property
    def end(self) -> float:
        """The last time anything was recorded."""
        cols = [c for c in TIME_COLUMNS if c in self.attempts.columns]
        return float(np.nanmax(self.attempts[cols].to_numpy(dtype=float)))

    @property
    def span(self) -> float:
        """Seconds from the first submission to the last recorded time."""
        return max(self.end - self.start, 0.0)

    def workloads(self) -> list[str]:
        if "workload" not in self.attempts.columns:
            return []
        return sorted(self.attempts["workload"].dropna().astype(str).unique())

    def only(self, workload: str | None) -> Observed:
        """The attempts of one workload (all of them for None)."""
        if workload is None or "workload" not in self.attempts.columns:
            return self
        rows = self.attempts[self.attempts["workload"].astype(str) == workload]
        return Observed(rows.reset_index(drop=True), self.source, self.origin, self.notes)


def submission_times(observed: Observed) -> np.ndarray:
    """Per task: `submitted_at` when recorded, else its first assignment (seconds)."""
    att = observed.attempts
    first = att.groupby("task_id", sort=True)["assigned_at"].min()
    if "submitted_at" in att.columns:
        sub = att.groupby("task_id", sort=True)["submitted_at"].min()
        first = sub.where(sub.notna(), first)
    return first.to_numpy(dtype=float)


def from_tables(
    attempts: pd.DataFrame, tasks: pd.DataFrame | None = None, source: str = "<simulated>"
) -> Observed:
    """leasesim's own `attempts` table (and `tasks`, for `submitted_at`) as an `Observed`."""
    att = attempts.copy()
    if tasks is not None and "submitted_at" not in att.columns:
        sub = tasks.set_index("task_id")["submitted_at"]
        att["submitted_at"] = att["task_id"].map(sub).astype(float)
    return _validate(att, source, lambda i: None, row_word="row")


def simulated_record(result: Any) -> pd.DataFrame:
    """A `Result`'s attempts in the observed-file shape (with `submitted_at` from its tasks):
    what a fleet that behaves exactly like the model would have recorded."""
    att = result.attempts.copy()
    sub = result.tasks.set_index("task_id")["submitted_at"]
    att.insert(
        att.columns.get_loc("assigned_at"), "submitted_at", att["task_id"].map(sub).astype(float)
    )
    return att


def read_observed(path: str | os.PathLike[str]) -> Observed:
    """Read and validate a recorded attempts file (CSV or Parquet) or a saved run's folder."""
    p = Path(path)
    name = str(path)
    if p.is_dir():
        return _read_run_folder(p)
    if not p.exists():
        raise _file_error(name, f"{name}: no such file.")
    if not p.is_file():
        raise _file_error(name, f"{name} is not a regular file.")
    if p.stat().st_size > MAX_BYTES:
        raise _file_error(name, f"{name} is larger than {MAX_BYTES // 2**20} MB.")
    if p.stat().st_size == 0:
        raise _file_error(
            name,
            f"{name} is empty: it needs a header line naming the columns "
            f"({', '.join(REQUIRED)}) and one line per attempt.",
        )
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(p)
        except ImportError:
            raise _file_error(
                name,
                f"{name}: reading Parquet needs pyarrow "
                "(pip install pyarrow), or save the record as CSV.",
            ) from None
        except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
            raise _file_error(name, f"{name} is not a readable Parquet file: {exc}.") from None
        return _validate(frame, name, lambda i: None, row_word="row")
    try:
        frame = pd.read_csv(
            p, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig"
        )
    except UnicodeDecodeError:
        raise _file_error(
            name, f"{name} is not UTF-8 text (is it a Parquet file? name it *.parquet)."
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise _file_error(name, f"{name} is not valid CSV: {str(exc).strip()}.") from None
    # pandas numbers data rows from 0 after one header line: file line = index + 2 (no
    # multi-line cells in a record of attempts).
    return _validate(frame, name, lambda i: i + 2, row_word="line")


def _read_run_folder(p: Path) -> Observed:
    """`DIR` or `DIR/rep-000` of a saved run: its attempts, submitted_at from its tasks."""
    folder = p
    if not any(folder.glob("attempts.*")):
        reps = sorted(folder.glob("rep-*"))
        if not reps:
            raise _file_error(
                str(p),
                f"{p} is a folder without an attempts table (attempts.csv "
                "or attempts.parquet) or rep-NNN/ folders of a saved run.",
            )
        folder = reps[0]

    def table(stem: str) -> pd.DataFrame | None:
        for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
            f = folder / f"{stem}{suffix}"
            if f.exists():
                return reader(f)
        return None

    attempts = table("attempts")
    if attempts is None:
        raise _file_error(str(folder), f"{folder} holds no attempts table.")
    return from_tables(attempts, table("tasks"), source=str(folder / "attempts"))


def _file_error(name: str, message: str) -> LeasesimError:
    return LeasesimError(
        FILE_ERROR, message, [{"field": None, "message": message, "file": name, "line": None}]
    )


class _Problems:
    """Problems found so far: at most MAX_PROBLEMS kept, all counted."""

    def __init__(self, source: str, line_of: Any, row_word: str) -> None:
        self.source, self.line_of, self.row_word = source, line_of, row_word
        self.details: list[dict[str, Any]] = []
        self.count = 0

    def add(self, column: str | None, message: str, row: int | None = None) -> None:
        self.count += 1
        if len(self.details) >= MAX_PROBLEMS:
            return
        line = self.line_of(row) if row is not None else None
        if row is not None and line is None:
            message = f"{self.row_word} {row + 1}: {message}"
        self.details.append(
            {"field": column, "message": message, "file": self.source, "line": line}
        )

    def rows(self, column: str, bad: np.ndarray, values: pd.Series, why: str) -> None:
        for i in np.flatnonzero(bad):
            self.add(column, f"{values.iloc[i]!r} {why}", int(i))

    def raise_if_any(self) -> None:
        if not self.count:
            return
        more = self.count - len(self.details)
        tail = f" ({more} more not shown)" if more > 0 else ""
        n = self.count
        message = (
            f"{self.source}: {n} problem{'s' if n > 1 else ''} in the recorded attempts"
            f"{tail}; the format is in docs/calibration.md."
        )
        raise LeasesimError(VALIDATION_ERROR, message, self.details)


def _validate(frame: pd.DataFrame, source: str, line_of: Any, row_word: str) -> Observed:
    problems = _Problems(source, line_of, row_word)
    frame = frame.rename(columns=lambda c: str(c).strip())
    columns = list(frame.columns)
    missing = [c for c in REQUIRED if c not in columns]
    for c in missing:
        hint = did_you_mean(c, [x for x in columns if x not in REQUIRED + OPTIONAL])
        problems.add(
            c,
            f"the required column {c!r} is missing (the header has "
            f"{', '.join(map(repr, columns)) or 'no columns'}).{hint}",
        )
    problems.raise_if_any()
    if frame.empty:
        problems.add(None, "the file has a header but no attempts.")
        problems.raise_if_any()
    out = pd.DataFrame(index=frame.index)
    for c in ("task_id", "runner"):
        text = frame[c].astype(str).str.strip()
        problems.rows(
            c,
            (text == "") | frame[c].isna().to_numpy(),
            frame[c],
            "is blank: every attempt needs one.",
        )
        out[c] = text
    if "workload" in columns:
        out["workload"] = frame["workload"].astype(str).str.strip()
    outcome = frame["outcome"].astype(str).str.strip().str.lower()
    bad = ~outcome.isin(OUTCOMES).to_numpy()
    for i in np.flatnonzero(bad)[:MAX_PROBLEMS]:
        value = frame["outcome"].iloc[i]
        problems.add(
            "outcome",
            f"{value!r} is not an outcome; allowed: {' | '.join(OUTCOMES)}."
            f"{did_you_mean(value, OUTCOMES)}",
            int(i),
        )
    problems.count += max(int(bad.sum()) - MAX_PROBLEMS, 0)
    out["outcome"] = outcome
    times, origin = _times(frame, [c for c in TIME_COLUMNS if c in columns], problems)
    problems.raise_if_any()
    for c, values in times.items():
        out[c] = values
    _check_order(out, problems)
    running = out["outcome"] == "running"
    problems.rows(
        "ended_at",
        (out["ended_at"].isna() & ~running).to_numpy(),
        frame["ended_at"],
        "is blank, but the attempt did end (outcome not 'running').",
    )
    problems.raise_if_any()
    return Observed(out.reset_index(drop=True), source, origin)


def _times(
    frame: pd.DataFrame, columns: list[str], problems: _Problems
) -> tuple[dict[str, np.ndarray], str | None]:
    """Each time column as float seconds (NaN = blank), ISO timestamps from the earliest one."""
    kinds: dict[str, str] = {}
    parsed: dict[str, np.ndarray] = {}
    stamps: dict[str, pd.Series] = {}
    for c in columns:
        raw = frame[c]
        if pd.api.types.is_datetime64_any_dtype(raw):
            stamps[c] = pd.to_datetime(raw, utc=True)
            kinds[c] = "iso"
            continue
        text = raw.astype(str).str.strip()
        blank = (
            raw.isna().to_numpy()
            | text.str.lower().isin(["", "nan", "none", "null", "nat"]).to_numpy()
        )
        numbers = pd.to_numeric(text.where(~blank), errors="coerce")
        numeric_ok = numbers.notna().to_numpy() | blank
        if numeric_ok.all():
            values = numbers.to_numpy(dtype=float)
            problems.rows(
                c, ~np.isfinite(values) & ~blank, raw, "is not a finite number of seconds."
            )
            problems.rows(
                c,
                (values < 0) & ~blank,
                raw,
                "is negative; times are seconds >= 0 or ISO-8601 timestamps.",
            )
            parsed[c] = values
            kinds[c] = "seconds"
            continue
        stamp = pd.to_datetime(text.where(~blank), errors="coerce", utc=True, format="ISO8601")
        iso_ok = stamp.notna().to_numpy() | blank
        if iso_ok.sum() >= numeric_ok.sum():
            problems.rows(
                c,
                ~iso_ok,
                raw,
                "is not an ISO-8601 timestamp (e.g. "
                "2024-05-01T12:00:00Z) like the other cells of this column.",
            )
            stamps[c] = stamp
            kinds[c] = "iso"
        else:
            problems.rows(
                c,
                ~numeric_ok,
                raw,
                "is not a number of seconds like the other cells of this column.",
            )
            parsed[c] = numbers.to_numpy(dtype=float)
            kinds[c] = "seconds"
    if len(set(kinds.values())) > 1:
        iso = [c for c, k in kinds.items() if k == "iso"]
        secs = [c for c, k in kinds.items() if k == "seconds"]
        problems.add(
            None,
            f"time columns mix ISO-8601 timestamps ({', '.join(iso)}) and seconds "
            f"({', '.join(secs)}); use one kind for every time column.",
        )
        return {}, None
    origin = None
    if stamps:
        lows = [s.min() for s in stamps.values() if s.notna().any()]
        zero = min(lows) if lows else pd.Timestamp(0, tz="UTC")
        origin = zero.isoformat()
        for c, s in stamps.items():
            parsed[c] = ((s - zero).dt.total_seconds()).to_numpy(dtype=float)
    return parsed, origin


def _check_order(att: pd.DataFrame, problems: _Problems) -> None:
    """Times of one attempt in their order: submitted <= assigned <= acked, ended, lease lost."""
    a = att["assigned_at"].to_numpy()
    problems.rows(
        "assigned_at",
        np.isnan(a),
        att["assigned_at"],
        "is blank: every attempt was assigned at some time.",
    )
    pairs = [
        ("submitted_at", "assigned_at"),
        ("assigned_at", "ended_at"),
        ("assigned_at", "acked_at"),
        ("assigned_at", "lease_lost_at"),
        ("assigned_at", "work_started_at"),
        ("work_started_at", "work_ended_at"),
    ]
    for early, late in pairs:
        if early not in att.columns or late not in att.columns:
            continue
        x, y = att[early].to_numpy(), att[late].to_numpy()
        wrong = np.isfinite(x) & np.isfinite(y) & (y < x - 1e-6)
        for i in np.flatnonzero(wrong)[:MAX_PROBLEMS]:
            problems.add(
                late,
                f"{late} ({y[i]:g} s) is before {early} ({x[i]:g} s) of the same attempt.",
                int(i),
            )
        problems.count += max(int(wrong.sum()) - MAX_PROBLEMS, 0)
