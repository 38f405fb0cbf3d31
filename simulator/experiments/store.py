"""Results that are not lost: each finished run written at once, atomically; resuming; manifests.

Two layouts, one per kind of experiment:

- `SweepStore` (`leasesim sweep --out DIR`, `sweep(out=DIR)`): `manifest.json` (the resolved
  scenario, versions, seeds, grid), `runs/pPPPPP-rRRRRR.json` per finished run (its point,
  parameters, seed and summary), `failures/...json` per failed run, and at the end
  `results.csv` (one row per run) and `summary.csv` (mean and CI per point and metric).
- `ReplicationStore` (`leasesim run --out DIR`, `replicate(out=DIR)`): `rep-000/`, `rep-001/`,
  ... each a saved `Result` (tables, summary, scenario, meta).

Every file and folder is written under a temporary name, flushed to disk and renamed into place,
so an interrupted experiment (Ctrl-C, SIGTERM, kill -9, a crash) leaves only whole files, and
`resume` reruns only what is missing. While a store is open it holds the folder's lock
(`locks.FolderLock`): a second writer is refused, and the temporaries a killed writer left are
removed. Without `resume` a folder that already holds results is refused, never overwritten; with
it, every kept file is checked against the experiment (scenario, seed, point) before it is used.
"""

from __future__ import annotations

import hashlib
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
from simulator.experiments.locks import FolderLock, clean_leftovers
from simulator.experiments.runs import Failure, RunRecord
from simulator.io import atomic_write_text, json_text, plain, write_json
from simulator.results.result import Result
from simulator.versions import dependency_versions, leasesim_version, version

MANIFEST = "manifest.json"
FORMAT = 1
# ASCII digits only: \d would also take a planted file's full-width digits for a run number.
_RUN_NAME = re.compile(r"p(\d+)-r(\d+)\.json", re.ASCII)
_REP_NAME = re.compile(r"rep-(\d{3,})", re.ASCII)
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


def out_path(out: str | os.PathLike[str], flag: str = "--out") -> Path:
    """`out` as a folder path; an empty one is refused (it would mean the current folder)."""
    if not os.fspath(out).strip():
        raise LeasesimError(USAGE_ERROR, f"{flag} '': an empty path; give a folder to write to "
                            f"({flag} . for the current folder).")  # fmt: skip
    return Path(out)


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


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def identity_digest(manifest: Mapping[str, Any]) -> str:
    """A short digest of what makes a sweep this sweep (`IDENTITY`): stamped on every run file,
    so `resume` can tell a run of this sweep from one of another that wrote the same folder."""
    text = json_text({key: plain(manifest.get(key)) for key in IDENTITY})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class SweepStore:
    """A sweep's folder: its manifest, one small JSON file per finished run, the final tables."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = out_path(root)
        self.runs = self.root / "runs"
        self.failures = self.root / "failures"
        self.saved = 0
        self.kept: set[tuple[int, int]] = set()  # runs on disk: resumed and saved
        self._lock = FolderLock(self.root)
        self._digest = ""
        self._pending: tuple[int, int] | None = None

    def _run_file(self, folder: Path, point: int, replication: int) -> Path:
        return folder / f"p{point:05d}-r{replication:05d}.json"

    def open(self, manifest: dict[str, Any], resume: bool) -> tuple[list[RunRecord], list[str]]:
        """Lock the folder and write the manifest; the runs already finished (when resuming)
        and warnings.

        Without `resume`, a folder that already holds a sweep is refused rather than mixed; with
        it, every run file kept must belong to this sweep (`_finished`).
        """
        prepare_folder(self.root)
        self._lock.acquire()
        try:
            return self._open(manifest, resume)
        except BaseException:
            self.close()
            raise

    def _open(self, manifest: dict[str, Any], resume: bool) -> tuple[list[RunRecord], list[str]]:
        notes: list[str] = []
        path = self.root / MANIFEST
        for folder, names in ((self.root, [MANIFEST, "results.csv", "summary.csv"]),
                              (self.runs, ["p*-r*.json"]), (self.failures, ["p*-r*.json"])):
            if folder.is_dir():
                clean_leftovers(folder, names)  # a killed writer's temporaries: ours to remove
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
                    f" {'differs' if len(different) == 1 else 'differ'} from this command's); "
                    "resume it with the same scenario, --set and "
                    "--seed, or choose another folder.",
                )
            if old.get("versions") != new.get("versions"):
                notes.append(
                    f"{self.root} was started with other versions ({old.get('versions')}); runs "
                    "made with different versions may not be comparable."
                )
        elif resume and old is None:
            notes.append(f"--resume: {self.root} holds no sweep yet; starting one.")
        self._digest = identity_digest(manifest)
        finished = self._finished(manifest) if resume else []
        try:
            self.runs.mkdir(exist_ok=True)
            write_json(path, manifest)
        except OSError as exc:
            raise self._saving_error("the manifest", self.root, exc) from None
        self.kept = {r.key for r in finished}
        return finished, notes

    def close(self) -> None:
        """Release the folder's lock (the files stay)."""
        self._lock.release()

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
        """Runs already saved for this sweep. A file that cannot be read is run again; a whole
        file of another sweep (its stamp, seed or parameters differ from the manifest's) means
        the folder mixes two experiments, and is refused rather than counted as this one's."""
        grid = plain(manifest["grid"])
        points = grid["points"]
        swept_seed = "seed" in grid.get("paths", [])
        records, foreign = [], []
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
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue  # rerun it
            if (int(match[1]), int(match[2])) != record.key or not 0 <= record.point < len(points):
                foreign.append(f"{file.name} (it names run {record.key})")
                continue
            parameters = points[record.point]
            seed = parameters.get("seed") if swept_seed else manifest["seed"]
            stamp = raw.get("sweep")
            if record.seed != seed:
                foreign.append(f"{file.name} (seed {record.seed}; the manifest's is {seed})")
            elif plain(raw.get("parameters")) != parameters:
                foreign.append(f"{file.name} (parameters {raw.get('parameters')}; the manifest's "
                               f"point {record.point} is {parameters})")  # fmt: skip
            elif stamp is not None and stamp != self._digest:  # same seed and point: --set
                foreign.append(f"{file.name} (written by another sweep)")
            else:
                records.append(record)
        if foreign:
            more = f" and {_count(len(foreign) - 1, 'other file')}" if len(foreign) > 1 else ""
            raise LeasesimError(
                USAGE_ERROR,
                f"--resume: {self.runs} holds runs of another sweep: {foreign[0]}{more}. The "
                "folder mixes two experiments, so its results cannot be trusted; start again in "
                "an empty folder (or remove the files that do not belong).",
            )
        return records

    def _saving_error(self, what: str, where: Path, exc: OSError) -> LeasesimError:
        kept = len(self.kept)
        hint = (f"{_count(kept, 'finished run')} kept under {self.root}; make the folder "
                "writable and run the same command with --resume to finish" if kept
                else f"no run was kept under {self.root}")  # fmt: skip
        return LeasesimError(
            RUN_ERROR, f"cannot save {what} under {where}: {exc.strerror or exc}; {hint}.",
            [{"kept": kept, "out": str(self.root)}],
        )  # fmt: skip

    def save(self, record: RunRecord, parameters: Mapping[str, Any]) -> None:
        """Write one finished run (and clear an earlier failure of it)."""
        payload = {
            "point": record.point, "replication": record.replication, "seed": record.seed,
            "sweep": self._digest, "parameters": dict(parameters), "summary": record.summary,
            "wall_time_s": record.wall_time_s, "events": record.events,
        }  # fmt: skip
        target = self._run_file(self.runs, *record.key)
        self._pending = record.key
        try:
            write_json(target, payload)
        except OSError as exc:
            raise self._saving_error(f"run {record.key}", self.runs, exc) from None
        self.kept.add(record.key)
        self._pending = None
        self.saved += 1
        try:
            self._run_file(self.failures, *record.key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._saving_error(f"run {record.key}", self.failures, exc) from None

    def kept_files(self) -> list[str]:
        """The run files of this sweep on disk (a save cut short by an interrupt counts only if
        its file was renamed into place)."""
        keys = set(self.kept)
        if self._pending is not None and self._run_file(self.runs, *self._pending).is_file():
            keys.add(self._pending)
        return [str(self._run_file(self.runs, *key)) for key in sorted(keys)]

    def save_failure(self, failure: Failure, parameters: Mapping[str, Any]) -> None:
        """Write a failed run's error, for the record (`resume` runs it again)."""
        try:
            self.failures.mkdir(exist_ok=True)
            write_json(self._run_file(self.failures, *failure.key),
                       {**failure.to_dict(), "parameters": dict(parameters),
                        "traceback": failure.traceback})  # fmt: skip
        except OSError as exc:
            raise self._saving_error(f"the failure of run {failure.key}", self.failures,
                                     exc) from None  # fmt: skip

    def finish(self, tidy: pd.DataFrame, summary: pd.DataFrame) -> list[Path]:
        """Write results.csv (one row per run) and summary.csv (per point and metric)."""
        written = []
        for name, frame in (("results.csv", tidy), ("summary.csv", summary)):
            target = self.root / name
            try:
                atomic_write_text(target, frame.to_csv(index=False))
            except OSError as exc:
                raise self._saving_error(name, self.root, exc) from None
            written.append(target)
        return written


class ReplicationStore:
    """`rep-000/`, `rep-001/`, ...: each replication saved whole (tables and all) as it finishes."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = out_path(root)
        self.saved: list[str] = []
        self._lock = FolderLock(self.root)
        self._pending: Path | None = None

    def folder(self, replication: int) -> Path:
        return self.root / f"rep-{replication:03d}"

    def open(self, scenario: dict[str, Any], seed: int, n: int,
             resume: bool) -> tuple[list[RunRecord], list[str]]:  # fmt: skip
        """Lock and create the folder; the replications already saved for this scenario and seed
        (when resuming), and a warning about folders beyond `n` that this run would not replace.

        Without `resume` a folder that holds replications is refused (they would be overwritten);
        with it, each must be of this scenario and seed, or the folder is refused as another
        experiment's.
        """
        prepare_folder(self.root)
        self._lock.acquire()
        try:
            return self._open(scenario, seed, n, resume)
        except BaseException:
            self.close()
            raise

    def _existing(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.root.glob("rep-*"):
            match = _REP_NAME.fullmatch(path.name)
            if match is not None and path.is_dir():
                found.append((int(match[1]), path))
        return sorted(found)

    def _open(self, scenario: dict[str, Any], seed: int, n: int,
              resume: bool) -> tuple[list[RunRecord], list[str]]:  # fmt: skip
        clean_leftovers(self.root, ["rep-*"])  # a killed writer's half-written folders
        existing = self._existing()
        names = [path.name for _, path in existing]
        if existing and not resume:
            raise LeasesimError(
                USAGE_ERROR,
                f"--out {self.root} already holds {runs_folder(names)} from an earlier run; add "
                "--resume to keep those of this scenario and seed and run only the missing ones, "
                "or choose an empty folder.",
            )
        notes = []
        stale = [name for i, name in zip((i for i, _ in existing), names, strict=True) if i >= n]
        if stale:
            count = f"{n} replication" if n == 1 else f"{n} replications"
            notes.append(
                f"--out {self.root} already holds {runs_folder(stale)} from an earlier run, which "
                f"this run of {count} does not replace; remove them to keep runs apart."
            )
        finished, foreign = [], []
        expected = plain(scenario)
        for i, path in existing:
            record, why = self._load(i, expected, seed)
            if why:
                foreign.append(f"{path.name} ({why})")
            elif record is not None and i < n:
                finished.append(record)
                self.saved.append(str(path))
        if foreign:
            more = f" and {_count(len(foreign) - 1, 'other folder')}" if len(foreign) > 1 else ""
            raise LeasesimError(
                USAGE_ERROR,
                f"--resume: {self.root} holds replications of another run: {foreign[0]}{more}; "
                "resume with the same scenario, --set and --seed, or choose another folder.",
            )
        return finished, notes

    def close(self) -> None:
        """Release the folder's lock (the files stay)."""
        self._lock.release()

    def _load(self, replication: int, scenario: Any, seed: int) -> tuple[RunRecord | None, str]:
        """The saved replication if it is whole and of this very scenario and seed; else None and
        why it belongs to another run ("" when it cannot be read: it is run again)."""
        folder = self.folder(replication)
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            saved = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            wall, events = float(meta.get("wall_time_s") or math.nan), meta.get("events")
            summary = _summary_from_json(summary)
        except (OSError, ValueError, TypeError, AttributeError):
            return None, ""
        if meta.get("seed") != seed:
            return None, f"seed {meta.get('seed')}; this command's is {seed}"
        if meta.get("replication") != replication:
            return None, f"it holds replication {meta.get('replication')}"
        if saved != scenario:
            return None, "another scenario, or other --set values"
        return RunRecord(0, replication, seed, summary, wall, events), ""

    def save(self, record: RunRecord, parameters: Mapping[str, Any]) -> None:
        target = self.folder(record.replication)
        result: Result | None = record.result
        if result is None:
            raise ValueError("a replication store needs the run's tables (Job.tables)")
        self._pending = target
        try:
            result.save(target)
        except OSError as exc:
            kept = self.kept()
            hint = (f"{_count(len(kept), 'finished replication')} kept under {self.root} "
                    f"({runs_folder([Path(s).name for s in kept])}); make the folder writable "
                    "and run the same command with --resume to finish" if kept
                    else f"no replication was kept under {self.root}")  # fmt: skip
            raise LeasesimError(
                RUN_ERROR,
                f"cannot save replication {record.replication} under {target}: "
                f"{exc.strerror or exc}; {hint}.",
                [{"saved": kept}],
            ) from None
        self.saved.append(str(target))
        self._pending = None

    def kept(self) -> list[str]:
        """The replication folders on disk (a save cut short by an interrupt counts only if its
        folder was renamed into place: then it is whole)."""
        kept = set(self.saved)
        pending = self._pending
        if pending is not None and pending.is_dir() and (pending / "meta.json").is_file():
            kept.add(str(pending))
        return sorted(kept)

    def save_failure(self, failure: Failure, parameters: Mapping[str, Any]) -> None:
        pass  # the failure is reported; a replication folder holds only whole results


def runs_folder(names: Sequence[str]) -> str:
    """rep-000, or rep-000 .. rep-004."""
    return names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"
