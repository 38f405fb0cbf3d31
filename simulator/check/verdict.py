"""Everything a check concluded about one scenario file, and whether that is a pass.

A scenario passes when none of these holds: a run raised; the runs raise a health flag
(`simulator.results.health`, on the means over the replications: the backlog grows, most
attempts are reassigned) that the scenario does not allow in `expect: {allow_flags: [...]}`; an
expectation failed; an expectation
is inconclusive at the replication cap (unless inconclusive verdicts are allowed); its baseline is
stale; the exact tier found a changed summary; a metric is different from its baseline; or a
metric's comparison is inconclusive at the cap (unless allowed). The last rule does not apply when
the exact tier found every replication identical to the baseline: the two samples are then the
same draws, which cannot differ, and only too few of them to show it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from simulator.check.baseline import (
    CHANGED,
    IDENTICAL,
    SKIPPED,
    ExactTier,
    Recorded,
    exact_tier,
)
from simulator.check.equivalence import DIFFERENT, Equivalence, tost
from simulator.check.expect import FAIL, INCONCLUSIVE, ExpectVerdict, judge
from simulator.check.plan import Plan
from simulator.experiments.runs import Failure
from simulator.results.health import Flag, flags
from simulator.results.metrics import METRICS

# What became of a scenario's baseline in a check.
NO_BASELINE, NOT_USED, CURRENT, STALE, RECORDED = "none", "not used", "current", "stale", "recorded"


@dataclass
class BaselineUse:
    """The baseline a check compares with: its file, its status and the recorded run (if any)."""

    file: str | None
    status: str
    reason: str = ""
    run: Recorded | None = None
    versions: dict[str, str] = field(default_factory=dict)


def compared_metrics(plan: Plan, run: Recorded) -> list[str]:
    """The metrics of the statistical tier: those the scenario names in `expect` or in
    `check.tolerance`; every recorded metric when it names none."""
    named = [*(plan.scenario.expect.bounds() if plan.scenario.expect else {}),
             *plan.scenario.check.tolerance.named()]  # fmt: skip
    if named:
        return list(dict.fromkeys(named))
    return [m for m in METRICS if m in run.values] + [m for m in run.values if m not in METRICS]


@dataclass
class ScenarioCheck:
    """The verdicts on one scenario file in one check."""

    file: str
    plan: Plan
    replications: int
    expectations: list[ExpectVerdict]
    baseline: BaselineUse
    exact: ExactTier | None = None
    equivalence: list[Equivalence] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)  # health flags of the replications' means

    @property
    def name(self) -> str:
        return self.plan.scenario.name

    @property
    def allowed_flags(self) -> tuple[str, ...]:
        """The flags the scenario's `expect: {allow_flags: [...]}` says it is meant to raise."""
        expect = self.plan.scenario.expect
        return expect.allow_flags if expect is not None else ()

    @property
    def statistical_counts(self) -> bool:
        """False when the exact tier found the runs identical (see the module docstring)."""
        return not (self.exact is not None and self.exact.status == IDENTICAL)

    def undecided(self) -> bool:
        """Whether more replications could settle a verdict still inconclusive."""
        if self.failures:
            return False
        if any(v.verdict == INCONCLUSIVE for v in self.expectations):
            return True
        return self.statistical_counts and any(e.verdict == INCONCLUSIVE for e in self.equivalence)

    def problems(self, allow_inconclusive: bool = False) -> list[str]:
        """Why the scenario fails, one line each (empty: it passes)."""
        out = [f"replication {f.replication} (seed {f.seed}) raised {f.describe()}"
               for f in self.failures]  # fmt: skip
        cap = f"at the cap of {self.replications} replications"
        for f in self.flags:
            if f.name not in self.allowed_flags:
                out.append(f"flagged {f.name}: {f.message} (a broken run fails its check; if "
                           f"the scenario is meant to show this, write expect: {{allow_flags: "
                           f"[{f.name}]}})")  # fmt: skip
        for v in self.expectations:
            if v.verdict == FAIL or (v.verdict == INCONCLUSIVE and not allow_inconclusive):
                at = f" {cap}" if v.verdict == INCONCLUSIVE else ""
                out.append(f"expect {v.metric} {v.bound}: {v.verdict}{at} ({v.reason})")
        if self.baseline.status == STALE:
            out.append(f"baseline is stale: {self.baseline.reason}")
        if self.exact is not None and self.exact.status == CHANGED:
            out.append(f"exact tier: {self.exact.reason}")
        for e in self.equivalence:
            undecided = e.verdict == INCONCLUSIVE and self.statistical_counts
            if e.verdict == DIFFERENT or (undecided and not allow_inconclusive):
                at = f" {cap}" if e.verdict == INCONCLUSIVE else ""
                out.append(f"baseline {e.metric}: {e.verdict}{at} ({e.reason})")
        return out

    def to_dict(self, allow_inconclusive: bool = False) -> dict[str, Any]:
        problems = self.problems(allow_inconclusive)
        return {
            "file": self.file, "scenario": self.name, "mode": self.plan.mode,
            "seed": self.plan.seed, "duration_s": self.plan.scenario.duration,
            "replications": self.replications, "looks": list(self.plan.looks),
            "confidence": self.plan.confidence, "passed": not problems, "problems": problems,
            "expectations": [v.to_dict() for v in self.expectations],
            "flags": [{"name": f.name, "message": f.message,
                       "allowed": f.name in self.allowed_flags} for f in self.flags],
            "baseline": {
                "file": self.baseline.file, "status": self.baseline.status,
                "reason": self.baseline.reason, "versions": self.baseline.versions,
                "exact": self.exact.to_dict() if self.exact is not None else None,
                "statistical_tier_counts": self.statistical_counts,
                "equivalence": [e.to_dict() for e in self.equivalence],
            },
            "failures": [f.to_dict() for f in self.failures],
        }  # fmt: skip


def evaluate(
    file: str, plan: Plan, summaries: Sequence[Mapping[str, float]], baseline: BaselineUse,
    failures: Sequence[Failure] = (),
) -> ScenarioCheck:  # fmt: skip
    """Every verdict on the replications `summaries` (0..n-1) of `plan`."""
    def column(metric: str) -> list[float]:
        return [float(s.get(metric, float("nan"))) for s in summaries]

    expect = plan.scenario.expect.bounds() if plan.scenario.expect else {}
    verdicts = [judge(m, bound, column(m), plan.confidence) for m, bound in expect.items()]
    check = ScenarioCheck(file, plan, len(summaries), verdicts, baseline, failures=list(failures),
                          flags=health(summaries))  # fmt: skip
    run = baseline.run
    if run is None or baseline.status not in (CURRENT, RECORDED):
        return check
    if failures:  # the replications that ran are no longer numbered 0..n-1
        check.exact = ExactTier(SKIPPED, "a replication raised")
    else:
        check.exact = exact_tier(run, baseline.versions, plan.seed, summaries)
    for metric in compared_metrics(plan, run):
        recorded_values = run.column(metric)
        check.equivalence.append(tost(metric, column(metric), recorded_values,
                                      margin_of(plan, run, metric), plan.alpha))  # fmt: skip
    return check


def margin_of(plan: Plan, run: Recorded, metric: str) -> float:
    """The margin of `metric`: the scenario's own tolerance for it (its entry, or a `default`
    it writes); else the larger of the built-in default (5 % of the baseline mean) and the
    margin the baseline's spread suggests (`baseline.suggest`)."""
    tolerance = plan.scenario.check.tolerance
    finite = [v for v in run.column(metric) if v == v]
    reference = sum(finite) / len(finite) if finite else float("nan")
    margin = tolerance.of(metric).margin(reference)
    if metric in tolerance.named() or "default" in tolerance.model_fields_set:
        return margin
    return max(margin, run.suggested.get(metric, 0.0))


def health(summaries: Sequence[Mapping[str, float]]) -> list[Flag]:
    """The health flags of the replications, on each metric's mean over those with a value."""
    means: dict[str, float] = {}
    for metric in dict.fromkeys(k for s in summaries for k in s):
        values = [float(v) for s in summaries if (v := s.get(metric)) is not None]
        finite = [v for v in values if v == v]
        if finite:
            means[metric] = sum(finite) / len(finite)
    return flags(means)
