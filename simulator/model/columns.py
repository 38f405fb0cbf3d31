"""Typed columns for records nothing can change any more: a NumPy array per field, codes for text.

A week of a large fleet logs millions of tasks and attempts. As Python objects each costs several
hundred bytes (the object, a float object per time, a list slot); as a row of typed columns it
costs what its fields need (8 bytes a time, 1 byte an outcome). `simulator.model.log` freezes a
record into its row once the model can no longer reach it (`REFERENCES`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

NAN = float("nan")


def _references_to_a_list_item() -> int:
    """What `sys.getrefcount(x)` reads for an object held only by one list, inside a loop over
    that list: the list's slot, the loop variable and the call's argument (3 in CPython 3.11).

    `Log.freeze` reads every count in this same shape (or `x = holder.attr` then the count), so
    any count above it is a reference from somewhere else: the model can still reach the record.
    """
    items = [object()]
    for item in items:
        return sys.getrefcount(item)
    raise AssertionError("unreachable")


#: References an object has when nothing but its one holder (and the code counting) refers to it.
REFERENCES = _references_to_a_list_item()


class Codes(dict[Any, int]):
    """A categorical field's vocabulary: value -> small integer code, a new value gets the next.

    Values are kept in `values` (code order); any hashable works (strings, `Kind` objects).
    """

    def __init__(self, values: Iterable[Any] = ()) -> None:
        super().__init__()
        self.values: list[Any] = []
        for value in values:
            self[value]  # noqa: B018 (assigns the code)

    def __missing__(self, value: Any) -> int:
        code = len(self.values)
        self.values.append(value)
        self[value] = code
        return code

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """The values of `codes`, as an object array (each value one shared object)."""
        table = np.empty(len(self.values), dtype=object)
        table[:] = self.values
        return table[codes]


class Columns:
    """Fields of rows 0..n-1, one NumPy array each, grown in place (by a quarter) as rows come.

    A row not written yet holds the field's fill value (NaN, 0, False, -1).
    """

    __slots__ = ("arrays", "fills", "capacity")

    def __init__(self, fields: Mapping[str, tuple[str, object]]) -> None:
        """`fields`: name -> (NumPy dtype code, fill value)."""
        self.fills = {name: fill for name, (_, fill) in fields.items()}
        self.arrays = {name: np.empty(0, dtype=code) for name, (code, _) in fields.items()}
        self.capacity = 0

    def reserve(self, n: int) -> None:
        """Room for rows 0..n-1."""
        if n <= self.capacity:
            return
        capacity = max(n, self.capacity + self.capacity // 4 + 1024)
        for name, old in self.arrays.items():
            new = np.empty(capacity, dtype=old.dtype)
            new[: self.capacity] = old
            new[self.capacity :] = self.fills[name]
            self.arrays[name] = new
        self.capacity = capacity

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]
