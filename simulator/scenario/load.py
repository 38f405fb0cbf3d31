"""Scenario files in, a validated `Scenario` out, with errors that name the file, line and field.

The steps, in order:

1. read the file defensively (exists, is a file, <= 5 MB, UTF-8 text, not empty);
2. compose the YAML with a safe loader into a node tree and check it (no alias bombs, no recursive
   aliases, no duplicate keys, keys are plain names), then build the plain data and a map from
   every field's path to its line;
3. apply `--set PATH=VALUE` overrides to the plain data, remembering which paths they wrote;
4. validate with the pydantic schema, translating each error into one paragraph that names the
   field as a user would (`fleet[etl].faults.pause.duration`), its line or override, and what is
   allowed;
5. fill empirical distributions, arrival profiles and traces from their CSV files.

The steps live in `files` (1, 2), `overrides` (3), `validation` (4), `empirical` and
`arrival_files` (5). Nothing here holds state between calls: every load builds its own
`SourceMap`; only the warnings of a loaded scenario object are kept, while it lives, so that they
are issued once.
"""

from __future__ import annotations

import os
import warnings as _python_warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from simulator.errors import FILE_ERROR, VALIDATION_ERROR, LeasesimError, ScenarioWarning
from simulator.scenario.arrival_files import fill_arrival_files
from simulator.scenario.empirical import fill_empirical
from simulator.scenario.files import outside_allowed, parse_yaml, plain_copy, read_text
from simulator.scenario.overrides import apply_override, in_file, parse_override
from simulator.scenario.paths import alternatives, human_path, shape_of, step
from simulator.scenario.scalars import ambiguous_values, odd_line_break
from simulator.scenario.schema import Scenario
from simulator.scenario.source import DataPath, SourceMap
from simulator.scenario.validation import translate
from simulator.scenario.warnings import warnings


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with the map of where its values came from (for warnings)."""

    scenario: Scenario
    source: SourceMap

    def warnings(self) -> list[ScenarioWarning]:
        """The scenario's warnings, each with its file and line."""
        return warnings(self.scenario, self.source)


# --- public API -----------------------------------------------------------------------------------


def load_scenario(
    path: str | os.PathLike[str], overrides: Sequence[str] = (), *, allow_outside: bool = False
) -> Scenario:
    """Read, override, validate and complete the scenario file at `path`.

    Files the scenario names (CSV samples, profiles, traces) must be in its folder or below
    unless `allow_outside` (the CLI's --allow-outside; docs/scenarios.md, "Files a scenario names").

    Raises LeasesimError (FILE_ERROR, USAGE_ERROR or VALIDATION_ERROR) naming file, line and field.
    The scenario's warnings (the ones `leasesim validate` prints, with file and line) are issued
    as Python warnings of category `ScenarioWarning`, once: running the returned scenario does not
    repeat them. `scenario_warnings(scenario)` lists them.
    """
    loaded = load_scenario_with_source(path, overrides, allow_outside=allow_outside)
    remember(loaded)
    announce(loaded.scenario, stacklevel=2)
    return loaded.scenario


# --- warnings reach Python users: once per scenario object ---------------------------------------


@dataclass
class _Noted:
    ref: weakref.ref[Scenario]
    notes: list[ScenarioWarning]
    announced: bool = False


_NOTED: dict[int, _Noted] = {}  # id(scenario) -> its warnings, while the scenario lives


def _noted(scenario: Scenario) -> _Noted | None:
    entry = _NOTED.get(id(scenario))
    return entry if entry is not None and entry.ref() is scenario else None


def _note(scenario: Scenario, notes: list[ScenarioWarning]) -> _Noted:
    key = id(scenario)

    def forget(_: object, key: int = key) -> None:
        _NOTED.pop(key, None)

    entry = _NOTED[key] = _Noted(weakref.ref(scenario, forget), notes)
    return entry


def remember(loaded: LoadedScenario) -> None:
    """Keep a loaded scenario's warnings (with file and line) for `scenario_warnings`/`announce`."""
    if _noted(loaded.scenario) is None:
        _note(loaded.scenario, loaded.warnings())


def scenario_warnings(scenario: Scenario) -> list[ScenarioWarning]:
    """The warnings of a scenario: with file and line if it was loaded from a file."""
    entry = _noted(scenario)
    return list(entry.notes) if entry is not None else warnings(scenario)


def announce(scenario: Scenario, stacklevel: int = 1) -> list[ScenarioWarning]:
    """Issue the scenario's warnings as Python warnings (`ScenarioWarning`), unless they were
    issued for this scenario object already; return them either way.

    `stacklevel` 1 points the warnings at the caller of `announce`, 2 at its caller, and so on.
    """
    entry = _noted(scenario) or _note(scenario, warnings(scenario))  # not from a file: no line
    if not entry.announced:
        entry.announced = True
        for note in entry.notes:
            _python_warnings.warn(note, stacklevel=stacklevel + 1)
    return list(entry.notes)


def load_scenario_dict(
    data: dict[str, Any],
    source: str = "<dict>",
    overrides: Sequence[str] = (),
    base_dir: str | os.PathLike[str] | None = None,
) -> Scenario:
    """Validate a scenario given as plain data (e.g. a manifest's `scenario` entry).

    `source` names it in messages; empirical CSV files are resolved against `base_dir` (default:
    the current folder). `data` is not modified.
    """
    return load_dict_with_source(data, source, overrides, base_dir).scenario


def load_scenario_with_source(
    path: str | os.PathLike[str], overrides: Sequence[str] = (), *, allow_outside: bool = False
) -> LoadedScenario:
    """Like `load_scenario`, but also returns where each value came from (for warnings)."""
    file = str(path)
    text = read_text(Path(path), file)
    _check_line_breaks(text, file)
    data, lines = parse_yaml(text, file)
    source = SourceMap(file=file, base_dir=Path(path).resolve().parent, lines=lines)
    with outside_allowed(allow_outside):
        return _complete(data, source, overrides)


def load_dict_with_source(
    data: dict[str, Any],
    source: str = "<dict>",
    overrides: Sequence[str] = (),
    base_dir: str | os.PathLike[str] | None = None,
) -> LoadedScenario:
    """Like `load_scenario_dict`, but also returns the (line-less) source map."""
    if not isinstance(data, dict):
        raise LeasesimError(
            VALIDATION_ERROR,
            f"{source}: a scenario must be a mapping of fields (name, duration, fleet, workload, "
            f"...), not {shape_of(data)}.",
        )
    where = SourceMap(file=source, base_dir=Path(base_dir) if base_dir else Path.cwd())
    return _complete(plain_copy(data), where, overrides)


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as JSON-safe data (seconds and per-second rates), for run manifests.

    Loading it back with `load_scenario_dict` gives an equal scenario: empirical samples are kept
    inline in `values`, so the CSV file is not needed again.
    """
    return scenario.model_dump(mode="json")


def _complete(data: dict[str, Any], source: SourceMap, overrides: Sequence[str]) -> LoadedScenario:
    """Apply overrides, validate and fill empirical samples."""
    if isinstance(overrides, str):  # a lone "a=b" would otherwise be read one character at a time
        overrides = (overrides,)
    for text in overrides:
        try:
            segments, value = parse_override(text)
            apply_override(data, segments, value, text, source)
        except LeasesimError as err:
            raise in_file(err, source.file) from None
    _refuse_ambiguous(data, source)
    for key in [k for k in data if isinstance(k, str) and k.startswith(EXTENSION_PREFIX)]:
        del data[key]  # a holder of YAML anchors (docs/scenarios.md, "Anchors and merge keys")
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, data, source) from None
    scenario = fill_empirical(scenario, data, source)
    scenario = fill_arrival_files(scenario, data, source)
    return LoadedScenario(scenario, source)


EXTENSION_PREFIX = "x-"  # top-level keys the loader ignores: `x-defaults: &defaults {...}`


def _check_line_breaks(text: str, file: str) -> None:
    """Refuse line breaks other than LF and CRLF: YAML breaks lines at a lone CR (old Mac files),
    NEL, U+2028 and U+2029, most editors and tools do not, so what the file says would differ
    from what it shows (a setting after a lone CR looks like part of the comment before it)."""
    found = odd_line_break(text)
    if found is None:
        return
    line, what = found
    message = (
        f"{file!r}, line {line}: the file contains {what}, which YAML reads as a line break but "
        "most editors and tools do not, so the scenario would not say what it shows. Save the "
        "file with LF (Unix) or CRLF (Windows) line endings."
    )
    detail = {"field": None, "message": message, "file": file, "line": line}
    raise LeasesimError(FILE_ERROR, message, [detail])


def _refuse_ambiguous(data: dict[str, Any], source: SourceMap) -> None:
    """Refuse values that YAML 1.1 and 1.2 read differently (010, 0x10, 1:30:00; see `scalars`),
    each named by field and line (or --set), the one where it is written first."""
    first: dict[int, tuple[int, DataPath, Any]] = {}  # merged values appear twice: report once
    for path, value in ambiguous_values(data):
        line = source.locate(path)[0] or 0
        if id(value) not in first or line < first[id(value)][0]:
            first[id(value)] = (line, path, value)
    if not first:
        return
    details = [
        source.detail(path, human_path(path, data), value.problem + _text_hint(path, data))
        for _, path, value in sorted(first.values(), key=lambda item: item[0])
    ]
    n = len(details)
    message = (
        f"{source.file} is not a valid scenario: {n} problem{'s' if n != 1 else ''} found, "
        "listed below with the field and the line (or --set) to fix."
    )
    raise LeasesimError(VALIDATION_ERROR, message, details)


def _text_hint(path: DataPath, data: dict[str, Any]) -> str:
    """' Quote it ...' for a look-alike written where text belongs (a name, a description)."""
    tp: Any = Scenario
    node: Any = data
    for element in path:
        tp = step(tp, element, node)
        node = node[element]
    return " If you meant it as text, put it in quotes." if str in alternatives(tp) else ""
