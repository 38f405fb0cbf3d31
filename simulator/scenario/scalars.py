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
from yaml.constructor import SafeConstructor

from simulator.scenario.source import DataPath

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


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
    objects), with YAML 1.1's look-alike numbers kept as `Ambiguous` text and YAML 1.2's
    exponent numbers read as numbers."""


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
