"""Human units at the edges: "90s", "1h30m", "7d" and "120/h" to float seconds and rates per second.

This is the only module that knows about unit strings; everything inside the model is float seconds.
"""

from __future__ import annotations

import math
import re

SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d|w)")
_ORDER = ("w", "d", "h", "m", "s", "ms")  # parts of a duration come largest unit first, once each
_ALLOWED = (
    'a number of seconds or a duration such as "90s", "2m", "1h30m", "7d" '
    "(units ms, s, m, h, d, w)"
)


class UnitError(ValueError):
    """A value that is not a valid duration or rate."""


def _not_text(value: object, expected: str) -> UnitError:
    """The error for a value that is neither a number nor text (null, a list, a mapping)."""
    if value is None:
        return UnitError(f"is empty (null): expected {expected}")
    shape = {list: "a list", tuple: "a list", dict: "a mapping"}.get(type(value), str(value))
    return UnitError(f"expected {expected}, not {shape}")


def _ascii(value: str, what: str) -> None:
    """Refuse look-alike characters: Python's float() reads full-width digits ('１０') and other
    scripts' digits as numbers, which a reader of the file would not expect to work."""
    if not value.isascii():
        raise UnitError(
            f"{value!r} is not {what}: it has characters that only look like digits, signs or "
            "units (such as full-width digits); type it with ASCII characters"
        )


def parse_number(text: str, what: str = "a number") -> float:
    """A plain number from text (a CSV cell, a command-line value, a bound), as `float` reads it
    but refusing the look-alike characters `float` also takes (`_ascii`). UnitError if not."""
    _ascii(text, what)
    try:
        return float(text)
    except ValueError:
        raise UnitError(f"{text!r} is not {what}") from None


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string like "90s", "1h30m", "250ms"."""
    if isinstance(value, bool):
        raise UnitError(f"expected {_ALLOWED}, got {value!r}")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise UnitError(f"{value!r} is too large for a duration") from None
    elif isinstance(value, str):
        _ascii(value, "a duration")
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds, last = 0, 0.0, -1
            for match in _PART.finditer(text):
                rank = _ORDER.index(match.group(2))
                if match.start() != pos or rank <= last:
                    break
                seconds += float(match.group(1)) * SECONDS[match.group(2)]
                pos, last = match.end(), rank
            if pos != len(text) or not text:
                hint = ""
                if ":" in text:  # 1:30 or 07:00: hours:minutes, or minutes:seconds?
                    hint = "; a time written with colons is ambiguous: write 1h30m or 7h"
                raise UnitError(
                    f"{value!r} is not a duration: expected {_ALLOWED}{hint}"
                ) from None
    else:
        raise _not_text(value, _ALLOWED)
    if not math.isfinite(seconds):
        raise UnitError(f"a duration must be finite, got {value!r}")
    return seconds


def parse_rate(value: object) -> float:
    """Events per second from a number (per second) or a string like "120/h", "2/s", "1/d"."""
    if isinstance(value, bool):
        raise UnitError(f"expected a rate such as '120/h' or a number per second, got {value!r}")
    if isinstance(value, int | float):
        try:
            rate = float(value)
        except OverflowError:
            raise UnitError(f"{value!r} is too large for a rate") from None
    elif isinstance(value, str):
        _ascii(value, "a rate")
        count, sep, per = value.replace(" ", "").partition("/")
        try:
            if sep and not per:
                raise ValueError("no unit after '/'")
            rate = float(count)
            if sep:
                unit = per if per[:1].isdigit() else "1" + per
                rate /= parse_duration(unit)
        except (ValueError, ZeroDivisionError):
            raise UnitError(
                f"{value!r} is not a rate: expected a number per second or 'N/UNIT' "
                "such as '120/h', '2/s', '1/d', '3/15m'"
            ) from None
    else:
        raise _not_text(value, "a rate such as '120/h' or a number per second")
    if not math.isfinite(rate):
        raise UnitError(f"a rate must be finite, got {value!r}")
    return rate


def format_duration(seconds: float) -> str:
    """A short human form of a duration in seconds: 90 -> "1m30s", 0.25 -> "250ms"."""
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds < 0:
        return f"-{format_duration(-seconds)}"
    if 0 < seconds < 1:
        return f"{_plain(seconds * 1000)}ms"
    out, rest = [], seconds
    for unit in ("d", "h", "m"):
        n = int(rest // SECONDS[unit])
        if n:
            out.append(f"{n}{unit}")
            rest -= n * SECONDS[unit]
    if rest or not out:
        out.append(f"{_plain(rest)}s")
    return "".join(out)


def _plain(x: float) -> str:
    """A number without exponent notation, so that `parse_duration` reads it back."""
    text = f"{x:g}"
    if "e" in text:
        text = f"{x:.12f}".rstrip("0").rstrip(".")
    return text


def human_duration(seconds: float) -> str:
    """A duration rounded for a reader, at most two units: 42s, 3m30s, 1h05m, 2d03h, 4.2s, 250ms.

    Unlike `format_duration` (exact, for values written back into a scenario), the value is
    rounded to its two leading units: below 10 s to 0.1 s, below an hour to the second, below a
    day to the minute, beyond to the hour. `parse_duration` reads the
    result back (as the rounded value).
    """
    if not math.isfinite(seconds):
        return str(seconds)
    if seconds < 0:
        return f"-{human_duration(-seconds)}"
    if seconds == 0:
        return "0s"
    if seconds < 0.9995:
        return f"{float(f'{seconds * 1000:.3g}'):g}ms"
    if seconds < 9.95:
        return f"{round(seconds, 1):g}s"
    for limit, step, big, small in ((3600, 1, "m", "s"), (86400, 60, "h", "m"),
                                    (math.inf, 3600, "d", "h")):  # fmt: skip
        rounded = round(seconds / step) * step
        if rounded < limit:
            if rounded < 60:
                return f"{int(rounded)}s"
            whole, rest = divmod(int(rounded), int(SECONDS[big]))
            part = rest // step
            return f"{whole}{big}" + (f"{part:02d}{small}" if part else "")
    raise AssertionError("unreachable")  # pragma: no cover


def rate_unit(per_second: float) -> str:
    """The unit `format_rate` shows a rate in: the first of s, m, h, d giving a number >= 1."""
    for unit in ("s", "m", "h"):
        if abs(per_second) * SECONDS[unit] >= 1:
            return unit
    return "d"


def format_rate(per_second: float, unit: str | None = None) -> str:
    """A rate for a reader, in the unit that gives a number >= 1 where possible: 2/s, 120/h, 3/d.

    `unit` ("s", "m", "h" or "d") fixes the unit, so that a mean and its interval read alike.
    """
    if not math.isfinite(per_second) or (per_second == 0 and unit is None):
        return f"{per_second:g}/s"
    unit = unit or rate_unit(per_second)
    return f"{float(f'{per_second * SECONDS[unit]:.3g}'):g}/{unit}"


def format_number(x: float | None, grouped_from: float = 1000) -> str:
    """About four significant digits, thousands separated from `grouped_from` on (1,208;
    0.2106); "-" for no value."""
    if x is None or math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"  # also for -0.0
    if abs(x) >= grouped_from:
        return f"{x:,.0f}"
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.4g}"


def format_seconds(x: float | None) -> str:
    """A value in seconds as a duration rounded for a reader (43m15s); "-" for no value."""
    if x is None or not math.isfinite(x):
        return format_number(x)
    return human_duration(x)


def seconds_metric(metric: str) -> bool:
    """A summary metric measured in seconds (`*_s`, not a rate `*_per_s`): shown as a duration."""
    return metric.endswith("_s") and not metric.endswith("_per_s")


def rate_metric(metric: str) -> bool:
    """A summary metric measured per second (`*_per_s`): shown as a rate."""
    return metric.endswith("_per_s")
