"""The two stalls (issue 13 A5): `progress_stall` stops progress reports while the work goes on;
`heartbeat_stall` stops only ReportTaskRunnerHeartbeat. Each leaves the other's calls untouched."""

from __future__ import annotations

from typing import Any

import pytest
from builders import make_scenario

import simulator
from simulator.scenario.warnings import warnings as scenario_warnings

STALL = {"rate": "3/h", "duration": "20m"}


def run(
    mode: str, faults: dict[str, Any], interval: str = "60s", **service: Any
) -> simulator.Result:
    scenario = make_scenario(
        duration="1d",
        simulation={"mode": mode},
        service=service,
        fleet=[{
            "runners": 4, "threads": 2, "progress_interval": interval,
            "runner_heartbeat_interval": "2m", "faults": faults,
        }],
        workload=[{"arrivals": {"kind": "poisson", "rate": "12/h"}, "duration": "30m"}],
    )  # fmt: skip
    return simulator.run(scenario, seed=5)


def calls(result: simulator.Result) -> dict[str, int]:
    return dict(zip(result.calls.operation, result.calls.calls, strict=True))


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_heartbeat_stall_stops_only_runner_heartbeats(mode: str) -> None:
    """Without heartbeat_renews_leases a heartbeat stall changes nothing but the heartbeat count:
    every other call, attempt and metric is the same as without it (it draws from its own stream).
    """
    calm, stalled = run(mode, {}), run(mode, {"heartbeat_stall": STALL})
    assert (stalled.faults.kind == "heartbeat_stall").sum() > 20
    before, after = calls(calm), calls(stalled)
    assert after["ReportTaskRunnerHeartbeat"] < 0.7 * before["ReportTaskRunnerHeartbeat"]
    for op in ("PollForTask", "ReportTaskProgress", "SetTaskStatus"):
        assert after[op] == before[op], op
    assert stalled.attempts.equals(calm.attempts)


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_progress_stall_stops_progress_reports_and_leaves_heartbeats(mode: str) -> None:
    calm, stalled = run(mode, {}), run(mode, {"progress_stall": STALL})
    assert (stalled.faults.kind == "progress_stall").sum() > 20
    before, after = calls(calm), calls(stalled)
    assert after["ReportTaskProgress"] < 0.8 * before["ReportTaskProgress"]
    assert after["ReportTaskRunnerHeartbeat"] == before["ReportTaskRunnerHeartbeat"]
    # 20-minute stalls outlast the 15-minute lease: live runners lose tasks.
    assert stalled.summary["false_reassignments"] > 0


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_heartbeat_stall_costs_leases_where_heartbeats_renew_them(mode: str) -> None:
    """With heartbeat_renews_leases and reports too rare to keep the lease (every 20 minutes,
    15-minute lease), runner heartbeats every 2 minutes keep it; a 20-minute heartbeat stall
    lets it run out although the runner is healthy."""
    faults_off = run(mode, {}, "20m", heartbeat_renews_leases=True)
    stalled = run(mode, {"heartbeat_stall": STALL}, "20m", heartbeat_renews_leases=True)
    assert faults_off.summary["false_reassignments"] == 0
    assert stalled.summary["false_reassignments"] > 0


def test_heartbeat_stall_without_renewing_heartbeats_is_warned_about() -> None:
    scenario = make_scenario(fleet=[{"faults": {"heartbeat_stall": STALL}}])
    found = [w for w in scenario_warnings(scenario) if "heartbeat_stall" in w.field]
    assert found and "no effect on leases" in found[0].message
    assert "progress_stall" in found[0].message
    renewing = make_scenario(
        service={"heartbeat_renews_leases": True}, fleet=[{"faults": {"heartbeat_stall": STALL}}]
    )
    assert not [w for w in scenario_warnings(renewing) if "heartbeat_stall" in w.field]
