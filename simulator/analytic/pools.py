"""A scenario seen as queues: one pool of poll threads per worker group, fed by its workloads.

Every estimate starts here: which fleet groups serve a worker group, how fast tasks arrive, how
long a thread is kept from polling by one attempt, and how many tasks are submitted before a given
time. Call latency enters as in the model: a request reaches the service `call_latency` after it
is sent and the reply is immediate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator import arithmetic
from simulator.scenario.schema import FleetGroup, Scenario, Workload


@dataclass(frozen=True)
class Pool:
    """The poll threads of every fleet group serving one worker group, and the tasks sent to it."""

    worker_group: str
    groups: tuple[FleetGroup, ...]
    workloads: tuple[Workload, ...]

    @property
    def threads(self) -> int:
        return sum(g.runners * g.threads for g in self.groups)

    @property
    def runners(self) -> int:
        return sum(g.runners for g in self.groups)

    @property
    def uniform(self) -> bool:
        """Whether every serving fleet group reports and starts up alike (identical servers)."""
        first = self.groups[0]
        return all(
            (g.progress_interval, g.progress_jitter, g.startup)
            == (first.progress_interval, first.progress_jitter, first.startup)
            for g in self.groups
        )


def pools(scenario: Scenario) -> list[Pool]:
    """One pool per worker group that some workload submits to, in name order."""
    out = []
    for wg in sorted({w.worker_group for w in scenario.workload}):
        groups = tuple(g for g in scenario.fleet if g.worker_group == wg)
        loads = tuple(w for w in scenario.workload if w.worker_group == wg)
        out.append(Pool(wg, groups, loads))
    return out


def latency(scenario: Scenario) -> float:
    """The mean call latency (the model's only latency: request travel; replies are immediate)."""
    return arithmetic.mean(scenario.service.call_latency)


def latency_fixed(scenario: Scenario) -> bool:
    return arithmetic.upper_bound(scenario.service.call_latency) == latency(scenario)


def arrival_rate(workload: Workload, duration: float) -> float:
    """Submissions per second: the Poisson rate, or, for periodic and listed arrivals, the number
    submitted during the run over its duration (`arithmetic.arrival_rate`)."""
    return arithmetic.arrival_rate(workload.arrivals, duration)


def submitted_before(workload: Workload, horizons: np.ndarray | float) -> np.ndarray:
    """Expected number of tasks submitted strictly before each time in `horizons`, as the model
    submits them (`arithmetic.submitted_before`)."""
    return arithmetic.submitted_before(workload.arrivals, horizons)


def attempts_per_task(workload: Workload, fail: float) -> float:
    """Expected attempts of a task when each attempt fails with probability `fail` and a failure
    uses up a retry: 1 + fail + ... + fail^max_retries."""
    return sum(fail**k for k in range(workload.max_retries + 1))


def report_overhang(scenario: Scenario, group: FleetGroup) -> float:
    """Mean extra time a thread is held when its work ends during a report call in flight.

    Reports go out every progress_interval + latency; the work ends during one with probability
    L / (I + L), and then waits on average L / 2 for the reply.
    """
    lat = latency(scenario)
    return lat * lat / (2.0 * (group.progress_interval + lat)) if lat > 0 else 0.0


def service_moments(scenario: Scenario, pool: Pool) -> tuple[float, float]:
    """(E[S], E[S^2]) of the time an attempt keeps a thread from polling.

    S = startup + work + three call latencies (acknowledgement, SetTaskStatus, the next poll) +
    the report overhang; workloads mix in proportion to their arrival rates; the first fleet
    group's startup stands for the pool's (exact when the pool is uniform).
    """
    group = pool.groups[0]
    lat = latency(scenario)
    extra = 3.0 * lat + report_overhang(scenario, group)
    s0, s0_2 = arithmetic.mean(group.startup), arithmetic.second_moment(group.startup)
    rates = np.array([arrival_rate(w, scenario.duration) for w in pool.workloads])
    weights = rates / rates.sum() if rates.sum() > 0 else np.full(len(rates), 1 / len(rates))
    m1 = m2 = 0.0
    for p, w in zip(weights, pool.workloads, strict=True):
        w1, w2 = arithmetic.mean(w.duration), arithmetic.second_moment(w.duration)
        c = s0 + extra
        m1 += p * (w1 + c)
        # E[(S0 + W + e)^2] with S0, W independent
        m2 += p * (s0_2 + w2 + extra**2 + 2 * s0 * w1 + 2 * extra * (s0 + w1))
    return m1, m2


def hold_seconds(scenario: Scenario, group: FleetGroup, workload: Workload) -> float:
    """Mean time one attempt keeps a thread of `group` from polling: startup + work + three call
    latencies (acknowledgement, SetTaskStatus, the next poll) + the report overhang."""
    return (
        arithmetic.mean(group.startup) + arithmetic.mean(workload.duration)
        + 3.0 * latency(scenario)
        + report_overhang(scenario, group)
    )  # fmt: skip


def offered_load(scenario: Scenario, pool: Pool, attempts: dict[str, float]) -> float:
    """Busy threads the pool needs in the long run: sum of rate * attempts * E[S] (erlangs)."""
    group = pool.groups[0]
    lat = latency(scenario)
    extra = 3.0 * lat + report_overhang(scenario, group) + arithmetic.mean(group.startup)
    return sum(
        arrival_rate(w, scenario.duration) * attempts[w.name]
        * (arithmetic.mean(w.duration) + extra)
        for w in pool.workloads
    )


def fault_fraction(group: FleetGroup, busy_time: float, duration: float,
                   exclude: tuple[str, ...] = ()) -> float:  # fmt: skip
    """A rough share of a runner's time that faults take away (0 without faults).

    Crash: rate x (downtime + the attempt's work lost, about `busy_time`); a crash without restart
    takes the rest of the run. Pause, stall, partition: rate x mean duration. Message loss: the
    probability itself. Used only to decide whether faults are rare enough to ignore.
    """
    f = group.faults
    total = 0.0
    if f.crash is not None and "crash" not in exclude:
        restart = f.crash.restart_after
        down = arithmetic.mean(restart) if restart is not None else duration
        total += f.crash.rate * (down + busy_time)
    for kind in ("pause", "progress_stall", "heartbeat_stall", "partition"):
        spec = getattr(f, kind)
        if spec is not None and kind not in exclude:
            total += spec.rate * arithmetic.mean(spec.duration)
    if "message_loss" not in exclude:
        total += f.message_loss
    return total


def faults_named(group: FleetGroup, exclude: tuple[str, ...] = ()) -> list[str]:
    """The kinds of fault a fleet group has, other than `exclude`."""
    f = group.faults
    kinds = ("crash", "pause", "progress_stall", "heartbeat_stall", "partition")
    names = [k for k in kinds if getattr(f, k)]
    if f.message_loss > 0:
        names.append("message_loss")
    return [n for n in names if n not in exclude]
