"""Walking a scenario's schema and data by a path: the one walker of `--set`, the sweep spec and
the validation messages.

A path is a sequence of field names and list positions, e.g. ("fleet", 0, "faults", "pause"). List
entries (fleet groups, workloads) are selected by name, or by position when no entry has that name
(`select_entry`); a type is followed one step at a time (`step`), through optional values, unions
and discriminated unions (`tag_of`). It walks any pydantic model by its fields, so it imports
nothing of leasesim but the base layer: the schema's own modules (the sweep spec) can use it.
`human_path` and friends name fields and values as a user wrote them; `did_you_mean` is the
one of `simulator.errors`, named here for the scenario modules.
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from simulator.errors import did_you_mean  # noqa: F401 (the scenario modules take it from here)


def alternatives(tp: Any) -> list[Any]:
    """The types a value may have, Annotated and None stripped: Optional[A | B] -> [A, B]."""
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (Union, types.UnionType):
        out: list[Any] = []
        for arg in get_args(tp):
            if arg is not type(None):
                out.extend(alternatives(arg))
        return out
    return [tp]


def models_of(tp: Any) -> list[type[BaseModel]]:
    return [a for a in alternatives(tp) if isinstance(a, type) and issubclass(a, BaseModel)]


def tag_of(model: type[BaseModel]) -> tuple[str, tuple[str, ...]] | None:
    """(discriminator, its values) of a member of a discriminated union, e.g. ("dist", ...)."""
    for key in ("dist", "kind"):
        info = model.model_fields.get(key)
        if info is not None and get_origin(info.annotation) is Literal:
            return key, get_args(info.annotation)
    return None

def one_model(tp: Any) -> type[BaseModel] | None:
    """The model of a section type (`Service | None` -> Service), or None if not exactly one."""
    models = models_of(tp)
    return models[0] if len(models) == 1 else None


def element_type(tp: Any) -> Any:
    """The type of the items of a tuple field (fleet, workload, times), or None."""
    for alt in alternatives(tp):
        if get_origin(alt) is tuple:
            return get_args(alt)[0]
    return None


def step(tp: Any, element: str | int, data: Any = None) -> Any:
    """The type found one step below `tp` at `element` (a field, a list index or a union tag).

    Pydantic's error locations include the tag of a discriminated union ("lognormal"); paths in
    the data do not, so for them the member is chosen by the data's own tag (`data`).
    """
    if tp is None:
        return None
    if isinstance(element, int):
        return element_type(tp)
    models = models_of(tp)
    if len(models) > 1:
        for model in models:
            tag = tag_of(model)
            if tag and element in tag[1]:
                return model  # the element was the tag itself
        if isinstance(data, dict):
            models = [m for m in models if (tag := tag_of(m)) and data.get(tag[0]) in tag[1]]
    if len(models) == 1 and element in models[0].model_fields:
        return models[0].model_fields[element].annotation
    return None



def union_tags(tp: Any) -> list[str]:
    """All tags of a discriminated union type, e.g. ['fixed', 'exponential', ...]."""
    return [value for m in models_of(tp) if (tag := tag_of(m)) for value in tag[1]]


def entry_name(item: Any) -> Any:
    """The name of a list entry: a `name` key of plain data or a `name` field of a model."""
    return item.get("name") if isinstance(item, dict) else getattr(item, "name", None)


def select_entry(items: Sequence[Any], segment: str) -> int | None:
    """The entry of a list (fleet, workload) that a path segment names: the first entry with that
    name, else the entry at that position (`fleet.etl`, `fleet.0`)."""
    for index, item in enumerate(items):
        if entry_name(item) == segment:
            return index
    # ASCII: isdigit() and int() take full-width digits too ('fleet.１' is no position).
    if segment.isascii() and segment.isdigit() and int(segment) < len(items):
        return int(segment)
    return None


def entry_label(item: Any, index: int) -> str | int:
    """How an entry is named in a message: its name, else its position."""
    name = entry_name(item)
    return name if isinstance(name, str) else index


# --- naming fields as a user would ----------------------------------------------------------------


def human_path(path: Sequence[str | int], data: Any) -> str:
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


def shape_of(value: Any) -> str:
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
    return f"the text {show(value)}"


def show(value: Any) -> str:
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


def quoted_list(values: Sequence[Any]) -> str:
    return ", ".join(repr(v) for v in values)

