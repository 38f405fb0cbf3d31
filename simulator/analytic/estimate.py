"""`Estimate`: a closed-form value for one summary metric, with the assumptions it rests on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Estimate:
    """A closed-form (or cheap numerical) estimate of one summary metric for one scenario.

    `exact` says whether the value is what the model gives in expectation when every assumption
    holds (True) or an approximation even then (False). `applies` is False when the scenario
    breaks an assumption; `why_not` then says which, and `value` may be NaN. Callers show only
    estimates that apply.
    """

    metric: str
    value: float
    exact: bool
    method: str
    assumptions: tuple[str, ...] = ()
    applies: bool = True
    why_not: str = ""
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe form (NaN as None)."""
        return {
            "metric": self.metric,
            "value": self.value if math.isfinite(self.value) else None,
            "exact": self.exact,
            "method": self.method,
            "assumptions": list(self.assumptions),
            "applies": self.applies,
            "why_not": self.why_not,
            "notes": list(self.notes),
        }


def not_applicable(
    metric: str, method: str, assumptions: tuple[str, ...], why_not: str
) -> Estimate:
    """An estimate the scenario rules out: NaN value and the broken assumption."""
    return Estimate(metric, math.nan, False, method, assumptions, applies=False, why_not=why_not)
