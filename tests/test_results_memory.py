"""A large run's model is freed before its tables are built (issue 18, memory at 100,000 runners).

The model is made of reference cycles (runners and their threads, processes and their events),
which reference counting cannot free once the run returns; a result built from a large log
collects them first, so that their memory holds the tables instead of both being alive at the
tables' peak. Small logs skip the collection (it costs a pass over every live object).
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import load_scenario
from simulator.collector import paused
from simulator.model.simulation import simulate
from simulator.results import result as result_module
from simulator.results.result import Result
from simulator.seeds import Streams

GC_PAUSES = Path(__file__).parent.parent / "scenarios" / "gc-pauses.yaml"


@pytest.fixture
def collector_off() -> Iterator[None]:
    """Only explicit collections run: an automatic one would free the model by chance."""
    gc.collect()
    with paused():
        yield


def _result_and_model(mode: str) -> tuple[Result, weakref.ref]:
    """A result of a short run, and a weak reference to its (dropped) simulation's environment."""
    scenario = load_scenario(GC_PAUSES, overrides=[f"simulation.mode={mode}", "duration=2h"])
    simulation = simulate(scenario, Streams.from_seed(scenario.seed, 0))
    result = Result(scenario, simulation.log, seed=scenario.seed)
    env = weakref.ref(simulation.env)
    del simulation
    return result, env


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_a_large_logs_model_is_freed_before_its_tables_are_built(
    mode: str, collector_off: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(result_module, "COLLECT_BEFORE_TABLES", 1)  # every log counts as large
    result, env = _result_and_model(mode)
    assert env() is not None  # held by the model's own cycles: no collection has run
    alive_at_build: list[bool] = []
    build = result_module.build_tables

    def spy(*args: object, **kwargs: object) -> object:
        alive_at_build.append(env() is not None)
        return build(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(result_module, "build_tables", spy)
    assert len(result.tables["attempts"]) > 0
    assert alive_at_build == [False]


def test_a_small_logs_tables_are_built_without_a_collection(
    collector_off: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, env = _result_and_model("fast")
    assert len(result.log.tasks) < result_module.COLLECT_BEFORE_TABLES  # type: ignore[union-attr]
    collections: list[int] = []
    monkeypatch.setattr(result_module.gc, "collect", lambda *a: collections.append(1) or 0)
    assert len(result.tables["tasks"]) > 0
    assert collections == []
    assert env() is not None  # nothing collected it: the collector was off and not called
