"""Numbers as the report shows them: about four significant digits, human durations,
percentages, and a metric's value in the human form of its unit; an en dash for no value."""

from __future__ import annotations

import math

from simulator import units


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def number(x: float | None) -> str:
    """About four significant digits, thousands separated; an en dash for no value."""
    if x is None or math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if float(x).is_integer():
        return str(int(x))
    if abs(x) < 1e-3:  # 2.131e-05 -> "2.13 × 10⁻⁵"
        mantissa, exponent = f"{x:.2e}".split("e")
        return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    return f"{x:.4g}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def human_duration(seconds: float | None) -> str:
    """`simulator.units.human_duration` (42s, 3m30s, 2h05m, 1d04h), with an en dash for no value
    and typographic minus and infinity signs."""
    if seconds is None or math.isnan(seconds):
        return "–"
    if math.isinf(seconds):
        return "∞" if seconds > 0 else "−∞"
    if seconds < 0:
        return "−" + units.human_duration(-seconds)
    return units.human_duration(seconds)


def percent(x: float | None) -> str:
    """A fraction as a percentage with about three significant digits: 0.01073 -> "1.07%"."""
    if x is None or math.isnan(x):
        return "–"
    if x == 0:
        return "0%"
    p = x * 100
    if abs(p) >= 10:
        text = f"{p:.1f}"
    elif abs(p) >= 1:
        text = f"{p:.2f}"
    else:
        text = f"{p:.2g}"
    return text.replace("-", "−") + "%"


def value(x: float | None, unit: str) -> str:
    """`x` in the human form of its metric's unit."""
    if x is None or math.isnan(x):
        return "–"
    if unit == "s":
        return human_duration(x)
    if unit == "h":
        return human_duration(x * 3600)
    if unit == "fraction":
        return percent(x)
    suffix = "/s" if unit == "1/s" else "/h" if unit.endswith("/h") else ""
    return number(x).replace("-", "−") + suffix


def unit_label(unit: str) -> str:
    """The unit word shown after counts (the other units are in the value itself)."""
    return unit if unit in ("tasks", "attempts", "expiries", "calls") else ""
