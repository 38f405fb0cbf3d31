"""`--set PATH=VALUE` overrides: parsed, then written into a scenario's plain data before it is
validated, each remembered in the source map so that errors and warnings name the override.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.scenario.files import Loader, yaml_problem
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
from simulator.scenario.schema import Scenario
from simulator.scenario.source import SourceMap


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
        value = yaml.load(value_text, Loader=Loader)  # a safe loader: see Loader
    except yaml.YAMLError as exc:
        raise usage_error(
            text,
            f"--set {text}: the value {value_text!r} is not a valid YAML value "
            f"({yaml_problem(exc)}); quote it, or write a flow value such as "
            "{dist: fixed, value: 3s}.",
        ) from None
    return segments, value



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

