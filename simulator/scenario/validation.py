"""Validation errors in the user's terms: one paragraph per pydantic error that names the field
as a user would (`fleet[etl].faults.pause.duration`), its line or override, and what is allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, get_args, get_origin

from pydantic import ValidationError

from simulator.errors import VALIDATION_ERROR, LeasesimError
from simulator.scenario import numbers
from simulator.scenario.paths import (
    alternatives,
    did_you_mean,
    human_path,
    models_of,
    quoted_list,
    shape_of,
    show,
    step,
    tag_of,
    union_tags,
)
from simulator.scenario.schema import Scenario
from simulator.scenario.source import DataPath, SourceMap


def _schema_at(loc: Sequence[str | int]) -> Any:
    """The type at a pydantic error location (tags included), or None if it leaves the schema."""
    tp: Any = Scenario
    for element in loc:
        tp = step(tp, element)
    return tp



def translate(exc: ValidationError, data: dict[str, Any], source: SourceMap) -> LeasesimError:
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
        is_tag = isinstance(element, str) and len(models_of(tp)) > 1
        tp = step(tp, element)
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
    field_name = human_path((*path, *rest), data) or "the scenario"
    shown = show(value) if found else show(error.get("input"))

    if kind == "extra_forbidden":
        key = loc[-1]
        models = models_of(_schema_at(loc[:-1]))
        allowed = list(models[0].model_fields) if len(models) == 1 else []
        parent = human_path(path[:-1], data) or "the top level of a scenario"
        message = f"unknown field {key!r}.{_suggest(key, allowed)}"
        if allowed:
            message += f" The fields allowed in {parent} are: {', '.join(allowed)}."
        if isinstance(key, str) and key.startswith("x-"):
            message += (
                " Fields named x-... are ignored only at the top level of a scenario, where they "
                "hold YAML anchors."
            )
    elif kind == "missing":
        name = loc[-1]
        owner = human_path(path, data) or "the scenario"
        models = models_of(_schema_at(loc[:-1]))
        tag = tag_of(models[0]) if len(models) == 1 else None
        what = owner
        if tag is not None:  # inside a distribution or arrival process: say which kind
            what = f"a {tag[1][0]} " + ("distribution" if tag[0] == "dist" else "arrival process")
        message = f"{what} needs {name!r}, which is missing; add `{name}:` to {owner}."
    elif kind == "literal_error":
        allowed = [a for alt in alternatives(_schema_at(loc)) for a in get_args(alt)]
        message = (
            f"{shown} is not allowed here; use one of {ctx.get('expected') or allowed}."
            f"{_suggest(value, [str(a) for a in allowed])}"
        )
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        disc = str(ctx.get("discriminator", "")).strip("'")
        tags = union_tags(_schema_at(loc))
        fixed_hint = " A bare duration such as 30s means a fixed value." if disc == "dist" else ""
        if kind == "union_tag_invalid" and isinstance(value, dict):
            if disc in value:
                path = (*path, disc)
                field_name = human_path(path, data)
            message = (
                f"{show(ctx.get('tag'))} is not a known {disc}; use one of "
                f"{quoted_list(tags)}.{_suggest(ctx.get('tag'), tags)}{fixed_hint}"
            )
        else:
            message = (
                f"needs a `{disc}:` entry saying which kind it is: one of {quoted_list(tags)}."
                f"{fixed_hint}"
            )
    elif kind == "scenario_rule":
        message = str(ctx.get("message", error["msg"]))
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        tags = {tag[0] for m in models_of(_schema_at(loc)) if (tag := tag_of(m))}
        what = "a section of fields (`key: value` lines)"
        if "dist" in tags:
            what = "a duration such as 30s or a distribution such as {dist: lognormal, ...}"
        elif "kind" in tags:
            what = "an arrival process such as {kind: poisson, rate: 120/h}"
        message = f"must be {what}, not {shape_of(value if found else error.get('input'))}."
    elif kind in ("tuple_type", "list_type"):
        message = f"must be a list (one `- ` item per entry), not {shape_of(value)}."
    elif kind == "too_short" and not rest:
        message = "must list at least one entry."
    elif kind in ("bool_parsing", "bool_type"):
        message = f"must be true or false (got {shown})."
    elif kind in (numbers.BOOLEAN, numbers.TEXT):
        bounds = _bounds(loc)
        what = "a whole number" if ctx.get("whole") else "a number"
        message = f"must be {what}{' ' if bounds else ''}{' and '.join(bounds)} (got {shown})"
        message += _not_a_number(kind, value if found else error.get("input"))
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


def _not_a_number(kind: str, value: Any) -> str:
    """Why a boolean or a text is not the number it may look like, and what to write."""
    if kind == numbers.BOOLEAN:
        return (
            ": a boolean is not a number. YAML reads true/false, yes/no and on/off as booleans; "
            "write the number itself, such as 0 or 1."
        )
    text = str(value).strip()
    if not text.isascii():
        return (
            ": it has characters that only look like digits or signs (such as full-width "
            "digits); type the number with ASCII digits."
        )
    try:
        float(text)
    except ValueError:
        return "."
    return ": a number in quotes is text; write it without quotes."


def _suggest(word: Any, choices: list[str]) -> str:
    """Did you mean, also for a name in the wrong case or with - for _ ('SQS' -> 'sqs')."""
    if isinstance(word, str):
        folded = {_fold(c): c for c in choices}
        if _fold(word) in folded and folded[_fold(word)] != word:
            return f" Did you mean {folded[_fold(word)]!r}?"
        close = did_you_mean(word.lower(), choices)
        if close:
            return close
    return did_you_mean(word, choices)


def _fold(name: str) -> str:
    return name.casefold().replace("-", "").replace("_", "").replace(" ", "")


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
        for alt in alternatives(parent):
            if get_origin(alt) is tuple and get_origin(get_args(alt)[0]) is Annotated:
                for extra in get_args(get_args(alt)[0])[1:]:
                    metadata += getattr(extra, "metadata", [extra])
    else:
        models = [m for m in models_of(parent) if last in m.model_fields]
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

