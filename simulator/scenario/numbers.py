"""The scenario's plain number types: a number must be written as a number.

Pydantic's default (lax) mode turns `true` into 1, `"3"` into 3 and, since YAML 1.1 reads `yes`,
`no`, `on` and `off` as booleans, `message_loss: yes` into a certain loss. `Number` and `Whole`
refuse booleans and text before pydantic sees them; everything else (ints, floats, NumPy
scalars) goes on to pydantic's own checks, which keep reading 2.0 as the whole number 2 and refuse
2.5. Durations and rates are not plain numbers: they take unit strings (`schema.Seconds`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

# The error types the scenario loader turns into its messages (`validation._detail`).
BOOLEAN = "number_is_boolean"
TEXT = "number_is_text"


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool) or type(value).__name__ == "bool_"  # NumPy's too


def _plain_number(whole: bool) -> Any:
    def check(value: Any) -> Any:
        if _is_boolean(value):
            raise PydanticCustomError(BOOLEAN, "must be a number, not a boolean", {"whole": whole})
        if isinstance(value, str | bytes):
            raise PydanticCustomError(TEXT, "must be a number, not text", {"whole": whole})
        return value

    return check


Number = Annotated[float, BeforeValidator(_plain_number(whole=False))]
Whole = Annotated[int, BeforeValidator(_plain_number(whole=True))]
