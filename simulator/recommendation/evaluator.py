"""The search's notebook: every candidate it met, screened or simulated, and every run it made.

`Evaluator` builds each candidate as a whole scenario (a setting the schema refuses is kept with
the reason), screens it with the closed-form estimates, and simulates batches of candidates with
the same seed and replications (common random numbers), judging each requirement on the result.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simulator.errors import LeasesimError
from simulator.recommendation.evidence import Evidence, Measure, Verdict, judge, standing
from simulator.recommendation.requirements import Objective, Requirement
from simulator.recommendation.screening import Screen, screen
from simulator.recommendation.simulate import measures, simulate, summaries
from simulator.recommendation.space import Axis, label
from simulator.results.health import Flag, flags
from simulator.scenario.leases import timeouts
from simulator.scenario.load import load_scenario_dict, scenario_to_dict
from simulator.scenario.schema import Scenario

# Rank of a candidate's standing when choosing among simulated ones.
STANDING_RANK = {"meets": 0, "unsure": 1, "fails": 2}


@dataclass
class Candidate:
    """One setting of the varied fields, and everything learnt about it."""

    id: int
    setting: dict[str, Any]
    label: str
    stage: str  # "grid", "refine 1", ..., or "reading" for the lease-reading check
    scenario: Scenario | None = None
    invalid: str = ""  # why the setting is not a valid scenario
    screen: Screen | None = None
    simulated: bool = False
    measures: dict[str, Measure] = field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()
    standing: Verdict | str = ""
    same_as: int | None = None  # results copied from this candidate (the very same model)
    # Health flags of its runs (simulator.results.health, on the means over replications): a
    # flagged candidate is broken whatever its requirements say, and stands as `fails`.
    flags: tuple[Flag, ...] = ()

    @property
    def run_id(self) -> int:
        """The candidate whose runs hold this one's results."""
        return self.id if self.same_as is None else self.same_as

    @property
    def discarded(self) -> bool:
        return self.screen is not None and bool(self.screen.discard)

    def problems(self) -> list[str]:
        """What keeps it from meeting everything: each requirement not met, then each flag."""
        return ([str(e.requirement) for e in self.evidence if e.verdict != "meets"]
                + [f"flagged {f.name}" for f in self.flags])  # fmt: skip

    @property
    def safety_margin(self) -> float:
        """Report intervals per lease: the lease after a report (the shorter of the first and
        later ones, `scenario.leases.timeouts`) over the longest report interval (progress_interval
        + progress_jitter), the smallest over each fleet group and the workloads it serves. The
        larger, the more lost or late reports and the longer a pause a holder survives. NaN for
        an invalid candidate."""
        s = self.scenario
        if s is None:
            return math.nan
        ratios = [min(timeouts(s.service, w)[1:]) / (g.progress_interval + g.progress_jitter)
                  for g in s.fleet for w in s.workload if w.worker_group == g.worker_group]
        return min(ratios) if ratios else math.nan

    def closeness(self, objective: Objective) -> tuple[float, ...]:
        """Sort key of how close it comes to meeting everything: standing, then the fewest
        requirements failed, then the fewest left unsettled, then the least shortfall (the sum
        of the scaled margins by which failed ones miss), then the objective."""
        fails = [e for e in self.evidence if e.verdict == "fails"]
        short = sum(min(0.0, e.requirement.scaled_margin(e.measure.mean)) for e in fails
                    if math.isfinite(e.measure.mean))  # fmt: skip
        return (float(STANDING_RANK.get(self.standing, 3)), float(len(fails) + len(self.flags)),
                float(sum(1 for e in self.evidence if e.verdict != "meets")), -short,
                objective.key(self.objective(objective).mean), float(self.id))  # fmt: skip

    def objective(self, objective: Objective) -> Measure:
        return self.measures.get(objective.metric, Measure(objective.metric, math.nan, math.nan,
                                                           math.nan, 0, ""))  # fmt: skip

    def rank(self, objective: Objective) -> tuple[float, ...]:
        """Sort key among simulated candidates: meets all (else fails none, fewest requirements
        left unsettled), then best objective mean, then the widest margins, then the first
        found."""
        margin = sum(e.requirement.scaled_margin(e.measure.mean) for e in self.evidence
                     if math.isfinite(e.measure.mean))  # fmt: skip
        unsettled = sum(1 for e in self.evidence if e.verdict != "meets")
        return (float(STANDING_RANK.get(self.standing, 3)), float(unsettled),
                objective.key(self.objective(objective).mean), -margin, float(self.id))


class Evaluator:
    """Builds, screens and simulates candidates for one search, and keeps every result."""

    def __init__(
        self, base: Scenario, space: Sequence[Axis], requirements: Sequence[Requirement],
        objective: Objective, *, replications: int, seed: int, executor: Any,
        progress: bool | None, confidence: float,
    ) -> None:  # fmt: skip
        self.base = base
        self.data = scenario_to_dict(base)
        self.data["sweep"] = None
        self.space = list(space)
        self.requirements = list(requirements)
        self.objective = objective
        self.replications = replications
        self.seed = seed
        self.executor = executor
        self.progress = progress
        self.confidence = confidence
        self.candidates: list[Candidate] = []
        self.run_frames: list[pd.DataFrame] = []
        self.failures: list[dict[str, Any]] = []

    @property
    def metrics(self) -> list[str]:
        return list(dict.fromkeys([*(r.metric for r in self.requirements),
                                   self.objective.metric]))  # fmt: skip

    def add(self, setting: Mapping[str, Any], stage: str, screened: bool = True) -> Candidate:
        """A new candidate: built as a scenario and, if asked, screened."""
        setting = dict(setting)
        text = label(self.space, setting)
        c = Candidate(len(self.candidates), setting, text, stage)
        self.candidates.append(c)
        sets = [f"{path}={json.dumps(value)}" for path, value in setting.items()]
        try:
            c.scenario = load_scenario_dict(self.data, source=f"candidate {text}", overrides=sets)
        except LeasesimError as err:
            c.invalid = " ".join(str(err).split())
            return c
        if screened:
            c.screen = screen(c.scenario, self.requirements, self.objective)
        return c

    def simulate(self, batch: Sequence[Candidate]) -> None:
        """Simulate `batch` (valid candidates) and judge every requirement on each."""
        batch = [c for c in batch if c.scenario is not None and not c.simulated]
        if not batch:
            return
        runs = simulate(
            self.base, [c.setting for c in batch], [c.id for c in batch],
            replications=self.replications, seed=self.seed, executor=self.executor,
            progress=self.progress,
        )  # fmt: skip
        self.failures += runs.attrs.get("failures", [])
        runs.insert(1, "stage", [self.candidates[i].stage for i in runs["candidate"]])
        self.run_frames.append(runs)
        rows = summaries(runs, self.metrics, self.confidence)
        for c in batch:
            c.simulated = True
            c.measures = measures(rows.get(c.id, {}), self.metrics, self.confidence)
            c.evidence = tuple(judge(r, c.measures[r.metric]) for r in self.requirements)
            c.flags = health(runs[runs["candidate"] == c.id])
            c.standing = "fails" if c.flags else standing(c.evidence)

    def copy_results(self, source: Candidate, target: Candidate) -> None:
        """Give `target` the results of `source`, a run of the very same model (e.g. a lease
        reading that gives the same lease lengths)."""
        target.simulated = source.simulated
        target.same_as = source.run_id
        target.measures = dict(source.measures)
        target.evidence = source.evidence
        target.flags = source.flags
        target.standing = source.standing

    def runs(self) -> pd.DataFrame:
        """Every run made, one row each (candidate, stage, the setting's columns, metrics)."""
        if not self.run_frames:
            return pd.DataFrame(columns=["candidate", "stage", "replication"])
        frame = pd.concat(self.run_frames, ignore_index=True, sort=False)
        frame.attrs = {}
        return frame


def health(runs: pd.DataFrame) -> tuple[Flag, ...]:
    """The health flags of one candidate's runs, on the means of every metric over its
    replications (runs that raised are left out)."""
    if runs.empty:
        return ()
    means = runs.select_dtypes("number").astype(float).mean()
    return tuple(flags({str(k): float(v) for k, v in means.items() if pd.notna(v)}))
