"""Running a scenario once (`run`), and the unit of work of every experiment (`run_job`).

A run is a pure function of (scenario, seed, replication): replication i draws from the i-th child
of `SeedSequence(seed)`, and every component from its own named stream below it, so replication i
is the same whichever way, or wherever, it is run, and replication i of two sweep points uses
common random numbers.

`run_job` is what executors send to workers: a `Job` holds only plain data (the resolved scenario
as a JSON-safe dict, the seed and the replication), and the answer is a small `RunRecord` (the
summary metrics) or a `Failure`, never the run's log.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import LeasesimError, interrupted
from simulator.model import simulate
from simulator.results.result import Result
from simulator.scenario.load import (
    announce,
    load_dict_with_source,
    load_scenario_dict,
    load_scenario_with_source,
    remember,
    scenario_to_dict,
    scenario_warnings,
)
from simulator.scenario.schema import Scenario
from simulator.seeds import Streams

ScenarioLike = Scenario | str | os.PathLike[str] | Mapping[str, Any]


#: Set while an experiment runs its jobs: the experiment announced the warnings already.
_QUIET: ContextVar[bool] = ContextVar("leasesim_quiet_warnings", default=False)


def resolve(scenario: ScenarioLike, overrides: Sequence[str] = ()) -> Scenario:
    """A validated `Scenario` from a scenario object, a scenario file path or plain data (a dict
    with the fields of a scenario file, as `load_scenario_dict` reads it).

    Issues the scenario's warnings (`ScenarioWarning`, pointed at the caller of the function that
    called `resolve`: `run`, `replicate`, `sweep`) unless they were issued for that scenario
    object already, e.g. by `load_scenario`, or a job of an experiment is running.
    """
    if isinstance(scenario, Scenario):
        if overrides:
            scenario = load_scenario_dict(scenario_to_dict(scenario), overrides=overrides)
    elif isinstance(scenario, str | os.PathLike):
        loaded = load_scenario_with_source(scenario, overrides=overrides)
        remember(loaded)  # its warnings keep their file and line
        scenario = loaded.scenario
    elif isinstance(scenario, Mapping):
        loaded = load_dict_with_source(dict(scenario), overrides=overrides)
        remember(loaded)
        scenario = loaded.scenario
    else:
        raise LeasesimError(
            "USAGE_ERROR",
            "expected a Scenario, the path of a scenario file or a dict of scenario fields, got "
            f"{type(scenario).__name__}",
        )
    if not _QUIET.get():
        announce(scenario, stacklevel=3)
    return scenario


def check_index(name: str, value: object, minimum: int) -> int:
    """`value` if it is an integer >= minimum, else a USAGE_ERROR naming `name`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LeasesimError("USAGE_ERROR", f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def run(
    scenario: ScenarioLike, seed: int | None = None, replication: int = 0,
    overrides: Sequence[str] = (),
) -> Result:  # fmt: skip
    """Run one replication of a scenario and return its `Result`.

    `seed` defaults to the scenario's; `replication` selects the independent stream set, so
    `run(s, replication=i)` equals replication i of `replicate(s, n)`.

    The scenario's warnings are issued as `ScenarioWarning`s (once per scenario object: not again
    for a scenario `load_scenario` returned) and listed in `result.warnings`.
    """
    scenario = resolve(scenario, overrides)
    seed = scenario.seed if seed is None else check_index("seed", seed, 0)
    check_index("replication", replication, 0)
    started = time.perf_counter()
    simulation = simulate(scenario, Streams.from_seed(seed, replication))
    wall = time.perf_counter() - started
    result = Result(
        scenario, simulation.log, seed=seed, wall_time_s=wall, events=simulation.events,
        meta={"replication": replication, "mode": simulation.mode,
              "fallbacks": dict(simulation.fallbacks)},  # why groups ("*": all) ran exact
    )  # fmt: skip
    result.warnings = [str(w) for w in scenario_warnings(scenario)]  # type: ignore[attr-defined]
    return result


# --- jobs: the unit of work of replications and sweeps --------------------------------------------


@dataclass(frozen=True)
class Job:
    """One (point, replication) of an experiment, as plain data a worker can rebuild it from.

    `scenario` is the point's fully resolved scenario (`scenario_to_dict`); `tables` asks for
    the run's tables back (a `Result` without its log), e.g. to save them.
    """

    point: int
    replication: int
    seed: int
    scenario: Mapping[str, Any]
    tables: bool = False

    @property
    def key(self) -> tuple[int, int]:
        return self.point, self.replication


@dataclass
class RunRecord:
    """What a finished run sends back: its summary metrics (and, if asked, its tables)."""

    point: int
    replication: int
    seed: int
    summary: dict[str, float]
    wall_time_s: float = float("nan")
    events: int | None = None
    result: Result | None = field(default=None, repr=False)
    #: Per API operation: {"calls", "throttled", "lost"} of the run (None when loaded from disk).
    calls: dict[str, dict[str, int]] | None = field(default=None, repr=False)

    @property
    def key(self) -> tuple[int, int]:
        return self.point, self.replication


def calls_by_operation(result: Result) -> dict[str, dict[str, int]]:
    """The run's calls table as {operation: {"calls", "throttled", "lost"}}."""
    table = result.tables["calls"]
    return {
        str(row.operation): {"calls": int(row.calls), "throttled": int(row.throttled),
                             "lost": int(row.lost)}
        for row in table.itertuples(index=False)
    }  # fmt: skip


@dataclass(frozen=True)
class Failure:
    """A run that raised: where (point, replication, seed) and what (type, message, traceback)."""

    point: int
    replication: int
    seed: int
    error_type: str
    message: str
    traceback: str = ""

    @property
    def key(self) -> tuple[int, int]:
        return self.point, self.replication

    def describe(self) -> str:
        return f"{self.error_type}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "point": self.point, "replication": self.replication, "seed": self.seed,
            "error_type": self.error_type, "message": self.message,
        }  # fmt: skip


def failure_of(job: Job, exc: BaseException) -> Failure:
    """The Failure that reports `exc`, raised while running (or shipping) `job`."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return Failure(job.point, job.replication, job.seed, type(exc).__name__, str(exc), text)


def run_job(job: Job, run_fn: Callable[..., Result] | None = None) -> RunRecord | Failure:
    """Run one job; an exception in the model comes back as a `Failure`, not raised.

    KeyboardInterrupt and other non-`Exception`s propagate: they stop the experiment. `run_fn`
    (default `run`) is a seam for the CLI and tests.
    """
    quiet = _QUIET.set(True)  # the experiment announced the scenario's warnings, once
    try:
        scenario = load_scenario_dict(dict(job.scenario), source="<job scenario>")
        result = (run_fn or run)(scenario, seed=job.seed, replication=job.replication)
        record = RunRecord(
            job.point, job.replication, job.seed, dict(result.summary),
            float(result.meta.get("wall_time_s", float("nan"))), result.meta.get("events"),
            calls=calls_by_operation(result),
        )  # fmt: skip
        if job.tables:
            result.tables  # noqa: B018 - build them here, in the worker, before pickling
            record.result = result
        return record
    except Exception as exc:
        if interrupted(exc):  # Ctrl-C in disguise: it stops the experiment, as itself
            raise KeyboardInterrupt from exc
        return failure_of(job, exc)
    finally:
        _QUIET.reset(quiet)
