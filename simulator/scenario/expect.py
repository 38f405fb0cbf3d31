"""The `expect:` and `check:` blocks of a scenario file: what `leasesim check` judges, and how.

```yaml
expect:                                   # bounds on the long-run mean of summary metrics
  duplicated_fraction: {max: 0.001}
  reassigned_fraction: {between: [0.002, 0.03]}
  stale_status_accepted: {equals: 0}
check:
  max_replications: 30                    # replications a check may add while undecided
  tolerance:                              # margins of the baseline comparison
    default: {relative: 5%}
    reassigned_fraction: {relative: 50%, absolute: 0.002}
  quick: {replications: 4, duration: 6h}  # `leasesim check --quick`
  baseline: baselines/aws-defaults.json   # default: baselines/<file name>.json beside the file
```

Bounds are in the metric's unit, and may be written with units as `recommend --require` reads
them: `latency_p95_s: {max: 10m}`, `duplicated_fraction: {max: 0.1%}`, `poll_calls_per_s:
{max: 120/h}`.

Metric and flag names, and the units of a metric's values, are the vocabulary of
`simulator.scenario.outputs` (which `simulator.results` computes). The schema imports this module,
so it imports nothing of the schema; the judging is `simulator.check`'s.
Every error is a "scenario_rule" error located at the offending key (`at`), so the loader names
the field and its line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from simulator.scenario.numbers import Number, Whole
from simulator.scenario.outputs import FLAG_NAMES, METRIC_UNITS, metric_value
from simulator.scenario.paths import did_you_mean, shape_of
from simulator.units import parse_duration

BOUNDS = ("max", "min", "between", "equals")
DEFAULT_MAX_REPLICATIONS = 30
DEFAULT_RELATIVE_TOLERANCE = 0.05


def _rule(message: str, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    """An error the scenario loader reports as written, at `at` below the block's location."""
    return PydanticCustomError("scenario_rule", "{message}", {"message": message, "at": at})


def metric_names() -> list[str]:
    """The summary metrics a block may name."""
    return list(METRIC_UNITS)


def _check_metric(name: object, extra: tuple[str, ...] = ()) -> None:
    names = metric_names()
    if isinstance(name, str) and name in names:
        return
    raise _rule(
        f"{name!r} is not a summary metric.{did_you_mean(str(name), [*extra, *names])} The "
        f"metrics are: {', '.join(names)} (docs/metrics.md).",
        (str(name),),
    )


def _number(value: Any, at: tuple[str | int, ...]) -> float:
    """A finite number (YAML may read 1e-3 as text: numeric text is accepted)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _rule(f"must be a number in the metric's unit, not {shape_of(value)}.", at)
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise _rule(f"must be a number in the metric's unit, not {shape_of(value)}.", at) from None
    if not math.isfinite(number):
        raise _rule(f"must be a finite number, not {shape_of(value)}.", at)
    return number


class _Strict(BaseModel):
    """Base: unknown fields are errors, values are frozen (like the schema's sections)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Keyed(BaseModel):
    """Base of blocks whose keys are metric names (pydantic "extra" fields, typed)."""

    model_config = ConfigDict(extra="allow", frozen=True)


# --- expect ---------------------------------------------------------------------------------------


class Bound(_Strict):
    """A bound on a metric's long-run mean: at most, at least, within, or exactly a value.

    Written with one key: `{max: 0.001}`, `{min: 0.02}`, `{between: [0.01, 0.03]}` or
    `{equals: 0}`; values are in the metric's unit (docs/metrics.md).
    """

    max: float | None = None
    min: float | None = None
    between: tuple[float, float] | None = None
    equals: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_bound(cls, data: Any) -> Any:
        example = "{max: 0.001}, {min: 0.02}, {between: [0.01, 0.03]} or {equals: 0}"
        if not isinstance(data, Mapping):
            raise _rule(f"must be a bound such as {example}, not {shape_of(data)}.")
        for key in data:
            if key not in BOUNDS:
                raise _rule(
                    f"unknown bound {key!r}.{did_you_mean(str(key), list(BOUNDS))} A bound is "
                    f"one of max, min, between or equals: {example}.",
                    (str(key),),
                )
        if len(data) != 1:
            raise _rule(
                f"give one bound, not {len(data)} ({', '.join(map(str, data))}); for both ends "
                "write between: [low, high]."
            )
        ((key, value),) = data.items()
        if key != "between":
            return {key: _number(value, (key,))}
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise _rule(f"between needs a list of two numbers, [low, high], not {shape_of(value)}.",
                        (key,))  # fmt: skip
        low, high = _number(value[0], (key, 0)), _number(value[1], (key, 1))
        if high < low:
            raise _rule(f"between [{low:g}, {high:g}]: the high end must not be below the low end.",
                        (key,))  # fmt: skip
        return {key: (low, high)}

    @model_serializer(mode="wrap")
    def _as_written(self, handler: Any) -> dict[str, Any]:
        # One key, as in the file, so that a resolved scenario reads back the same.
        return {k: v for k, v in handler(self).items() if v is not None}

    @property
    def interval(self) -> tuple[float, float]:
        """The values the bound allows, as a closed interval (infinite ends for max / min)."""
        if self.max is not None:
            return -math.inf, self.max
        if self.min is not None:
            return self.min, math.inf
        if self.between is not None:
            return self.between
        assert self.equals is not None
        return self.equals, self.equals

    def describe(self) -> str:
        """`<= 0.001`, `>= 0.02`, `in [0.01, 0.03]`, `= 0`."""
        if self.max is not None:
            return f"<= {self.max:.6g}"
        if self.min is not None:
            return f">= {self.min:.6g}"
        if self.between is not None:
            return f"in [{self.between[0]:.6g}, {self.between[1]:.6g}]"
        return f"= {self.equals:.6g}"


def _in_unit(metric: str, value: Any, at: tuple[str | int, ...]) -> Any:
    """Text with a unit as a number in the metric's unit (the parser of `--require`); other
    values are left to the bound's own checks."""
    if not isinstance(value, str):
        return value
    try:
        return metric_value(metric, value)
    except ValueError as exc:
        raise _rule(f"{exc}.", at) from None


def flag_names() -> tuple[str, ...]:
    """The run health flags `allow_flags` may name."""
    return FLAG_NAMES


def _allowed_flags(value: Any) -> Any:
    """`allow_flags: [backlog_grows, ...]`: known flag names, each once."""
    names = flag_names()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise _rule(f"allow_flags must be a list of run health flags ({', '.join(names)}), not "
                    f"{shape_of(value)}.")  # fmt: skip
    for i, name in enumerate(value):
        if name not in names:
            raise _rule(f"{name!r} is not a run health flag.{did_you_mean(str(name), list(names))}"
                        f" The flags are: {', '.join(names)} (docs/regression.md).", (i,))
    return tuple(dict.fromkeys(value))


class Expect(_Keyed):
    """The `expect:` block: metric name -> Bound, and `allow_flags`: the run health flags
    (`simulator.results.health`) this scenario is meant to raise. Any other flag fails the
    check."""

    allow_flags: Annotated[tuple[str, ...], BeforeValidator(_allowed_flags)] = ()
    __pydantic_extra__: dict[str, Bound] = Field(init=False)

    @model_validator(mode="before")
    @classmethod
    def _units(cls, data: Any) -> Any:
        """Values written with units (`latency_p95_s: {max: 10m}`, `0.5%`, `120/h`) become
        numbers in the metric's unit, read as `recommend --require` reads its bounds."""
        if not isinstance(data, Mapping):
            return data
        names = set(metric_names())
        out = dict(data)
        for metric, bound in data.items():
            if metric not in names or not isinstance(bound, Mapping):
                continue
            fixed = dict(bound)
            for key, value in bound.items():
                if key == "between" and isinstance(value, list | tuple):
                    fixed[key] = [_in_unit(str(metric), v, (str(metric), key, i))
                                  for i, v in enumerate(value)]  # fmt: skip
                elif key in BOUNDS:
                    fixed[key] = _in_unit(str(metric), value, (str(metric), key))
            out[metric] = fixed
        return out

    @model_validator(mode="after")
    def _metrics(self) -> Expect:
        bounds = self.__pydantic_extra__ or {}
        if not bounds and not self.allow_flags:
            raise _rule("lists no metric; write `METRIC: {max: VALUE}` entries, e.g. "
                        "duplicated_fraction: {max: 0.001}.")  # fmt: skip
        for name in bounds:
            _check_metric(name, ("allow_flags",))
        return self

    @model_serializer(mode="wrap")
    def _as_written(self, handler: Any) -> dict[str, Any]:
        # allow_flags only when given, so that a resolved scenario reads back the same.
        out = dict(handler(self))
        if not self.allow_flags:
            out.pop("allow_flags", None)
        else:
            out["allow_flags"] = list(self.allow_flags)
        return out

    def bounds(self) -> dict[str, Bound]:
        """The bounds in file order."""
        return dict(self.__pydantic_extra__ or {})


# --- check ----------------------------------------------------------------------------------------


def _fraction(value: Any) -> Any:
    """0.05 or "5%" -> 0.05 (other values are left to the field's own checks)."""
    if isinstance(value, bool):  # YAML's yes/on too: not 100 %
        raise ValueError(f"{str(value).lower()} is not a fraction; write e.g. 5% or 0.05")
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a fraction; write e.g. 5% or 0.05") from None


def _duration(value: object) -> float:
    try:
        return parse_duration(value)
    except OverflowError:
        raise ValueError("the number is too large to be a duration") from None


Seconds = Annotated[float, BeforeValidator(_duration)]


class Tolerance(_Strict):
    """How far a metric's mean may move from its baseline and still count as unchanged.

    The margin is the larger of `relative` x |baseline mean| and `absolute` (in the metric's
    unit): the absolute floor keeps rare-event metrics, whose baseline may be 0, comparable.
    """

    relative: Annotated[float | None, BeforeValidator(_fraction)] = Field(
        None, ge=0, allow_inf_nan=False
    )
    absolute: Number | None = Field(None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _given(self) -> Tolerance:
        if self.relative is None and self.absolute is None:
            raise _rule("give relative (e.g. 5%) and/or absolute (in the metric's unit).")
        return self

    def margin(self, reference: float) -> float:
        """The margin around a baseline mean of `reference`."""
        relative = self.relative * abs(reference) if self.relative is not None else 0.0
        if not math.isfinite(relative):
            relative = 0.0
        return max(relative, self.absolute or 0.0)

    def describe(self) -> str:
        parts = []
        if self.relative is not None:
            parts.append(f"{self.relative:.4g} x |baseline|")
        if self.absolute is not None:
            parts.append(f"{self.absolute:.4g}")
        return " or ".join(parts)


class Tolerances(_Keyed):
    """`check.tolerance`: the `default` margin and per-metric ones (each replaces the default)."""

    default: Tolerance = Field(
        default_factory=lambda: Tolerance(relative=DEFAULT_RELATIVE_TOLERANCE)
    )
    __pydantic_extra__: dict[str, Tolerance] = Field(init=False)

    @model_validator(mode="after")
    def _metrics(self) -> Tolerances:
        for name in self.__pydantic_extra__ or {}:
            _check_metric(name, ("default",))
        return self

    def named(self) -> dict[str, Tolerance]:
        """The per-metric entries, in file order."""
        return dict(self.__pydantic_extra__ or {})

    def of(self, metric: str) -> Tolerance:
        return self.named().get(metric, self.default)


class Quick(_Strict):
    """`check.quick`: a shorter check for pre-commit use (`leasesim check --quick`)."""

    replications: Whole | None = Field(None, ge=2)
    duration: Seconds | None = Field(None, gt=0)
    max_replications: Whole | None = Field(None, ge=2, le=10_000)


class CheckOptions(_Strict):
    """The `check:` block: how `leasesim check` runs and compares this scenario."""

    max_replications: Whole = Field(DEFAULT_MAX_REPLICATIONS, ge=2, le=10_000)
    tolerance: Tolerances = Field(default_factory=Tolerances)
    quick: Quick | None = None
    baseline: str | None = Field(None, min_length=1)
