"""Fast mode under message loss: each report's loss is drawn once (issue 13, A2)."""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_scenario
from scipy import stats

import simulator
from simulator.scenario.schema import Faults

LOSS, INTERVAL, ATTEMPT_TIMEOUT = 0.3, 60.0, 290.0


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_superseded_holder_stops_at_its_next_report_with_probability_one_minus_loss(
    mode: str,
) -> None:
    """A holder acknowledged at its assignment reports at +60, ..., +300 s; `attempt_timeout`
    ends its lease at +290 s, so the report at +300 s hears `canceled` and stops the work exactly
    when that one report arrives: probability 1 - loss = 0.70. Fast mode drew the loss of that
    report twice (once in the schedule's geometric draw, again when `superseded` woke the thread),
    giving 0.7^2 = 0.49. A 99.9% Clopper-Pearson interval (fixed seed) must hold 0.70.
    """
    faults: dict[str, object] = {"message_loss": LOSS}
    if "loss_direction" in Faults.model_fields:
        # Requests only: a lost reply to that report would stop the holder less often by design.
        faults["loss_direction"] = "request"
    scenario = make_scenario(
        duration="2d",
        simulation={"mode": mode, "check_invariants": mode == "fast"},
        fleet=[{
            "runners": 10, "threads": 1, "progress_interval": INTERVAL,
            "faults": faults,
        }],
        workload=[{
            "arrivals": {"kind": "poisson", "rate": "30/h"}, "duration": "20m",
            "attempt_timeout": ATTEMPT_TIMEOUT, "report_progress_timeout": "10m",
            "max_retries": 0,
        }],
    )  # fmt: skip
    a = simulator.run(scenario, seed=1).attempts
    # Acknowledged at once (that first report was not lost): the report schedule starts there.
    held = a[(a.outcome == "attempt_timeout") & (a.acked_at == a.assigned_at)]
    assert len(held) > 600
    stopped = int(np.isclose(held.work_ended_at - held.assigned_at, 300.0).sum())
    interval = stats.binomtest(stopped, len(held)).proportion_ci(0.999)
    assert interval.low <= 1 - LOSS <= interval.high, (stopped, len(held), interval)
