"""What a recommendation must achieve: requirements `METRIC<=VALUE` and the metric to optimise.

A requirement bounds the long-run mean of one summary metric (see docs/metrics.md); its value is
written in the metric's unit, with human units where the metric has them: `10m` for seconds,
`0.01%` for fractions, `120/h` for rates per second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from simulator.errors import USAGE_ERROR, LeasesimError, did_you_mean
from simulator.results.metrics import METRICS
from simulator.scenario.outputs import allowed_values, metric_value
from simulator.units import (
    format_duration,
    format_number,
    format_rate,
    human_duration,
    rate_metric,
    rate_unit,
    seconds_metric,
)

Op = Literal["<=", ">="]
Sense = Literal["minimize", "maximize"]
SLACK = 1e-9  # relative: a mean equal to the bound, up to float noise, respects it


def number(x: float) -> str:
    """About four significant digits, thousands separated; "-" for no value (or no finite one)."""
    return format_number(x) if math.isfinite(x) else "-"


def shown(metric: str, x: float, signed: bool = False, unit: str | None = None) -> str:
    """A value of `metric` for a reader: seconds as a duration (7m35s), rates per second as a
    rate (2.86/m, or in `unit`), else about four significant digits; `signed`: "+" before
    values >= 0 (differences)."""
    if not math.isfinite(x):
        return "-"
    if seconds_metric(metric):
        text = human_duration(x)
    elif rate_metric(metric):
        text = format_rate(x, unit or rate_unit(x))
    else:
        text = number(x)
    return f"+{text}" if signed and x >= 0 and not text.startswith("-") else text


def _metric(name: str, what: str) -> str:
    name = name.strip()
    if name not in METRICS:
        hint = did_you_mean(name, METRICS)
        raise LeasesimError(
            USAGE_ERROR,
            f"{what}: {name!r} is not a summary metric.{hint} The metrics are: "
            f"{', '.join(METRICS)} (docs/metrics.md).",
        )
    return name


def _value(metric: str, text: str, written: str) -> float:
    """The bound in the metric's unit (seconds, a fraction, per second)."""
    raw = text.strip()
    try:
        value = metric_value(metric, raw)
    except ValueError:
        raise LeasesimError(
            USAGE_ERROR,
            f"requirement {written!r}: {raw!r} is not a valid bound for {metric}; write "
            f"{allowed_values(metric)}.",
        ) from None
    if not math.isfinite(value):
        raise LeasesimError(USAGE_ERROR, f"requirement {written!r}: the bound must be finite.")
    return value


@dataclass(frozen=True)
class Requirement:
    """A bound on a metric's long-run mean, such as `duplicated_fraction <= 1e-4`."""

    metric: str
    op: Op
    value: float

    @classmethod
    def parse(cls, text: str | Requirement) -> Requirement:
        """`METRIC<=VALUE` or `METRIC>=VALUE` (spaces allowed); USAGE_ERROR otherwise."""
        if isinstance(text, Requirement):
            return text
        if not isinstance(text, str):
            raise LeasesimError(USAGE_ERROR, f"a requirement is text such as "
                                f"'duplicated_fraction<=1e-4', not {text!r}")  # fmt: skip
        for op in ("<=", ">="):
            name, sep, bound = text.partition(op)
            if sep:
                metric = _metric(name, f"requirement {text!r}")
                return cls(metric, op, _value(metric, bound, text))  # type: ignore[arg-type]
        raise LeasesimError(
            USAGE_ERROR,
            f"requirement {text!r}: write METRIC<=VALUE or METRIC>=VALUE, for example "
            "duplicated_fraction<=1e-4 or detection_latency_mean_s<=10m.",
        )

    @property
    def unit(self) -> str:
        return METRICS[self.metric].unit

    def margin(self, x: float) -> float:
        """How far `x` is inside the bound (negative: outside), in the metric's unit."""
        return self.value - x if self.op == "<=" else x - self.value

    def holds(self, x: float) -> bool:
        return math.isfinite(x) and self.margin(x) >= -SLACK * max(1.0, abs(self.value))

    def scaled_margin(self, x: float) -> float:
        """The margin relative to the bound (or to x when the bound is 0): comparable across
        requirements of different units."""
        scale = abs(self.value) or abs(x) or 1.0
        return self.margin(x) / scale

    def __str__(self) -> str:
        """As written on the command line; seconds as an exact duration (`10m`), so that
        `parse` reads it back."""
        bound = format_duration(self.value) if seconds_metric(self.metric) else f"{self.value:g}"
        return f"{self.metric} {self.op} {bound}"


@dataclass(frozen=True)
class Objective:
    """The metric whose mean the recommendation makes as small (or large) as the requirements
    allow."""

    metric: str
    sense: Sense = "minimize"

    @classmethod
    def of(cls, minimize: str | None, maximize: str | None) -> Objective:
        if minimize is not None and maximize is not None:
            raise LeasesimError(USAGE_ERROR, "give either minimize or maximize, not both.")
        if maximize is not None:
            return cls(_metric(maximize, "maximize"), "maximize")
        return cls(_metric(minimize or DEFAULT_OBJECTIVE, "minimize"), "minimize")

    def key(self, x: float) -> float:
        """A sort key: smaller is better; no value sorts last."""
        if not math.isfinite(x):
            return math.inf
        return x if self.sense == "minimize" else -x

    def __str__(self) -> str:
        return f"{self.sense} {self.metric}"


# The cost of a heartbeat setting that every run measures: API calls spent on progress reports.
DEFAULT_OBJECTIVE = "progress_calls_per_s"
