"""How the plain values of scenario YAML are read, and the ones refused because a reader would
take them for something else.

PyYAML follows YAML 1.1, whose numbers include notations that YAML 1.2 (and people) read
differently: `010` is the octal number 8 in YAML 1.1 and 10 in YAML 1.2; `0b101` is 5 in YAML 1.1
and text in YAML 1.2; `1:30:00` is the base-60 number 5400 in YAML 1.1 and text in YAML 1.2;
`0x10` is 16 in both, which no one reading a scenario expects. A scenario needs none of them, and
a silent 8 where 10 was meant is worse than an error, so `Loader` keeps each such value as an
`Ambiguous` text that the scenario loader refuses (`ambiguous_values`), naming the field and
saying what to write. Numbers with an exponent that YAML 1.1 leaves as text (`1e3`, `2.5e-3`,
whose exponent has no sign) are read as the numbers YAML 1.2 makes of them.

Booleans keep YAML 1.1's words (true/false, yes/no, on/off): fine where a boolean belongs; the
schema refuses any boolean where a number belongs (`numbers`).

Line breaks other than LF and CRLF (a lone CR, NEL, U+2028, U+2029) are line breaks to YAML but
not to most editors and tools, so `odd_line_break` finds them for the loader to refuse: a comment
that ends in a lone CR would otherwise hide a setting that an editor shows as part of the comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor

from simulator.scenario.source import DataPath

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"


class Ambiguous(str):
    """A plain value that YAML 1.1 and YAML 1.2 read differently, kept as its text; `problem`
    says how each reads it and what to write instead."""

    problem: str

    def __new__(cls, text: str, problem: str) -> Ambiguous:
        value = super().__new__(cls, text)
        value.problem = problem
        return value

    def __reduce__(self) -> tuple[Any, ...]:  # copy.deepcopy (--set values) keeps the problem
        return (Ambiguous, (str(self), self.problem))


class Loader(_Base):  # type: ignore[misc, valid-type]
    """PyYAML's safe loader (libyaml's when available: plain data only, no tags that build
    objects), with YAML 1.1's look-alike numbers kept as `Ambiguous` text, YAML 1.2's
    exponent numbers read as numbers, and merge keys that readers resolve differently refused."""

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        _refuse_merge_conflicts(self, node)
        super().flatten_mapping(node)


def _refuse_merge_conflicts(loader: Loader, node: yaml.MappingNode) -> None:
    """Refuse a key that two mappings merged into `node` both set (`<<: [*a, *b]`, or two `<<`
    keys), unless `node` sets it itself. The merge-key rule keeps the first mapping's value;
    PyYAML keeps the last, so the file would mean different things to different readers."""
    # Keys that are not plain scalars are refused before construction (`files`, `overrides`).
    own = {key.value for key, _ in node.value if isinstance(key, yaml.ScalarNode)}
    merged: list[tuple[yaml.Node, yaml.MappingNode]] = []  # (the << key, a mapping it merges)
    for key, value in node.value:
        if key.tag == _MERGE:
            for sub in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                if isinstance(sub, yaml.MappingNode):
                    loader.flatten_mapping(sub)  # its own merges first (flattening is idempotent)
                    merged.append((key, sub))
    first: dict[str, yaml.MappingNode] = {}
    for merge_key, sub in merged:
        for key, _ in sub.value:
            name = key.value
            if not isinstance(key, yaml.ScalarNode) or name in own:
                continue
            if name in first and first[name] is not sub:
                lines = (first[name].start_mark.line + 1, sub.start_mark.line + 1)
                raise ConstructorError(
                    None,
                    None,
                    f"the key {name!r} comes from two mappings merged here (lines {lines[0]} "
                    f"and {lines[1]}); YAML's merge-key rule takes the first, PyYAML and tools "
                    f"built on it the last. Set {name} beside the << key, or in only one of "
                    "the merged mappings",
                    merge_key.start_mark,
                )
            first.setdefault(name, sub)


def _sexagesimal_hint(body: str) -> str:
    parts = body.split(":")
    if len(parts) == 3:
        units = [f"{int(float(p))}{u}" for p, u in zip(parts, "hms", strict=True) if float(p)]
        return f"write a duration with units such as {''.join(units) or '0s'}"
    if len(parts) == 2:
        a, b = (int(float(p)) for p in parts)
        return (
            f"write a duration with units: {a}h{b}m (hours:minutes) or {a}m{b}s (minutes:seconds)"
        )
    return "write a duration with units, such as 1h30m"


def _int(loader: SafeConstructor, node: yaml.ScalarNode) -> Any:
    text = node.value
    body = text.replace("_", "").lstrip("+-")
    sign = "-" if text.startswith("-") else ""
    if ":" in body:  # YAML 1.1's base 60
        value = SafeConstructor.construct_yaml_int(loader, node)
        return Ambiguous(
            text,
            f"{text} is the base-60 number {value} in YAML 1.1 and text in YAML 1.2; "
            f"{_sexagesimal_hint(body)}, or the number {value} if that is what you meant.",
        )
    prefix = body[:2].lower()
    if prefix in ("0x", "0o", "0b"):
        value = int(sign + body[2:], {"0x": 16, "0o": 8, "0b": 2}[prefix])
        reads = {
            "0x": "the hexadecimal number {v}",
            "0o": "text in YAML 1.1 and the octal number {v} in YAML 1.2",
            "0b": "the binary number {v} in YAML 1.1 and text in YAML 1.2",
        }[prefix].format(v=value)
        return Ambiguous(text, f"{text} is {reads}; scenario numbers are decimal: write {value}.")
    if len(body) > 1 and body[0] == "0":  # a leading zero: octal in YAML 1.1
        decimal = f"{sign}{int(body)}"
        if set(body) <= set("01234567"):
            octal = f"{sign}{int(body, 8)}"
            reads = f"the octal number {octal} in YAML 1.1 and {decimal} in YAML 1.2"
            write = f"write {decimal} (or {octal}) without the leading zero"
        else:
            reads = f"text in YAML 1.1 and the number {decimal} in YAML 1.2"
            write = f"write {decimal} without the leading zero"
        return Ambiguous(text, f"{text} has a leading zero: it is {reads}; {write}.")
    return SafeConstructor.construct_yaml_int(loader, node)


def _float(loader: SafeConstructor, node: yaml.ScalarNode) -> Any:
    if ":" in node.value:  # YAML 1.1's base 60, with a fraction (1:30.5)
        value = SafeConstructor.construct_yaml_float(loader, node)
        body = node.value.replace("_", "").lstrip("+-")
        return Ambiguous(
            node.value,
            f"{node.value} is the base-60 number {value:g} in YAML 1.1 and text in YAML 1.2; "
            f"{_sexagesimal_hint(body.split('.')[0])}, or the number {value:g} if that is what "
            "you meant.",
        )
    return SafeConstructor.construct_yaml_float(loader, node)


# YAML 1.2 numbers that YAML 1.1 leaves as text: an exponent without a dot or without a sign.
Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)
# Leading zeros YAML 1.1 reads as text when they are not octal (08, 09), and YAML 1.2's octal
# notation (0o17): numbers in one version, text in the other.
Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0[0-9_]+|0o[0-7_]+)$"), list("-+0"))
Loader.add_constructor(_INT, _int)
Loader.add_constructor(_FLOAT, _float)


def ambiguous_values(data: Any, path: DataPath = ()) -> Iterator[tuple[DataPath, Ambiguous]]:
    """Every `Ambiguous` value in plain data, with its path."""
    if isinstance(data, Ambiguous):
        yield path, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from ambiguous_values(value, (*path, key))
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from ambiguous_values(value, (*path, index))


_ODD_BREAKS = re.compile("\r(?!\n)|[\x85\u2028\u2029]")
_BREAK_NAMES = {
    "\r": "a carriage return (CR) not followed by a line feed (classic Mac OS line endings)",
    "\x85": "a NEL character (U+0085)",
    "\u2028": "a line separator character (U+2028)",
    "\u2029": "a paragraph separator character (U+2029)",
}


def odd_line_break(text: str) -> tuple[int, str] | None:
    """(line, description) of the first line break other than LF or CRLF, or None.

    The line is counted in LF line breaks, as editors and `grep -n` count it.
    """
    match = _ODD_BREAKS.search(text)
    if match is None:
        return None
    return text.count("\n", 0, match.start()) + 1, _BREAK_NAMES[match.group()]
