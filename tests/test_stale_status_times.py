"""`stale_status: last_writer_wins`: a task's end follows its final status change (issue 13 A3)."""

from __future__ import annotations

import pytest
from builders import make_scenario

import simulator
from simulator.model.service import Service


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_flipped_task_ends_at_its_last_status_change(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Partitions outlast the 5-minute lease of 10-minute tasks with no retries, so the service
    fails a task while its runner works on; the runner's FINISHED lands after the partition and,
    under last_writer_wins, flips the task to finished. Its ended_at must be that instant (it was
    the failure time: a 600 s task had latency 120 s), so no finished task has latency < work.
    """
    changes: dict[int, float] = {}  # task id -> time of its last status change by SetTaskStatus
    original = Service.set_task_status

    def recording(self: Service, attempt, finished: bool) -> int:  # type: ignore[no-untyped-def]
        before = attempt.task.status
        reply = original(self, attempt, finished)
        if attempt.task.status != before:
            changes[attempt.task.id] = self.env.now
        return reply

    monkeypatch.setattr(Service, "set_task_status", recording)
    scenario = make_scenario(
        duration="2d",
        simulation={"mode": mode},
        service={"stale_status": "last_writer_wins"},
        fleet=[{
            "runners": 4, "threads": 1, "progress_interval": "60s",
            "faults": {"partition": {"rate": "3/h", "duration": "8m"}},
        }],
        workload=[{
            "arrivals": {"kind": "poisson", "rate": "6/h"}, "duration": "10m",
            "report_progress_timeout": "5m", "max_retries": 0,
        }],
    )  # fmt: skip
    result = simulator.run(scenario, seed=3)
    assert result.summary["stale_status_accepted"] > 10
    tasks = result.tasks
    finished = tasks[tasks.status == "finished"]
    latency = (finished.ended_at - finished.submitted_at).to_numpy()
    assert (latency >= finished.work.to_numpy() - 1e-6).all(), (
        finished[latency < finished.work.to_numpy() - 1e-6].head()
    )
    # Every task a status write changed ends at its last such change (a flip included).
    flipped = [
        t for t, at in changes.items()
        if tasks[tasks.task_id == t].iloc[0].ended_at == pytest.approx(at)
    ]  # fmt: skip
    assert len(flipped) == len(changes)
