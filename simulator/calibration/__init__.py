"""Calibration from a fleet's records and validation against them (docs/calibration.md).

    from simulator.calibration import read_observed, fit_observed, compare_observed
    observed = read_observed("attempts.csv")        # validated, times in seconds
    fitted = fit_observed(observed, base="scenarios/aws-defaults.yaml")
    fitted.save("fitted.yaml")                      # the base with the fitted fields replaced
    verdict = compare_observed(fitted.scenario, observed, n=10)   # metric by metric

`simulator` exports these three (docs/api.md).
"""

from simulator.calibration.calibrate import Calibration, fit_observed
from simulator.calibration.compare import Comparison, compare_observed
from simulator.calibration.observed import Observed, read_observed, simulated_record

__all__ = [
    "Calibration",
    "Comparison",
    "Observed",
    "compare_observed",
    "fit_observed",
    "read_observed",
    "simulated_record",
]
