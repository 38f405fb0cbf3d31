"""What the recorded leases tell: lease losses per attempt-hour, acknowledgement timeouts, false
reassignments, and the fault rates they imply under the model's closed forms (simulator.analytic).

- **Lease losses** (outcome ack_timeout or progress_timeout, or `lease_lost_at` set) per hour of
  holding a task (from assignment to the end of the attempt, or the lease loss), with the exact
  Poisson interval (chi-square).
- **False reassignments**: where `lease_lost_at`, `work_started_at` and `work_ended_at` are
  recorded, a lease loss whose holder was still working at that moment (`work_ended_at` after
  `lease_lost_at`, or never recorded) is false; one whose work had stopped before (a crash) is not.
  Losses before the work started are counted apart.
- **Implied rates**, per fleet group of the scenario:
  - crashes: the model's crash hazard on a held attempt is the runner's crash rate
    (`analytic.expiry.attempt_risk`), so crash-caused losses per attempt-hour estimate it;
  - pauses: a pause that finds a thread holding a task costs the lease with probability
    `analytic.expiry.pause_cost` (given the pause durations of the scenario), so the pause rate
    is false losses per attempt-hour / that probability;
  - message loss: the request-loss probability p whose steady-state false expiries per busy
    thread-hour (`analytic.expiry.loss_rates`) equal the observed ones (solved with
    scipy.optimize.brentq), as the other explanation of false losses;
  - acknowledgement timeouts: a lost PollForTask reply always ends in one, so their share of the
    attempts bounds the reply-loss probability from above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from simulator.analytic.detection import lease_of
from simulator.analytic.expiry import loss_rates, pause_cost
from simulator.calibration.fit import Interval
from simulator.calibration.observed import LEASE_LOSSES, Observed
from simulator.scenario.schema import Scenario


@dataclass
class Implied:
    """A fault rate the record implies for one fleet group (per second, with its interval)."""

    group: str
    fault: str  # crash | pause | message_loss | reply_loss
    value: Interval
    how: str
    field: str | None = None  # the scenario field it would set ("fleet.NAME.faults.crash.rate")


@dataclass
class LeaseFit:
    attempts: int
    attempt_hours: float
    losses: int
    ack_losses: int
    rate: Interval  # lease losses per attempt-hour
    ack_share: Interval  # ack timeouts per attempt
    false_known: bool
    false_losses: int = 0
    crash_losses: int = 0
    before_work: int = 0
    false_share: Interval | None = None
    implied: list[Implied] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _poisson(k: int, exposure: float, a: float = 0.05) -> Interval:
    low = stats.chi2.ppf(a / 2, 2 * k) / 2 if k else 0.0
    high = stats.chi2.ppf(1 - a / 2, 2 * (k + 1)) / 2
    return Interval(k / exposure, float(low) / exposure, float(high) / exposure)


def _binomial(k: int, n: int) -> Interval:
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return Interval(k / n if n else math.nan, float(ci.low), float(ci.high))


def fit_leases(observed: Observed, scenario: Scenario | None = None) -> LeaseFit:
    att = observed.attempts
    assigned = att["assigned_at"].to_numpy(dtype=float)
    end = att["ended_at"].to_numpy(dtype=float)
    lost_at = (
        att["lease_lost_at"].to_numpy(dtype=float)
        if "lease_lost_at" in att.columns
        else np.full(len(att), np.nan)
    )
    held_until = np.where(np.isfinite(lost_at), lost_at, end)
    held_until = np.where(np.isfinite(held_until), held_until, observed.end)
    hours = float(np.sum(np.maximum(held_until - assigned, 0.0))) / 3600.0
    lost = att["outcome"].isin(LEASE_LOSSES).to_numpy() | np.isfinite(lost_at)
    ack = (att["outcome"] == "ack_timeout").to_numpy()
    n = len(att)
    fit = LeaseFit(
        n,
        hours,
        int(lost.sum()),
        int(ack.sum()),
        _poisson(int(lost.sum()), max(hours, 1e-12)),
        _binomial(int(ack.sum()), n),
        false_known=all(
            observed.has(c) for c in ("lease_lost_at", "work_started_at", "work_ended_at")
        ),
    )
    if fit.false_known:
        started = att["work_started_at"].to_numpy(dtype=float)
        stopped = att["work_ended_at"].to_numpy(dtype=float)
        has_loss = np.isfinite(lost_at)
        began = has_loss & np.isfinite(started) & (started <= lost_at)
        alive = began & (np.isnan(stopped) | (stopped > lost_at + 1e-6))
        fit.false_losses = int(alive.sum())
        fit.crash_losses = int((began & ~alive).sum())
        fit.before_work = int((has_loss & ~began).sum())
        known = fit.false_losses + fit.crash_losses
        fit.false_share = _binomial(fit.false_losses, known) if known else None
    else:
        fit.notes.append(
            "no lease_lost_at, work_started_at and work_ended_at: false "
            "reassignments cannot be told from crashes."
        )
    if scenario is not None:
        fit.implied = _implied(fit, scenario)
    return fit


def _implied(fit: LeaseFit, scenario: Scenario) -> list[Implied]:
    out: list[Implied] = []
    exposure = max(fit.attempt_hours * 3600.0, 1e-12)  # attempt-seconds
    workload = scenario.workload[0]
    for group in scenario.fleet:
        name = group.name
        base = f"fleet.{name}.faults"
        if fit.false_known:
            crash = _poisson(fit.crash_losses, exposure)
            out.append(
                Implied(
                    name,
                    "crash",
                    crash,
                    "crash-caused losses per attempt-second "
                    "(a held attempt's crash hazard is the runner's crash rate)",
                    f"{base}.crash.rate",
                )
            )
            false = _poisson(fit.false_losses, exposure)
            lease = lease_of(scenario, group, workload)
            if group.faults.pause is not None:
                cost = pause_cost(group, lease, workload.duration)
                if cost > 0:
                    out.append(
                        Implied(
                            name,
                            "pause",
                            Interval(false.value / cost, false.low / cost, false.high / cost),
                            f"false losses per attempt-second / P(a pause costs the "
                            f"lease) = {cost:.3g} (the scenario's pause durations)",
                            f"{base}.pause.rate",
                        )
                    )
            out.append(
                Implied(
                    name,
                    "message_loss",
                    _loss_probability(false, lease),
                    "the request-loss probability whose false expiries per busy "
                    "thread-hour (analytic.expiry.loss_rates) match the false losses",
                    f"{base}.message_loss",
                )
            )
        out.append(
            Implied(
                name,
                "reply_loss",
                Interval(fit.ack_share.value, 0.0, fit.ack_share.high),
                "at most the share of attempts ending in an acknowledgement timeout "
                "(a lost PollForTask reply always does)",
            )
        )
    return out


def _loss_probability(false: Interval, lease: object) -> Interval:
    """Invert loss_rates: the p whose false expiries per busy thread-second match each bound."""
    interval, renew = lease.interval, lease.renew  # type: ignore[attr-defined]

    def solve(rate: float) -> float:
        per_hour = rate * 3600.0
        if per_hour <= 0:
            return 0.0
        f = lambda p: loss_rates(p, interval, renew)[1] - per_hour  # noqa: E731
        if f(0.999) < 0:
            return 1.0
        return float(optimize.brentq(f, 1e-9, 0.999))

    return Interval(solve(false.value), solve(false.low), solve(false.high))
