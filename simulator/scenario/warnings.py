"""A scenario's warnings: valid settings that are probably unintended, each with the field to
look at (and its file and line when the scenario was loaded from a file).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from simulator.errors import ScenarioWarning
from simulator.scenario.leases import timeouts as lease_timeouts
from simulator.scenario.modes import fast_fallbacks, has_latency
from simulator.scenario.paths import human_path
from simulator.scenario.profiles import shadowed as profile_shadowed
from simulator.scenario.rates import (
    arrival_rate,
    as_count,
    call_rates,
    lost_before_work,
    peak_rate,
    share_above,
    spec_mean,
)
from simulator.scenario.schema import FleetGroup, Profile, Scenario, Workload
from simulator.scenario.source import DataPath, SourceMap
from simulator.units import format_duration, format_rate


def warnings(scenario: Scenario, source: SourceMap | None = None) -> list[ScenarioWarning]:
    """Valid but probably unintended settings, each with the field to look at.

    Pass the `SourceMap` from `load_scenario_with_source` to get file and line in each warning.
    """
    out: list[ScenarioWarning] = []

    def warn(path: DataPath, message: str) -> None:
        line = source.locate(path)[0] if source else None
        out.append(
            ScenarioWarning(
                _model_path(scenario, path), message, source.file if source else None, line
            )
        )

    service = scenario.service
    for gi, group in enumerate(scenario.fleet):
        served = [w for w in scenario.workload if w.worker_group == group.worker_group]
        if not served:
            warn(
                ("fleet", gi, "worker_group"),
                f"no workload submits to worker group {group.worker_group!r}, so fleet group "
                f"{group.name!r}'s runners will only poll.",
            )
        if group.faults.heartbeat_stall is not None and not service.heartbeat_renews_leases:
            # Runner heartbeats renew no lease here (reference 3.5): the stall only lowers the
            # heartbeat count. Likely meant: progress_stall (what heartbeat_stall used to do).
            warn(
                ("fleet", gi, "faults", "heartbeat_stall"),
                f"fleet group {group.name!r}'s heartbeat_stall stops only runner heartbeats "
                "(ReportTaskRunnerHeartbeat), which renew no lease while "
                "service.heartbeat_renews_leases is false: it has no effect on leases, only on "
                "heartbeat counts. For a runner whose progress reports stop while it works, use "
                "progress_stall.",
            )
        for workload in served:
            # The model's own lease lengths, so the warning and the simulation agree.
            ack, first, renew = lease_timeouts(service, workload)
            timeout = min(first, renew)  # every report must beat the stricter one
            reading = f"lease_reading {service.lease_reading!r}"
            interval, jitter = group.progress_interval, group.progress_jitter
            # The model's rule (`lease.LATE`): a report that lands at the deadline keeps the
            # lease; only a later one loses it. A call with latency lands after the interval
            # counted from the previous reply, so it is always later.
            latent = has_latency(service)
            if interval > timeout or (interval == timeout and latent and not jitter):
                late = "every report will arrive after the lease has run out"
                doomed = "every attempt"
                if renew < interval <= first:
                    # two_stage: the acknowledgement's longer lease holds until the second
                    # report, whose shorter one runs out before the third.
                    late = (
                        f"the report after the acknowledgement lands within its "
                        f"{format_duration(first)} lease, but every later one arrives after the "
                        "lease has run out"
                    )
                    longest = format_duration(interval + renew)
                    doomed = f"every attempt that works longer than {longest}"
                if interval == timeout:
                    late = (
                        "its reports would land exactly at the lease deadline, but every call "
                        "takes service.call_latency, so each lands after it"
                    )
                warn(
                    ("fleet", gi, "progress_interval"),
                    f"fleet group {group.name!r} reports progress every "
                    f"{format_duration(interval)}, but an attempt of workload "
                    f"{workload.name!r} loses its lease after {format_duration(timeout)} of "
                    f"silence ({reading}): {late}: expect {doomed} to be reassigned.",
                )
            elif interval == timeout and not jitter:
                warn(
                    ("fleet", gi, "progress_interval"),
                    f"fleet group {group.name!r} reports progress every "
                    f"{format_duration(interval)}, exactly the {format_duration(timeout)} "
                    f"lease of workload {workload.name!r} ({reading}): reports land exactly at "
                    "the lease deadline, which keeps the lease, so a healthy runner keeps its "
                    "tasks here; but there is no margin: any call latency, jitter, throttled "
                    "or lost report, or pause loses the lease.",
                )
            elif interval + jitter > timeout:
                warn(
                    ("fleet", gi, "progress_jitter"),
                    f"with progress_jitter, fleet group {group.name!r} reports up to "
                    f"{format_duration(interval + jitter)} apart, longer than the "
                    f"{format_duration(timeout)} lease of workload {workload.name!r} "
                    f"({reading}): some attempts will be reassigned although the runner is "
                    "healthy.",
                )
            late = share_above(group.startup, ack)
            if late is not None and late > 0.001:
                share = f"about {late:.0%} of the acknowledgements"
                if late > 0.999:
                    share = "every acknowledgement"
                warn(
                    ("fleet", gi, "startup"),
                    f"{share} of workload {workload.name!r} by fleet group "
                    f"{group.name!r} will come after the "
                    f"{format_duration(ack)} acknowledgement "
                    "timeout, so those attempts lose their lease before they report.",
                )

        if served and group.faults.message_loss > 0:
            _message_loss(scenario, gi, group, served, warn)

    for wi, workload in enumerate(scenario.workload):
        if workload.retry_delay < service.retry_delay_floor:
            warn(
                ("workload", wi, "retry_delay"),
                f"retry_delay {format_duration(workload.retry_delay)} is below the service's "
                f"retry_delay_floor {format_duration(service.retry_delay_floor)}; the floor "
                "will be used.",
            )
        if workload.attempt_timeout is not None:
            over = share_above(workload.duration, workload.attempt_timeout)
            if over is not None and over > 0.01:
                warn(
                    ("workload", wi, "attempt_timeout"),
                    f"about {over:.0%} of workload {workload.name!r}'s tasks need longer than "
                    f"attempt_timeout {format_duration(workload.attempt_timeout)}; those "
                    "attempts will fail however healthy the runner.",
                )

    by_group: dict[str, list[int]] = {}
    for wi, workload in enumerate(scenario.workload):
        by_group.setdefault(workload.worker_group, []).append(wi)
    for group_name, indices in by_group.items():
        # A scaling group can grow to `scaling.max` runners: overload is judged at that ceiling.
        threads = as_count(sum(
            (g.runners if g.scaling is None else g.scaling.max) * g.threads
            for g in scenario.fleet if g.worker_group == group_name
        ))  # fmt: skip
        load = 0.0
        for wi in indices:
            w = scenario.workload[wi]
            mean = spec_mean(w.duration)
            if mean is None:
                load = math.nan
                break
            load += arrival_rate(w, scenario.duration) * mean
        if threads and load / threads >= 1:
            warn(
                ("workload", indices[0], "arrivals"),
                f"worker group {group_name!r} is offered {load:.1f} threads' worth of work but "
                f"has {threads:,.0f} threads (utilisation {load / threads:.0%} before any "
                "reassignment): the queue will grow for the whole run.",
            )
        elif threads and not math.isnan(load):
            _peak_overload(scenario, group_name, indices, threads, load, warn)

    shadowed = profile_shadowed(service)
    if shadowed:
        warn(("service", "profile"), shadowed)

    throttle = service.throttle
    if throttle is not None:
        rates = call_rates(scenario)
        poll, progress = _per_s(rates.poll), _per_s(rates.progress)
        status, beats = _per_s(rates.status), _per_s(rates.heartbeat, 2)
        if rates.poll > throttle.poll:
            warn(
                ("service", "throttle", "poll"),
                f"the fleet's {rates.threads:,.0f} threads send about {poll} PollForTask "
                f"calls/s when up to {rates.idle:,.0f} of them are idle (each idle thread "
                f"long-polls once per {format_duration(service.long_poll)}, and again after each "
                f"task), above the account limit of {throttle.poll:g}/s: expect most polls "
                "throttled, back-off, and tasks waiting in the queue while threads are free.",
            )
        if rates.progress > throttle.progress:
            warn(
                ("service", "throttle", "progress"),
                f"with up to {rates.in_progress:,.0f} tasks in progress at once the fleet sends "
                f"about {progress} ReportTaskProgress calls/s, above the account limit "
                f"of {throttle.progress:g}/s: expect throttled reports, back-off and leases lost "
                "to late reports.",
            )
        if rates.status > throttle.status:
            warn(
                ("service", "throttle", "status"),
                f"tasks end at about {status}/s, each with a SetTaskStatus call, above "
                f"the account limit of {throttle.status:g}/s: expect throttled status reports.",
            )
        if rates.heartbeat > throttle.heartbeat:
            warn(
                ("service", "throttle", "heartbeat"),
                f"the fleet sends about {beats} ReportTaskRunnerHeartbeat calls/s, "
                f"above the account limit of {throttle.heartbeat:g}/s: expect throttled "
                "heartbeats.",
            )
    exact = fast_fallbacks(scenario)
    if "*" in exact:
        hint = ""
        if service.throttle is not None and "service.throttle:" in exact["*"]:
            hint = (
                "; to run fast, set service: {throttle: null} once an exact run shows "
                "throttled_calls 0"
            )
        warn(
            ("simulation", "mode"),
            f"fast mode was asked for, but this scenario runs exact (same results, more slowly): "
            f"{exact['*']} (docs/fast-mode.md{hint}).",
        )
    for group, reason in exact.items():
        if "*" not in exact:
            warn(
                ("simulation", "mode"),
                f"fast mode was asked for, but fleet group {group!r} runs exact (same results, "
                f"more slowly): {reason} (docs/fast-mode.md).",
            )
    return out


USELESS_LOSS = 0.5  # attempts lost before their work starts, at or above which loss is warned of


def _message_loss(
    scenario: Scenario, gi: int, group: FleetGroup, served: list[Workload],
    warn: Callable[[DataPath, str], None],
) -> None:  # fmt: skip
    """A message loss so high that the group loses at least half of its attempts before their
    work starts: the fleet spends more attempts on loss than on work (`rates.lost_before_work`)."""
    service = scenario.service
    lost, workload = max(((lost_before_work(group, w, service), w) for w in served),
                         key=lambda pair: pair[0])  # fmt: skip
    if lost < USELESS_LOSS:
        return
    faults = group.faults
    cost = "and is handed out again"
    if service.on_lease_expiry == "fail_and_retry":
        forever = lost ** (workload.max_retries + 1)
        cost = (
            f"and uses up a try, so about {forever:.0%} of the tasks of workload "
            f"{workload.name!r} would fail for good (max_retries {workload.max_retries})"
        )
    warn(
        ("fleet", gi, "faults", "message_loss"),
        f"with message_loss {faults.message_loss:g} (loss_direction {faults.loss_direction}), "
        f"fleet group {group.name!r} loses about {lost:.0%} of the attempts of workload "
        f"{workload.name!r} before their work starts (the PollForTask reply handing the task "
        "over, or every report within the acknowledgement window, lost): each such attempt "
        f"waits out the acknowledgement window {cost}. message_loss is a probability per "
        "message: 0.2 loses one message in five.",
    )


def _per_s(rate: float, digits: int = 1) -> str:
    """A rate for a message: fixed-point when readable, else in powers of ten."""
    return f"{rate:.{digits}f}" if rate < 1e6 else f"{rate:.3g}"


def _model_path(scenario: Scenario, path: DataPath) -> str:
    """Human path of a field of a validated scenario (fleet and workload entries by name)."""
    return human_path(
        path,
        {
            "fleet": [{"name": g.name} for g in scenario.fleet],
            "workload": [{"name": w.name} for w in scenario.workload],
        },
    )


def _peak_overload(
    scenario: Scenario, group_name: str, indices: list[int], threads: float, load: float,
    warn: Callable[[DataPath, str], None],
) -> None:  # fmt: skip
    """A worker group that keeps up on average but not during a rate profile's busiest segment:
    the backlog grows there and drains after (a peak to size for, not a mistake; worth saying)."""
    peak = 0.0
    for wi in indices:
        w = scenario.workload[wi]
        peak += peak_rate(w, scenario.duration) * (spec_mean(w.duration) or 0.0)
    if peak / threads < 1:
        return
    wi = next(i for i in indices if isinstance(scenario.workload[i].arrivals, Profile))
    w = scenario.workload[wi]
    warn(
        ("workload", wi, "arrivals"),
        f"worker group {group_name!r} keeps up on average (utilisation {load / threads:.0%}) but "
        "during the busiest segment of the rate profile of workload "
        f"{w.name!r} ({format_rate(peak_rate(w, scenario.duration))}) it is offered "
        f"{peak:.1f} threads' worth of work with {threads:,.0f} threads: the queue grows during "
        "that segment and drains after it.",
    )
