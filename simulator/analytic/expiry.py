"""Lease expiries of a live runner (message loss, pauses, a lease too short) and after crashes.

Per attempt, as functions of the task's work W (the same for every attempt of a task):

* **Message loss** (each request lost with probability p, independently; lost reports are not
  retried; call latency 0, no jitter; a lost reply renews the lease all the same, so only request
  losses count here). A PollForTask reply lost on its way back (probability q) hands the task to
  a runner that never hears of it: the attempt ends at its acknowledgement window. Sends go out
  at s0, s0 + I, s0 + 2I, ... while the work lasts, then SetTaskStatus at s0 + W. A dynamic
  programme over the sends tracks the phase of the lease (acknowledgement window; `first`;
  `renew`) and the losses since the last report that arrived; a state whose deadline falls
  before the next send expires then, unless the work (and its status) is done first. This also
  covers leases too short for the schedule (p = 0).
* **Pauses** (Poisson at rate r per runner, duration P): a pause at age a costs the lease when
  P > pause_threshold(a) (see `schedule`): hazard r * P(P > threshold(a)).
* **Crashes** (Poisson at rate r_c): the attempt's lease then runs out (not a false expiry).

Pauses and crashes act as competing hazards along the attempt's life; message loss and pauses
are combined as independent. Then per task, with the retry rules (`on_lease_expiry`,
`max_retries`, `failure_probability`): attempts, expiries, failures and the chance of any
reassignment. See docs/analytic.md, "Lease expiries".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator import arithmetic
from simulator.analytic.detection import lease_of
from simulator.analytic.pools import arrival_rate, attempts_per_task, hold_seconds, pools
from simulator.analytic.schedule import Lease, grid, longest_work, pause_threshold, remaining
from simulator.scenario.schema import DistSpec, FleetGroup, Scenario, Workload


@dataclass(frozen=True)
class Expiries:
    """Where a dynamic programme's expiries fall: deadline (after the acknowledgement was sent),
    probability and whether it was the acknowledgement window."""

    deadline: np.ndarray
    mass: np.ndarray
    ack: np.ndarray  # bool


def loss_expiries(lease: Lease, s0: float, p: float, longest: float) -> Expiries:
    """Expiries caused by lost reports (or a schedule that cannot keep the lease), latency 0.

    Times are measured from the acknowledgement's send (s0 after the assignment); an expiry at
    `deadline` happens if the work W outlasts it (W > deadline), since the SetTaskStatus sent at W
    ends the attempt otherwise. Only sends before `longest` (the longest work) are followed.
    """
    interval = lease.interval
    d_ack = lease.ack - s0
    out_d: list[float] = []
    out_m: list[float] = []
    out_a: list[bool] = []
    if d_ack < 0:  # the startup alone outlasts the acknowledgement window
        return Expiries(np.array([d_ack]), np.array([1.0]), np.array([True]))
    size = int(max(lease.first, lease.renew) // interval) + 2
    ph0 = p  # no report arrived yet (the acknowledgement, sent at 0, was lost)
    ph1 = np.zeros(size)  # one report arrived; index = losses since
    ph2 = np.zeros(size)  # two or more arrived
    ph1[0] = 1.0 - p
    c = np.arange(size)
    k = 0
    while True:
        nxt = (k + 1) * interval
        # States whose deadline falls before the next send expire then (a report arriving at
        # the deadline would still keep it: strict inequality).
        if ph0 > 0 and d_ack < nxt:
            out_d.append(d_ack), out_m.append(ph0), out_a.append(True)
            ph0 = 0.0
        for ph, length in ((ph1, lease.first), (ph2, lease.renew)):
            deadline = (k - c) * interval + length
            dead = (deadline < nxt) & (ph > 0)
            if dead.any():
                out_d.extend(deadline[dead]), out_m.extend(ph[dead])
                out_a.extend([False] * int(dead.sum()))
                ph[dead] = 0.0
        alive = ph0 + ph1.sum() + ph2.sum()
        if nxt >= longest or alive < 1e-15:
            break
        if p == 0 and ph0 == 0 and ph1.sum() == 0:
            break  # every report arrives and the later lease holds: nothing more can expire
        # Send k + 1: it arrives with probability 1 - p.
        arrived = (ph1.sum() + ph2.sum()) * (1.0 - p)
        new1 = ph0 * (1.0 - p)
        ph0 *= p
        ph1 = np.concatenate([[new1], ph1[:-1] * p])
        # An arrival moves phase 1 to phase 2; phase 2 stays: both restart at no losses.
        ph2 = np.concatenate([[arrived], ph2[:-1] * p])
        k += 1
    return Expiries(np.array(out_d), np.array(out_m), np.array(out_a, dtype=bool))


def _step_sum(x: np.ndarray, weights: np.ndarray, at: np.ndarray) -> np.ndarray:
    """sum(weights[x < t]) for each t in `at`."""
    order = np.argsort(x)
    cum = np.concatenate([[0.0], np.cumsum(weights[order])])
    return cum[np.searchsorted(x[order], at, side="left")]


@dataclass(frozen=True)
class AttemptRisk:
    """Per-attempt chances at each node of the work distribution (`work`, weights `prob`), and
    when (age since the assignment) each kind of ending happens on average."""

    work: np.ndarray
    prob: np.ndarray
    false_ack: np.ndarray  # live holder, lost in the acknowledgement window
    false_progress: np.ndarray  # live holder, lost after the acknowledgement
    crash_ack: np.ndarray  # the holder crashed before acknowledging
    crash_progress: np.ndarray  # the holder crashed after
    false_at: np.ndarray  # mean age at a false expiry
    crash_at: np.ndarray  # mean age at which a crashed holder's lease runs out
    end_at: np.ndarray  # age at which the work (and SetTaskStatus) is done: s0 + L + W

    @property
    def false(self) -> np.ndarray:
        return self.false_ack + self.false_progress

    @property
    def crash(self) -> np.ndarray:
        return self.crash_ack + self.crash_progress


def _cumulative(values: np.ndarray, bounds: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The integral of a cell-wise density from age 0 to each age in `at` (linear in a cell)."""
    return np.interp(at, bounds, np.concatenate([[0.0], np.cumsum(values)]))


def held_pause_overlap(pause: DistSpec, threshold: float, long_poll: float) -> float:
    """E[min(h, (P - threshold)+)] with h ~ U(0, long_poll): how long, on average, a paused
    runner's open poll can still take a task that the pause will then keep past its
    acknowledgement window (see `attempt_risk`)."""
    values, weights = arithmetic.nodes(pause, 256)
    x = np.maximum(values - max(threshold, 0.0), 0.0)
    inside = np.where(x < long_poll, x - x * x / (2.0 * long_poll), long_poll / 2.0)
    return float(np.dot(weights, inside))


def attempt_risk(group: FleetGroup, workload: Workload, lease: Lease, held: float = 1.0,
                 long_poll: float = 90.0, nodes: int = 512) -> AttemptRisk:  # fmt: skip
    """Per-attempt expiry and crash chances for one fleet group holding one workload's tasks.

    `held` is the chance an assignment goes to a held long poll (rather than to a thread that
    finds the task waiting): only those can land on a runner that is paused at that moment.
    Such a poll stays open for what is left of its hold (uniform on [0, long_poll]); a task it
    takes while the pause lasts is acknowledged only after the pause, so it is lost when the rest
    of the pause exceeds ack - startup - latency. Idle threads share the assignments equally, so
    per attempt this happens with probability pause rate x held x E[min(h, (P - threshold)+)].
    """
    faults = group.faults
    p = faults.request_loss  # a report whose reply is lost still renewed the lease
    crash = faults.crash.rate if faults.crash is not None else 0.0
    pause = faults.pause
    work = workload.duration
    w_nodes, w_prob = arithmetic.nodes(work, nodes)
    longest = longest_work(work)
    s_nodes, s_prob = arithmetic.nodes(group.startup, 16)
    n = len(w_nodes)
    fa, fp, ca, cp = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    f_age, c_age, end_at = np.zeros(n), np.zeros(n), np.zeros(n)
    for s0, sp in zip(s_nodes, s_prob, strict=True):
        # Message loss (and schedules that cannot keep the lease), with crashes competing. With
        # latency the sends are no lattice (a lost call takes no time): callers then require
        # p = 0 and a schedule that keeps the lease, so nothing expires here.
        ex = (
            loss_expiries(lease, s0, p, longest)
            if lease.latency == 0
            else Expiries(np.empty(0), np.empty(0), np.empty(0, dtype=bool))
        )
        at = s0 + np.maximum(ex.deadline, 0.0)
        m = ex.mass * np.exp(-crash * at)
        lost_ack = _step_sum(ex.deadline, np.where(ex.ack, m, 0.0), w_nodes)
        lost_prog = _step_sum(ex.deadline, np.where(ex.ack, 0.0, m), w_nodes)
        lost_age = _step_sum(ex.deadline, m * at, w_nodes)
        # Tasks handed to a paused runner's open poll (see the docstring).
        into = 0.0
        if pause is not None:
            threshold = lease.ack - s0 - lease.latency
            into = pause.rate * held * held_pause_overlap(pause.duration, threshold, long_poll)
            into = min(into, 1.0)
        # Pauses and crashes as hazards along the life [0, s0 + L + W).
        g = grid(lease, s0, work)
        h_pause = np.zeros(len(g.age))
        if pause is not None:
            threshold = pause_threshold(lease, s0, g.age)
            h_pause = pause.rate * arithmetic.survival(pause.duration, np.maximum(threshold, 0.0))
            h_pause = np.where(threshold < 0, pause.rate, h_pause)
        hazard = h_pause + crash
        cum_h = np.concatenate([[0.0], np.cumsum(hazard * g.width)])
        bounds = np.concatenate([[0.0], np.cumsum(g.width)])
        surv = np.exp(-(cum_h[:-1] + cum_h[1:]) / 2)
        head = g.age < s0
        dens_p, dens_c = h_pause * surv * g.width, crash * surv * g.width
        ends = s0 + lease.latency + w_nodes
        pause_ack = _cumulative(dens_p * head, bounds, ends)
        pause_all = _cumulative(dens_p, bounds, ends)
        pause_age = _cumulative(dens_p * g.age, bounds, ends)
        crash_ack = _cumulative(dens_c * head, bounds, ends)
        crash_all = _cumulative(dens_c, bounds, ends)
        crash_end = _cumulative(dens_c * (g.age + remaining(lease, s0, g.age)), bounds, ends)
        # Loss, pauses and the paused poll as independent ways to lose a live lease.
        keep = (1.0 - lost_ack - lost_prog) * (1.0 - into)
        fa += sp * (lost_ack + (1.0 - lost_ack - lost_prog) * into + keep * pause_ack)
        fp += sp * (lost_prog + keep * (pause_all - pause_ack))
        ca += sp * keep * crash_ack
        cp += sp * keep * (crash_all - crash_ack)
        f_age += sp * (lost_age + (1.0 - lost_ack - lost_prog) * into * lease.ack
                       + keep * pause_age)  # fmt: skip
        c_age += sp * keep * crash_end
        end_at += sp * ends
    q = faults.reply_loss
    if q:
        # The reply handing the task over is lost: nobody works on it, nobody acknowledges it,
        # and the lease ends with the acknowledgement window whatever the runner does.
        fa, fp, ca, cp = q + (1.0 - q) * fa, (1.0 - q) * fp, (1.0 - q) * ca, (1.0 - q) * cp
        f_age = q * lease.ack + (1.0 - q) * f_age
        c_age = (1.0 - q) * c_age
    false = fa + fp
    crashed = ca + cp
    false_at = np.divide(f_age, false, out=np.zeros(n), where=false > 0)
    crash_at = np.divide(c_age, crashed, out=np.zeros(n), where=crashed > 0)
    return AttemptRisk(w_nodes, w_prob, fa, fp, ca, cp, false_at, crash_at, end_at)


@dataclass(frozen=True)
class TaskRisk:
    """Per-task expectations at each work node, after the retry rules, and the mean time from a
    task's first assignment to each kind of event (for counting what happens before run end)."""

    prob: np.ndarray
    attempts: np.ndarray
    false_ack: np.ndarray
    false_progress: np.ndarray
    crash_ack: np.ndarray
    crash_progress: np.ndarray
    failed: np.ndarray  # P(the task ends FAILED)
    reassigned: np.ndarray  # P(at least one lease expiry)
    false_at: np.ndarray
    crash_at: np.ndarray
    failed_at: np.ndarray


def task_risk(risk: AttemptRisk, workload: Workload, on_expiry: str, retry_delay: float,
              wait: float = 0.0) -> TaskRisk | None:  # fmt: skip
    """Apply the retry rules to per-attempt chances; None when every attempt loses its lease
    under `reassign_same_attempt` (the task would be handed out for ever).

    `retry_delay` is the delay before a failed attempt's retry is ready (0 when it is ready at
    once); `wait` the mean queue wait before each assignment. Times: attempt j (from 0) starts
    about j cycles after the first, a cycle being a failed attempt's mean length + retry delay +
    wait; an event's time is averaged over the attempts it can happen on.
    """
    f = workload.failure_probability
    r = workload.max_retries
    q_f, q_c = risk.false, risk.crash
    q = np.clip(q_f + q_c, 0.0, 1.0)
    x = q + (1.0 - q) * f  # an attempt fails, one way or another
    y = (1.0 - q) * f
    none = (1.0 - q) * (sum(y**j for j in range(r)) * (1.0 - f) + y**r)
    if on_expiry == "reassign_same_attempt":
        if (q >= 1.0 - 1e-12).any():
            return None
        tries = sum(f**k for k in range(r + 1))
        attempts = np.full(len(q), tries) / (1.0 - q)
        failed = np.full(len(q), f ** (r + 1))
        # Mean index of the attempts, weighted by their chance to happen: x^j, uncapped.
        index = np.divide(x, 1.0 - x, out=np.zeros(len(x)), where=x < 1.0)
    else:  # fail_and_retry, new_attempt_no_delay: an expiry uses up a retry
        powers = [x**k for k in range(r + 1)]
        attempts = sum(powers)
        failed = x ** (r + 1)
        index = sum(k * pk for k, pk in enumerate(powers)) / attempts
    # Mean length of an attempt that fails: false expiry, crash, or a FAILED status at the end.
    length = np.divide(
        q_f * risk.false_at + q_c * risk.crash_at + (1.0 - q) * f * risk.end_at, x,
        out=np.zeros(len(x)), where=x > 0,
    )  # fmt: skip
    cycle = length + retry_delay + wait
    return TaskRisk(
        risk.prob, attempts, risk.false_ack * attempts, risk.false_progress * attempts,
        risk.crash_ack * attempts, risk.crash_progress * attempts, failed, 1.0 - none,
        false_at=risk.false_at + index * cycle, crash_at=risk.crash_at + index * cycle,
        failed_at=(r + 1) * cycle - retry_delay,
    )  # fmt: skip


def loss_rates(p: float, interval: float, renew: float) -> tuple[float, float]:
    """(per report, per hour of holding a task) false expiries from message loss, steady state.

    After a report arrives, the lease survives if one of the next m = floor(renew / I) reports
    arrives: it is lost with probability p^m per accepted report. Between two accepted reports
    (or the expiry) there are on average sum_j j I p^(j-1) (1-p) + renew p^m seconds.
    """
    m = int(renew // interval)
    per_report = p**m
    cycle = sum(j * interval * p ** (j - 1) * (1 - p) for j in range(1, m + 1)) + renew * p**m
    return per_report, 3600.0 * per_report / cycle if cycle > 0 else math.inf


def pause_cost(group: FleetGroup, lease: Lease, work: DistSpec) -> float:
    """P(a pause that finds a thread holding a task costs it the lease), averaged over the life."""
    pause = group.faults.pause
    if pause is None:
        return 0.0
    total = weight = 0.0
    for s0, sp in zip(*arithmetic.nodes(group.startup, 16), strict=True):
        g = grid(lease, s0, work)
        w = g.width * g.survival(work) * sp
        threshold = pause_threshold(lease, s0, g.age)
        alive = arithmetic.survival(pause.duration, np.maximum(threshold, 0.0))
        cost = np.where(threshold < 0, 1.0, alive)
        total += float(np.sum(w * cost))
        weight += float(np.sum(w))
    return total / weight if weight > 0 else 0.0


@dataclass(frozen=True)
class ExpiryRates:
    """Steady-state false-expiry rates of one fleet group holding one workload's tasks."""

    group: str
    workload: str
    per_report: float  # message loss: chance an accepted later report is the last before expiry
    per_busy_thread_hour: float  # message loss: expiries per hour of a thread holding a task
    pause_cost: float  # chance a pause that finds a thread holding a task costs it the lease
    per_runner_hour: float  # loss and pauses together, per hour of one runner (busy threads)


def expiry_rates(scenario: Scenario) -> list[ExpiryRates]:
    """Per fleet group and workload: false expiries per report, per busy thread-hour (message
    loss, latency 0) and per runner-hour (loss and pauses), at the scenario's mean load."""
    out = []
    for pool in pools(scenario):
        for g in pool.groups:
            share = g.threads / pool.threads  # per runner of this group
            for w in pool.workloads:
                lease = lease_of(scenario, g, w)
                p = g.faults.request_loss  # lost replies renew the lease all the same
                per_report, per_hour = loss_rates(p, g.progress_interval, lease.renew)
                busy = (
                    arrival_rate(w, scenario.duration) * attempts_per_task(w, w.failure_probability)
                    * hold_seconds(scenario, g, w) * share
                )  # fmt: skip
                cost = pause_cost(g, lease, w.duration)
                pause_rate = g.faults.pause.rate if g.faults.pause is not None else 0.0
                per_runner = busy * (per_hour + 3600.0 * pause_rate * cost)
                out.append(ExpiryRates(g.name, w.name, per_report, per_hour, cost, per_runner))
    return out
