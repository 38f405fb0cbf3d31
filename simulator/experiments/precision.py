"""Replications until the answer is precise enough: a confidence-interval half-width target.

After each batch of replications, every named metric's Student-t interval (over the replications
so far) is compared with the target: its half-width must be at most `relative` x |mean| or at most
`absolute` (either suffices when both are given). A point stops when every named metric meets the
target, or when it has `max_replications`. The decision uses replications 0..k-1 only, so it is
the same whatever the executor, and a resumed experiment stops where an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.results.metrics import METRICS
from simulator.results.stats import mean_ci


@dataclass(frozen=True)
class Precision:
    """The stopping rule: named metrics, a relative and/or absolute half-width target, a cap.

    `batch` is how many replications each round adds (default: the initial count).
    """

    metrics: tuple[str, ...]
    relative: float | None = None
    absolute: float | None = None
    max_replications: int = 100
    batch: int | None = None
    confidence: float = 0.95

    @classmethod
    def of(cls, spec: Precision | Mapping[str, Any]) -> Precision:
        """A checked Precision from itself or a mapping of its fields (relative 5% by default)."""
        if isinstance(spec, Precision):
            data = asdict(spec)
        elif isinstance(spec, Mapping):
            data = dict(spec)
        else:
            raise _error(f"precision must be a Precision or a mapping of its fields, got "
                         f"{type(spec).__name__}")  # fmt: skip
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise _error(f"precision has no option {', '.join(unknown)}; its options are "
                         f"{', '.join(cls.__dataclass_fields__)}")  # fmt: skip
        metrics = data.get("metrics")
        metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics or ())
        if not metrics:
            raise _error("precision needs the metrics whose intervals must be narrow enough, "
                         "e.g. duplicated_fraction")  # fmt: skip
        bad = [m for m in metrics if m not in METRICS]
        if bad:
            raise _error(f"precision: unknown metric {', '.join(map(repr, bad))}; the metrics "
                         f"are {', '.join(METRICS)}")  # fmt: skip
        data["metrics"] = metrics
        if data.get("relative") is None and data.get("absolute") is None:
            data["relative"] = 0.05
        for name in ("relative", "absolute"):
            value = data.get(name)
            if value is not None and not (isinstance(value, int | float) and value > 0
                                          and math.isfinite(value)):  # fmt: skip
                raise _error(f"precision {name} target must be a number > 0, got {value!r}")
        for name, low in (("max_replications", 2), ("batch", 1)):
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < low):  # fmt: skip
                raise _error(f"precision {name} must be a whole number >= {low}, got {value!r}")
        return cls(**data)

    def target(self, mean: float) -> float:
        """The largest half-width that meets the target at this mean."""
        rel = self.relative * abs(mean) if self.relative is not None else -math.inf
        return max(rel, self.absolute if self.absolute is not None else -math.inf)

    def describe(self) -> str:
        parts = []
        if self.relative is not None:
            parts.append(f"{self.relative:.3g} x |mean|")
        if self.absolute is not None:
            parts.append(f"{self.absolute:.3g}")
        cap = f"at most {self.max_replications} replications"
        return f"{self.confidence:.0%} CI half-width <= {' or '.join(parts)} for " + (
            f"{', '.join(self.metrics)}; {cap}"
        )


def _error(message: str) -> LeasesimError:
    return LeasesimError(USAGE_ERROR, message)


@dataclass
class PointPrecision:
    """Where one point stopped: target met or cap reached, with each metric's interval."""

    point: int
    replications: int
    met: bool
    half_widths: dict[str, float] = field(default_factory=dict)
    targets: dict[str, float] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        return "target" if self.met else "cap"


def check(precision: Precision, summaries: Sequence[Mapping[str, float]],
          point: int = 0) -> PointPrecision:  # fmt: skip
    """Whether these replications' intervals meet the target (NaN intervals never do)."""
    result = PointPrecision(point, len(summaries), True)
    for metric in precision.metrics:
        mean, half, _ = mean_ci((s.get(metric, math.nan) for s in summaries),
                                precision.confidence)  # fmt: skip
        goal = precision.target(mean) if not math.isnan(mean) else math.nan
        result.half_widths[metric] = half
        result.targets[metric] = goal
        if math.isnan(half) or not half <= goal:
            result.met = False
    return result


@dataclass
class PrecisionReport:
    """How a precision-driven experiment stopped, per point."""

    precision: Precision
    points: list[PointPrecision]

    @property
    def reached(self) -> bool:
        """Whether every point met the target (rather than hitting the cap)."""
        return all(p.met for p in self.points)

    def describe(self) -> str:
        reps = sorted({p.replications for p in self.points})
        span = str(reps[0]) if len(reps) == 1 else f"{reps[0]}-{reps[-1]}"
        if self.reached:
            where = "at every point " if len(self.points) > 1 else ""
            return (f"precision: target reached {where}after {span} replications "
                    f"({self.precision.describe()})")  # fmt: skip
        missed = [p for p in self.points if not p.met]
        worst = missed[0]
        metric = next(m for m in self.precision.metrics
                      if not worst.half_widths[m] <= worst.targets[m])  # fmt: skip
        where = "" if len(self.points) == 1 else (
            f" at {len(missed)} of {len(self.points)} points (first: point {worst.point})")
        return (f"precision: replication cap of {self.precision.max_replications} reached{where} "
                f"before the target: {metric} half-width {worst.half_widths[metric]:.4g} > "
                f"{worst.targets[metric]:.4g} ({self.precision.describe()})")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "reached": self.reached, "stopped_by": "target" if self.reached else "cap",
            "rule": asdict(self.precision), "description": self.describe(),
            "points": [
                {"point": p.point, "replications": p.replications, "stopped_by": p.reason,
                 "half_widths": p.half_widths, "targets": p.targets}
                for p in self.points
            ],
        }  # fmt: skip


class PrecisionRule:
    """A precision target as the replication loop's stopping rule (`batch.StoppingRule`): a point
    stops when its intervals meet the target or it has `max_replications`; else it gets `step`
    more (up to the cap). Where each point stopped is kept for `report`."""

    def __init__(self, precision: Precision, step: int) -> None:
        self.precision = precision
        self.step = step
        self.stopped: dict[int, PointPrecision] = {}

    def more(self, point: int, replications: int, summaries: Sequence[Mapping[str, float]],
             failures: Sequence[Any] = ()) -> int | None:  # fmt: skip
        verdict = check(self.precision, summaries, point)
        verdict.replications = replications
        if verdict.met or replications >= self.precision.max_replications:
            self.stopped[point] = verdict
            return None
        return min(self.precision.max_replications, replications + self.step)

    def report(self, points: Sequence[int]) -> PrecisionReport:
        """How each of `points` stopped (every one must have)."""
        return PrecisionReport(self.precision, [self.stopped[p] for p in points])
