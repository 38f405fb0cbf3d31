"""The settings to choose among: `--vary PATH=RANGE` axes, their grid, and refinement between them.

A RANGE is written as in a scenario's `sweep:` block (see `simulator.scenario.sweep`): a list
`[30s, 1m, 2m]` or a range `{from: 10s, to: 5m, steps: 8, scale: log}`. Numeric values are kept
in the field's unit (seconds, per second) so that refinement can split the gap between two of
them: geometrically on a log range (or a list spanning a decade), arithmetically otherwise.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.scenario.scalars import Loader, ambiguous_values
from simulator.scenario.schema import Scenario
from simulator.scenario.sweep import RESERVED, SweepError, locate, values
from simulator.units import format_duration

MAX_CANDIDATES = 5_000  # screening is cheap, but a grid this large is a typo (steps: 1000)


@dataclass(frozen=True)
class Axis:
    """One varied field: its path, the values to try, and how to split between two of them."""

    path: str
    values: tuple[Any, ...]
    numeric: bool  # every value is a number in the field's unit: refinement can split gaps
    log: bool  # split geometrically
    integer: bool  # a whole-number field (e.g. runners): split values are rounded
    unit: str = ""  # "s" for durations, "1/s" for rates: how values are shown

    def show(self, value: Any) -> str:
        """A value as a person writes it: 2m, 120/h, fifo."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value if isinstance(value, str) else json.dumps(value, default=str)
        if self.unit == "s":
            return format_duration(float(value))
        if self.unit == "1/s":
            return f"{value * 3600:g}/h" if value < 1 else f"{value:g}/s"
        return f"{value:g}"

    def between(self, a: float, b: float) -> float | int | None:
        """The value halfway from a to b on this axis's scale, or None if there is none new."""
        mid = math.sqrt(a * b) if self.log and a > 0 and b > 0 else (a + b) / 2
        if self.integer:
            mid = int(round(mid))
            return None if mid in (a, b) else mid
        # Three significant digits: 170 s rather than 169.70562748477141 s; a refinement step
        # that small is below what the replications can tell apart anyway.
        mid = float(f"{mid:.3g}")
        return None if mid in (a, b) else mid


def parse_vary(text: str) -> tuple[str, Any]:
    """`PATH=RANGE` -> (path, spec); RANGE is YAML, read by the rules of a scenario file
    (`scalars.Loader`): a list or a range mapping, in which YAML 1.1's look-alike numbers (010,
    0x10, 1:30) are refused rather than read as 8, 16 or 90."""
    path, sep, spec_text = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise LeasesimError(
            USAGE_ERROR,
            f"--vary expects PATH=RANGE, such as fleet.etl.progress_interval='{{from: 10s, to: "
            f"5m, steps: 8, scale: log}}' or service.report_progress_timeout='[5m, 15m, 30m]'; "
            f"got {text!r}.",
        )
    try:
        spec = yaml.load(spec_text, Loader=Loader)  # noqa: S506 - a safe loader (scalars)
    except yaml.YAMLError:
        raise LeasesimError(USAGE_ERROR, f"--vary {text}: {spec_text!r} is not a valid YAML "
                            "list or range; quote it for the shell, e.g. "
                            "--vary 'PATH=[30s, 1m, 2m]'.") from None  # fmt: skip
    for _, value in ambiguous_values(spec):
        raise LeasesimError(USAGE_ERROR, f"--vary {path}: {value.problem}")
    return path, spec


def _as_mapping(vary: Mapping[str, Any] | Sequence[str]) -> dict[str, Any]:
    if isinstance(vary, Mapping):
        return dict(vary)
    if isinstance(vary, str):
        vary = [vary]
    out: dict[str, Any] = {}
    for item in vary:
        path, spec = parse_vary(item)
        if path in out:
            raise LeasesimError(USAGE_ERROR, f"--vary {path} is given twice; give it once.")
        out[path] = spec
    return out


def axes(scenario: Scenario, vary: Mapping[str, Any] | Sequence[str]) -> list[Axis]:
    """The axes of `vary` over `scenario`, each checked against the schema."""
    specs = _as_mapping(vary)
    if not specs:
        raise LeasesimError(USAGE_ERROR, "recommend needs at least one field to vary (--vary "
                            "PATH=RANGE), e.g. fleet.etl.progress_interval='[30s, 1m, 2m]'.")
    out = []
    for path, spec in specs.items():
        if not isinstance(path, str) or path.split(".")[0] in (*RESERVED, "seed"):
            raise LeasesimError(USAGE_ERROR, f"--vary {path}: this field cannot be varied; vary "
                                "fields of the scenario's service, fleet or workload.")
        try:
            ref = locate(scenario, path)
            given = values(ref, spec, (path,))
        except (ValueError, SweepError) as exc:
            message = exc.message if isinstance(exc, SweepError) else str(exc)
            raise LeasesimError(USAGE_ERROR, f"--vary {path}: {message}") from None
        adapter: TypeAdapter[Any] = TypeAdapter(ref.annotation)
        resolved = []
        for value in given:
            try:
                resolved.append(adapter.validate_python(value))
            except ValidationError:  # cannot happen: `values` validated it
                resolved.append(value)
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in resolved)
        kept = tuple(resolved) if numeric else tuple(given)
        if len(set(map(json.dumps, kept))) < len(kept):
            raise LeasesimError(USAGE_ERROR, f"--vary {path}: a value is listed twice.")
        log = isinstance(spec, Mapping) and spec.get("scale") == "log"
        if numeric and not isinstance(spec, Mapping):
            positive = [float(v) for v in kept if v > 0]
            log = len(positive) == len(kept) and max(positive) >= 10 * min(positive)
        integer = numeric and all(isinstance(v, int) for v in kept)
        out.append(Axis(path, kept, numeric, log, integer, _unit(adapter) if numeric else ""))
    return out


def _unit(adapter: TypeAdapter[Any]) -> str:
    """ "s" if the field reads durations ("1m" is 60), "1/s" if rates ("60/m" is 1), else ""."""
    for text, expected, unit in (("1m", 60.0, "s"), ("60/m", 1.0, "1/s")):
        try:
            if adapter.validate_python(text) == expected:
                return unit
        except ValidationError:
            pass
    return ""


def label(space: Sequence[Axis], setting: Mapping[str, Any]) -> str:
    """`fleet.etl.progress_interval=2m, service.report_progress_timeout=10m` (fields that are not
    axes, such as a lease reading being checked, follow as written)."""
    paths = {a.path for a in space}
    parts = [f"{a.path}={a.show(setting[a.path])}" for a in space if a.path in setting]
    parts += [f"{p}={v}" for p, v in setting.items() if p not in paths]
    return ", ".join(parts)


def grid(space: Sequence[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the first axis varying slowest."""
    size = math.prod(len(a.values) for a in space)
    if size > MAX_CANDIDATES:
        raise LeasesimError(USAGE_ERROR, f"the --vary ranges make {size:,} candidates "
                            f"({' x '.join(str(len(a.values)) for a in space)}); at most "
                            f"{MAX_CANDIDATES:,} are allowed: use fewer steps.")  # fmt: skip
    return [dict(zip([a.path for a in space], combo, strict=True))
            for combo in itertools.product(*(a.values for a in space))]  # fmt: skip


def neighbours(space: Sequence[Axis], best: Mapping[str, Any],
               tried: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:  # fmt: skip
    """Settings halfway between `best` and its nearest tried values, one numeric axis at a time.

    "Tried" values of an axis are those of tried settings that agree with `best` on every other
    axis, so the split happens where the search has looked, and nothing already tried returns.
    """
    seen = {key(t) for t in tried}
    out: list[dict[str, Any]] = []
    for axis in space:
        if not axis.numeric:
            continue
        others = [a.path for a in space if a.path != axis.path]
        line = sorted({float(t[axis.path]) for t in tried
                       if all(t[p] == best[p] for p in others)})  # fmt: skip
        here = float(best[axis.path])
        below = [v for v in line if v < here]
        above = [v for v in line if v > here]
        for other in ([below[-1]] if below else []) + ([above[0]] if above else []):
            mid = axis.between(here, other)
            if mid is None:
                continue
            setting = {**best, axis.path: mid}
            if key(setting) not in seen:
                seen.add(key(setting))
                out.append(setting)
    return out


def key(setting: Mapping[str, Any]) -> str:
    """A setting as text, for sets and labels (numbers as floats, so 60 and 60.0 agree)."""
    def norm(v: Any) -> Any:
        return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    return json.dumps({k: norm(v) for k, v in setting.items()}, sort_keys=True, default=str)
