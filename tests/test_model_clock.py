"""Simulated time: one rule for comparing instants, and no run that hangs (issue 13, A1)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from builders import make_scenario

import simulator
from simulator.model.actor import Actor
from simulator.model.clock import EPSILON, SimulationStuck, due, ticks_before, ticks_by


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail (rather than hang the suite) if the block runs longer than `seconds` of wall time."""

    def expired(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s: the simulation hangs")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_one_rule_for_instants() -> None:
    assert due(10.0, 10.0) and due(10.0 + EPSILON / 2, 10.0) and due(9.0, 10.0)
    assert not due(10.0 + 2 * EPSILON, 10.0)
    # Reports at 0, 60, 120, ...: one due within float slack of now counts as "at now".
    assert ticks_before(120.0 - 1e-12, 0.0, 60.0) == 2
    assert ticks_before(120.0 + 1e-12, 0.0, 60.0) == 2  # the report at 120 is still to come
    assert ticks_by(120.0 - 1e-12, 0.0, 60.0) == 3
    assert ticks_by(-1e-12, 0.0, 60.0) == 1 and ticks_by(-1e-6, 0.0, 60.0) == 0


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_stall_ending_within_float_slack_of_a_report_does_not_hang(mode: str) -> None:
    """Issue 13 A1, R1.yaml with seed 119: a thread woke at 1892.5708087983385 with the stall
    due to end at 1892.5708087983387, found its report due (with slack) but the runner stalled
    (strictly), and looped for ever without time advancing. It must finish.
    """
    scenario = make_scenario(
        name="stall-hang",
        duration="2h",
        simulation={"mode": mode},
        fleet=[{
            "name": "g", "worker_group": "wg", "runners": 4, "threads": 2,
            "progress_interval": "60s",
            "faults": {"progress_stall": {
                "rate": "12/h", "duration": {"dist": "exponential", "mean": "30m"},
            }},
        }],
        workload=[{
            "name": "w", "worker_group": "wg", "arrivals": {"kind": "poisson", "rate": "12/h"},
            "duration": "30m",
        }],
    )  # fmt: skip
    with deadline(60):
        result = simulator.run(scenario, seed=119)
    assert result.summary["tasks_submitted"] > 0
    assert (result.faults.kind == "progress_stall").any()


def test_a_process_looping_without_time_advancing_fails_loudly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deliberately livelocking thread: every progress report after the acknowledgement is
    throttled and (patched) retried after no back-off at all, so its loop turns at one instant.
    The run must raise an internal error naming the runner, thread and time, not hang.
    """
    monkeypatch.setattr(Actor, "_backoff", lambda self, k: 0.0)
    scenario = make_scenario(
        duration="2h",
        simulation={"check_invariants": False},
        service={"throttle": {"burst": 1, "progress": "1/d"}},
        fleet=[{"runners": 1, "threads": 1, "progress_interval": "60s"}],
        workload=[{"arrivals": {"kind": "times", "times": ["1m"]}, "duration": "30m"}],
    )  # fmt: skip
    with deadline(60), pytest.raises(SimulationStuck) as caught:
        simulator.run(scenario)
    message = str(caught.value)
    assert "runner etl-0, thread 0" in message
    assert "simulated time 120.0 s" in message  # the first report after the acknowledgement
