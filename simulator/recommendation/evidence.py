"""Evidence: each requirement judged on a candidate's replications by its confidence interval.

The interval is the Student-t interval of the mean over replications. When every replication gave
the same value that interval has zero width and proves nothing (0 duplicates in every run does not
show the fraction is below 1e-4), so a count gets the exact Poisson interval of its mean (Garwood)
and a fraction the exact binomial interval over the ended tasks (Clopper-Pearson), as
`simulator.analytic.compare` does when it judges estimates.

Verdicts: `meets` (the whole interval respects the bound), `fails` (none of it does), `unsure`
(the interval straddles the bound: more replications or longer runs would tell), `no value` (the
metric was undefined in every run, e.g. a detection latency without crashes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from simulator.recommendation.requirements import Requirement, shown
from simulator.results.metrics import METRICS
from simulator.results.stats import binomial_interval, poisson_interval
from simulator.units import rate_metric, rate_unit

Verdict = Literal["meets", "fails", "unsure", "no value"]
COUNT_UNITS = ("tasks", "attempts", "expiries", "calls")


@dataclass(frozen=True)
class Measure:
    """A metric's mean over replications with its confidence interval; `interval` names the kind
    ("t", "poisson", "binomial", or "" when there is none)."""

    metric: str
    mean: float
    low: float
    high: float
    n: int
    interval: str = "t"

    def text(self, signed: bool = False) -> tuple[str, str]:
        """(mean, interval) for a reader, as `shown` writes them (a rate's mean and bounds in one
        unit); the interval is "-" when there is none, and names its kind unless t."""
        finite = [abs(x) for x in (self.mean, self.low, self.high) if math.isfinite(x)]
        unit = rate_unit(max(finite)) if rate_metric(self.metric) and finite else None
        mean = shown(self.metric, self.mean, signed, unit)
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            return mean, "-"
        kind = "" if self.interval in ("t", "paired t") else f" ({self.interval})"
        low, high = (shown(self.metric, x, signed, unit) for x in (self.low, self.high))
        return mean, f"[{low}, {high}]{kind}"

    def to_dict(self) -> dict[str, object]:
        def clean(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {"metric": self.metric, "mean": clean(self.mean), "ci_low": clean(self.low),
                "ci_high": clean(self.high), "n": self.n, "interval": self.interval}  # fmt: skip


@dataclass(frozen=True)
class Evidence:
    """One requirement judged on one candidate: the metric's interval and the verdict."""

    requirement: Requirement
    measure: Measure
    verdict: Verdict

    def to_dict(self) -> dict[str, object]:
        return {"requirement": str(self.requirement), **self.measure.to_dict(),
                "verdict": self.verdict}  # fmt: skip





def measure(metric: str, rows: Mapping[str, Mapping[str, float]], confidence: float) -> Measure:
    """The interval to judge `metric` by, from one candidate's summary rows (metric -> mean,
    ci_low, ci_high, n), with the exact intervals described above where the t interval is flat."""
    row = rows.get(metric)
    if row is None or int(row["n"]) == 0 or not math.isfinite(float(row["mean"])):
        return Measure(metric, math.nan, math.nan, math.nan, 0, "")
    mean, low, high, n = (float(row["mean"]), float(row["ci_low"]), float(row["ci_high"]),
                          int(row["n"]))  # fmt: skip
    if math.isfinite(low) and math.isfinite(high) and high > low:
        return Measure(metric, mean, low, high, n, "t")
    unit = METRICS[metric].unit if metric in METRICS else ""
    if unit in COUNT_UNITS and mean >= 0:
        return Measure(metric, mean, *poisson_interval(mean, n, confidence), n, "poisson")
    ended_known = "tasks_finished" in rows and "tasks_failed" in rows
    if unit == "fraction" and ended_known and 0 <= mean <= 1:
        ended = (float(rows["tasks_finished"]["mean"]) + float(rows["tasks_failed"]["mean"])) * n
        if ended >= 1:
            return Measure(metric, mean, *binomial_interval(mean, ended, confidence), n, "binomial")
    if n >= 2:  # a flat t interval of a continuous metric: every run gave exactly this value
        return Measure(metric, mean, mean, mean, n, "t")
    return Measure(metric, mean, math.nan, math.nan, n, "")


def judge(requirement: Requirement, m: Measure) -> Evidence:
    """The verdict of `requirement` on the interval `m`."""
    if m.n == 0:
        return Evidence(requirement, m, "no value")
    if not (math.isfinite(m.low) and math.isfinite(m.high)):
        return Evidence(requirement, m, "unsure")
    inside = requirement.holds(m.low) and requirement.holds(m.high)
    outside = not requirement.holds(m.low) and not requirement.holds(m.high)
    verdict: Verdict = "meets" if inside else "fails" if outside else "unsure"
    return Evidence(requirement, m, verdict)


def standing(evidence: tuple[Evidence, ...]) -> Verdict:
    """All requirements together: `fails` if any fails, else `meets` if all meet, else
    `unsure` (some cannot be decided yet)."""
    verdicts = {e.verdict for e in evidence}
    if "fails" in verdicts:
        return "fails"
    if verdicts <= {"meets"}:
        return "meets"
    return "unsure"


def tasks_needed(requirement: Requirement, confidence: float) -> float | None:
    """Ended tasks needed, with no event at all, before a fraction's exact upper bound falls
    below the requirement's bound: ln(2 / (1 - confidence)) / bound (3.69 / bound at 95 %)."""
    if requirement.op != "<=" or requirement.unit != "fraction" or requirement.value <= 0:
        return None
    return math.log(2 / (1 - confidence)) / requirement.value
