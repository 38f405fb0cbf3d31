"""Reading a scenario file: defensively (a regular file, <= 5 MB, UTF-8 text, not empty), then
YAML into plain data with the line of every key and list item; and the one rule for every other
file a scenario names (empirical and arrival CSVs, `check.baseline`).

The YAML is composed with a safe loader into a node tree and checked before anything is built
from it: no alias bombs, no recursive aliases, no duplicate keys, keys are plain names.

Scenario files come from strangers too (a shared repository, a bug report), so the files a
scenario names are untrusted paths:

- `confine`: a path named inside a scenario (or by a `--set` override of one) must resolve,
  symlinks followed, to the scenario file's folder or below, unless the user allowed more on the
  command line (`--allow-outside`) or in Python (`allow_outside=True`): `outside_allowed`.
- `read_regular`: every such file is read as a regular file only (stat before open, opened
  non-blocking so a FIFO cannot hang, fstat after open), at most a stated number of bytes.
- `parse_json`: JSON (baselines) parsed with a bound on its nesting depth.
- `refuse_overwrite`: no output (a baseline, `--out`, `--junit`) replaces a file the command reads.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import yaml

from simulator.errors import FILE_ERROR, USAGE_ERROR, LeasesimError, closest
from simulator.scenario.paths import shape_of

# libyaml's safe loader (plain data only, no tags that build objects), with YAML 1.1's look-alike
# numbers (010, 0x10, 1:30:00) kept as text for the scenario loader to refuse: see `scalars`.
from simulator.scenario.scalars import Loader
from simulator.scenario.source import DataPath

MAX_FILE_BYTES = 5 * 1024 * 1024  # a scenario is a page of settings; 5 MB is already absurd
MAX_DEPTH = 64  # scenario files nest about 6 deep; deeper is a mistake or an attack
ALIAS_BUDGET = 100_000  # nodes that aliases may add by expansion (stops "billion laughs")

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


# --- files a scenario names: where they may be, and how they are read -----------------------------

ALLOW_FLAG = "--allow-outside"
_OUTSIDE_ALLOWED: ContextVar[bool] = ContextVar("leasesim_outside_allowed", default=False)


@contextlib.contextmanager
def outside_allowed(allowed: bool = True) -> Iterator[None]:
    """Within the block, paths named in scenarios may leave the scenario's folder (if `allowed`;
    `outside_allowed(False)` keeps whatever the caller allowed). The CLI's `--allow-outside`."""
    token = _OUTSIDE_ALLOWED.set(_OUTSIDE_ALLOWED.get() or allowed)
    try:
        yield
    finally:
        _OUTSIDE_ALLOWED.reset(token)


class FileRefused(Exception):
    """Why a file named by a scenario was not read or written: `reason` completes a sentence
    that starts with the file's name ("... is not a regular file (a device, ...)")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def confine(name: str, folder: Path) -> Path:
    """The file a scenario names (`name`, relative to the scenario's `folder`), symlinks
    resolved; FileRefused if it is not inside `folder` (or below) and leaving it is not allowed.

    The one rule for every path written inside a scenario: a scenario reads and writes only in
    its own folder, so running a stranger's scenario cannot read your files into its results or
    error messages, nor overwrite them (issue 19).
    """
    if "\x00" in name:  # YAML's "\0": no file system accepts it in a name
        raise FileRefused("contains a NUL character (\\0), which no file name can hold")
    base = folder.resolve()
    target = (base / name).resolve()
    if target == base or target.is_relative_to(base) or _OUTSIDE_ALLOWED.get():
        return target
    plain = os.path.normpath(base / name)
    via = f" (through a symbolic link, to {str(target)!r})" if Path(plain) != target else ""
    raise FileRefused(
        f"is outside the scenario's folder {str(base)!r}{via}. A scenario may only read and "
        "write files in its own folder and below; if you trust this scenario, give "
        f"{ALLOW_FLAG} on the command line (in Python: allow_outside=True)"
    )


SCENARIO_SUFFIXES = (".yaml", ".yml")


def listed_scenarios(folder: Path) -> list[tuple[Path, LeasesimError | None]]:
    """The scenario files a folder given on the command line holds (its `*.yaml` and `*.yml`
    entries, not those of its sub-folders), sorted by name, each with the FILE_ERROR that keeps
    it from being read, or None.

    Entries found by listing a folder follow the rule of files a scenario names (`confine`): a
    folder cloned from a stranger may hold `x.yaml -> ~/.ssh/config`, and reading it would show
    its text in the error. So an entry whose symbolic link leaves the folder is refused unless
    the user allowed it (`outside_allowed`), and an entry that is not a regular file (a folder, a
    FIFO, a device) is refused before anything opens it. A file the user names on the command
    line is the user's own choice: only entries found here are confined.
    """
    found: list[tuple[Path, LeasesimError | None]] = []
    with os.scandir(folder) as entries:
        names = sorted(e.name for e in entries if e.name.endswith(SCENARIO_SUFFIXES))
    for name in names:
        entry = folder / name
        try:
            confine(name, folder)  # names from a listing hold no NUL: only "outside" is raised
        except FileRefused:
            message = (f"{str(entry)!r} was found in the folder {str(folder)!r} but is a "
                       f"symbolic link to {str(entry.resolve())!r}, outside that folder. A file "
                       "found by listing a folder is read only if it lies in that folder or "
                       "below; if you trust it, name the file itself on the command line, or "
                       f"give {ALLOW_FLAG}.")  # fmt: skip
            found.append((entry, file_error(str(entry), message)))
            continue
        try:
            kind = os.stat(entry)
            if not stat.S_ISREG(kind.st_mode):  # the size is read_text's to report
                _check_kind(kind, MAX_FILE_BYTES)
        except FileRefused as exc:
            reason = "is a folder, not a scenario file" if stat.S_ISDIR(kind.st_mode) else (
                exc.reason)
            message = f"{str(entry)!r} was found in the folder {str(folder)!r} but {reason}."
            found.append((entry, file_error(str(entry), message)))
            continue
        except OSError:  # a link to nothing inside the folder: read_text says it does not exist
            pass
        found.append((entry, None))
    return found


def refuse_overwrite(
    target: str | os.PathLike[str], inputs: Iterable[Path], option: str
) -> None:
    """USAGE_ERROR if writing `target` (given as `option`, e.g. "--out") would replace one of the
    command's input files (the scenario files, the CSV files they read): leasesim never writes
    over its inputs, whatever the output's name."""
    path = Path(target)
    resolved = path.resolve()
    for source in inputs:
        same = source.resolve() == resolved
        with contextlib.suppress(OSError):
            same = same or os.path.samefile(source, path)  # hard links too
        if same:
            message = (f"{option} {str(path)!r} names a file this command reads ({str(source)!r}); "
                       "leasesim never writes over its own input. Give another file name.")
            raise LeasesimError(USAGE_ERROR, message, [{"field": option, "message": message,
                                                        "file": str(path), "line": None}])


def size_text(limit: int) -> str:
    """5 MB, 50 MB, 64 kB: how a limit is stated in messages."""
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} kB"


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or FileRefused saying why not.

    stat before opening refuses devices (/dev/zero is endless), FIFOs and sockets; the open is
    non-blocking so a FIFO swapped in after the stat cannot hang; fstat checks what was opened;
    and no more than `limit` + 1 bytes are ever read (files in /proc claim size 0).
    """
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise FileRefused("does not exist") from None
    except OSError as exc:
        raise FileRefused(f"cannot be read: {exc.strerror or exc}") from None
    _check_kind(before, limit)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileRefused(f"cannot be read: {exc.strerror or exc}") from None
    try:
        _check_kind(os.fstat(fd), limit)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileRefused(f"cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileRefused(f"is larger than the {size_text(limit)} limit")
    return data


def _check_kind(found: os.stat_result, limit: int) -> None:
    if stat.S_ISDIR(found.st_mode):
        raise FileRefused("is a folder, not a file")
    if not stat.S_ISREG(found.st_mode):
        raise FileRefused(
            "is not a regular file (a device, a pipe or a socket); only regular files are read"
        )
    if found.st_size > limit:
        raise FileRefused(
            f"is {found.st_size / 1e6:.1f} MB, larger than the {size_text(limit)} limit"
        )


def parse_json(text: str, max_depth: int) -> Any:
    """JSON with lists and mappings nested at most `max_depth` deep; FileRefused otherwise.

    The C parser recurses once per level: very deep nesting raises RecursionError, and data just
    under Python's limit would make every later recursive walk fail; both are refused here.
    """
    try:
        data = json.loads(text)
    except RecursionError:
        raise FileRefused(f"is nested more than {max_depth} levels deep") from None
    except ValueError as exc:
        raise FileRefused(f"cannot be read as JSON ({exc})") from None
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:  # iterative: no recursion on hostile input
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= max_depth:
                raise FileRefused(f"is nested more than {max_depth} levels deep")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
    return data


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
    try:
        return read_regular(path, MAX_FILE_BYTES)  # bounded, and no FIFO swapped in can block
    except FileRefused as exc:
        raise file_error(file, f"{file!r} {exc.reason}.") from None


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
            f"workload:, ...), but it is {_shape_unquoted(data)}.",
            lines[()],
        )
    return data, lines


def _shape_unquoted(data: Any) -> str:
    """What a file that is not a mapping holds, without repeating it: a file found by listing a
    folder (or named by mistake: a token, a key) may be a single value that is a secret."""
    if isinstance(data, str):
        return "a single text value"
    if isinstance(data, int | float) and not isinstance(data, bool):
        return "a single number"
    return shape_of(data)  # a list, a boolean, empty (null): nothing of the file


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

