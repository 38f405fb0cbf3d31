"""The simulation's engine shortcuts change no event: `clock.Clock` (SimPy's environment with
its clock as an attribute and one-call timeouts) and `workload.Tick` (one reusable queue entry per
Poisson arrival chain) give SimPy's own event order, event ids and results."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from simpy import Environment, Event, Interrupt

import simulator
from simulator.distributions import Sampler
from simulator.model import simulation
from simulator.model.clock import Clock
from simulator.model.lease import LATE, LeaseTimer
from simulator.model.log import Task
from simulator.model.workload import Source
from simulator.scenario.load import load_scenario
from simulator.scenario.schema import Exponential, Service, Workload
from simulator.seeds import Streams

AWS_DEFAULTS = Path(__file__).resolve().parent.parent / "scenarios" / "aws-defaults.yaml"


def _program(env: Environment) -> list[tuple[float, str, float]]:
    """A SimPy program using what the model uses (processes, timeouts with values, events
    succeeded by callbacks, interrupts, lease timers of a later priority, `run(until)`), and
    what it saw: (time, what, `env.now`) at every step it took."""
    seen: list[tuple[float, str, float]] = []
    gate = env.event()

    def sleeper(name: str, gaps: list[float]):  # type: ignore[no-untyped-def]
        for gap in gaps:
            try:
                value = yield env.timeout(gap, value=f"{name}+{gap}")
                seen.append((env._now, f"{name} woke {value}", env.now))
            except Interrupt as interrupt:
                seen.append((env._now, f"{name} interrupted {interrupt.cause}", env.now))
        got = yield gate
        seen.append((env._now, f"{name} gate {got}", env.now))

    a = env.process(sleeper("a", [1.0, 2.0, 0.0, 2.5]))
    env.process(sleeper("b", [3.0, 0.5, 0.5]))

    def poke(_: Event) -> None:
        seen.append((env._now, "poke", env.now))
        if a.is_alive:
            a.interrupt("poke")

    env.timeout(3.0).callbacks.append(poke)
    LeaseTimer(env, 3.0, None, lambda e: seen.append((env._now, "late", env.now)))

    def open_gate(_: Event) -> None:
        gate.succeed("open")

    env.timeout(7.0).callbacks.append(open_gate)
    env.run(until=6.0)
    seen.append((env._now, "paused", env.now))
    env.run(until=20.0)
    seen.append((env._now, f"eids {next(env._eid)}", env.now))
    return seen


def test_clock_runs_simpys_events_in_simpys_order() -> None:
    expected = _program(Environment())
    got = _program(Clock())
    assert got == expected
    assert all(t == now for t, _, now in got)  # `now` is the clock at every step
    assert [t for t, *_ in got] == sorted(t for t, *_ in got)
    assert any(what == "late" for _, what, _ in got) and LATE > 1


def test_clock_keeps_simpys_errors() -> None:
    env = Clock()
    with pytest.raises(ValueError, match="Negative delay"):
        env.timeout(-1.0)

    def fails():  # type: ignore[no-untyped-def]
        yield env.timeout(1.0)
        raise KeyError("boom")

    env.process(fails())
    with pytest.raises(KeyError, match="boom"):
        env.run(until=5.0)


def test_poisson_arrivals_on_one_queue_entry_are_the_timeout_chains() -> None:
    """Each arrival comes after the next gap of the workload's stream, takes one event id as a
    timeout would, and the `Tick` object is reused (the queue holds one entry per chain)."""

    class Collect:
        def __init__(self) -> None:
            self.tasks: list[Task] = []

        def submit(self, task: Task) -> None:
            self.tasks.append(task)

    env = Clock()
    config = Workload.model_validate({
        "name": "w", "worker_group": "q", "arrivals": {"kind": "poisson", "rate": 0.5},
        "duration": {"dist": "fixed", "value": 10},
    })  # fmt: skip
    service = Collect()
    streams = Streams.from_seed(7)
    source = Source(
        env, config, Service(), service, iter(range(10**6)),  # type: ignore[arg-type]
        streams.stream("arrivals"), Sampler(config.duration, streams.stream("work")),
    )  # fmt: skip
    source.start()
    env.run(until=500.0)

    # The same arrivals as a chain of SimPy timeouts on SimPy's own environment.
    reference = Environment()
    gaps = Sampler(
        Exponential(dist="exponential", mean=2.0), Streams.from_seed(7).stream("arrivals")
    )
    expected: list[float] = []

    def arrive(_: Event) -> None:
        expected.append(reference.now)
        reference.timeout(gaps()).callbacks.append(arrive)

    reference.timeout(gaps()).callbacks.append(arrive)
    reference.run(until=500.0)

    times = [t.submitted_at for t in service.tasks]
    assert len(times) > 150  # about 250 expected
    assert times == expected
    assert [t.id for t in service.tasks] == list(range(len(times)))
    assert next(env._eid) == next(reference._eid)  # one event id per arrival, as a timeout
    assert sum(entry[3] is source._tick for entry in env._queue) == 1


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_a_scenario_runs_the_same_on_simpys_environment(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aws-defaults for a day: the same summary, tables and event count on `Clock` as on SimPy's
    own `Environment` (the shortcuts are for speed only)."""
    scenario = load_scenario(AWS_DEFAULTS, overrides=["duration=1d", f"simulation.mode={mode}"])
    ours = simulator.run(scenario)
    monkeypatch.setattr(simulation, "Clock", Environment)
    simpys = simulator.run(scenario)
    assert ours.meta["events"] == simpys.meta["events"]
    assert ours.summary == simpys.summary
    pd.testing.assert_frame_equal(ours.tasks, simpys.tasks)
    pd.testing.assert_frame_equal(ours.attempts, simpys.attempts)
