"""Which scenario files a check runs: files and folders given, those with something to check.

A folder contributes its `*.yaml` / `*.yml` files (not its sub-folders: `baselines/` lives there)
that have an `expect:` block or a baseline file; a file named on its own must have one of the two
(or be given with `--update-baseline`, which records its first baseline). Every file is loaded
(with `--set` overrides) before anything runs, and all invalid files are reported together.

A folder's entries that are symbolic links leaving it, or not regular files, are refused
(`scenario.files.listed_scenarios`; `--allow-outside` lets the links through).

A baseline is a file a scenario names, so it follows the rule of every such file
(`scenario.files.confine`): inside the scenario's folder (symlinks followed) unless
`--allow-outside`; it must be a `.json` file, and `--update-baseline` never writes over a file
the check reads (a scenario file, a CSV it names).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.check.baseline import baseline_path
from simulator.errors import FILE_ERROR, USAGE_ERROR, VALIDATION_ERROR, LeasesimError
from simulator.scenario.files import FileRefused, confine, listed_scenarios
from simulator.scenario.load import LoadedScenario, load_scenario_with_source
from simulator.scenario.schema import Scenario

DEFAULT_PATHS = ("scenarios",)


@dataclass(frozen=True)
class Target:
    """A scenario file to check: its validated scenario and where its baseline is (or goes)."""

    file: Path
    scenario: Scenario
    baseline: Path
    inputs: tuple[Path, ...] = ()  # the scenario file and the files it read, resolved

    @property
    def name(self) -> str:
        return self.scenario.name


def _files(
    paths: Sequence[str | os.PathLike[str]],
) -> list[tuple[Path, bool, LeasesimError | None]]:
    """(file, named on its own, why it is refused) for every path, folders expanded (entries
    leaving the folder refused: `listed_scenarios`), each file once."""
    found: list[tuple[Path, bool, LeasesimError | None]] = []
    seen: set[Path] = set()
    for path in map(Path, paths):
        entries: list[tuple[Path, bool, LeasesimError | None]]
        if path.is_dir():
            files = listed_scenarios(path)
            if not files:
                raise LeasesimError(USAGE_ERROR, f"{path}: the folder holds no *.yaml or *.yml "
                                    "scenario files.")  # fmt: skip
            entries = [(f, False, refused) for f, refused in files]
        else:
            entries = [(path, True, None)]
        for file, named, refused in entries:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                found.append((file, named, refused))
    return found


def find(
    paths: Sequence[str | os.PathLike[str]] = DEFAULT_PATHS,
    overrides: Sequence[str] = (),
    update: bool = False,
) -> tuple[list[Target], list[Path]]:
    """The scenario files to check and the files of the folders that were left out (nothing to
    check in them). Invalid files raise one error listing every problem of every file."""
    targets: list[Target] = []
    skipped: list[Path] = []
    errors: list[tuple[Path, LeasesimError]] = []
    files = _files(paths or DEFAULT_PATHS)
    for file, named, refused in files:
        try:
            if refused is not None:
                raise refused
            loaded = load_scenario_with_source(file, overrides=overrides)
            scenario = loaded.scenario
            inputs = (file.resolve(), *loaded.source.inputs)
            baseline = _baseline(file, loaded, {f.resolve() for f, _, _ in files} | set(inputs),
                                 update)  # fmt: skip
        except LeasesimError as err:
            errors.append((file, err))
            continue
        target = Target(file, scenario, baseline, inputs)
        if scenario.expect is not None or target.baseline.exists() or (update and named):
            targets.append(target)
        elif named:
            raise LeasesimError(
                USAGE_ERROR,
                f"{file}: nothing to check: the scenario has no expect: block and no baseline "
                f"({target.baseline}). Add an expect: block (docs/scenarios.md), or record a "
                f"baseline with `leasesim check --update-baseline {file}`.",
            )  # fmt: skip
        else:
            skipped.append(file)
    if errors:
        raise _invalid(errors, len(errors) + len(targets) + len(skipped))
    return targets, skipped


def _baseline(file: Path, loaded: LoadedScenario, inputs: set[Path], update: bool) -> Path:
    """Where the scenario's baseline is, checked: a .json file in the scenario's folder or below
    (unless --allow-outside), not a file the check reads when it is to be written."""
    path = baseline_path(file, loaded.scenario)
    named = loaded.scenario.check.baseline
    shown = named or str(path.relative_to(file.parent))

    def refuse(message: str) -> LeasesimError:
        at = ("check", "baseline")
        detail = loaded.source.detail(at, "check.baseline", message)
        if not named:
            detail.update(field=None, line=None)
        return LeasesimError(FILE_ERROR, f"{file}: the baseline {shown!r} cannot be used.",
                             [detail])  # fmt: skip

    if path.suffix != ".json":
        raise refuse(f"the baseline {shown!r} must be a .json file: leasesim writes baselines "
                     "as JSON, and will not write them over files of other kinds.")  # fmt: skip
    try:
        resolved = confine(shown, file.parent)
    except FileRefused as exc:
        raise refuse(f"the baseline {shown!r} {exc.reason}.") from None
    if update and resolved in inputs:
        raise refuse(f"the baseline {shown!r} is a file this check reads (a scenario file or a "
                     "CSV file it names); --update-baseline never writes over an input. Name a "
                     "new .json file in check.baseline.")  # fmt: skip
    return path


def _invalid(errors: list[tuple[Path, LeasesimError]], total: int) -> LeasesimError:
    """One error for every invalid file: each file's problems, each with its file."""
    if len(errors) == 1:
        return errors[0][1]
    details: list[dict[str, Any]] = []
    for file, err in errors:
        entries = err.details or [{"field": None, "message": err.message, "line": None}]
        details += [{"code": err.code, **e, "file": e.get("file") or str(file)} for e in entries]
    codes = {err.code for _, err in errors}
    message = (f"{len(errors)} of {total} scenario files are invalid: "
               f"{', '.join(str(f) for f, _ in errors)}.")  # fmt: skip
    return LeasesimError(codes.pop() if len(codes) == 1 else VALIDATION_ERROR, message, details)
