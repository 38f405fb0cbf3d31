"""Which fleet groups fast mode may count in bulk: a rule on the scenario alone.

The model chooses its fast or exact classes per fleet group by `fallbacks`; the warnings, the
size guards and the CLI say why a group runs exact with `fast_fallbacks` (every reason).
"""

from __future__ import annotations

from typing import Any

from simulator.scenario.schema import Fixed, Scenario


def fallbacks(scenario: Scenario) -> dict[str, str]:
    """Why each fleet group (or "*" for all) must run exact in fast mode; empty: all can be fast."""
    why: dict[str, str] = {}
    if scenario.service.throttle is not None:
        # Every report takes a token from the account-wide bucket: skipping reports would change
        # which other calls are throttled.
        why["*"] = "service.throttle is on: every report takes a token from the shared bucket"
    latency = scenario.service.call_latency
    if getattr(latency, "dist", None) != "fixed" or latency.value != 0:  # type: ignore[union-attr]
        why["*"] = "service.call_latency is not 0: each report is a request in flight"
    for group in scenario.fleet:
        if group.progress_jitter:
            why[group.name] = f"fleet[{group.name}].progress_jitter: reports have no fixed schedule"
        elif group.scaling is not None:
            why[group.name] = (
                f"fleet[{group.name}].scaling: runners join and drain mid-run (the fast layer has "
                "no drain or stop hooks yet)"
            )
        elif group.faults.interruption is not None:
            why[group.name] = (
                f"fleet[{group.name}].faults.interruption: runners drain and leave mid-run (the "
                "fast layer has no drain or stop hooks yet)"
            )
    return why


def fast_fallbacks(scenario: Scenario) -> dict[str, str]:
    """Why fleet groups ("*": the whole fleet) run exact although fast mode is asked for.

    Empty when exact mode is asked for or every group runs fast. Every reason of the whole fleet
    is given, joined by "; " (`fallbacks` keeps one).
    """
    if scenario.simulation.mode != "fast":
        return {}
    why = fallbacks(scenario)
    if "*" in why and scenario.service.throttle is not None and has_latency(scenario.service):
        service = scenario.service.model_copy(
            update={"call_latency": Fixed(dist="fixed", value=0.0)}
        )
        throttle = fallbacks(scenario.model_copy(update={"service": service}))["*"]
        if throttle not in why["*"]:
            why["*"] = f"{throttle}; {why['*']}"
    return why


def has_latency(service: Any) -> bool:
    """Whether calls take time (`service.call_latency` other than a fixed 0)."""
    latency = service.call_latency
    return not (isinstance(latency, Fixed) and latency.value == 0)

