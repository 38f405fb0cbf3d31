"""The scenario: pydantic models of a scenario file, each field with its default and source.

Durations and rates are parsed from human units here (see `units`); after validation every time is
float seconds and every rate is per second. Loading files, line numbers and `--set` overrides live
in `simulator.scenario.load` and the
modules it names.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)
from pydantic_core import PydanticCustomError

from simulator import arrival_profile
from simulator.scenario import profiles
from simulator.scenario.expect import CheckOptions, Expect
from simulator.scenario.numbers import Number, Whole
from simulator.scenario.paths import show
from simulator.scenario.sweep import Sweep, problem
from simulator.units import parse_duration, parse_rate


def _duration(value: object) -> float:
    """parse_duration, with an integer too large for a float reported as a validation error."""
    try:
        return parse_duration(value)
    except OverflowError:  # float(10**400): not a ValueError, so pydantic would not catch it
        raise ValueError("the number is too large to be a duration") from None


def _rate(value: object) -> float:
    """parse_rate, with an integer too large for a float reported as a validation error."""
    try:
        return parse_rate(value)
    except OverflowError:
        raise ValueError("the number is too large to be a rate") from None


Seconds = Annotated[float, BeforeValidator(_duration)]
PerSecond = Annotated[float, BeforeValidator(_rate)]


def _name(value: str) -> str:
    """A name shown as it is written: no control, format or separator characters (what
    `errors.printable` would escape), since names become folder names, plot titles and JUnit
    test names, where an escape sequence or a right-to-left override would act or mislead."""
    if value.isprintable():
        return value
    at, char = next((i, c) for i, c in enumerate(value) if not c.isprintable())
    code = f"U+{ord(char):04X}"
    kind = (_CONTROLS.get(char) or unicodedata.name(char, "")
            or _UNNAMED.get(unicodedata.category(char), ""))  # fmt: skip
    shown = show(value)
    raise PydanticCustomError("scenario_rule", "{message}", {"message": (
        f"{shown} holds the character {code} ({kind or 'not printable'}) at position {at + 1}; "
        "names become folder names, plot titles and JUnit test names, so a name may hold only "
        "printable characters (letters, digits, punctuation and plain spaces); tabs and line "
        "breaks may go in the description."
    )})  # fmt: skip


_CONTROLS = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return",
             "\x1b": "escape, which starts terminal escape sequences"}  # fmt: skip
_UNNAMED = {"Cc": "a control character", "Cs": "a lone surrogate",
            "Co": "a private-use character", "Cn": "an unassigned code point"}  # fmt: skip
# The names of a scenario, its fleet groups, worker groups and workloads.
Name = Annotated[str, Field(min_length=1), AfterValidator(_name)]


def _error_at(at: tuple[str | int, ...], message: str) -> PydanticCustomError:
    """A cross-field error from a model validator, pointing at the field to blame.

    A model validator's error is located at the model itself; `at` (relative to the model) lets the
    scenario loader name the offending field and its line instead of the whole section.
    """
    return PydanticCustomError("scenario_rule", "{message}", {"message": message, "at": at})


class Strict(BaseModel):
    """Base: unknown fields are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- distributions -------------------------------------------------------------------------------


class Fixed(Strict):
    """Always the same value."""

    dist: Literal["fixed"]
    value: Seconds = Field(ge=0)


class Exponential(Strict):
    """Exponential with the given mean."""

    dist: Literal["exponential"]
    mean: Seconds = Field(gt=0)


class Lognormal(Strict):
    """Lognormal given by its median and 95th percentile (p95 must exceed the median)."""

    dist: Literal["lognormal"]
    median: Seconds = Field(gt=0)
    p95: Seconds = Field(gt=0)

    @model_validator(mode="after")
    def _p95_above_median(self) -> Lognormal:
        if self.p95 <= self.median:
            raise _error_at(
                ("p95",),
                f"p95 ({self.p95:g}s) must be greater than median ({self.median:g}s): "
                "a lognormal's 95th percentile lies above its median",
            )
        return self


class Uniform(Strict):
    """Uniform between low and high."""

    dist: Literal["uniform"]
    low: Seconds = Field(ge=0)
    high: Seconds = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high < self.low:
            raise _error_at(
                ("high",), f"high ({self.high:g}s) must not be below low ({self.low:g}s)"
            )
        return self


class Empirical(Strict):
    """Resampled from a CSV column of durations (seconds or unit strings).

    `file` is relative to the scenario file; the loader fills `values`.
    """

    dist: Literal["empirical"]
    file: str
    column: str
    values: tuple[Annotated[Seconds, Field(ge=0)], ...] = ()


DistSpec = Annotated[
    Fixed | Exponential | Lognormal | Uniform | Empirical, Field(discriminator="dist")
]


def _scalar_is_fixed(value: object) -> object:
    """A bare duration ("30s", 12) means a fixed distribution."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


Distribution = Annotated[DistSpec, BeforeValidator(_scalar_is_fixed)]


# --- service -------------------------------------------------------------------------------------


class Throttle(Strict):
    """Account-wide API rate limits as token buckets (reference section 1)."""

    burst: Number = 100.0  # at least 1: see _burst
    poll: PerSecond = Field(2.0, gt=0)
    progress: PerSecond = Field(10.0, gt=0)
    status: PerSecond = Field(10.0, gt=0)
    heartbeat: PerSecond = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _burst(self) -> Throttle:
        # Each call takes one token from a bucket that holds at most `burst`: below one token
        # the bucket never passes a call, and every call is throttled for ever.
        if not self.burst >= 1:
            raise _error_at(
                ("burst",),
                f"burst ({self.burst:g}) must be at least 1: each call takes one token from a "
                "bucket that holds at most `burst` tokens, so a smaller bucket could never pass "
                "a call and every call would be throttled for ever",
            )
        return self


class Service(Strict):
    """The Data Pipeline web service and the reading of each documented contradiction.

    `profile` sets the defaults of the fields in `profiles.GOVERNED` to another lease system's
    rules (SQS, SWF, Step Functions, Temporal); fields the scenario sets keep their values.
    """

    profile: Literal["aws-data-pipeline", "sqs", "swf", "step-functions", "temporal"] = (
        "aws-data-pipeline"
    )
    long_poll: Seconds = Field(90.0, gt=0)
    ack_timeout: Seconds = Field(120.0, gt=0)
    report_progress_timeout: Seconds = Field(900.0, gt=0)
    short_timeout: Seconds = Field(300.0, gt=0)
    lease_reading: Literal["15min", "5min", "min", "two_stage"] = "15min"
    ack_uses_report_timeout: bool = False
    on_lease_expiry: Literal["fail_and_retry", "reassign_same_attempt", "new_attempt_no_delay"] = (
        "fail_and_retry"
    )
    stale_progress: Literal["canceled", "not_found", "accepted"] = "canceled"
    stale_status: Literal["rejected", "first_writer_wins", "last_writer_wins"] = "rejected"
    heartbeat_renews_leases: bool = False
    dispatch: Literal["fifo", "random"] = "fifo"
    retry_delay_floor: Seconds = Field(120.0, ge=0)
    throttle: Throttle | None = Field(default_factory=Throttle)
    call_latency: Distribution = Field(default_factory=lambda: Fixed(dist="fixed", value=0.0))
    # Written by leasesim: the fields the profile filled in, so that a scenario written out in full
    # and given another profile later (a sweep, --set) takes that profile's defaults.
    profile_defaults: dict[str, Any] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _profile(cls, data: Any) -> Any:
        return profiles.apply(data)

    def __eq__(self, other: object) -> bool:
        # Two services with the same rules are equal, whether a value was written out or filled
        # in by the profile: `profile_defaults` records where values came from, not what they are.
        if not isinstance(other, Service):
            return NotImplemented
        return all(
            getattr(self, name) == getattr(other, name)
            for name in type(self).model_fields
            if name != "profile_defaults"
        )

    __hash__ = None  # type: ignore[assignment]  # holds a dict; equal services may differ in it


# --- fleet ---------------------------------------------------------------------------------------


class Backoff(Strict):
    """Back-off after a throttled call: min(cap, base * 2**k), times U(0.5, 1) if jitter."""

    base: Seconds = Field(1.0, gt=0)
    cap: Seconds = Field(60.0, gt=0)
    jitter: bool = True


class Fault(Strict):
    """A fault that strikes at `rate` (per runner, a Poisson process) and lasts `duration`."""

    rate: PerSecond = Field(gt=0)
    duration: Distribution


class Crash(Strict):
    """The runner dies (all threads); it restarts after `restart_after`, or never if null."""

    rate: PerSecond = Field(gt=0)
    restart_after: Distribution | None = Field(
        default_factory=lambda: Fixed(dist="fixed", value=300.0)
    )


class Partition(Fault):
    """No call reaches the service; work goes on. `group` scope cuts the whole group at once."""

    scope: Literal["runner", "group"] = "runner"


class Interruption(Strict):
    """A spot interruption: a notice, then the runner is gone for good at the end of it.

    `on_notice`: `drain` stops polling at the notice and finishes what it can; `ignore` works on
    as if nothing were coming. Either way the runner stops at the end of the notice, and the leases
    of tasks it still holds are left to expire (the service is not told).
    """

    rate: PerSecond = Field(gt=0)
    notice: Seconds = Field(120.0, ge=0)
    on_notice: Literal["drain", "ignore"] = "drain"


class Faults(Strict):
    """The faults of one fleet group, each optional."""

    crash: Crash | None = None
    # Spot interruptions (issue 16): each runner at most once, since it is gone afterwards.
    interruption: Interruption | None = None
    pause: Fault | None = None
    # The runner's progress reporting (acknowledgements and ReportTaskProgress) stops while its
    # work goes on: how a live runner loses its lease.
    progress_stall: Fault | None = None
    # Only ReportTaskRunnerHeartbeat stops: matters with service.heartbeat_renews_leases.
    heartbeat_stall: Fault | None = None
    partition: Partition | None = None
    # Each message, request or reply, is lost independently with this probability, so a call gets
    # its reply with probability (1 - p)^2; `loss_direction` narrows it to one direction.
    message_loss: Number = Field(0.0, ge=0, le=1)
    loss_direction: Literal["both", "request", "reply"] = "both"

    @model_validator(mode="after")
    def _not_every_message(self) -> Faults:
        if self.message_loss >= 1:
            lost = {
                "both": "every request and every reply",
                "request": "every request (no call would reach the service)",
                "reply": "every reply (the runner would never hear the service)",
            }[self.loss_direction]
            raise _error_at(
                ("message_loss",),
                f"message_loss 1 loses {lost}: no runner could ever acknowledge or finish a task. "
                "It is a probability per message: 0.2 loses one message in five; use a value "
                "below 1",
            )
        return self

    @property
    def request_loss(self) -> float:
        """The chance a call's request is lost on the way to the service."""
        return self.message_loss if self.loss_direction != "reply" else 0.0

    @property
    def reply_loss(self) -> float:
        """The chance the reply to a call the service handled is lost on the way back."""
        return self.message_loss if self.loss_direction != "request" else 0.0


def _schedule_entry(value: object) -> object:
    """A scheduled minimum as `[time of day, runners]` (a two-item list)."""
    if isinstance(value, list | tuple) and len(value) == 2:
        return {"at": value[0], "min": value[1]}
    return value


class ScheduledMinimum(Strict):
    """From `at` (time of day) on, at least `min` runners, until the next entry (daily)."""

    at: Seconds = Field(ge=0, lt=86400)
    min: Whole = Field(ge=0)


class Scaling(Strict):
    """An auto-scaling policy for one fleet group (issue 16): a controller that evaluates the
    group's load every `evaluate_every` and launches or retires runners between `min` and `max`.

    `backlog`: keep `busy threads + ready tasks / target` threads (target = ready tasks per
    thread); `utilization`: keep busy threads / threads at `target`.
    """

    min: Whole = Field(1, ge=0)
    max: Whole = Field(ge=1)
    policy: Literal["backlog", "utilization"] = "backlog"
    target: Number = Field(1.0, gt=0)
    evaluate_every: Seconds = Field(60.0, gt=0)
    # From the decision to launch to the runner's first poll (an instance booting).
    launch_delay: Distribution = Field(default_factory=lambda: Fixed(dist="fixed", value=180.0))
    scale_in_cooldown: Seconds = Field(600.0, ge=0)
    scale_in: Literal["drain", "terminate"] = "drain"
    # A scheduled minimum repeating daily: [[7h, 20], [19h, 4]].
    schedule: tuple[Annotated[ScheduledMinimum, BeforeValidator(_schedule_entry)], ...] = ()

    @model_validator(mode="after")
    def _bounds(self) -> Scaling:
        if self.min > self.max:
            raise _error_at(("min",), f"min ({self.min}) must not exceed max ({self.max})")
        if self.policy == "utilization" and self.target > 1:
            raise _error_at(
                ("target",),
                f"target ({self.target:g}) is a busy fraction of the threads under "
                "policy utilization: it must be at most 1",
            )
        for i, entry in enumerate(self.schedule):
            if entry.min > self.max:
                raise _error_at(
                    ("schedule", i),
                    f"the scheduled minimum {entry.min} exceeds max ({self.max})",
                )
            if i and entry.at <= self.schedule[i - 1].at:
                raise _error_at(
                    ("schedule", i), "schedule entries must be in increasing time-of-day order"
                )
        return self

    def scheduled_min(self, now: float) -> int:
        """The minimum in force at `now`: `min`, or the scheduled one if larger (daily)."""
        if not self.schedule:
            return self.min
        day = now % 86400.0
        current = self.schedule[-1].min  # before the first entry of a day: yesterday's last
        for entry in self.schedule:
            if entry.at <= day:
                current = entry.min
            else:
                break
        return max(self.min, current)


class FleetGroup(Strict):
    """A group of identical task runners serving one worker group."""

    name: Name
    worker_group: Name
    runners: Whole = Field(1, ge=1)
    threads: Whole = Field(2, ge=1)
    progress_interval: Seconds = Field(60.0, gt=0)
    progress_jitter: Seconds = Field(0.0, ge=0)
    runner_heartbeat_interval: Seconds = Field(900.0, gt=0)
    # Real runners do not start in the same microsecond: each runner starts at a uniformly random
    # time in [0, start_spread). null: one long poll of the service (90 s), so that idle polls are
    # spread over the hold cycle from the start, as in a fleet that has been running a while.
    start_spread: Seconds | None = Field(None, ge=0)
    startup: Distribution = Field(default_factory=lambda: Fixed(dist="fixed", value=0.0))
    backoff: Backoff = Field(default_factory=Backoff)
    faults: Faults = Field(default_factory=Faults)
    # Runners launched and retired by a policy (issue 16); `runners` is the count at the start.
    scaling: Scaling | None = None

    @model_validator(mode="after")
    def _runners_within_scaling(self) -> FleetGroup:
        s = self.scaling
        if s is not None and not s.min <= self.runners <= s.max:
            raise _error_at(
                ("runners",),
                f"runners ({self.runners}) must lie between scaling.min ({s.min}) and "
                f"scaling.max ({s.max})",
            )
        return self

    @model_validator(mode="after")
    def _jitter_below_interval(self) -> FleetGroup:
        if self.progress_jitter >= self.progress_interval:
            raise _error_at(
                ("progress_jitter",),
                f"progress_jitter ({self.progress_jitter:g}s) must be below "
                f"progress_interval ({self.progress_interval:g}s)",
            )
        return self


# --- workload ------------------------------------------------------------------------------------


class Poisson(Strict):
    """Poisson arrivals at `rate`."""

    kind: Literal["poisson"]
    rate: PerSecond = Field(gt=0)


class Periodic(Strict):
    """`batch` tasks every `every`, the first at `offset`."""

    kind: Literal["periodic"]
    every: Seconds = Field(gt=0)
    batch: Whole = Field(1, ge=1)
    offset: Seconds = Field(0.0, ge=0)


class Explicit(Strict):
    """Tasks submitted at the listed times."""

    kind: Literal["times"]
    times: tuple[Annotated[Seconds, Field(ge=0)], ...]

    @model_validator(mode="after")
    def _some_times(self) -> Explicit:
        if self.kind == "times" and not self.times:  # a trace's times come from its file later
            raise _error_at(
                ("times",),
                "lists no times, so this workload would never submit a task; list at least one, "
                "such as times: [0s, 10m, 2h]",
            )
        return self


def _profile_point(value: object) -> object:
    """A point of a rate profile: [start, rate] (a list of two)."""
    if isinstance(value, list | tuple) and len(value) != 2:
        raise ValueError(
            f"must be a [start, rate] pair such as [2h, 400/h], not a list of {len(value)}"
        )
    return value


ProfilePoint = Annotated[
    tuple[Annotated[Seconds, Field(ge=0)], Annotated[PerSecond, Field(ge=0)]],
    BeforeValidator(_profile_point),
]


class Profile(Strict):
    """Poisson arrivals at a piecewise-constant rate repeating every `period`: `rates` lists
    [start, rate] points (the first at 0, ascending, inside the period), or `file` names a CSV with
    a start column and a rate column (read by the loader into `rates`, relative to the scenario)."""

    kind: Literal["profile"]
    period: Seconds = Field(gt=0)
    rates: tuple[ProfilePoint, ...] = ()
    file: str | None = Field(None, min_length=1)
    time_column: str = Field("start", min_length=1)
    rate_column: str = Field("rate", min_length=1)

    @model_validator(mode="after")
    def _valid_profile(self) -> Profile:
        if not self.rates:
            if self.file is None:
                raise _error_at(
                    ("rates",),
                    "a profile needs `rates: [[0h, RATE], [START, RATE], ...]` or `file:` with a "
                    "CSV of start times and rates",
                )
            return self  # the loader fills `rates` from the file
        found = arrival_profile.problem(self.period, self.rates)
        if found is not None:
            index, part, message = found
            raise _error_at(("rates", index) if part is None else ("rates", index, part), message)
        return self


class Trace(Explicit):
    """Recorded submission times replayed: `column` of the CSV `file` (relative to the scenario
    file), numbers of seconds or ISO-8601 timestamps, each relative to the earliest. The loader
    fills `times` (in order, the earliest at 0)."""

    kind: Literal["trace"]  # type: ignore[assignment]  # a kind of listed times
    file: str = Field(min_length=1)
    column: str = Field(min_length=1)
    times: tuple[Annotated[Seconds, Field(ge=0)], ...] = ()


Arrivals = Annotated[
    Poisson | Periodic | Explicit | Profile | Trace, Field(discriminator="kind")
]


class Workload(Strict):
    """A stream of tasks for one worker group, with the activity's retry and timeout fields."""

    name: Name
    worker_group: Name
    arrivals: Arrivals
    duration: Distribution
    failure_probability: Number = Field(0.0, ge=0, le=1)
    max_retries: Whole = Field(2, ge=0, le=5)
    retry_delay: Seconds = Field(600.0, ge=0)
    report_progress_timeout: Seconds | None = Field(None, gt=0)
    attempt_timeout: Seconds | None = Field(None, gt=0)


# --- the scenario --------------------------------------------------------------------------------


class SimulationOptions(Strict):
    """How the model is run, not what it models."""

    # exact: every call is an event. fast: healthy runners' progress reports are counted in bulk
    # (same distribution of every result; falls back to exact where it cannot be exact).
    mode: Literal["exact", "fast"] = "exact"
    # Assert the lease rules' invariants while simulating (slower; on in the test suite).
    check_invariants: bool = False


class Scenario(Strict):
    """A whole scenario file: service, fleet and workload, simulated for `duration`."""

    name: Name = "scenario"
    description: str = ""
    duration: Seconds = Field(gt=0)
    seed: Whole = Field(0, ge=0)
    replications: Whole = Field(1, ge=1)
    # Tasks submitted before `warmup` are left out of the metrics (steady-state statistics).
    warmup: Seconds = Field(0.0, ge=0)
    service: Service = Field(default_factory=Service)
    fleet: tuple[FleetGroup, ...] = Field(min_length=1)
    workload: tuple[Workload, ...] = Field(min_length=1)
    simulation: SimulationOptions = Field(default_factory=SimulationOptions)
    sweep: Sweep | None = None  # fields to vary, for `leasesim sweep` (see scenario.sweep)
    # What `leasesim check` expects of the metrics, and how it checks them (see scenario.expect).
    expect: Expect | None = None
    check: CheckOptions = Field(default_factory=CheckOptions)

    @model_validator(mode="after")
    def _names_and_groups(self) -> Scenario:
        for label, items in (("fleet", self.fleet), ("workload", self.workload)):
            seen: set[str] = set()
            for index, item in enumerate(items):
                if item.name in seen:
                    raise _error_at(
                        (label, index, "name"),
                        f"{label} name {item.name!r} is used twice; names must be unique",
                    )
                seen.add(item.name)
        served = {g.worker_group for g in self.fleet}
        for index, w in enumerate(self.workload):
            if w.worker_group not in served:
                raise _error_at(
                    ("workload", index, "worker_group"),
                    f"workload {w.name!r} submits to worker group {w.worker_group!r}, which no "
                    f"fleet group serves (served: {', '.join(sorted(served))}); its tasks would "
                    "never run",
                )
        return self

    @model_validator(mode="after")
    def _warmup_and_sweep(self) -> Scenario:
        if self.warmup >= self.duration:
            raise _error_at(
                ("warmup",),
                f"warmup ({self.warmup:g}s) must be shorter than duration ({self.duration:g}s), "
                "or no task would be measured",
            )
        found = problem(self, self.sweep) if self.sweep is not None else None
        if found is not None:
            raise _error_at(("sweep", *found.at), found.message)
        return self
