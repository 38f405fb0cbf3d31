"""Closed-form estimates beside simulated figures; derivations in docs/analytic.md.

    from simulator.analytic import estimates, compare
    found = estimates(scenario)                   # metric -> Estimate (value, exact, assumptions)
    compare(found, summarize_replications(...))   # estimate vs simulated mean and CI, `disagrees`

Building blocks: `queueing` (Erlang C, Allen-Cunneen), `detection` (crash detection time),
`expiry` (lease expiries under loss, pauses, crashes), `load` (API calls, rate-limit ceilings).
"""

from simulator.analytic.compare import (
    closed_form_section,
    compare,
    comparison_lines,
    comparison_records,
)
from simulator.analytic.detection import DetectionTime, detection_time
from simulator.analytic.estimate import Estimate
from simulator.analytic.estimates import estimates
from simulator.analytic.expiry import ExpiryRates, expiry_rates, loss_rates
from simulator.analytic.load import (
    Ceiling,
    LimitCheck,
    call_rates,
    ceilings,
    poll_ceiling,
    rate_limits,
    report_ceiling,
)
from simulator.analytic.queueing import allen_cunneen_wait, erlang_c, mmc_wait

__all__ = [
    "Ceiling",
    "DetectionTime",
    "Estimate",
    "ExpiryRates",
    "LimitCheck",
    "allen_cunneen_wait",
    "call_rates",
    "ceilings",
    "closed_form_section",
    "compare",
    "comparison_lines",
    "comparison_records",
    "detection_time",
    "erlang_c",
    "estimates",
    "expiry_rates",
    "loss_rates",
    "mmc_wait",
    "poll_ceiling",
    "rate_limits",
    "report_ceiling",
]
