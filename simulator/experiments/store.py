"""Results that are not lost: each finished run written at once, atomically; resuming; manifests.

Two layouts, one per kind of experiment:

- `SweepStore` (`leasesim sweep --out DIR`, `sweep(out=DIR)`): `manifest.json` (the resolved
  scenario, versions, seeds, grid), `runs/pPPPPP-rRRRRR.json` per finished run (its point,
  parameters, seed and summary), `failures/...json` per failed run, and at the end
  `results.csv` (one row per run) and `summary.csv` (mean and CI per point and metric).
- `ReplicationStore` (`leasesim run --out DIR`, `replicate(out=DIR)`): `rep-000/`, `rep-001/`,
  ... each a saved `Result` (tables, summary, scenario, meta).

Every file and folder is written under a temporary name and renamed into place, so an interrupted
experiment (Ctrl-C, a crash, a killed worker) leaves only whole files, and `resume` reruns only
what is missing.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from simulator.errors import RUN_ERROR, USAGE_ERROR, LeasesimError
from simulator.experiments.runs import Failure, RunRecord
from simulator.io import atomic_write_text, plain, write_json
from simulator.results.result import Result
from simulator.versions import dependency_versions, leasesim_version, version

MANIFEST = "manifest.json"
FORMAT = 1
_RUN_NAME = re.compile(r"p(\d+)-r(\d+)\.json")
# What must match for `resume` to continue a sweep: anything else would mix two experiments.
IDENTITY = ("scenario", "seed", "grid")


def versions() -> dict[str, str]:
    """leasesim, Python and the key dependencies (Dask's too, when installed)."""
    out = {"leasesim": leasesim_version(), "python": platform.python_version()}
    out.update(dependency_versions())
    for extra in ("dask", "distributed"):
        found = version(extra)
        if found != "unknown":
            out[extra] = found
    return out


class OutputFolderWarning(UserWarning):
    """Something about an --out folder worth knowing before its results are read."""


def _summary_from_json(raw: Mapping[str, Any]) -> dict[str, float]:
    return {k: math.nan if v is None else float(v) for k, v in raw.items()}


def prepare_folder(root: Path, flag: str = "--out") -> None:
    """Create `root` (a folder) or say clearly why it cannot be one."""
    if root.exists() and not root.is_dir():
        raise LeasesimError(USAGE_ERROR, f"{flag} {root}: this is a file; {flag} takes a folder.")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeasesimError(
            USAGE_ERROR, f"{flag} {root}: the folder cannot be created ({exc.strerror or exc})."
        ) from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise LeasesimError(USAGE_ERROR, f"{flag} {root}: the folder is not writable.")


def _saving_error(what: str, where: Path, exc: OSError) -> LeasesimError:
    return LeasesimError(RUN_ERROR, f"cannot save {what} under {where}: {exc.strerror or exc}.")


class SweepStore:
    """A sweep's folder: its manifest, one small JSON file per finished run, the final tables."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.runs = self.root / "runs"
        self.failures = self.root / "failures"
        self.saved = 0

    def _run_file(self, folder: Path, point: int, replication: int) -> Path:
        return folder / f"p{point:05d}-r{replication:05d}.json"

    def open(self, manifest: dict[str, Any], resume: bool) -> tuple[list[RunRecord], list[str]]:
        """Write the manifest; the runs already finished (when resuming) and warnings.

        Without `resume`, a folder that already holds a sweep is refused rather than mixed.
        """
        prepare_folder(self.root)
        notes: list[str] = []
        path = self.root / MANIFEST
        old = self._read_manifest(path) if path.exists() else None
        has_runs = self.runs.is_dir() and any(self.runs.glob("p*-r*.json"))
        if not resume and (old is not None or has_runs):
            raise LeasesimError(
                USAGE_ERROR,
                f"--out {self.root} already holds a sweep; add --resume to finish it (only "
                "missing runs are run), or choose an empty folder.",
            )
        if resume and old is not None:
            new = plain(manifest)
            different = [key for key in IDENTITY if old.get(key) != new.get(key)]
            if different:
                raise LeasesimError(
                    USAGE_ERROR,
                    f"--resume: {self.root} holds a different sweep (its {' and '.join(different)}"
                    f" differ from this command's); resume it with the same scenario, --set and "
                    "--seed, or choose another folder.",
                )
            if old.get("versions") != new.get("versions"):
                notes.append(
                    f"{self.root} was started with other versions ({old.get('versions')}); runs "
                    "made with different versions may not be comparable."
                )
        elif resume and old is None:
            notes.append(f"--resume: {self.root} holds no sweep yet; starting one.")
        try:
            self.runs.mkdir(exist_ok=True)
            write_json(path, manifest)
        except OSError as exc:
            raise _saving_error("the manifest", self.root, exc) from None
        finished = self._finished(manifest) if resume else []
        return finished, notes

    def _read_manifest(self, path: Path) -> dict[str, Any] | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LeasesimError(
                USAGE_ERROR, f"{path} cannot be read as a sweep manifest ({exc}); choose another "
                "--out folder.",
            ) from None  # fmt: skip
        return data if isinstance(data, dict) else None

    def _finished(self, manifest: Mapping[str, Any]) -> list[RunRecord]:
        """Runs already saved for this sweep (unreadable or foreign files are ignored)."""
        points = len(manifest["grid"]["points"])
        records = []
        for file in sorted(self.runs.glob("p*-r*.json")):
            match = _RUN_NAME.fullmatch(file.name)
            if match is None:
                continue
            try:
                raw = json.loads(file.read_text(encoding="utf-8"))
                record = RunRecord(
                    int(raw["point"]), int(raw["replication"]), int(raw["seed"]),
                    _summary_from_json(raw["summary"]), float(raw.get("wall_time_s") or math.nan),
                    raw.get("events"),
                )  # fmt: skip
            except (OSError, ValueError, KeyError, TypeError):
                continue  # rerun it
            if record.point < points and (int(match[1]), int(match[2])) == record.key:
                records.append(record)
        return records

    def save(self, record: RunRecord, parameters: Mapping[str, Any]) -> None:
        """Write one finished run (and clear an earlier failure of it)."""
        payload = {
            "point": record.point, "replication": record.replication, "seed": record.seed,
            "parameters": dict(parameters), "summary": record.summary,
            "wall_time_s": record.wall_time_s, "events": record.events,
        }  # fmt: skip
        try:
            write_json(self._run_file(self.runs, *record.key), payload)
            self._run_file(self.failures, *record.key).unlink(missing_ok=True)
        except OSError as exc:
            raise _saving_error(f"run {record.key}", self.runs, exc) from None
        self.saved += 1

    def save_failure(self, failure: Failure, parameters: Mapping[str, Any]) -> None:
        """Write a failed run's error, for the record (`resume` runs it again)."""
        try:
            self.failures.mkdir(exist_ok=True)
            write_json(self._run_file(self.failures, *failure.key),
                       {**failure.to_dict(), "parameters": dict(parameters),
                        "traceback": failure.traceback})  # fmt: skip
        except OSError as exc:
            raise _saving_error(f"the failure of run {failure.key}", self.failures, exc) from None

    def finish(self, tidy: pd.DataFrame, summary: pd.DataFrame) -> list[Path]:
        """Write results.csv (one row per run) and summary.csv (per point and metric)."""
        written = []
        for name, frame in (("results.csv", tidy), ("summary.csv", summary)):
            target = self.root / name
            try:
                atomic_write_text(target, frame.to_csv(index=False))
            except OSError as exc:
                raise _saving_error(name, self.root, exc) from None
            written.append(target)
        return written


class ReplicationStore:
    """`rep-000/`, `rep-001/`, ...: each replication saved whole (tables and all) as it finishes."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.saved: list[str] = []

    def folder(self, replication: int) -> Path:
        return self.root / f"rep-{replication:03d}"

    def open(self, scenario: dict[str, Any], seed: int, n: int,
             resume: bool) -> tuple[list[RunRecord], list[str]]:  # fmt: skip
        """Create the folder; the replications already saved for this scenario and seed (when
        resuming), and a warning about folders beyond `n` that this run would not replace."""
        prepare_folder(self.root)
        notes = []
        stale = sorted(
            p.name for p in self.root.glob("rep-[0-9][0-9][0-9]")
            if p.is_dir() and int(p.name[4:]) >= n
        )  # fmt: skip
        if stale:
            shown = stale[0] if len(stale) == 1 else f"{stale[0]} .. {stale[-1]}"
            count = f"{n} replication" if n == 1 else f"{n} replications"
            notes.append(
                f"--out {self.root} already holds {shown} from an earlier run, which this run of "
                f"{count} does not replace; remove them to keep runs apart."
            )
        finished = []
        if resume:
            expected = plain(scenario)
            for i in range(n):
                record = self._load(i, expected, seed)
                if record is not None:
                    finished.append(record)
        return finished, notes

    def _load(self, replication: int, scenario: Any, seed: int) -> RunRecord | None:
        """The saved replication, if it is whole and of this very scenario and seed."""
        folder = self.folder(replication)
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            saved = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if saved != scenario or meta.get("seed") != seed or meta.get("replication") != replication:
            return None
        self.saved.append(str(folder))
        wall, events = float(meta.get("wall_time_s") or math.nan), meta.get("events")
        return RunRecord(0, replication, seed, _summary_from_json(summary), wall, events)

    def save(self, record: RunRecord, parameters: Mapping[str, Any]) -> None:
        target = self.folder(record.replication)
        result: Result | None = record.result
        if result is None:
            raise ValueError("a replication store needs the run's tables (Job.tables)")
        try:
            self.saved.append(str(result.save(target)))
        except OSError as exc:
            raise LeasesimError(
                RUN_ERROR,
                f"cannot save replication {record.replication} under {target}: "
                f"{exc.strerror or exc}.",
                [{"saved": list(self.saved)}],
            ) from None

    def save_failure(self, failure: Failure, parameters: Mapping[str, Any]) -> None:
        pass  # the failure is reported; a replication folder holds only whole results


def runs_folder(names: Sequence[str]) -> str:
    """rep-000, or rep-000 .. rep-004."""
    return names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"
