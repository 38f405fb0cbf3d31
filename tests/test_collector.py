"""The cyclic garbage collector is paused during runs: that must cost no memory.

`simulator.collector.paused` is safe only if a run leaves no unreachable reference cycles behind
(reference counting alone then frees everything it discards). Checked on every shipped scenario,
in both modes, since faults (crashes, pauses, partitions) take the rarer code paths.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from simulator import load_scenario
from simulator.collector import paused
from simulator.model.simulation import Simulation
from simulator.seeds import Streams

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))
# The 1,600-thread fleet has throttled every kind of call and lost leases well within an hour.
DURATION = {"throttled-fleet": "1h"}


@pytest.mark.parametrize("mode", ["exact", "fast"])
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_a_run_leaves_no_reference_cycles(path: Path, mode: str) -> None:
    duration = DURATION.get(path.stem, "6h")
    scenario = load_scenario(path, overrides=[f"simulation.mode={mode}", f"duration={duration}"])
    simulation = Simulation(scenario, Streams.from_seed(scenario.seed, 0))
    gc.collect()
    with paused():
        simulation.run()
        assert gc.collect() == 0
    assert simulation.log.attempts  # the run did something


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_a_log_keeps_nothing_of_its_simulation_alive(mode: str) -> None:
    """A kept result must not hold the model (runners, processes, pending events) in memory."""
    path = next(p for p in SCENARIOS if p.stem == "gc-pauses")
    scenario = load_scenario(path, overrides=[f"simulation.mode={mode}", "duration=6h"])
    simulation = Simulation(scenario, Streams.from_seed(scenario.seed, 0))
    log = simulation.run()
    assert any(a.task.live is a for a in log.attempts)  # leases still running at the end
    env = weakref.ref(simulation.env)
    del simulation
    gc.collect()
    assert env() is None


def test_paused_restores_the_previous_state() -> None:
    assert gc.isenabled()
    with paused():
        assert not gc.isenabled()
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
