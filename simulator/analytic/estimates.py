"""`estimates(scenario)`: every closed-form estimate, keyed by the summary metric it predicts.

Each builder checks the assumptions its formula needs (see `conditions`) and returns an
`Estimate` that applies, or one that does not with the reason. The formulas and their
derivations are in docs/analytic.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from simulator import arithmetic
from simulator.analytic.conditions import (
    RARE,
    changing_fleet,
    fault_problem,
    latency_problem,
    lease_problem,
    non_poisson,
    non_uniform,
)
from simulator.analytic.detection import detection_time, lease_of
from simulator.analytic.estimate import Estimate, not_applicable
from simulator.analytic.expiry import attempt_risk, task_risk
from simulator.analytic.load import (
    assignment_polls,
    rate_limits,
    report_times,
    reports_per_attempt,
    throttle_problem,
)
from simulator.analytic.pools import (
    Pool,
    arrival_rate,
    attempts_per_task,
    hold_seconds,
    latency,
    offered_load,
    pools,
    service_moments,
    submitted_before,
)
from simulator.analytic.queueing import allen_cunneen_wait, erlang_c, mmc_wait, relaxation_time
from simulator.analytic.schedule import longest_work
from simulator.scenario.schema import Exponential, Fixed, Scenario, Workload

STEADY = 20.0  # a steady-state formula needs a run this many relaxation times long


class Context:
    """Facts about one scenario that several estimates share, computed once."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.pools = pools(scenario)
        self.duration = scenario.duration
        self.warmup = float(getattr(scenario, "warmup", 0.0) or 0.0)
        self.latency = latency(scenario)
        self.throttle = throttle_problem(scenario)
        self.attempts = {
            w.name: attempts_per_task(w, w.failure_probability) for w in scenario.workload
        }
        self.waits = {p.worker_group: _pool_wait(self, p) for p in self.pools}

    def load(self, pool: Pool) -> float:
        return offered_load(self.scenario, pool, self.attempts)

    def hold(self, pool: Pool) -> float:
        rates = [arrival_rate(w, self.duration) for w in pool.workloads]
        total = sum(rates) or 1.0
        holds = [hold_seconds(self.scenario, pool.groups[0], w) for w in pool.workloads]
        return sum(r * h for r, h in zip(rates, holds, strict=True)) / total

    def wait(self, pool: Pool) -> float:
        """Mean queue wait to use in run-end corrections (0 when no formula applies)."""
        value = self.waits[pool.worker_group][0]
        return value if math.isfinite(value) else 0.0

    def counted(self, workload: Workload, offsets: np.ndarray) -> np.ndarray:
        """Tasks counted by the metrics (submitted at or after warmup) whose event `offsets`
        seconds after submission happens before the run ends."""
        t = np.asarray(offsets, dtype=float)
        return np.maximum(
            submitted_before(workload, self.duration - t)
            - submitted_before(workload, np.full(t.shape, self.warmup)),
            0.0,
        )


# --- queue wait -----------------------------------------------------------------------------------

_WAIT_ASSUMPTIONS = (
    "Poisson arrivals; identical poll threads; first-come first-served (random dispatch gives the "
    "same mean)",
    "no faults, no throttling, and no lease ever runs out (every attempt runs to the end)",
    "a thread is busy for startup + work + three call latencies per attempt",
    "steady state: the run is long against the queue's relaxation time",
)


def _pool_wait(ctx: Context, pool: Pool) -> tuple[float, bool, str, str]:
    """(mean wait, exact, method, why not) for one worker group's queue."""
    s = ctx.scenario
    c = pool.threads
    a = ctx.load(pool)
    mean_s, second_s = service_moments(s, pool)
    lam = a / mean_s if mean_s > 0 else 0.0
    why = non_poisson(pool) or non_uniform(pool) or lease_problem(s, pool) or ctx.throttle
    if not why and a >= c:
        why = (
            f"worker group {pool.worker_group!r} is overloaded: {a:.3g} busy threads needed of "
            f"{c} (no steady state)"
        )
    faulty = False
    if not why:
        why, faulty = fault_problem(s, pool, RARE * (1 - a / c), ctx.hold(pool))
    if not why:
        relax = relaxation_time(mean_s, c, a)
        if ctx.duration - ctx.warmup < STEADY * relax:
            why = (
                f"the run is shorter than {STEADY:g} relaxation times of worker group "
                f"{pool.worker_group!r}'s queue ({relax:.3g} s each): the start still shows"
            )
    if why:
        return math.nan, False, "", why
    g = pool.groups[0]
    means = {arithmetic.mean(w.duration) for w in pool.workloads}
    exponential = all(isinstance(w.duration, Exponential) for w in pool.workloads)
    no_startup = isinstance(g.startup, Fixed) and g.startup.value == 0
    retries = any(w.failure_probability > 0 for w in pool.workloads)
    if exponential and len(means) == 1 and no_startup and ctx.latency == 0:
        return mmc_wait(lam, mean_s, c), not (faulty or retries), "Erlang C (M/M/c)", ""
    cs2 = max(second_s / mean_s**2 - 1.0, 0.0)
    return allen_cunneen_wait(lam, mean_s, c, 1.0, cs2), False, "Allen-Cunneen (M/G/c)", ""


def queue_wait(ctx: Context) -> Estimate:
    metric = "queue_wait_mean_s"
    total = weight = 0.0
    exact = True
    methods = []
    for p in ctx.pools:
        value, ok, method, why = ctx.waits[p.worker_group]
        if why:
            return not_applicable(metric, "Erlang C / Allen-Cunneen", _WAIT_ASSUMPTIONS, why)
        lam = sum(arrival_rate(w, ctx.duration) for w in p.workloads)
        total += lam * value
        weight += lam
        exact &= ok
        methods.append(method)
    method = " + ".join(sorted(set(methods)))
    notes = () if exact else ("approximate: general work, startup, latency, retries or faults",)
    return Estimate(metric, total / weight, exact, method, _WAIT_ASSUMPTIONS, notes=notes)


# --- load: utilization, reports, polls ------------------------------------------------------------

_LOAD_ASSUMPTIONS = (
    "every task is run once to the end (retries only for failure_probability)",
    "no throttling; faults, if any, are rare enough to ignore",
    "the run starts empty: work and calls of tasks still running at the end are cut there",
)


def _load_problem(ctx: Context, pool: Pool, allowed: float = RARE) -> tuple[str, bool]:
    s = ctx.scenario
    why = lease_problem(s, pool) or ctx.throttle
    a, c = ctx.load(pool), pool.threads
    if not why and a >= c:
        why = f"worker group {pool.worker_group!r} is overloaded ({a:.3g} busy threads of {c})"
    if why:
        return why, True
    return fault_problem(s, pool, allowed, ctx.hold(pool))


def _shift(ctx: Context, pool: Pool) -> float:
    """Mean time from submission to the start of work: queue wait + startup + latency."""
    return ctx.wait(pool) + arithmetic.mean(pool.groups[0].startup) + ctx.latency


def _work_done(ctx: Context, pool: Pool, workload: Workload) -> float:
    """Expected net work of `workload`'s tasks done inside the measured window [warmup, end].

    Every task counts, also one submitted before the warm-up (as the `utilization` metric): the
    work a task does `x` seconds into its work falls in the window when it was submitted in
    [warmup - offset, end - offset), offset = shift + x.
    """
    top = min(longest_work(workload.duration), ctx.duration)
    x = np.linspace(0.0, top, 4001)
    dx = x[1] - x[0] if len(x) > 1 else 0.0
    mid = x[:-1] + dx / 2
    alive = arithmetic.survival(workload.duration, mid)
    offset = _shift(ctx, pool) + mid
    done = np.maximum(
        submitted_before(workload, ctx.duration - offset)
        - submitted_before(workload, ctx.warmup - offset),
        0.0,
    )
    return float(np.sum(alive * done) * dx) * ctx.attempts[workload.name]


def utilization(ctx: Context) -> Estimate:
    metric = "utilization"
    exact = True
    work = 0.0
    for p in ctx.pools:
        why, faulty = _load_problem(ctx, p)
        if why:
            return not_applicable(metric, "offered load", _LOAD_ASSUMPTIONS, why)
        exact &= not faulty and all(w.failure_probability == 0 for w in p.workloads)
        work += sum(_work_done(ctx, p, w) for w in p.workloads)
    threads = sum(g.runners * g.threads for g in ctx.scenario.fleet)
    value = work / (threads * (ctx.duration - ctx.warmup))
    return Estimate(metric, value, exact, "offered load: rate x mean work / threads",
                    _LOAD_ASSUMPTIONS)  # fmt: skip


def progress_calls(ctx: Context) -> Estimate:
    metric = "progress_calls_per_s"
    s = ctx.scenario
    assumptions = (*_LOAD_ASSUMPTIONS, "reports every progress_interval after the previous reply, "
                   "while the work lasts; jitter adds about j^2 / (6 I^2) per attempt")  # fmt: skip
    exact = not latency_problem(s)
    calls = 0.0
    for p in ctx.pools:
        why, faulty = _load_problem(ctx, p)
        if why:
            return not_applicable(metric, "report schedule", assumptions, why)
        exact &= not faulty and all(w.failure_probability == 0 for w in p.workloads)
        # Calls are counted over the whole run (warm-up included).
        ack_at = ctx.wait(p) + arithmetic.mean(p.groups[0].startup)
        for g in p.groups:
            exact &= g.progress_jitter == 0
            share = g.runners * g.threads / p.threads
            for w in p.workloads:
                t = report_times(w, g, ctx.latency)
                alive = arithmetic.survival(w.duration, t)
                acks = float(submitted_before(w, np.array([ctx.duration - ack_at]))[0])
                sent = submitted_before(w, ctx.duration - ack_at - ctx.latency - t)
                jitter = reports_per_attempt(w, g, ctx.latency) - 1.0 - float(alive.sum())
                reports = acks * (1.0 + jitter) + float(np.sum(alive * sent))
                calls += share * ctx.attempts[w.name] * reports
    return Estimate(metric, calls / ctx.duration, exact, "report schedule x arrivals",
                    assumptions)  # fmt: skip


def poll_calls(ctx: Context) -> Estimate:
    metric = "poll_calls_per_s"
    s = ctx.scenario
    assumptions = (
        "idle threads hold a long poll and poll again when it ends: 1 / long_poll each",
        "each assignment adds one poll less the share of a hold already run; held polls' phases "
        "independent and uniform, idle threads as in M/M/c (an approximation)",
        "Poisson arrivals; no throttling; faults, if any, rare enough to ignore",
    )
    calls = 0.0
    for p in ctx.pools:
        why = non_poisson(p)
        faulty = False
        if not why:
            a, c = ctx.load(p), p.threads
            why, faulty = _load_problem(ctx, p, RARE * max(1 - a / c, 0.0))
        if not why and any(g.faults.message_loss > 0 for g in p.groups):
            why = "message loss: a lost poll waits a whole long poll before the next"
        if why:
            return not_applicable(metric, "long-poll cycle", assumptions, why)
        a, c = ctx.load(p), p.threads
        shift = ctx.wait(p)
        busy = 0.0
        assigned = 0.0
        for w in p.workloads:
            hold = hold_seconds(s, p.groups[0], w)
            n = float(submitted_before(w, np.array([ctx.duration - shift]))[0])
            assigned += n * ctx.attempts[w.name]
            busy += _work_done(ctx, p, w) + n * ctx.attempts[w.name] * (
                hold - arithmetic.mean(w.duration)
            )
        idle = c * ctx.duration - busy
        calls += idle / s.service.long_poll + assigned * assignment_polls(c, a)
    return Estimate(metric, calls / ctx.duration, False, "long-poll cycle", assumptions)


# --- crash detection ------------------------------------------------------------------------------

_DETECTION_ASSUMPTIONS = (
    "crashes are a Poisson process: they meet an attempt at an age distributed like the time "
    "threads spend at each age",
    "the lease then runs out after what is left of it: until the last report sent (it arrives "
    "even from a dead runner) plus the latency plus the lease length",
    "reports every progress_interval after the previous reply (with jitter: each interval drawn "
    "afresh, and a crash meets a cycle with a chance proportional to its length); fixed call "
    "latency",
    "no other faults (or rare enough to ignore); no throttling; runner heartbeats renew no lease",
)


def detection(ctx: Context) -> Estimate:
    metric = "detection_latency_mean_s"
    s = ctx.scenario
    method = "lease left at a uniformly placed crash"
    if not any(g.faults.crash is not None for g in s.fleet):
        return not_applicable(metric, method, _DETECTION_ASSUMPTIONS, "no fleet group crashes")
    if s.service.heartbeat_renews_leases:
        return not_applicable(
            metric, method, _DETECTION_ASSUMPTIONS,
            "heartbeat_renews_leases: runner heartbeats also renew leases",
        )  # fmt: skip
    exact = not latency_problem(s)
    for p in ctx.pools:
        why = lease_problem(s, p) or ctx.throttle
        faulty = False
        if not why:
            why, faulty = fault_problem(s, p, RARE, ctx.hold(p), exclude=("crash",))
        if why:
            return not_applicable(metric, method, _DETECTION_ASSUMPTIONS, why)
        exact &= not faulty and all(g.progress_jitter == 0 for g in p.groups)
    dist = detection_time(s)
    if dist is None:
        return not_applicable(metric, method, _DETECTION_ASSUMPTIONS, "no crash meets a task")
    notes = (f"detection lies between {dist.low:.4g} s and {dist.high:.4g} s",)
    return Estimate(metric, dist.mean, exact, method, _DETECTION_ASSUMPTIONS, notes=notes)


# --- lease expiries -------------------------------------------------------------------------------

_EXPIRY_ASSUMPTIONS = (
    "message loss independent per message (request, reply), lost reports not retried, latency 0 "
    "and no jitter when "
    "there is loss; the final SetTaskStatus counts as arriving when first sent",
    "pauses (Poisson per runner) cost the lease when longer than what is left of it (ignoring "
    "earlier pauses' shift of the report schedule: approximate)",
    "crashes (Poisson per runner) end the attempt, whose lease then runs out",
    "retries follow on_lease_expiry, max_retries and failure_probability; expiries of tasks "
    "submitted less than the mean time to an expiry before the end are not counted",
    "no progress stalls, partitions or throttling; runner heartbeats renew no lease; a "
    "superseded runner's SetTaskStatus is rejected (stale_status rejected)",
)

_EXPIRY_METRICS = (
    "false_reassignments", "reassignments", "reassignments_ack", "reassignments_progress",
    "reassigned_fraction", "tasks_failed",
)  # fmt: skip


def _expiry_problem(ctx: Context) -> str:
    s = ctx.scenario
    if ctx.throttle:
        return ctx.throttle
    if s.service.heartbeat_renews_leases:
        return "heartbeat_renews_leases: runner heartbeats also renew leases"
    for g in s.fleet:
        # (A heartbeat_stall costs no lease here: heartbeats renew none, checked above.)
        for kind in ("progress_stall", "partition"):
            if getattr(g.faults, kind) is not None:
                return f"fleet group {g.name!r} has {kind.replace('_', ' ')}s (not modelled here)"
        if g.faults.message_loss > 0 and (ctx.latency > 0 or g.progress_jitter > 0):
            return (
                f"fleet group {g.name!r} loses messages with call latency or jitter (the loss "
                "formula needs reports on a fixed grid)"
            )
    live_losses = any(g.faults.message_loss > 0 or g.faults.pause is not None for g in s.fleet)
    live_losses |= any(lease_problem(s, p) for p in ctx.pools)
    if s.service.stale_status != "rejected" and live_losses:
        return (
            f"stale_status {s.service.stale_status}: a superseded runner that finishes can end "
            "the task, cutting its retries short (not modelled here)"
        )
    for p in ctx.pools:
        why = lease_problem(s, p)
        if why and (ctx.latency > 0 or latency_problem(s) or any(
            g.progress_jitter > 0 for g in p.groups
        )):  # fmt: skip
            return why + " (with latency or jitter this is not worked out)"
        if why and "attempt_timeout" in why:
            return why
        if ctx.load(p) >= p.threads:
            return f"worker group {p.worker_group!r} is overloaded"
    return ""


def expiries(ctx: Context) -> dict[str, Estimate]:
    s = ctx.scenario
    method = "per-attempt loss/pause/crash chances x retry rules x tasks"
    why = _expiry_problem(ctx)
    if why:
        return {m: not_applicable(m, method, _EXPIRY_ASSUMPTIONS, why) for m in _EXPIRY_METRICS}
    exact = not latency_problem(s)
    sums = dict.fromkeys(("false_ack", "false_progress", "crash_ack", "crash_progress",
                          "failed", "reassigned", "tasks"), 0.0)  # fmt: skip
    for p in ctx.pools:
        wait = ctx.wait(p)
        a, c = ctx.load(p), p.threads
        held = 1.0 - erlang_c(c, a)
        for g in p.groups:
            exact &= g.faults.pause is None
            share = g.runners * g.threads / p.threads
            for w in p.workloads:
                lease = lease_of(s, g, w)
                risk = attempt_risk(g, w, lease, held, s.service.long_poll)
                delay = max(w.retry_delay, s.service.retry_delay_floor)
                delay = delay if s.service.on_lease_expiry == "fail_and_retry" else 0.0
                tr = task_risk(risk, w, s.service.on_lease_expiry, delay, wait)
                if tr is None:
                    why = (
                        f"every attempt of workload {w.name!r} loses its lease and is handed "
                        "out again for ever (reassign_same_attempt)"
                    )
                    return {m: not_applicable(m, method, _EXPIRY_ASSUMPTIONS, why)
                            for m in _EXPIRY_METRICS}  # fmt: skip

                for key, values, at in (
                    ("false_ack", tr.false_ack, tr.false_at),
                    ("false_progress", tr.false_progress, tr.false_at),
                    ("crash_ack", tr.crash_ack, tr.crash_at),
                    ("crash_progress", tr.crash_progress, tr.crash_at),
                    ("failed", tr.failed, tr.failed_at),
                ):
                    # Expected events of counted tasks that happen before the run ends.
                    sums[key] += share * float(np.sum(tr.prob * values * ctx.counted(w, wait + at)))
                n_all = share * float(ctx.counted(w, np.array([0.0]))[0])
                sums["reassigned"] += n_all * float(np.dot(tr.prob, tr.reassigned))
                sums["tasks"] += n_all
    false = sums["false_ack"] + sums["false_progress"]
    ack = sums["false_ack"] + sums["crash_ack"]
    progress = sums["false_progress"] + sums["crash_progress"]
    values = {
        "false_reassignments": false,
        "reassignments": ack + progress,
        "reassignments_ack": ack,
        "reassignments_progress": progress,
        "reassigned_fraction": sums["reassigned"] / sums["tasks"] if sums["tasks"] else math.nan,
        "tasks_failed": sums["failed"],
    }
    out = {m: Estimate(m, v, exact, method, _EXPIRY_ASSUMPTIONS) for m, v in values.items()}
    if any(g.faults.pause is not None for g in s.fleet):
        why = (
            "pauses: tasks handed to the open poll of a paused runner make the split between "
            "acknowledgement and later expiries too rough to show (the total is kept)"
        )
        for m in ("reassignments_ack", "reassignments_progress"):
            out[m] = not_applicable(m, method, _EXPIRY_ASSUMPTIONS, why)
    return out


# --- counts and throttling ------------------------------------------------------------------------


def tasks_submitted(ctx: Context) -> Estimate:
    value = sum(float(ctx.counted(w, np.array([0.0]))[0]) for w in ctx.scenario.workload)
    return Estimate(
        "tasks_submitted", value, True, "arrival count",
        ("tasks submitted at or after warmup and before the run ends (Poisson: rate x time)",),
    )  # fmt: skip


def throttled(ctx: Context) -> Estimate:
    metric = "throttled_calls"
    assumptions = (
        "each operation's offered load stays under 90% of its limit and no more calls go out at "
        "one instant than the bucket's burst: the bucket never empties (an approximation)",
    )
    checks = rate_limits(ctx.scenario)
    if not checks:
        return not_applicable(metric, "rate limits", assumptions, "throttling is off")
    for check in checks:
        if not check.fits:
            return not_applicable(metric, "rate limits", assumptions, check.why())
    return Estimate(metric, 0.0, False, "rate limits", assumptions)


BUILDERS: tuple[Callable[[Context], Estimate], ...] = (
    tasks_submitted, queue_wait, utilization, progress_calls, poll_calls, detection, throttled,
)  # fmt: skip


def estimates(scenario: Scenario) -> dict[str, Estimate]:
    """Every closed-form estimate for `scenario`, by summary metric name, applicable or not.

    Show only those with `applies`; the others say in `why_not` which assumption fails.
    """
    ctx = Context(scenario)
    out = {e.metric: e for e in (build(ctx) for build in BUILDERS)}
    out.update(expiries(ctx))
    changing = changing_fleet(scenario)
    if changing:  # only the arrivals do not depend on how many threads there are
        out = {
            m: e if m == "tasks_submitted"
            else not_applicable(m, e.method, e.assumptions, changing)
            for m, e in out.items()
        }
    return out
