"""`Recommendation`: the answer of `recommend`, the evidence for it, and everything evaluated."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from simulator.recommendation.evidence import Evidence, Measure
from simulator.recommendation.readings import ReadingCheck
from simulator.recommendation.requirements import Objective, Requirement


@dataclass(frozen=True)
class RunnerUp:
    """Another simulated setting, how it stands, and its objective against the recommendation's
    (paired by replication: common random numbers)."""

    setting: dict[str, Any]
    label: str
    standing: str
    evidence: tuple[Evidence, ...]
    objective: Measure
    versus: Measure  # its objective minus the recommendation's
    flags: tuple[str, ...] = ()  # health flags of its runs: it stands as `fails`

    def to_dict(self) -> dict[str, Any]:
        return {"setting": self.setting, "label": self.label, "standing": self.standing,
                "evidence": [e.to_dict() for e in self.evidence],
                "objective": self.objective.to_dict(), "versus": self.versus.to_dict(),
                "flags": list(self.flags)}  # fmt: skip


@dataclass(frozen=True)
class Recommendation:
    """The recommended setting of the varied fields, the evidence, and what else was tried.

    - `setting`: path -> value (seconds, per second) of the recommendation, None when no
      simulated candidate avoids failing a requirement; `confirmed`: every requirement is met
      by its whole confidence interval (otherwise the setting is the best unrefuted one).
    - `evidence`: each requirement's interval and verdict; `objective`: the optimised metric.
    - `runners_up`, `frontier` (the Pareto-optimal candidates), `readings` (does the answer
      depend on the 5-or-15-minute reading?), `screening` (which closed-form estimates were
      used, and where none applied), `notes`.
    - `candidates`: one row per candidate evaluated (screened, discarded or simulated), and
      `runs`: one row per simulated run.
    - `flagged`: the simulated candidates set aside for a health flag (the backlog grows, most
      attempts lose their lease: `simulator.results.health`), one line each with the reason.
      Such a setting is never recommended, whatever its requirements' verdicts.
    """

    scenario: str
    requirements: tuple[Requirement, ...]
    objective_spec: Objective
    setting: dict[str, Any] | None
    label: str | None
    confirmed: bool
    evidence: tuple[Evidence, ...]
    objective: Measure | None
    runners_up: tuple[RunnerUp, ...]
    frontier: pd.DataFrame
    readings: ReadingCheck
    screening: tuple[str, ...]
    candidates: pd.DataFrame
    runs: pd.DataFrame
    replications: int
    seed: int
    confidence: float
    varied: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())
    failures: tuple[dict[str, Any], ...] = field(default=())  # runs that raised (left out)
    flagged: tuple[str, ...] = field(default=())  # candidates set aside for a health flag
    # Varied fields whose recommended value is at an end of the values tried: widen the range.
    edges: tuple[str, ...] = field(default=())
    tie: str = ""  # how a statistical tie on the objective was settled by the safety margin
    safety_margin: float = math.nan  # report intervals per lease of the recommended setting
    closest: str | None = None  # with no setting: the candidate closest to meeting everything

    def figure(self) -> Any:
        """The Pareto figure (objective against each requirement's metric)."""
        from simulator.recommendation.figure import pareto_figure

        return pareto_figure(self)

    def save_figure(self, path: str | os.PathLike[str]) -> str:
        """Write the Pareto figure as a PNG at `path`, atomically; the path written."""
        from simulator.plots.files import save_png

        return str(save_png(self.figure(), path))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe form (NaN as None): the answer, evidence, runners-up, readings, and one
        record per candidate."""
        rows = self.candidates.astype(object).where(self.candidates.notna(), None)
        return {
            "scenario": self.scenario,
            "requirements": [str(r) for r in self.requirements],
            "objective": str(self.objective_spec),
            "recommended": self.setting, "label": self.label, "confirmed": self.confirmed,
            "evidence": [e.to_dict() for e in self.evidence],
            "objective_value": None if self.objective is None else self.objective.to_dict(),
            "runners_up": [r.to_dict() for r in self.runners_up],
            "frontier": [int(i) for i in self.frontier["candidate"]],
            "readings": self.readings.to_dict(),
            "screening": list(self.screening), "notes": list(self.notes),
            "replications": self.replications, "seed": self.seed,
            "confidence": self.confidence, "varied": list(self.varied),
            "failures": list(self.failures), "flagged": list(self.flagged),
            "edges": list(self.edges), "tie": self.tie or None, "closest": self.closest,
            "safety_margin": (self.safety_margin if math.isfinite(self.safety_margin)
                              else None),
            "candidates": rows.to_dict(orient="records"),
        }  # fmt: skip

    def describe(self) -> str:
        """The answer as text: the setting, the evidence table, runners-up, readings, screening."""
        level = f"{self.confidence:.0%}"
        lines = [f"recommendation for {self.scenario}: "
                 f"{', '.join(map(str, self.requirements))}; {self.objective_spec}"]  # fmt: skip
        simulated = self.candidates[self.candidates["simulated"]
                                    & (self.candidates["stage"] != "reading")]  # fmt: skip
        if self.setting is None and simulated.empty:
            lines.append("no setting: the closed-form estimates rule out every candidate (see "
                         "`candidates.discarded`), so none was simulated.")
        elif self.setting is None:
            lines.append(f"no setting: none meets every requirement; closest is {self.closest} "
                         "(every simulated candidate fails a requirement or is flagged as "
                         "broken).")
        else:
            state = ("confirmed: every requirement holds over its whole "
                     f"{level} interval" if self.confirmed else
                     "NOT confirmed: none meets every requirement over its whole interval; "
                     "closest is this one: no requirement fails, but not all are established")
            lines.append(f"recommended: {self.label}  ({state})")
            if math.isfinite(self.safety_margin):
                lines.append(f"safety margin: {self.safety_margin:.3g} report intervals per lease "
                             "(lease / progress interval)")  # fmt: skip
        for edge in self.edges:
            lines.append(f"edge of the searched range: {edge}")
        if self.tie:
            lines.append(f"tie: {self.tie}")
        if self.evidence:
            lines += ["", self._table(self.evidence, self.objective, level)]
        if self.runners_up:
            lines += ["", f"runners-up ({self.objective_spec.metric} against the recommended, "
                      "paired by replication):"]  # fmt: skip
            for k, r in enumerate(self.runners_up, 1):
                diff = r.versus
                shown = " ".join(diff.text(signed=True)) if math.isfinite(diff.mean) else "-"
                failing = [str(e.requirement) for e in r.evidence if e.verdict != "meets"]
                note = f"; not met: {', '.join(failing)}" if failing else ""
                if r.flags:
                    note += f"; flagged: {', '.join(r.flags)} (never recommended)"
                lines.append(f"  {k}. {r.label}: {r.standing}, {shown}{note}")
        on_front = "; ".join(self.frontier["label"].head(6))
        more = f", and {len(self.frontier) - 6} more" if len(self.frontier) > 6 else ""
        lines += ["", f"Pareto frontier ({', '.join(self._front_metrics())}): "
                  f"{len(self.frontier)} of {len(simulated)} simulated candidates: "
                  f"{on_front}{more}."]  # fmt: skip
        lines += ["", self.readings.summary[:1].upper() + self.readings.summary[1:]]
        lines += ["", "closed-form screening (docs/analytic.md):"]
        lines += [f"  - {s}" for s in self.screening]
        if self.flagged:
            lines += ["", "set aside as broken, whatever their requirements say "
                      "(docs/recommend.md#broken-settings):"]  # fmt: skip
            lines += [f"  - {f}" for f in self.flagged]
        if self.notes:
            lines += [""] + [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _front_metrics(self) -> list[str]:
        metrics = [self.objective_spec.metric, *(r.metric for r in self.requirements)]
        return list(dict.fromkeys(metrics))

    def _table(self, evidence: tuple[Evidence, ...], objective: Measure | None,
               level: str) -> str:  # fmt: skip
        cells = [("requirement", "mean", f"{level} CI", "n", "verdict")]
        for e in evidence:
            m = e.measure
            cells.append((str(e.requirement), *m.text(), str(m.n), e.verdict))
        if objective is not None:
            cells.append((str(self.objective_spec), *objective.text(), str(objective.n), ""))
        widths = [max(len(c[i]) for c in cells) for i in range(5)]
        out = []
        for k, row in enumerate(cells):
            out.append("  ".join(c.ljust(w) if i != 1 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(row, widths, strict=True))
                                 ).rstrip())  # fmt: skip
            if k == 0:
                out.append("  ".join("-" * w for w in widths))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.describe()
