"""The result of one run: scenario, seed, tables, summary and provenance, savable as a directory."""

from __future__ import annotations

import gc
import html
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.io import json_text, replace_dir
from simulator.model.log import Log
from simulator.results.health import Flag
from simulator.results.health import flags as health_flags
from simulator.results.metrics import METRICS
from simulator.results.metrics import summary as summarize
from simulator.results.tables import tables as build_tables
from simulator.scenario.schema import Scenario
from simulator.units import format_duration
from simulator.versions import dependency_versions, leasesim_version

TABLES = ("attempts", "tasks", "faults", "calls", "runners")
_TEXT_COLUMNS = {
    "attempts": dict.fromkeys(("runner", "workload", "outcome", "runner_outcome"), str),
    "tasks": dict.fromkeys(("workload", "worker_group", "status"), str),
    "faults": dict.fromkeys(("runner", "kind"), str),
    "calls": {"operation": str},
    "runners": dict.fromkeys(("name", "group", "launch", "reason"), str),
}
#: Records (tasks + attempts) from which a log's tables are built only after a full collection.
#: A finished run's model (its runners, threads, processes and pending events: about 12 KB a
#: runner) is garbage once the run returns, but it is made of reference cycles, which only a full
#: collection frees (the run itself pauses the collector, `simulator.collector`): without one it
#: stays alive while the tables are built, at their peak (about 6% more memory at 10,000 runners
#: for a week, 1.6 million tasks). A collection costs about a second a million objects, too much
#: to pay for every small run of an experiment; from this size on it is a few percent of the run.
COLLECT_BEFORE_TABLES = 1_000_000
_HEADLINE = ("tasks_submitted", "tasks_finished", "tasks_pending", "backlog_fraction",
             "reassignments", "reassigned_fraction", "duplicated_fraction")  # fmt: skip


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json_text(value))  # inside the folder's temporary sibling: see `save`


class Result:
    """One run of a scenario with one seed.

    Built from the run's `Log`; the tables and summary are derived from it on first use, once.
    The tables take the log's records over (`tables(..., consume=True)`): from then on `log` is
    None, and a large run's records are never held twice. A result loaded from disk
    (`Result.load`) has tables but no log.
    """

    def __init__(
        self,
        scenario: Scenario,
        log: Log | None = None,
        *,
        seed: int | None = None,
        duration: float | None = None,
        wall_time_s: float = math.nan,
        events: int | None = None,
        tables: Mapping[str, pd.DataFrame] | None = None,
        summary: Mapping[str, float] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        if log is None and tables is None:
            raise ValueError("a Result needs the run's log or its tables")
        self.scenario = scenario
        self.log = log
        self.seed = seed
        self.duration = float(scenario.duration if duration is None else duration)
        self._tables = dict(tables) if tables is not None else None
        self._summary = dict(summary) if summary is not None else None
        self.meta: dict[str, Any] = {
            "leasesim": leasesim_version(),
            "python": platform.python_version(),
            **dependency_versions(),
            "platform": platform.platform(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "scenario": scenario.name,
            "seed": seed,
            "duration_s": self.duration,
            "wall_time_s": wall_time_s,
            "events": events,
        }
        if meta:
            self.meta.update(meta)

    # --- derived data ---------------------------------------------------------------------------

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """attempts, tasks, faults, calls and runners DataFrames (see docs/metrics.md)."""
        if self._tables is None:
            assert self.log is not None  # guaranteed by __init__
            if len(self.log.tasks) + len(self.log.attempts) >= COLLECT_BEFORE_TABLES:
                gc.collect()  # the model's cycles: their memory holds the tables instead
            self._tables = build_tables(self.log, self.duration, consume=True)
            self.log = None  # its records are the tables' now
        return self._tables

    @property
    def attempts(self) -> pd.DataFrame:
        return self.tables["attempts"]

    @property
    def tasks(self) -> pd.DataFrame:
        return self.tables["tasks"]

    @property
    def faults(self) -> pd.DataFrame:
        return self.tables["faults"]

    @property
    def calls(self) -> pd.DataFrame:
        return self.tables["calls"]

    @property
    def runners(self) -> pd.DataFrame:
        """One row per runner: launched, ready, stopped and why (issue 16)."""
        return self.tables["runners"]

    @property
    def summary(self) -> dict[str, float]:
        """Every metric of METRICS for this run."""
        if self._summary is None:
            self._summary = summarize(self.tables, self.duration, self.scenario)
        return self._summary

    @property
    def flags(self) -> list[Flag]:
        """Health flags of this run's summary (`simulator.results.health.flags`): a growing
        backlog, most attempts reassigned. Empty when nothing is wrong."""
        return health_flags(self.summary)

    def summary_frame(self) -> pd.DataFrame:
        """The summary as rows of metric, value, unit, definition."""
        rows = []
        for name, value in self.summary.items():
            m = METRICS.get(name)
            rows.append((name, value, m.unit if m else "", m.definition if m else ""))
        return pd.DataFrame(rows, columns=["metric", "value", "unit", "definition"])

    def __getstate__(self) -> dict[str, Any]:
        # Ship tables, not the log's object graph, to other processes: smaller and self-contained.
        state = dict(self.__dict__)
        state["_tables"] = self.tables
        state["log"] = None
        return state

    # --- files ----------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the tables, summary.json, scenario.json and meta.json into `directory`.

        Tables are Parquet when pyarrow is installed, CSV otherwise. Everything is written into a
        temporary sibling first and renamed into place, so `directory` is never half-written; an
        existing directory is replaced.
        """
        target = Path(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and not target.is_dir():
            raise FileExistsError(f"{target} exists and is not a directory")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; a saved result is an ordinary folder
        try:
            parquet = importlib.util.find_spec("pyarrow") is not None
            for name in TABLES:
                frame = self.tables[name]
                if parquet:
                    frame.to_parquet(tmp / f"{name}.parquet", index=False)
                else:
                    frame.to_csv(tmp / f"{name}.csv", index=False)
            _write_json(tmp / "summary.json", self.summary)
            _write_json(tmp / "scenario.json", self.scenario.model_dump(mode="json"))
            _write_json(tmp / "meta.json", self.meta)
            replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Result:
        """A Result from a directory written by `save` (no log: tables, summary, meta only)."""
        source = Path(directory)
        tables = {}
        for name in TABLES:
            parquet = source / f"{name}.parquet"
            if parquet.exists():
                tables[name] = pd.read_parquet(parquet)
            elif name == "runners" and not (source / f"{name}.csv").exists():
                continue  # saved before issue 16: no runners table
            else:
                # Name-like columns stay text even when a name looks like a number.
                tables[name] = pd.read_csv(source / f"{name}.csv", dtype=_TEXT_COLUMNS[name])
        raw_summary = json.loads((source / "summary.json").read_text())
        meta = json.loads((source / "meta.json").read_text())
        scenario = Scenario.model_validate(json.loads((source / "scenario.json").read_text()))
        return cls(
            scenario,
            seed=meta.get("seed"),
            duration=meta.get("duration_s"),
            tables=tables,
            summary={k: math.nan if v is None else float(v) for k, v in raw_summary.items()},
            meta=meta,
        )

    # --- display --------------------------------------------------------------------------------

    def _title(self) -> str:
        return (
            f"Result({self.scenario.name!r}, seed={self.seed}, "
            f"duration={format_duration(self.duration)})"
        )

    def __repr__(self) -> str:
        s = self.summary
        headline = ", ".join(f"{k}={s[k]:.4g}" for k in _HEADLINE if k in s)
        names = ", ".join(f.name for f in self.flags)
        flagged = f", WARNING: {names}" if names else ""
        return f"{self._title()[:-1]}, {headline}{flagged})"

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td title='{html.escape(d, quote=True)}'><code>{html.escape(m)}</code></td>"
            f"<td style='text-align:right'>{v:.6g}</td><td>{html.escape(u)}</td></tr>"
            for m, v, u, d in self.summary_frame().itertuples(index=False)
        )
        warnings = "".join(
            f"<p style='color:#b00'><strong>WARNING {html.escape(f.name)}</strong>: "
            f"{html.escape(f.message)}</p>"
            for f in self.flags
        )
        return (
            f"<div><strong>{html.escape(self._title())}</strong>{warnings}"
            "<table><thead><tr><th>metric</th><th>value</th><th>unit</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )
