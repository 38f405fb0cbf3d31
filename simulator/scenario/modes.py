"""Which fleet groups fast mode may count in bulk: a rule on the scenario alone.

The model chooses its fast or exact classes per fleet group by `fallbacks`; the warnings, the
size guards and the CLI say why a group runs exact with `fast_fallbacks` (every reason).
"""

from __future__ import annotations

from typing import Any

from simulator.scenario.rates import call_rates
from simulator.scenario.schema import Fixed, Scenario


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
    for group in scenario.fleet:
        if group.progress_jitter:
            why[group.name] = f"fleet[{group.name}].progress_jitter: reports have no fixed schedule"
        elif group.scaling is not None:
            # Exact mode orders a task's completion among the events of its instant by when its
            # last progress report was sent; fast mode, which sends none, by when it took the
            # task. Where a completion and an evaluation coincide (fixed work, arrivals on the
            # evaluation grid), the controller would see a thread still busy in exact mode and
            # already idle in fast mode, and scale differently (docs/fast-mode.md).
            why[group.name] = (
                f"fleet[{group.name}].scaling: the scaling controller must see a task that ends "
                "in the instant of an evaluation as exact mode's order of that instant has it, "
                "which fast mode, sending no progress reports, cannot reproduce"
            )
        elif throttle is not None and group.faults.message_loss:
            # Fast mode draws losses its own way, so its run is not exact mode's run of the same
            # seed: whether it could be throttled must not decide which of the two is kept
            # (docs/fast-mode.md, "Under the account's rate limits").
            why[group.name] = (
                f"fleet[{group.name}].faults.message_loss with service.throttle on: fast mode "
                "proves no call is throttled only where it draws what exact mode draws"
            )
    return why


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

