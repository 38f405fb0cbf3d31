"""Exact mode's hot paths inline a thread's hooks (`Thread._await_poll`, `_await_report`,
`Actor._departs`), the heartbeat's `_beat`, and `Service.handle` where no subclass overrides them
(issue 18, target 3). Processes whose hooks are overridden, each by a plain call of its own, take
the hook paths: both must give the same run, table for table, under every fault."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import simulator
from simulator.model.actor import Wait
from simulator.model.heartbeat import Heartbeat
from simulator.model.log import Attempt
from simulator.model.runner import Runner, Thread
from simulator.model.service import Poll

ROOT = Path(__file__).resolve().parent.parent


class HookedThread(Thread):
    """A thread whose hooks are its own (the same behaviour, called): nothing is inlined."""

    def _departs(self, op: int) -> bool:
        return super()._departs(op)

    def _await_poll(self, poll: Poll) -> Wait:
        return (yield from super()._await_poll(poll))

    def _await_report(self, attempt: Attempt, next_report: float, left: float, done: float) -> Wait:
        return (yield from super()._await_report(attempt, next_report, left, done))


class HookedHeartbeat(Heartbeat):
    """A heartbeat whose beat is its own (the same behaviour, called): nothing is inlined."""

    def _beat(self) -> Wait:
        return (yield from super()._beat())


def _run(
    path: Path, overrides: list[str], hooked: bool, monkeypatch: pytest.MonkeyPatch
) -> simulator.Result:
    with monkeypatch.context() as patch:
        if hooked:
            patch.setattr(Runner, "thread_class", HookedThread)
            patch.setattr(Runner, "heartbeat_class", HookedHeartbeat)
        scenario = simulator.load_scenario(path, [*overrides, "simulation.mode=exact"])
        return simulator.run(scenario, replication=0)


CASES = {
    # Crashes, pauses, stalls, partitions (one group loss-free, inlined; one under message loss).
    "faults-mix": (ROOT / "bench" / "faults-mix.yaml", []),
    # Group partitions that outlast leases.
    "zone-partition": (ROOT / "scenarios" / "zone-partition.yaml", ["duration=2d"]),
    # Auto-scaling and spot interruptions: runners drain while their polls are held.
    "nightly-peak": (ROOT / "scenarios" / "nightly-peak.yaml", ["duration=1d"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_inlined_paths_run_as_the_hooks_do(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path, overrides = CASES[case]
    inlined = _run(path, overrides, False, monkeypatch)
    hooked = _run(path, overrides, True, monkeypatch)
    assert inlined.tables.keys() == hooked.tables.keys()
    assert len(inlined.tables["attempts"]) > 50  # enough work to cross every path
    for name, table in inlined.tables.items():
        pd.testing.assert_frame_equal(table, hooked.tables[name], obj=name)
    assert inlined.summary == hooked.summary
