"""Analytic screening: what the closed-form estimates say about a candidate before simulating it.

A candidate is discarded when an applicable estimate puts a required metric clearly beyond its
bound: by more than 5 % of the larger of the two for an exact estimate (the model's own
expectation, so beyond the bound means the requirement fails), by more than half for an
approximate one (beyond twice the bound for `<=`, below half of it for `>=`). The rest are ordered
by the estimates: no requirement predicted beyond its bound first, then the objective's estimate
(where the scenario's faults rule it out, its estimate without the faults, for the order only),
then the predicted margins. Where no estimate applies to a metric, the candidate is neither
discarded nor ordered by it, and the report says so (see docs/analytic.md for when each applies).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from simulator.analytic import estimates
from simulator.analytic.estimate import Estimate
from simulator.recommendation.requirements import Objective, Requirement, shown
from simulator.scenario.schema import Faults, Scenario

EXACT_SLACK = 0.05
APPROXIMATE_SLACK = 0.5


@dataclass(frozen=True)
class Screen:
    """The closed-form verdict on one candidate."""

    found: dict[str, Estimate]  # metric -> estimate, for the requirements' metrics and objective
    discard: tuple[str, ...]  # why the estimates rule it out (empty: kept)
    beyond: int  # requirements whose estimate is beyond the bound, but not clearly
    objective: float  # the objective's estimate, NaN without one
    margin: float  # sum of the requirements' predicted relative margins (0 where unknown)
    error: str = ""  # the estimates could not be computed
    # The objective's estimate without the scenario's faults, when faults rule the estimate out:
    # used to order candidates only.
    proxy: float = math.nan

    def value(self, metric: str) -> float:
        e = self.found.get(metric)
        return e.value if e is not None and e.applies else math.nan


def clearly_beyond(requirement: Requirement, estimate: Estimate) -> bool:
    """Whether an applicable estimate puts the metric clearly beyond the requirement's bound."""
    x = estimate.value
    if not math.isfinite(x) or requirement.holds(x):
        return False
    slack = EXACT_SLACK if estimate.exact else APPROXIMATE_SLACK
    return -requirement.margin(x) > slack * max(abs(x), abs(requirement.value))


def screen(scenario: Scenario, requirements: Sequence[Requirement],
           objective: Objective) -> Screen:  # fmt: skip
    """Screen one candidate scenario against the requirements."""
    metrics = {r.metric for r in requirements} | {objective.metric}
    try:
        found = {m: e for m, e in estimates(scenario).items() if m in metrics}
    except Exception as exc:  # noqa: BLE001 - a formula's failure must not stop the search
        return Screen({}, (), 0, math.nan, 0.0, f"{type(exc).__name__}: {exc}")
    discard, beyond, margin = [], 0, 0.0
    for r in requirements:
        e = found.get(r.metric)
        if e is None or not e.applies or not math.isfinite(e.value):
            continue
        margin += r.scaled_margin(e.value)
        if clearly_beyond(r, e):
            kind = "exact" if e.exact else "approximate"
            discard.append(f"{r}: {kind} estimate {shown(r.metric, e.value)} ({e.method})")
        elif not r.holds(e.value):
            beyond += 1
    e = found.get(objective.metric)
    value = e.value if e is not None and e.applies else math.nan
    proxy = math.nan
    if not math.isfinite(value):
        proxy = _without_faults(scenario, objective.metric)
    return Screen(found, tuple(discard), beyond, value, margin, proxy=proxy)


def _without_faults(scenario: Scenario, metric: str) -> float:
    """The metric's estimate for the same scenario without faults, or NaN: when faults rule the
    objective's estimate out, it still orders candidates (a shorter interval costs more calls
    with faults or without), though it is never taken as evidence."""
    if not any(g.faults != Faults() for g in scenario.fleet):
        return math.nan
    calm = scenario.model_copy(update={
        "fleet": tuple(g.model_copy(update={"faults": Faults()}) for g in scenario.fleet)})
    try:
        e = estimates(calm).get(metric)
    except Exception:  # noqa: BLE001 - ordering only: without it, grid order stands
        return math.nan
    return e.value if e is not None and e.applies else math.nan


def order_key(screen: Screen, objective: Objective, index: int) -> tuple[float, ...]:
    """Sort key of a kept candidate: predicted to fail nothing, best objective (or, without an
    estimate, its fault-free proxy), widest margins."""
    value = screen.objective if math.isfinite(screen.objective) else screen.proxy
    return (float(screen.beyond), objective.key(value), -screen.margin, float(index))


@dataclass
class Usage:
    """How one metric's estimate served the screening, over all candidates."""

    metric: str
    applied: int = 0
    exact: int = 0
    discarded: int = 0
    methods: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def describe(self, total: int) -> str:
        if not self.applied:
            if not self.reasons:
                return f"{self.metric}: no closed-form estimate exists for this metric"
            reason, _ = self.reasons.most_common(1)[0]
            return f"{self.metric}: no estimate applies ({reason})"
        method = ", ".join(m for m, _ in self.methods.most_common())
        kind = ("exact" if self.exact == self.applied else "approximate" if not self.exact
                else f"exact for {self.exact}")  # fmt: skip
        text = f"{self.metric}: {method} ({kind}) for {self.applied} of {total} candidates"
        if self.discarded:
            text += f"; {self.discarded} discarded by it"
        if self.applied < total and self.reasons:
            reason, _ = self.reasons.most_common(1)[0]
            text += f"; not applicable to the others ({reason})"
        return text


def usage(screens: Sequence[Screen], requirements: Sequence[Requirement],
          objective: Objective) -> list[Usage]:  # fmt: skip
    """Which estimates were used for each requirement's metric and the objective, and where
    none applied (the commonest reason)."""
    metrics = list(dict.fromkeys([*(r.metric for r in requirements), objective.metric]))
    out = {m: Usage(m) for m in metrics}
    for s in screens:
        for m in metrics:
            e = s.found.get(m)
            if e is None:
                if s.error:
                    out[m].reasons[f"the estimates failed: {s.error}"] += 1
                continue
            if e.applies and math.isfinite(e.value):
                out[m].applied += 1
                out[m].exact += int(e.exact)
                out[m].methods[e.method] += 1
                if any(d.startswith(f"{m} ") for d in s.discard):
                    out[m].discarded += 1
            else:
                out[m].reasons[e.why_not or "not applicable"] += 1
    return list(out.values())
