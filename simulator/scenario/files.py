"""Reading a scenario file: defensively (a regular file, <= 5 MB, UTF-8 text, not empty), then
YAML into plain data with the line of every key and list item.

The YAML is composed with a safe loader into a node tree and checked before anything is built
from it: no alias bombs, no recursive aliases, no duplicate keys, keys are plain names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.errors import FILE_ERROR, LeasesimError, closest
from simulator.scenario.paths import shape_of
from simulator.scenario.source import DataPath

MAX_FILE_BYTES = 5 * 1024 * 1024  # a scenario is a page of settings; 5 MB is already absurd
MAX_DEPTH = 64  # scenario files nest about 6 deep; deeper is a mistake or an attack
ALIAS_BUDGET = 100_000  # nodes that aliases may add by expansion (stops "billion laughs")

# libyaml's parser when available: same safe constructor as yaml.SafeLoader (plain data only, no
# tags that build objects), but fast on large files and with a hard limit on flow nesting.
Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def _read_bytes(path: Path, file: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of a regular file; FILE_ERROR if it is not one."""
    if not path.exists():
        hint = ""
        folder = path.parent
        if folder.is_dir():
            names = sorted(p.name for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
            close = closest(path.name, names, cutoff=0.75)
            if close is not None:
                hint = f" Did you mean {str(folder / close)!r}?"
            elif names:
                hint = f" Scenario files in {str(folder)!r}: {', '.join(names)}."
        raise file_error(file, f"the scenario file {file!r} does not exist.{hint}")
    if path.is_dir():
        names = sorted(p.name for p in path.iterdir() if p.suffix in (".yaml", ".yml"))
        listing = f" It contains: {', '.join(names)}." if names else ""
        raise file_error(file, f"{file!r} is a folder, not a scenario file.{listing}")
    if not path.is_file():  # a device or a pipe: reading it could block or never end
        raise file_error(file, f"{file!r} is not a regular file.")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise file_error(
            file,
            f"{file!r} is {size / 1e6:.1f} MB; scenario files are limited to "
            f"{MAX_FILE_BYTES // (1024 * 1024)} MB. Put long samples in a CSV file and refer "
            "to it with {dist: empirical, file: ..., column: ...}.",
        )
    with path.open("rb") as handle:
        return handle.read(MAX_FILE_BYTES + 1)  # bounded: the file may grow after the stat


def read_text(path: Path, file: str) -> str:
    """The file's text, or a FILE_ERROR that says exactly what is wrong with it."""
    try:
        raw = _read_bytes(path, file)
    except OSError as exc:
        raise file_error(file, f"{file!r} cannot be read: {exc.strerror or exc}.") from None
    if len(raw) > MAX_FILE_BYTES:
        raise file_error(file, f"{file!r} is larger than the 5 MB limit for scenario files.")
    if b"\x00" in raw:
        raise file_error(
            file, f"{file!r} is a binary file, not a YAML scenario (it contains NUL bytes)."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise file_error(
            file,
            f"{file!r} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line {line} cannot be "
            "decoded. Save the file as UTF-8.",
            line,
        ) from None
    if not text.strip():
        raise file_error(
            file, f"{file!r} is empty; a scenario needs at least duration, fleet and workload."
        )
    return text


def file_error(file: str, message: str, line: int | None = None) -> LeasesimError:
    """A FILE_ERROR whose one paragraph names the file and, when known, the line."""
    if line is not None and f"line {line}" not in message:
        message = f"{message.rstrip('.')} (line {line})."
    return LeasesimError(
        FILE_ERROR, message, [{"field": None, "message": message, "file": file, "line": line}]
    )



def parse_yaml(text: str, file: str) -> tuple[dict[str, Any], dict[DataPath, int]]:
    """Plain data and the line of every key and list item, from a YAML document."""
    loader = Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise file_error(
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
        raise file_error(
            file, f"{file!r} is not valid YAML{where}: {yaml_problem(exc)}.", line
        ) from None
    except RecursionError:  # the pure-Python parser on very deep nesting
        raise file_error(file, f"{file!r} is nested too deeply to be a scenario.") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise file_error(
            file,
            f"{file!r} must be a mapping of fields at the top level (name:, duration:, fleet:, "
            f"workload:, ...), but it is {shape_of(data)}.",
            lines[()],
        )
    return data, lines


def yaml_problem(exc: yaml.YAMLError) -> str:
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
        return file_error(file, f"{file!r}, line {line}: {message}", line)

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


def plain_copy(value: Any) -> Any:
    """A deep copy of plain data with tuples turned into lists (so overrides can edit it)."""
    if isinstance(value, dict):
        return {key: plain_copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_copy(item) for item in value]
    return value

