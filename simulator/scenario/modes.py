"""Which fleet groups fast mode may count in bulk: a rule on the scenario alone.

The model chooses its fast or exact classes per fleet group by `fallbacks`; the warnings, the
size guards and the CLI say why a group runs exact with `fast_fallbacks` (every reason).
"""

from __future__ import annotations

from typing import Any

from simulator.scenario import leases
from simulator.scenario.rates import call_rates
from simulator.scenario.schema import Fixed, Scenario
from simulator.units import format_duration


def fallbacks(scenario: Scenario) -> dict[str, str]:
    """Why each fleet group (or "*" for all) must run exact in fast mode; empty: all can be fast.

    Every reason the whole fleet has is given, joined by "; ".
    """
    why: dict[str, str] = {}
    whole: list[str] = []
    throttle = scenario.service.throttle
    if has_latency(scenario.service):
        whole.append("service.call_latency is not 0: each report is a request in flight")
    if throttle is not None:
        busiest = _above_limits(scenario)
        if busiest:
            # Exact mode will throttle calls, and each throttled call must be simulated: fast
            # mode could only start, find it cannot prove the run equal, and start again exact.
            whole.append(f"service.throttle: {busiest}")
    if whole:
        why["*"] = "; ".join(whole)
    tied = _ties(scenario)
    shrinking = _shrinking_leases(scenario)
    for group in scenario.fleet:
        if group.progress_jitter:
            why[group.name] = f"fleet[{group.name}].progress_jitter: reports have no fixed schedule"
        elif group.worker_group in tied:
            why[group.name] = tied[group.worker_group]
        elif group.worker_group in shrinking:
            why[group.name] = shrinking[group.worker_group]
        elif throttle is not None and group.faults.message_loss:
            # Fast mode draws losses its own way, so its run is not exact mode's run of the same
            # seed: whether it could be throttled must not decide which of the two is kept
            # (docs/fast-mode.md, "Under the account's rate limits").
            why[group.name] = (
                f"fleet[{group.name}].faults.message_loss with service.throttle on: fast mode "
                "proves no call is throttled only where it draws what exact mode draws"
            )
    return why


ATOMS = ("fixed", "empirical")  # distributions whose values repeat: two draws can be equal


def _ties(scenario: Scenario) -> dict[str, str]:
    """Worker groups whose fleet groups must run exact because same-instant events decide what a
    scaling controller finds, by worker group: why.

    Exact mode orders a task's completion among the events of its instant by when the thread's
    last progress report was sent; fast mode, which sends none, by when the thread took the task.
    The two orders differ only where a completion falls in the instant of another event: an
    arrival (which thread gets the task), a scaling evaluation (how many threads are busy, how
    many tasks ready). That needs work of a length that repeats (`fixed`, `empirical`) taken at
    instants that repeat: arrivals at set times (`periodic`, `times`, `trace`), runners that
    start together and poll in step (a start_spread of 0), or launched runners that start on the
    evaluation grid (a `fixed` or `empirical` launch_delay, the default 3 minutes included).
    Otherwise two such events share an instant with probability 0. Which
    thread gets a task is a tie the modes may break differently without changing any
    distribution (an interrupted fleet on such a workload: 300 paired runs, tasks lost to
    interruptions 8.59 in both modes), but a scaling controller turns it into other decisions (on
    tests/test_scaling.py's scenario, 40 paired runs: runner-hours 2.7% lower in fast mode,
    paired t p < 1e-14), and it reads the ready tasks of its worker group, which every fleet
    group of that worker group changes: all of them run exact.
    """
    tied: dict[str, str] = {}
    for shaper in scenario.fleet:
        scaling = shaper.scaling
        if scaling is None:
            continue
        for load in scenario.workload:
            if load.worker_group != shaper.worker_group or load.duration.dist not in ATOMS:
                continue
            work = f"workload[{load.name}] has {load.duration.dist} work"
            if load.arrivals.kind not in ("poisson", "profile"):
                when = f"arrives at set times ({load.arrivals.kind})"
            elif scaling.launch_delay.dist in ATOMS:
                delay = scaling.launch_delay.dist
                when = f"launched runners start on the evaluation grid (a {delay} launch_delay)"
            elif shaper.start_spread == 0:  # its runners poll in step
                when = "runners start at once (start_spread 0)"
            else:
                continue
            tied.setdefault(
                shaper.worker_group,
                f"fleet[{shaper.name}].scaling: {work} and {when}, so tasks complete in the "
                "instant of arrivals and scaling evaluations, which fast mode orders differently "
                "from exact mode",
            )
            break
    return tied


def _above_limits(scenario: Scenario) -> str:
    """The first operation whose estimated peak call rate exceeds its account limit, in words."""
    throttle = scenario.service.throttle
    assert throttle is not None
    rates = call_rates(scenario)
    for name, rate, limit in (
        ("PollForTask", rates.poll, throttle.poll),
        ("ReportTaskProgress", rates.progress, throttle.progress),
        ("SetTaskStatus", rates.status, throttle.status),
        ("ReportTaskRunnerHeartbeat", rates.heartbeat, throttle.heartbeat),
    ):
        if rate > limit:
            return (
                f"an estimated peak of {rate:.3g} {name} calls/s is above the account limit of "
                f"{limit:g}/s, and every throttled call must be simulated"
            )
    return ""


def _shrinking_leases(scenario: Scenario) -> dict[str, str]:
    """Worker groups whose fleet groups must run exact because a progress report can shorten a
    lease that runner heartbeats also renew, by worker group: why.

    Under `two_stage` with `report_progress_timeout` below `short_timeout`, the first report
    leaves the long lease and the second a shorter one (`Service.report_progress` replaces the
    deadline). Fast mode's reports counted in bulk replace it as well, but a heartbeat that
    renews leases (`heartbeat_renews_leases`) lengthens the lease it finds, and between the
    bulk-counted reports fast mode's attempt holds the lease as it stood before them, so the
    heartbeat would compare against a stale deadline.
    """
    if not scenario.service.heartbeat_renews_leases:
        return {}
    shrinking: dict[str, str] = {}
    for load in scenario.workload:
        _, first, renew = leases.timeouts(scenario.service, load)
        if first > renew:
            shrinking.setdefault(
                load.worker_group,
                f"workload[{load.name}]: under service.lease_reading "
                f"{scenario.service.lease_reading} the lease after the first report "
                f"({format_duration(first)}) is longer than after the next "
                f"({format_duration(renew)}), so a report can shorten it, and "
                "service.heartbeat_renews_leases is on: fast mode's bulk counting does not model "
                "a heartbeat renewing a lease a report shortened",
            )
    return shrinking


def fast_fallbacks(scenario: Scenario) -> dict[str, str]:
    """Why fleet groups ("*": the whole fleet) run exact although fast mode is asked for.

    Empty when exact mode is asked for or every group runs fast.
    """
    if scenario.simulation.mode != "fast":
        return {}
    return fallbacks(scenario)


def has_latency(service: Any) -> bool:
    """Whether calls take time (`service.call_latency` other than a fixed 0)."""
    latency = service.call_latency
    return not (isinstance(latency, Fixed) and latency.value == 0)
