"""Fast mode's SetTaskStatus on callbacks under message loss of replies only (issue 18).

A thread that took its task on callbacks sends SetTaskStatus from `FastThread._taken_done`, which
calls the service itself (`Actor._lands`, inlined) when no request can be lost. With
`loss_direction: reply` no request is, yet the reply may be: the status call still reaches the
service, the runner does not hear it and sends it again after a back-off (`Thread._work`'s last
loop). Both modes must lose that reply with probability `LOSS` and resend every lost one.
"""

from __future__ import annotations

import math

import pytest
from builders import make_scenario
from scipy import stats

from simulator.model import simulate
from simulator.model.log import STATUS
from simulator.seeds import Streams

LOSS = 0.2


def status_calls(mode: str) -> tuple[int, int, int]:
    """(SetTaskStatus calls, replies lost, attempts whose work ended) of one day."""
    scenario = make_scenario(
        duration="1d", simulation={"mode": mode},
        fleet=[{"runners": 4, "threads": 2, "progress_interval": "60s",
                "faults": {"message_loss": LOSS, "loss_direction": "reply"}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "40/h"},
                   "duration": {"dist": "exponential", "mean": "5m"}}],
    )  # fmt: skip
    sim = simulate(scenario, Streams.from_seed(scenario.seed, 0))
    log = sim.log
    ended = sum(not math.isnan(a.work_ended_at) for a in log.attempts)
    return log.calls[STATUS], log.lost_replies[STATUS], ended


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_status_replies_are_lost_at_the_loss_rate_and_resent(mode: str) -> None:
    calls, lost, ended = status_calls(mode)
    assert ended > 500  # about 960 tasks a day
    # Each reply is lost independently with probability LOSS: a 99.9% Clopper-Pearson interval.
    low, high = stats.binomtest(lost, calls).proportion_ci(0.999)
    assert low <= LOSS <= high, (mode, calls, lost)
    # Every send either hears its reply, which ends the attempt's status loop, or is lost and
    # sent again; only loops the run's end cuts (one per thread at most) hear nothing.
    assert ended <= calls - lost <= ended + 8, (mode, calls, lost, ended)
