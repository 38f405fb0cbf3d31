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
5. fill empirical distributions from their CSV files.

Nothing here holds state between calls: every load builds its own `SourceMap`.
"""

from __future__ import annotations

import copy
import csv
import difflib
import math
import os
import types
import warnings as _python_warnings
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from simulator.errors import (
    FILE_ERROR,
    USAGE_ERROR,
    VALIDATION_ERROR,
    LeasesimError,
    ScenarioWarning,
)
from simulator.model.fast import fallbacks as fast_mode_fallbacks
from simulator.profiles import shadowed as profile_shadowed
from simulator.scenario.leases import timeouts as lease_timeouts
from simulator.scenario.schema import (
    Empirical,
    Explicit,
    Exponential,
    Fixed,
    Lognormal,
    Periodic,
    Poisson,
    Scenario,
    Uniform,
    Workload,
)
from simulator.units import UnitError, format_duration, parse_duration

DataPath = tuple[str | int, ...]  # a position in the plain data: keys and list indices

MAX_FILE_BYTES = 5 * 1024 * 1024  # a scenario is a page of settings; 5 MB is already absurd
MAX_CSV_BYTES = 50 * 1024 * 1024  # empirical samples may be long, but not unbounded
MAX_DEPTH = 64  # scenario files nest about 6 deep; deeper is a mistake or an attack
ALIAS_BUDGET = 100_000  # nodes that aliases may add by expansion (stops "billion laughs")

# libyaml's parser when available: same safe constructor as yaml.SafeLoader (plain data only, no
# tags that build objects), but fast on large files and with a hard limit on flow nesting.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_Z95 = 1.6448536269514722  # standard normal 95th percentile: p95 = median * exp(_Z95 * sigma)


# --- where values came from -----------------------------------------------------------------------


@dataclass
class SourceMap:
    """Where each value of a scenario came from: a line of `file`, or a `--set` override.

    `lines` maps a path in the plain data, e.g. ("fleet", 0, "faults", "pause", "duration"), to the
    1-based line of its key (or list item); `overrides` maps the paths `--set` wrote to the
    override's text. `base_dir` is where relative CSV paths are resolved.
    """

    file: str
    base_dir: Path
    lines: dict[DataPath, int] = field(default_factory=dict)
    overrides: dict[DataPath, str] = field(default_factory=dict)

    def locate(self, path: DataPath) -> tuple[int | None, str | None]:
        """(line, override) of the value at `path`, or of its nearest ancestor we know about.

        An override anywhere above the path wins: the file's lines below it were replaced.
        """
        for n in range(len(path), -1, -1):
            if path[:n] in self.overrides:
                return None, self.overrides[path[:n]]
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]], None
        return None, None

    def detail(self, path: DataPath, field_name: str, message: str) -> dict[str, Any]:
        """One entry of `LeasesimError.details` for the value at `path`."""
        line, override = self.locate(path)
        out: dict[str, Any] = {"field": field_name, "message": message, "file": self.file}
        out["line"] = line
        if override is not None:
            out["override"] = override
        return out


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with the map of where its values came from (for warnings)."""

    scenario: Scenario
    source: SourceMap

    def warnings(self) -> list[ScenarioWarning]:
        """The scenario's warnings, each with its file and line."""
        return warnings(self.scenario, self.source)


# --- public API -----------------------------------------------------------------------------------


def load_scenario(path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> Scenario:
    """Read, override, validate and complete the scenario file at `path`.

    Raises LeasesimError (FILE_ERROR, USAGE_ERROR or VALIDATION_ERROR) naming file, line and field.
    The scenario's warnings (the ones `leasesim validate` prints, with file and line) are issued
    as Python warnings of category `ScenarioWarning`, once: running the returned scenario does not
    repeat them. `scenario_warnings(scenario)` lists them.
    """
    loaded = load_scenario_with_source(path, overrides)
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
    path: str | os.PathLike[str], overrides: Sequence[str] = ()
) -> LoadedScenario:
    """Like `load_scenario`, but also returns where each value came from (for warnings)."""
    file = str(path)
    text = _read_text(Path(path), file)
    data, lines = _parse_yaml(text, file)
    source = SourceMap(file=file, base_dir=Path(path).resolve().parent, lines=lines)
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
            f"...), not {_kind(data)}.",
        )
    where = SourceMap(file=source, base_dir=Path(base_dir) if base_dir else Path.cwd())
    return _complete(_plain_copy(data), where, overrides)


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario as JSON-safe data (seconds and per-second rates), for run manifests.

    Loading it back with `load_scenario_dict` gives an equal scenario: empirical samples are kept
    inline in `values`, so the CSV file is not needed again.
    """
    return scenario.model_dump(mode="json")


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """`PATH=VALUE` -> (path segments, value). VALUE is read as a YAML scalar or flow value."""
    path_text, sep, value_text = text.partition("=")
    if not sep:
        raise _usage_error(
            text,
            f"--set expects PATH=VALUE (for example --set service.lease_reading=5min or "
            f"--set fleet.etl.runners=20), but got {text!r}, which has no '='.",
        )
    segments = tuple(part.strip() for part in path_text.strip().split("."))
    if not all(segments):
        raise _usage_error(
            text,
            f"--set {text}: the path {path_text.strip()!r} has an empty part; write it as names "
            "joined by dots, such as fleet.etl.progress_interval.",
        )
    try:
        value = yaml.load(value_text, Loader=_Loader)  # a safe loader: see _Loader
    except yaml.YAMLError as exc:
        raise _usage_error(
            text,
            f"--set {text}: the value {value_text!r} is not a valid YAML value "
            f"({_yaml_problem(exc)}); quote it, or write a flow value such as "
            "{dist: fixed, value: 3s}.",
        ) from None
    return segments, value


# --- step 1: reading the file ---------------------------------------------------------------------


def _read_bytes(path: Path, file: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file; FILE_ERROR if it is not one."""
    if not path.exists():
        hint = ""
        folder = path.parent
        if folder.is_dir():
            names = sorted(p.name for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
            close = difflib.get_close_matches(path.name, names, n=1, cutoff=0.75)
            if close:
                hint = f" Did you mean {str(folder / close[0])!r}?"
            elif names:
                hint = f" Scenario files in {str(folder)!r}: {', '.join(names)}."
        raise _file_error(file, f"the scenario file {file!r} does not exist.{hint}")
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        listing = f" It contains: {', '.join(names)}." if names else ""
        raise _file_error(file, f"{file!r} is a folder, not a scenario file.{listing}")
    if not path.is_file():  # a device or a pipe: reading it could block or never end
        raise _file_error(file, f"{file!r} is not a regular file.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _file_error(
            file,
            f"{file!r} is {size / 1e6:.1f} MB; scenario files are limited to "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB. Put long samples in a CSV file and refer "
            "to it with {dist: empirical, file: ..., column: ...}.",
        )
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)  # bounded: the file may grow after the stat


def _read_text(path: Path, file: str) -> str:
    """The file's text, or a FILE_ERROR that says exactly what is wrong with it."""
    try:
        raw = _read_bytes(path, file)
    except OSError as exc:
        raise _file_error(file, f"{file!r} cannot be read: {exc.strerror or exc}.") from None
    if len(raw) > MAX_FILE_BYTES:
        raise _file_error(file, f"{file!r} is larger than the 5 MB limit for scenario files.")
    if b"\x00" in raw:
        raise _file_error(
            file, f"{file!r} is a binary file, not a YAML scenario (it contains NUL bytes)."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _file_error(
            file,
            f"{file!r} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} cannot be "
            "decoded. Save the file as UTF-8.",
            line,
        ) from None
    if not text.strip():
        raise _file_error(
            file, f"{file!r} is empty; a scenario needs at least duration, fleet and workload."
        )
    return text


def _usage_error(override: str, message: str) -> LeasesimError:
    """A malformed or impossible `--set`; `override` is its text."""
    detail = {"field": None, "message": message, "file": None, "line": None, "override": override}
    return LeasesimError(USAGE_ERROR, message, [detail])


def _in_file(err: LeasesimError, file: str) -> LeasesimError:
    """A `--set` error that also names the scenario file it was applied to."""
    message = f"{file}: {err.message}"
    details = [{**d, "file": file, "message": message} for d in err.details]
    return LeasesimError(err.code, message, details)


def _file_error(file: str, message: str, line: int | None = None) -> LeasesimError:
    """A FILE_ERROR whose one paragraph names the file and, when known, the line."""
    if line is not None and f"line {line}" not in message:
        message = f"{message.rstrip('.')} (line {line})."
    return LeasesimError(
        FILE_ERROR, message, [{"field": None, "message": message, "file": file, "line": line}]
    )


# --- step 2: YAML to plain data and line numbers --------------------------------------------------


def _parse_yaml(text: str, file: str) -> tuple[dict[str, Any], dict[DataPath, int]]:
    """Plain data and the line of every key and list item, from a YAML document."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise _file_error(
                file, f"{file!r} holds only comments; a scenario needs duration, fleet, workload."
            )
        _check_nodes(root, file)
        data = loader.construct_document(root)
        lines: dict[DataPath, int] = {(): root.start_mark.line + 1}
        _record_lines(root, (), lines)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        where = f" (line {line})" if line else ""
        raise _file_error(
            file, f"{file!r} is not valid YAML{where}: {_yaml_problem(exc)}.", line
        ) from None
    except RecursionError:  # the pure-Python parser on very deep nesting
        raise _file_error(file, f"{file!r} is nested too deeply to be a scenario.") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise _file_error(
            file,
            f"{file!r} must be a mapping of fields at the top level (name:, duration:, fleet:, "
            f"workload:, ...), but it is {_kind(data)}.",
            lines[()],
        )
    return data, lines


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """The readable part of a YAML error, without its multi-line excerpt of the file."""
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"{problem} ({context})" if context else str(problem)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _check_nodes(root: yaml.Node, file: str) -> None:
    """Refuse node trees that are hostile or ambiguous before anything is built from them.

    Aliases make the tree a graph: a few lines can expand to billions of nodes, or to a cycle. We
    walk it as it would expand, with a budget. Duplicate keys are refused because YAML keeps the
    last silently, and keys like `on`/`yes`/`1` because YAML 1.1 reads them as booleans/numbers.
    """
    distinct: set[int] = set()
    on_path: set[int] = set()
    expanded = 0

    def fail(node: yaml.Node, message: str) -> LeasesimError:
        line = node.start_mark.line + 1
        return _file_error(file, f"{file!r}, line {line}: {message}", line)

    def visit(node: yaml.Node, depth: int) -> None:
        nonlocal expanded
        if depth > MAX_DEPTH:
            raise fail(node, f"values are nested more than {MAX_DEPTH} levels deep.")
        if id(node) in on_path:
            raise fail(node, "a YAML alias refers to a value that contains it (a recursive alias).")
        expanded += 1
        distinct.add(id(node))
        if expanded - len(distinct) > ALIAS_BUDGET:
            raise fail(
                node,
                f"YAML aliases (*name) expand to more than {ALIAS_BUDGET} repeated values; this "
                "looks like an alias bomb. Write the values out, or use fewer nested aliases.",
            )
        if isinstance(node, yaml.MappingNode):
            on_path.add(id(node))
            seen: dict[str, int] = {}
            for key, value in node.value:
                if key.tag == _MERGE_TAG:
                    visit(value, depth + 1)
                    continue
                if not isinstance(key, yaml.ScalarNode) or key.tag != _STR_TAG:
                    shown = key.value if isinstance(key, yaml.ScalarNode) else "a non-scalar key"
                    raise fail(
                        key,
                        f"the key {shown!r} is not a plain name (YAML reads it as "
                        f"{key.tag.rsplit(':', 1)[-1]}); field names are words such as "
                        "'duration'. Quote it if you meant text.",
                    )
                if key.value in seen:
                    raise fail(
                        key,
                        f"the key {key.value!r} appears twice in the same section (first on line "
                        f"{seen[key.value]}); YAML would silently keep only the last one.",
                    )
                seen[key.value] = key.start_mark.line + 1
                visit(value, depth + 1)
            on_path.discard(id(node))
        elif isinstance(node, yaml.SequenceNode):
            on_path.add(id(node))
            for item in node.value:
                visit(item, depth + 1)
            on_path.discard(id(node))

    visit(root, 0)


def _record_lines(node: yaml.Node, path: DataPath, lines: dict[DataPath, int]) -> None:
    """Fill `lines` with the line of every key and list item below `node`.

    Runs after construction, when merge keys (<<) are already flattened into the mappings; a later
    duplicate of a merged key overwrites the earlier line, just as it overwrites the value.
    """
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            lines[child] = key.start_mark.line + 1
            _record_lines(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _record_lines(item, child, lines)


def _plain_copy(value: Any) -> Any:
    """A deep copy of plain data with tuples turned into lists (so overrides can edit it)."""
    if isinstance(value, dict):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_copy(item) for item in value]
    return value


# --- steps 3 to 5 ---------------------------------------------------------------------------------


def _complete(data: dict[str, Any], source: SourceMap, overrides: Sequence[str]) -> LoadedScenario:
    """Apply overrides, validate and fill empirical samples."""
    if isinstance(overrides, str):  # a lone "a=b" would otherwise be read one character at a time
        overrides = (overrides,)
    for text in overrides:
        try:
            segments, value = parse_override(text)
            _apply_override(data, segments, value, text, source)
        except LeasesimError as err:
            raise _in_file(err, source.file) from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, data, source) from None
    scenario = _fill_empirical(scenario, data, source)
    return LoadedScenario(scenario, source)


# --- walking the schema alongside the data --------------------------------------------------------


def _alternatives(tp: Any) -> list[Any]:
    """The types a value may have, Annotated and None stripped: Optional[A | B] -> [A, B]."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        out: list[Any] = []
        for arg in get_args(tp):
            if arg is not type(None):
                out.extend(_alternatives(arg))
        return out
    return [tp]


def _models(tp: Any) -> list[type[BaseModel]]:
    return [a for a in _alternatives(tp) if isinstance(a, type) and issubclass(a, BaseModel)]


def _tag(model: type[BaseModel]) -> tuple[str, tuple[str, ...]] | None:
    """(discriminator, its values) of a member of a discriminated union, e.g. ("dist", ...)."""
    for key in ("dist", "kind"):
        info = model.model_fields.get(key)
        if info is not None and get_origin(info.annotation) is Literal:
            return key, get_args(info.annotation)
    return None


def _step(tp: Any, element: str | int, data: Any = None) -> Any:
    """The type found one step below `tp` at `element` (a field, a list index or a union tag).

    Pydantic's error locations include the tag of a discriminated union ("lognormal"); paths in
    the data do not, so for them the member is chosen by the data's own tag (`data`).
    """
    if tp is None:
        return None
    if isinstance(element, int):
        for alt in _alternatives(tp):
            if get_origin(alt) is tuple:
                return get_args(alt)[0]
        return None
    models = _models(tp)
    if len(models) > 1:
        for model in models:
            tag = _tag(model)
            if tag and element in tag[1]:
                return model  # the element was the tag itself
        if isinstance(data, dict):
            models = [m for m in models if (tag := _tag(m)) and data.get(tag[0]) in tag[1]]
    if len(models) == 1 and element in models[0].model_fields:
        return models[0].model_fields[element].annotation
    return None


def _schema_at(loc: Sequence[str | int]) -> Any:
    """The type at a pydantic error location (tags included), or None if it leaves the schema."""
    tp: Any = Scenario
    for element in loc:
        tp = _step(tp, element)
    return tp


def _union_tags(tp: Any) -> list[str]:
    """All tags of a discriminated union type, e.g. ['fixed', 'exponential', ...]."""
    return [value for m in _models(tp) if (tag := _tag(m)) for value in tag[1]]


# --- naming fields as a user would ----------------------------------------------------------------


def _human(path: Sequence[str | int], data: Any) -> str:
    """`fleet[etl].faults.pause.duration` from ("fleet", 0, "faults", "pause", "duration")."""
    parts: list[str] = []
    node = data
    for element in path:
        if isinstance(element, int):
            label: str | int = element
            item = node[element] if isinstance(node, list) and 0 <= element < len(node) else None
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
                label = item["name"]
            parts.append(f"[{label}]")
            node = item
        else:
            parts.append(f".{element}" if parts else str(element))
            node = node.get(element) if isinstance(node, dict) else None
    return "".join(parts)


def _kind(value: Any) -> str:
    """'a list', 'the number 3', ... for messages about a value of the wrong shape."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"the text {_show(value)}"


def _show(value: Any) -> str:
    """A short rendering of a value for a message, as the user wrote it."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _did_you_mean(word: Any, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _quoted_list(values: Sequence[Any]) -> str:
    return ", ".join(repr(v) for v in values)


# --- step 3: overrides ----------------------------------------------------------------------------


def _apply_override(
    data: dict[str, Any],
    segments: tuple[str, ...],
    value: Any,
    text: str,
    source: SourceMap,
) -> None:
    """Write `value` at `segments` in `data`; record the written path as coming from `--set`.

    List entries (fleet, workload) are selected by name, or by index when no name matches. A
    missing section is created only when the schema says it is a section (e.g. `service`,
    `faults.crash`), so a typo in a section name is an error here rather than a silent new key.
    """
    node: Any = data
    tp: Any = Scenario
    path: list[str | int] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        here = _human(path, data) or "the top level"
        if isinstance(node, list):
            index = _select_entry(node, segment)
            if index is None:
                names = [_entry_label(item, n) for n, item in enumerate(node)]
                raise _usage_error(
                    text,
                    f"--set {text}: {here} has no entry named {segment!r}; its entries are "
                    f"{_quoted_list(names)}.{_did_you_mean(segment, [str(n) for n in names])}",
                )
            path.append(index)
            if last:
                node[index] = copy.deepcopy(value)
            else:
                tp, node = _step(tp, index), node[index]
            continue
        if not isinstance(node, dict):
            raise _usage_error(
                text,
                f"--set {text}: {here} is a single value ({_show(node)}), not a section, so it has "
                f"no {segment!r}. Set it whole, e.g. --set {'.'.join(segments[:i])}=VALUE.",
            )
        child_tp = _step(tp, segment, node)
        if last:
            node[segment] = copy.deepcopy(value)
            path.append(segment)
            break
        if not isinstance(node.get(segment), dict | list):
            models = _models(child_tp)
            if len(models) != 1 or node.get(segment) is not None:
                raise _no_section(text, segments, i, here, node, tp, child_tp)
            node[segment] = {}  # e.g. `service:` left out of the file: start from the defaults
            source.overrides.setdefault((*path, segment), text)
        path.append(segment)
        tp, node = child_tp, node[segment]
    source.overrides[tuple(path)] = text


def _no_section(
    text: str,
    segments: tuple[str, ...],
    i: int,
    here: str,
    node: dict[str, Any],
    tp: Any,
    child_tp: Any,
) -> LeasesimError:
    """The error for an override that descends into a section that is not there."""
    segment = segments[i]
    label = segment if here == "the top level" else f"{here}.{segment}"
    if child_tp is not None:  # a real field, but a scalar or a distribution given as one value
        current = node.get(segment)
        shown = "not set in the file" if current is None else f"the single value {_show(current)}"
        example = "VALUE"
        if len(_models(child_tp)) > 1:  # a distribution or arrival process
            example = "'{dist: lognormal, median: 10m, p95: 40m}'"
            if any(_tag(m) and _tag(m)[0] == "kind" for m in _models(child_tp)):
                example = "'{kind: poisson, rate: 120/h}'"
        return _usage_error(
            text,
            f"--set {text}: {label} is {shown}, so it has no parts to change one at a "
            f"time. Set it whole, e.g. --set {'.'.join(segments[: i + 1])}={example}.",
        )
    models = _models(tp)
    known = sorted(set(node) | set(models[0].model_fields if len(models) == 1 else ()))
    return _usage_error(
        text,
        f"--set {text}: {here} has no section {segment!r}; it has: {', '.join(known)}."
        f"{_did_you_mean(segment, known)}",
    )


def _select_entry(items: list[Any], segment: str) -> int | None:
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == segment:
            return index
    if segment.isdigit() and int(segment) < len(items):
        return int(segment)
    return None


def _entry_label(item: Any, index: int) -> str | int:
    if isinstance(item, dict) and isinstance(item.get("name"), str):
        return item["name"]
    return index


# --- step 4: validation errors in the user's terms ------------------------------------------------


def _translate(exc: ValidationError, data: dict[str, Any], source: SourceMap) -> LeasesimError:
    """One detail per pydantic error, each naming field, line (or override) and what is allowed."""
    errors = list(exc.errors())
    locs = [_full_loc(e) for e in errors]
    details: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for error, loc in zip(errors, locs, strict=True):
        # Pydantic adds "tuple should have at least 1 item" when every entry failed: noise.
        if error["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        ):
            continue
        detail = _detail(error, loc, data, source)
        key = (detail["field"], detail["message"])
        if key not in seen:
            seen.add(key)
            details.append(detail)
    details.sort(key=lambda d: (d["line"] is None, d["line"] or 0))
    n = len(details)
    message = (
        f"{source.file} is not a valid scenario: {n} problem{'s' if n != 1 else ''} found, "
        "listed below with the field and the line (or --set) to fix."
    )
    return LeasesimError(VALIDATION_ERROR, message, details)


def _full_loc(error: Any) -> tuple[str | int, ...]:
    loc = tuple(error["loc"])
    if error["type"] == "scenario_rule":  # a cross-field rule says which field to blame
        loc += tuple((error.get("ctx") or {}).get("at", ()))
    return loc


def _resolve(loc: Sequence[str | int], data: Any) -> tuple[DataPath, DataPath, Any, bool]:
    """Follow a pydantic location through the data.

    Returns (path present in the data, the rest of the location, the value at the path, whether
    the whole location was found). Union tags in the location ("lognormal") are skipped, since
    the file does not name them as keys; a scalar written for a distribution (a fixed value) ends
    the walk, since the error is about that scalar.
    """
    node = data
    tp: Any = Scenario
    path: list[str | int] = []
    for i, element in enumerate(loc):
        is_tag = isinstance(element, str) and len(_models(tp)) > 1
        tp = _step(tp, element)
        if is_tag:
            continue
        in_dict = isinstance(node, dict) and isinstance(element, str) and element in node
        in_list = isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node)
        if in_dict or in_list:
            path.append(element)
            node = node[element]
        elif not isinstance(node, dict | list):
            return tuple(path), (), node, True
        else:
            return tuple(path), tuple(loc[i:]), node, False
    return tuple(path), (), node, True


def _detail(
    error: Any, loc: tuple[str | int, ...], data: dict[str, Any], source: SourceMap
) -> dict[str, Any]:
    """The readable form of one pydantic error."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    path, rest, value, found = _resolve(loc, data)
    field_name = _human((*path, *rest), data) or "the scenario"
    shown = _show(value) if found else _show(error.get("input"))

    if kind == "extra_forbidden":
        key = loc[-1]
        models = _models(_schema_at(loc[:-1]))
        allowed = list(models[0].model_fields) if len(models) == 1 else []
        parent = _human(path[:-1], data) or "the top level of a scenario"
        message = f"unknown field {key!r}.{_did_you_mean(key, allowed)}"
        if allowed:
            message += f" The fields allowed in {parent} are: {', '.join(allowed)}."
    elif kind == "missing":
        name = loc[-1]
        owner = _human(path, data) or "the scenario"
        models = _models(_schema_at(loc[:-1]))
        tag = _tag(models[0]) if len(models) == 1 else None
        what = owner
        if tag is not None:  # inside a distribution or arrival process: say which kind
            what = f"a {tag[1][0]} " + ("distribution" if tag[0] == "dist" else "arrival process")
        message = f"{what} needs {name!r}, which is missing; add `{name}:` to {owner}."
    elif kind == "literal_error":
        allowed = [a for alt in _alternatives(_schema_at(loc)) for a in get_args(alt)]
        message = (
            f"{shown} is not allowed here; use one of {ctx.get('expected') or allowed}."
            f"{_did_you_mean(value, [str(a) for a in allowed])}"
        )
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", "")).strip("'")
        tags = _union_tags(_schema_at(loc))
        fixed_hint = " A bare duration such as 30s means a fixed value." if disc == "dist" else ""
        if kind == "union_tag_invalid" and isinstance(value, dict):
            if disc in value:
                path = (*path, disc)
                field_name = _human(path, data)
            message = (
                f"{_show(ctx.get('tag'))} is not a known {disc}; use one of "
                f"{_quoted_list(tags)}.{_did_you_mean(ctx.get('tag'), tags)}{fixed_hint}"
            )
        else:
            message = (
                f"needs a `{disc}:` entry saying which kind it is: one of {_quoted_list(tags)}."
                f"{fixed_hint}"
            )
    elif kind == "scenario_rule":
        message = str(ctx.get("message", error["msg"]))
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"must be a section of fields (`key: value` lines), not {_kind(value)}."
    elif kind in ("tuple_type", "list_type"):
        message = f"must be a list (one `- ` item per entry), not {_kind(value)}."
    elif kind == "too_short" and not rest:
        message = "must list at least one entry."
    elif kind in ("bool_parsing", "bool_type"):
        message = f"must be true or false (got {shown})."
    elif kind in _NUMBER_KINDS:
        bounds = _bounds(loc)
        what = "a whole number" if kind.startswith("int") else "a number"
        message = f"must be {what}{' ' if bounds else ''}{' and '.join(bounds)} (got {shown})."
    elif kind == "value_error" and _negative_text(value if found else error.get("input")):
        # "-1h" fails to parse as a duration; saying so would hide the real problem: the sign.
        bounds = _bounds(loc)
        limit = " and ".join(bounds) if bounds else "0 or more"
        message = f"{shown} is negative; this field must be {limit} (e.g. 90s, 2m, 1h30m)."
    else:
        text = str(error["msg"]).removeprefix("Value error, ")
        text = text.replace("Input should be", "must be", 1)
        # Pydantic's bound messages never quote the input; our parsers' messages always do.
        quoted = shown in text and not kind.startswith(("greater_than", "less_than"))
        message = text if quoted else f"{text} (got {shown})"
        if not message.endswith((".", ")")):
            message += "."
    return source.detail(path, field_name, message)


_NUMBER_KINDS = ("int_parsing", "int_type", "int_from_float", "float_parsing", "float_type")


def _negative_text(value: Any) -> bool:
    """A duration or rate written as text with a minus sign, such as '-1h'."""
    return isinstance(value, str) and value.strip().startswith("-")


def _bounds(loc: Sequence[str | int]) -> list[str]:
    """The numeric limits of the field at a pydantic error location: ['>= 1'], ['from 0 to 1']."""
    if not loc:
        return []
    parent, last = _schema_at(loc[:-1]), loc[-1]
    metadata: list[Any] = []
    if isinstance(last, int):  # an item of a tuple field, e.g. times[1]
        for alt in _alternatives(parent):
            if get_origin(alt) is tuple and get_origin(get_args(alt)[0]) is Annotated:
                for extra in get_args(get_args(alt)[0])[1:]:
                    metadata += getattr(extra, "metadata", [extra])
    else:
        models = [m for m in _models(parent) if last in m.model_fields]
        if len(models) == 1:
            metadata = list(models[0].model_fields[last].metadata)
    found: dict[str, float] = {}
    for item in metadata:
        for attr in ("gt", "ge", "lt", "le"):
            limit = getattr(item, attr, None)
            if isinstance(limit, int | float) and not isinstance(limit, bool):
                found[attr] = limit
    if "ge" in found and "le" in found:
        return [f"from {found['ge']:g} to {found['le']:g}"]
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    return [f"{signs[attr]} {limit:g}" for attr, limit in found.items()]


# --- step 5: empirical distributions --------------------------------------------------------------


def _fill_empirical(scenario: Scenario, data: dict[str, Any], source: SourceMap) -> Scenario:
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
    field_name = _human(path, data)
    csv_path = source.base_dir / spec.file

    def error(code: str, at: str, message: str) -> LeasesimError:
        detail = source.detail((*path, at), f"{field_name}.{at}", message)
        summary = f"{source.file}: the empirical samples of {field_name} cannot be used."
        return LeasesimError(code, summary, [detail])

    if not csv_path.is_file():
        what = "does not exist"
        if csv_path.exists():
            what = "is a folder" if csv_path.is_dir() else "is not a regular file"
        raise error(
            FILE_ERROR,
            "file",
            f"the empirical sample file {spec.file!r} {what} (looked for {str(csv_path)!r}; "
            "relative paths are read from the scenario file's folder).",
        )
    try:
        with csv_path.open("rb") as handle:
            raw = handle.read(MAX_CSV_BYTES + 1)
        if len(raw) > MAX_CSV_BYTES:
            raise error(
                FILE_ERROR,
                "file",
                f"{spec.file!r} is larger than the "
                f"{MAX_CSV_BYTES // (1024 * 1024)} MB limit for empirical samples.",
            )
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(FILE_ERROR, "file", f"{spec.file!r} is not UTF-8 text.") from None
    except OSError as exc:
        raise error(
            FILE_ERROR, "file", f"{spec.file!r} cannot be read: {exc.strerror or exc}."
        ) from None

    rows: Iterator[list[str]] = csv.reader(text.splitlines())
    try:
        header = [name.strip() for name in next(rows)]
    except StopIteration:
        raise error(VALIDATION_ERROR, "file", f"{spec.file!r} is empty.") from None
    except csv.Error as exc:
        raise error(VALIDATION_ERROR, "file", f"{spec.file!r} is not valid CSV: {exc}.") from None
    if spec.column not in header:
        raise error(
            VALIDATION_ERROR,
            "column",
            f"{spec.file!r} has no column {spec.column!r}; its columns (first row) are "
            f"{_quoted_list(header)}.{_did_you_mean(spec.column, header)}",
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


# --- warnings -------------------------------------------------------------------------------------


def warnings(scenario: Scenario, source: SourceMap | None = None) -> list[ScenarioWarning]:
    """Valid but probably unintended settings, each with the field to look at.

    Pass the `SourceMap` from `load_scenario_with_source` to get file and line in each warning.
    """
    out: list[ScenarioWarning] = []

    def warn(path: DataPath, message: str) -> None:
        line = source.locate(path)[0] if source else None
        out.append(
            ScenarioWarning(
                _model_path(scenario, path), message, source.file if source else None, line
            )
        )

    service = scenario.service
    for gi, group in enumerate(scenario.fleet):
        served = [w for w in scenario.workload if w.worker_group == group.worker_group]
        if not served:
            warn(
                ("fleet", gi, "worker_group"),
                f"no workload submits to worker group {group.worker_group!r}, so fleet group "
                f"{group.name!r}'s runners will only poll.",
            )
        if group.faults.heartbeat_stall is not None and not service.heartbeat_renews_leases:
            # Runner heartbeats renew no lease here (reference 3.5): the stall only lowers the
            # heartbeat count. Likely meant: progress_stall (what heartbeat_stall used to do).
            warn(
                ("fleet", gi, "faults", "heartbeat_stall"),
                f"fleet group {group.name!r}'s heartbeat_stall stops only runner heartbeats "
                "(ReportTaskRunnerHeartbeat), which renew no lease while "
                "service.heartbeat_renews_leases is false: it has no effect on leases, only on "
                "heartbeat counts. For a runner whose progress reports stop while it works, use "
                "progress_stall.",
            )
        for workload in served:
            # The model's own lease lengths, so the warning and the simulation agree.
            ack, first, renew = lease_timeouts(service, workload)
            timeout = min(first, renew)  # every report must beat the stricter one
            reading = f"lease_reading {service.lease_reading!r}"
            interval, jitter = group.progress_interval, group.progress_jitter
            # The model's rule (`lease.LATE`): a report that lands at the deadline keeps the
            # lease; only a later one loses it. A call with latency lands after the interval
            # counted from the previous reply, so it is always later.
            latent = _has_latency(service)
            if interval > timeout or (interval == timeout and latent and not jitter):
                late = "every report will arrive after the lease has run out"
                if interval == timeout:
                    late = (
                        "its reports would land exactly at the lease deadline, but every call "
                        "takes service.call_latency, so each lands after it"
                    )
                warn(
                    ("fleet", gi, "progress_interval"),
                    f"fleet group {group.name!r} reports progress every "
                    f"{format_duration(interval)}, but an attempt of workload "
                    f"{workload.name!r} loses its lease after {format_duration(timeout)} of "
                    f"silence ({reading}): {late}: expect every attempt to be reassigned.",
                )
            elif interval == timeout and not jitter:
                warn(
                    ("fleet", gi, "progress_interval"),
                    f"fleet group {group.name!r} reports progress every "
                    f"{format_duration(interval)}, exactly the {format_duration(timeout)} "
                    f"lease of workload {workload.name!r} ({reading}): reports land exactly at "
                    "the lease deadline, which keeps the lease, so a healthy runner keeps its "
                    "tasks here; but there is no margin: any call latency, jitter, throttled "
                    "or lost report, or pause loses the lease.",
                )
            elif interval + jitter > timeout:
                warn(
                    ("fleet", gi, "progress_jitter"),
                    f"with progress_jitter, fleet group {group.name!r} reports up to "
                    f"{format_duration(interval + jitter)} apart, longer than the "
                    f"{format_duration(timeout)} lease of workload {workload.name!r} "
                    f"({reading}): some attempts will be reassigned although the runner is "
                    "healthy.",
                )
            late = share_above(group.startup, ack)
            if late is not None and late > 0.001:
                share = f"about {late:.0%} of the acknowledgements"
                if late > 0.999:
                    share = "every acknowledgement"
                warn(
                    ("fleet", gi, "startup"),
                    f"{share} of workload {workload.name!r} by fleet group "
                    f"{group.name!r} will come after the "
                    f"{format_duration(ack)} acknowledgement "
                    "timeout, so those attempts lose their lease before they report.",
                )

    for wi, workload in enumerate(scenario.workload):
        if workload.retry_delay < service.retry_delay_floor:
            warn(
                ("workload", wi, "retry_delay"),
                f"retry_delay {format_duration(workload.retry_delay)} is below the service's "
                f"retry_delay_floor {format_duration(service.retry_delay_floor)}; the floor "
                "will be used.",
            )
        if workload.attempt_timeout is not None:
            over = share_above(workload.duration, workload.attempt_timeout)
            if over is not None and over > 0.01:
                warn(
                    ("workload", wi, "attempt_timeout"),
                    f"about {over:.0%} of workload {workload.name!r}'s tasks need longer than "
                    f"attempt_timeout {format_duration(workload.attempt_timeout)}; those "
                    "attempts will fail however healthy the runner.",
                )

    by_group: dict[str, list[int]] = {}
    for wi, workload in enumerate(scenario.workload):
        by_group.setdefault(workload.worker_group, []).append(wi)
    for group_name, indices in by_group.items():
        threads = _count(
            sum(g.runners * g.threads for g in scenario.fleet if g.worker_group == group_name)
        )
        load = 0.0
        for wi in indices:
            w = scenario.workload[wi]
            mean = _mean(w.duration)
            if mean is None:
                load = math.nan
                break
            load += _arrival_rate(w, scenario.duration) * mean
        if threads and load / threads >= 1:
            warn(
                ("workload", indices[0], "arrivals"),
                f"worker group {group_name!r} is offered {load:.1f} threads' worth of work but "
                f"has {threads:,.0f} threads (utilisation {load / threads:.0%} before any "
                "reassignment): the queue will grow for the whole run.",
            )

    shadowed = profile_shadowed(service)
    if shadowed:
        warn(("service", "profile"), shadowed)

    throttle = service.throttle
    if throttle is not None:
        rates = call_rates(scenario)
        poll, progress = _per_s(rates.poll), _per_s(rates.progress)
        status, beats = _per_s(rates.status), _per_s(rates.heartbeat, 2)
        if rates.poll > throttle.poll:
            warn(
                ("service", "throttle", "poll"),
                f"the fleet's {rates.threads:,.0f} threads send about {poll} PollForTask "
                f"calls/s when up to {rates.idle:,.0f} of them are idle (each idle thread "
                f"long-polls once per {format_duration(service.long_poll)}, and again after each "
                f"task), above the account limit of {throttle.poll:g}/s: expect most polls "
                "throttled, back-off, and tasks waiting in the queue while threads are free.",
            )
        if rates.progress > throttle.progress:
            warn(
                ("service", "throttle", "progress"),
                f"with up to {rates.in_progress:,.0f} tasks in progress at once the fleet sends "
                f"about {progress} ReportTaskProgress calls/s, above the account limit "
                f"of {throttle.progress:g}/s: expect throttled reports, back-off and leases lost "
                "to late reports.",
            )
        if rates.status > throttle.status:
            warn(
                ("service", "throttle", "status"),
                f"tasks end at about {status}/s, each with a SetTaskStatus call, above "
                f"the account limit of {throttle.status:g}/s: expect throttled status reports.",
            )
        if rates.heartbeat > throttle.heartbeat:
            warn(
                ("service", "throttle", "heartbeat"),
                f"the fleet sends about {beats} ReportTaskRunnerHeartbeat calls/s, "
                f"above the account limit of {throttle.heartbeat:g}/s: expect throttled "
                "heartbeats.",
            )
    exact = fast_fallbacks(scenario)
    if "*" in exact:
        hint = ""
        if service.throttle is not None:
            hint = (
                "; to run fast, set service: {throttle: null} once an exact run shows "
                "throttled_calls 0"
            )
        warn(
            ("simulation", "mode"),
            f"fast mode was asked for, but this scenario runs exact (same results, more slowly): "
            f"{exact['*']} (docs/fast-mode.md{hint}).",
        )
    for group, reason in exact.items():
        if "*" not in exact:
            warn(
                ("simulation", "mode"),
                f"fast mode was asked for, but fleet group {group!r} runs exact (same results, "
                f"more slowly): {reason} (docs/fast-mode.md).",
            )
    return out


def fast_fallbacks(scenario: Scenario) -> dict[str, str]:
    """Why fleet groups ("*": the whole fleet) run exact although fast mode is asked for.

    Empty when exact mode is asked for or every group runs fast. Every reason of the whole fleet
    is given, joined by "; " (`simulator.model.fast.fallbacks` keeps one).
    """
    if scenario.simulation.mode != "fast":
        return {}
    why = fast_mode_fallbacks(scenario)
    if "*" in why and scenario.service.throttle is not None and _has_latency(scenario.service):
        service = scenario.service.model_copy(
            update={"call_latency": Fixed(dist="fixed", value=0.0)}
        )
        throttle = fast_mode_fallbacks(scenario.model_copy(update={"service": service}))["*"]
        if throttle not in why["*"]:
            why["*"] = f"{throttle}; {why['*']}"
    return why


@dataclass(frozen=True)
class CallRates:
    """Calls per second each operation sends at the fleet's busiest sustained moment (estimates).

    `in_progress` is the most tasks in progress at once and `idle` the most idle threads at once,
    both over the whole fleet (a busy group and an idle one may add up); each rate sums its fleet
    groups' peaks.
    """

    poll: float
    progress: float
    status: float
    heartbeat: float
    threads: float
    in_progress: float
    idle: float


def call_rates(scenario: Scenario) -> CallRates:
    """Estimate each operation's peak sustained call rate from the scenario alone.

    A working thread reports every `progress_interval`, plus one acknowledgement per task; an idle
    thread long-polls once per `service.long_poll` when nothing is ready, and polls again at once
    after each task; every task ends with one SetTaskStatus; every runner heartbeats. Tasks in
    progress follow the arrivals (a periodic batch or a list of times puts its tasks in progress
    together, for their mean duration; Poisson arrivals keep their mean load), never more than the
    threads. Retries, faults and back-off are left out.
    """
    service = scenario.service
    poll = progress = status = heartbeat = in_progress = idle = 0.0
    for worker_group in dict.fromkeys(g.worker_group for g in scenario.fleet):
        groups = [g for g in scenario.fleet if g.worker_group == worker_group]
        threads = _count(sum(g.runners * g.threads for g in groups))
        served = [w for w in scenario.workload if w.worker_group == worker_group]
        low, high = _in_progress(served, scenario.duration)
        low, high = min(low, threads), min(high, threads)
        starts = sum(_arrival_rate(w, scenario.duration) for w in served)
        in_progress += high
        idle += threads - low
        for g in groups:
            share = _count(g.runners * g.threads) / threads
            poll += share * ((threads - low) / service.long_poll + starts)
            progress += share * (high / g.progress_interval + starts)
            status += share * starts
            heartbeat += _count(g.runners) / g.runner_heartbeat_interval
    total = _count(sum(g.runners * g.threads for g in scenario.fleet))
    return CallRates(poll, progress, status, heartbeat, total, in_progress, idle)


def _per_s(rate: float, digits: int = 1) -> str:
    """A rate for a message: fixed-point when readable, else in powers of ten."""
    return f"{rate:.{digits}f}" if rate < 1e6 else f"{rate:.3g}"


def _count(n: int) -> float:
    """A whole number as a float; inf past the largest float (a fleet of 10**400 runners)."""
    try:
        return float(n)
    except OverflowError:
        return math.inf


_MAX_BATCHES = 10_000  # beyond this many batches, a periodic workload counts by its mean load


def _in_progress(workloads: Sequence[Workload], horizon: float) -> tuple[float, float]:
    """(fewest, most) tasks of `workloads` in progress at once during the run, with unlimited
    threads and every task lasting its mean duration (Poisson arrivals: their mean load)."""
    steady = 0.0
    changes: dict[float, float] = {}  # time -> change in tasks in progress
    for w in workloads:
        work = _mean(w.duration)
        if work is None:
            continue
        arrivals = w.arrivals
        if isinstance(arrivals, Periodic):
            starts = [arrivals.offset + k * arrivals.every for k in range(_MAX_BATCHES + 1)]
            starts = [t for t in starts if t < horizon]
            if len(starts) > _MAX_BATCHES:
                steady += arrivals.batch * work / arrivals.every
                continue
            batches = [(t, float(arrivals.batch)) for t in starts]
        elif isinstance(arrivals, Explicit):
            batches = [(t, 1.0) for t in arrivals.times if t < horizon]
        else:
            steady += _arrival_rate(w, horizon) * work
            continue
        for t, n in batches:
            changes[t] = changes.get(t, 0.0) + n
            changes[t + work] = changes.get(t + work, 0.0) - n
    if not changes:
        return steady, steady
    times = sorted(changes)
    level, low, high = 0.0, math.inf, 0.0
    if times[0] > 0:
        low = 0.0  # nothing is in progress before the first arrival
    for t, following in zip(times, [*times[1:], math.inf], strict=True):
        level += changes[t]
        if t >= horizon:
            break
        high = max(high, level)
        if following > t:
            low = min(low, level)
    return steady + (0.0 if low == math.inf else low), steady + high


def _has_latency(service: Any) -> bool:
    """Whether calls take time (`service.call_latency` other than a fixed 0)."""
    latency = service.call_latency
    return not (isinstance(latency, Fixed) and latency.value == 0)


def _model_path(scenario: Scenario, path: DataPath) -> str:
    """Human path of a field of a validated scenario (fleet and workload entries by name)."""
    return _human(
        path,
        {
            "fleet": [{"name": g.name} for g in scenario.fleet],
            "workload": [{"name": w.name} for w in scenario.workload],
        },
    )


def _arrival_rate(workload: Workload, horizon: float) -> float:
    """Mean tasks per second over the run."""
    arrivals = workload.arrivals
    if isinstance(arrivals, Poisson):
        return arrivals.rate
    if isinstance(arrivals, Periodic):
        return arrivals.batch / arrivals.every
    assert isinstance(arrivals, Explicit)
    return sum(1 for t in arrivals.times if t <= horizon) / horizon


def _lognormal_sigma(spec: Lognormal) -> float:
    return math.log(spec.p95 / spec.median) / _Z95


def _mean(spec: Any) -> float | None:
    """Mean of a distribution spec in seconds (None if unknown, e.g. an unfilled empirical)."""
    if isinstance(spec, Fixed):
        return spec.value
    if isinstance(spec, Exponential):
        return spec.mean
    if isinstance(spec, Lognormal):
        return spec.median * math.exp(_lognormal_sigma(spec) ** 2 / 2)
    if isinstance(spec, Uniform):
        return (spec.low + spec.high) / 2
    if isinstance(spec, Empirical) and spec.values:
        return sum(spec.values) / len(spec.values)
    return None


def share_above(spec: Any, limit: float) -> float | None:
    """P(X > limit) for a distribution spec (None if unknown)."""
    if isinstance(spec, Fixed):
        return 1.0 if spec.value > limit else 0.0
    if isinstance(spec, Exponential):
        return math.exp(-limit / spec.mean)
    if isinstance(spec, Lognormal):
        if limit <= 0:
            return 1.0
        z = (math.log(limit) - math.log(spec.median)) / _lognormal_sigma(spec)
        return 0.5 * math.erfc(z / math.sqrt(2))
    if isinstance(spec, Uniform):
        if spec.high == spec.low:
            return 1.0 if spec.low > limit else 0.0
        return min(1.0, max(0.0, (spec.high - limit) / (spec.high - spec.low)))
    if isinstance(spec, Empirical) and spec.values:
        return sum(1 for v in spec.values if v > limit) / len(spec.values)
    return None
