"""`--set PATH=VALUE` overrides: parsed, then written into a scenario's plain data before it is
validated, each remembered in the source map so that errors and warnings name the override.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.scenario.files import yaml_problem
from simulator.scenario.paths import (
    did_you_mean,
    entry_label,
    human_path,
    models_of,
    quoted_list,
    select_entry,
    show,
    step,
    tag_of,
)
from simulator.scenario.scalars import Loader
from simulator.scenario.schema import Scenario
from simulator.scenario.source import SourceMap

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
VALUE_BUDGET = 10_000  # values an override may expand to through aliases (a command line is short)


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """`PATH=VALUE` -> (path segments, value). VALUE is read as a YAML scalar or flow value."""
    path_text, sep, value_text = text.partition("=")
    if not sep:
        raise usage_error(
            text,
            f"--set expects PATH=VALUE (for example --set service.lease_reading=5min or "
            f"--set fleet.etl.runners=20), but got {text!r}, which has no '='.",
        )
    segments = tuple(part.strip() for part in path_text.strip().split("."))
    if not all(segments):
        raise usage_error(
            text,
            f"--set {text}: the path {path_text.strip()!r} has an empty part; write it as names "
            "joined by dots, such as fleet.etl.progress_interval.",
        )
    try:
        value = _load_value(text, value_text)
    except yaml.YAMLError as exc:
        raise usage_error(
            text,
            f"--set {text}: the value {value_text!r} is not a valid YAML value "
            f"({yaml_problem(exc)}); quote it, or write a flow value such as "
            "{dist: fixed, value: 3s}.",
        ) from None
    return segments, value


def _load_value(text: str, value_text: str) -> Any:
    """The override's value, by the rules of a scenario file: a safe loader (`scalars.Loader`:
    look-alike numbers such as 010 are kept as text for validation to refuse), and a flow
    mapping may not repeat a key, nor have keys YAML reads as non-text, nor aliases that refer
    to themselves or expand without bound."""
    loader = Loader(value_text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problem = _node_problem(node)
        if problem is not None:
            raise usage_error(text, f"--set {text}: {problem}")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _node_problem(root: yaml.Node) -> str | None:
    """What is wrong with an override's node tree, or None (the checks `files` makes of a
    scenario file's, for a value of one line)."""
    expanded = 0
    on_path: set[int] = set()

    def visit(node: yaml.Node) -> str | None:
        nonlocal expanded
        expanded += 1
        if expanded > VALUE_BUDGET:
            return f"its aliases (*name) expand to more than {VALUE_BUDGET} values."
        if id(node) in on_path:
            return "a YAML alias in it refers to a value that contains it (a recursive alias)."
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            return None
        on_path.add(id(node))
        seen: set[str] = set()
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        for key, value in node.value if isinstance(node, yaml.MappingNode) else ():
            children.append(value)
            if key.tag == _MERGE_TAG:
                continue
            if not isinstance(key, yaml.ScalarNode) or key.tag != _STR_TAG:
                shown = key.value if isinstance(key, yaml.ScalarNode) else "a non-scalar key"
                return (
                    f"the key {shown!r} is not a plain name (YAML reads it as "
                    f"{key.tag.rsplit(':', 1)[-1]}); field names are words such as 'duration'."
                )
            if key.value in seen:
                return (
                    f"the key {key.value!r} appears twice in the same mapping; YAML would "
                    "silently keep only the last one. Give each field once."
                )
            seen.add(key.value)
        for child in children:
            found = visit(child)
            if found is not None:
                return found
        on_path.discard(id(node))
        return None

    return visit(root)


def usage_error(override: str, message: str) -> LeasesimError:
    """A malformed or impossible `--set`; `override` is its text."""
    detail = {"field": None, "message": message, "file": None, "line": None, "override": override}
    return LeasesimError(USAGE_ERROR, message, [detail])


def in_file(err: LeasesimError, file: str) -> LeasesimError:
    """A `--set` error that also names the scenario file it was applied to."""
    message = f"{file}: {err.message}"
    details = [{**d, "file": file, "message": message} for d in err.details]
    return LeasesimError(err.code, message, details)



def apply_override(
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
        here = human_path(path, data) or "the top level"
        if isinstance(node, list):
            index = select_entry(node, segment)
            if index is None:
                names = [entry_label(item, n) for n, item in enumerate(node)]
                raise usage_error(
                    text,
                    f"--set {text}: {here} has no entry named {segment!r}; its entries are "
                    f"{quoted_list(names)}.{did_you_mean(segment, [str(n) for n in names])}",
                )
            path.append(index)
            if last:
                node[index] = copy.deepcopy(value)
            else:
                tp, node = step(tp, index), node[index]
            continue
        if not isinstance(node, dict):
            raise usage_error(
                text,
                f"--set {text}: {here} is a single value ({show(node)}), not a section, so it has "
                f"no {segment!r}. Set it whole, e.g. --set {'.'.join(segments[:i])}=VALUE.",
            )
        child_tp = step(tp, segment, node)
        if last:
            node[segment] = copy.deepcopy(value)
            path.append(segment)
            break
        if not isinstance(node.get(segment), dict | list):
            models = models_of(child_tp)
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
        shown = "not set in the file" if current is None else f"the single value {show(current)}"
        example = "VALUE"
        if len(models_of(child_tp)) > 1:  # a distribution or arrival process
            example = "'{dist: lognormal, median: 10m, p95: 40m}'"
            if any(tag_of(m) and tag_of(m)[0] == "kind" for m in models_of(child_tp)):
                example = "'{kind: poisson, rate: 120/h}'"
        return usage_error(
            text,
            f"--set {text}: {label} is {shown}, so it has no parts to change one at a "
            f"time. Set it whole, e.g. --set {'.'.join(segments[: i + 1])}={example}.",
        )
    models = models_of(tp)
    known = sorted(set(node) | set(models[0].model_fields if len(models) == 1 else ()))
    return usage_error(
        text,
        f"--set {text}: {here} has no section {segment!r}; it has: {', '.join(known)}."
        f"{did_you_mean(segment, known)}",
    )

