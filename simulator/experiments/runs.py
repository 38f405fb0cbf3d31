"""Running a scenario: one replication (`run`) or several independent ones (`replicate`).

A run is a pure function of (scenario, seed, replication): replication i draws from the i-th child
of `SeedSequence(seed)`, so replication i is the same whichever way, or wherever, it is run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from simulator.errors import LeasesimError
from simulator.experiments.scenario import load_scenario
from simulator.model import simulate
from simulator.results.result import Result
from simulator.schema import Scenario
from simulator.seeds import Streams

ScenarioLike = Scenario | str | os.PathLike[str]


def resolve(scenario: ScenarioLike, overrides: Sequence[str] = ()) -> Scenario:
    """A validated `Scenario` from a scenario object or a scenario file path."""
    if isinstance(scenario, Scenario):
        if overrides:
            from simulator.experiments.scenario import load_scenario_dict, scenario_to_dict

            return load_scenario_dict(scenario_to_dict(scenario), overrides=overrides)
        return scenario
    if isinstance(scenario, str | os.PathLike):
        return load_scenario(scenario, overrides=overrides)
    raise LeasesimError(
        "USAGE_ERROR",
        f"expected a Scenario or the path of a scenario file, got {type(scenario).__name__}",
    )


def _check_index(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LeasesimError("USAGE_ERROR", f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def run(
    scenario: ScenarioLike, seed: int | None = None, replication: int = 0,
    overrides: Sequence[str] = (),
) -> Result:  # fmt: skip
    """Run one replication of a scenario and return its `Result`.

    `seed` defaults to the scenario's; `replication` selects the independent stream set, so
    `run(s, replication=i)` equals the i-th result of `replicate(s, n)`.
    """
    scenario = resolve(scenario, overrides)
    seed = scenario.seed if seed is None else _check_index("seed", seed, 0)
    _check_index("replication", replication, 0)
    started = time.perf_counter()
    simulation = simulate(scenario, Streams.from_seed(seed, replication))
    wall = time.perf_counter() - started
    return Result(
        scenario, simulation.log, seed=seed, wall_time_s=wall, events=simulation.events,
        meta={"replication": replication},
    )  # fmt: skip


def replicate(
    scenario: ScenarioLike, n: int | None = None, seed: int | None = None,
    overrides: Sequence[str] = (),
) -> list[Result]:  # fmt: skip
    """Run `n` independent replications (default: the scenario's `replications`), serially."""
    scenario = resolve(scenario, overrides)
    n = scenario.replications if n is None else _check_index("n", n, 1)
    return [run(scenario, seed=seed, replication=i) for i in range(n)]
