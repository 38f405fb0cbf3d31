"""Does the answer depend on the documented reading of the lease (5 or 15 minutes)?

Data Pipeline's documents disagree on how long a lease lasts (reference §3.1, `lease_reading`).
The recommended setting and the best few others are simulated again under each other reading,
with the same random numbers; a reading that gives every one of them the same lease lengths
(`scenario.leases.timeouts`) would give the same runs, so it is not simulated again. The answer
depends on the reading when, under some reading, the recommended setting no longer meets every
requirement, or another of the rechecked candidates beats it beyond doubt (the paired difference
of the objective excludes zero); it may depend on it when a requirement's mean crosses its bound
under another reading but no interval settles it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from simulator.recommendation.evaluator import STANDING_RANK, Candidate, Evaluator
from simulator.recommendation.evidence import Evidence, Measure
from simulator.recommendation.simulate import paired
from simulator.scenario.leases import timeouts
from simulator.scenario.profiles import DEFAULT
from simulator.scenario.schema import Scenario

READINGS = ("15min", "5min", "min", "two_stage")
PATH = "service.lease_reading"


@dataclass(frozen=True)
class ReadingOutcome:
    """The rechecked candidates under one reading: how the recommended one fares, and the best."""

    reading: str
    simulated: bool  # False: the leases are those of the scenario's reading, so are the runs
    evidence: tuple[Evidence, ...]
    objective: Measure
    standing: str
    best: str | None  # the answer among the rechecked candidates (None: all fail a requirement)
    # The answer under this reading differs from the recommendation; None: it may (a mean
    # crosses a bound, but no interval settles it).
    changes: bool | None
    why: str = ""  # how, when it does
    # What the answer is under this reading, in the words of every answer: "the answer there is
    # X" when X meets every requirement, else "none meets every requirement; closest is X (...)".
    answer: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"reading": self.reading, "simulated": self.simulated,
                "evidence": [e.to_dict() for e in self.evidence],
                "objective": self.objective.to_dict(), "standing": self.standing,
                "best": self.best, "changes": self.changes, "why": self.why,
                "answer": self.answer}  # fmt: skip


@dataclass(frozen=True)
class ReadingCheck:
    """Whether the recommendation holds under every documented reading of the lease."""

    applicable: bool
    why_not: str
    reading: str  # the scenario's own reading
    outcomes: tuple[ReadingOutcome, ...]
    depends: bool | None  # None when not checked, or when it may but the intervals cannot tell
    summary: str

    def to_dict(self) -> dict[str, Any]:
        return {"applicable": self.applicable, "why_not": self.why_not, "reading": self.reading,
                "depends": self.depends, "summary": self.summary,
                "outcomes": [o.to_dict() for o in self.outcomes]}  # fmt: skip


def skipped(reading: str, why: str) -> ReadingCheck:
    return ReadingCheck(False, why, reading, (), None, f"lease reading not checked: {why}.")


def why_not(base: Scenario, varied: Sequence[str], winner: Candidate | None) -> str:
    """Why the check does not apply ("" when it does)."""
    if winner is None:
        return "there is no recommended setting to check"
    if PATH in varied:
        return "lease_reading is one of the varied fields, so the search chose it"
    profile = getattr(base.service, "profile", DEFAULT)
    if profile != DEFAULT:
        return (f"profile {profile!r} has a single lease length; the 5-or-15-minute question is "
                "Data Pipeline's")  # fmt: skip
    return ""


def _leases(scenario: Scenario) -> list[tuple[float, float, float]]:
    return [timeouts(scenario.service, w) for w in scenario.workload]


def check(ev: Evaluator, winner: Candidate | None, others: Sequence[Candidate]) -> ReadingCheck:
    """Recheck `winner` and `others` (simulated candidates) under every other reading."""
    reading = ev.base.service.lease_reading
    why = why_not(ev.base, [a.path for a in ev.space], winner)
    if why:
        return skipped(reading, why)
    assert winner is not None
    rechecked = [winner, *[c for c in others if c.id != winner.id]]
    outcomes = []
    for other in (r for r in READINGS if r != reading):
        copies = [ev.add({**c.setting, PATH: other}, "reading", screened=False) for c in rechecked]
        fresh = []
        for source, copy in zip(rechecked, copies, strict=True):
            assert source.scenario is not None
            if copy.scenario is not None and _leases(copy.scenario) == _leases(source.scenario):
                ev.copy_results(source, copy)
            else:
                fresh.append(copy)
        ev.simulate(fresh)
        mine = copies[0]
        best = _answer(ev, copies)
        worse = STANDING_RANK.get(str(mine.standing), 3) > STANDING_RANK[str(winner.standing)]
        best_label = None if best is None else rechecked[copies.index(best)].label
        failing = ", ".join(mine.problems())
        why = ""
        changes: bool | None = worse or best is not mine
        if worse:
            verb = "fails" if mine.standing == "fails" else "is no longer established on"
            why = f"the recommended setting {verb} {failing}"
        elif best is not mine and best is not None:
            why = (f"{best_label} does better" + (f" on {ev.objective.metric}"
                   if best.standing == mine.standing else " on the requirements"))  # fmt: skip
        else:
            drifted = _drifted(mine.evidence, winner.evidence)
            if drifted:
                changes, why = None, drifted
        outcomes.append(ReadingOutcome(
            other, bool(fresh), mine.evidence, mine.objective(ev.objective), str(mine.standing),
            best_label, changes, why, _wording(ev, rechecked, copies, best),
        ))  # fmt: skip
    found = [o.changes for o in outcomes]
    depends = True if any(found) else None if None in found else False
    return ReadingCheck(True, "", reading, tuple(outcomes), depends,
                        _summary(reading, outcomes, len(rechecked)))  # fmt: skip


def _wording(ev: Evaluator, rechecked: Sequence[Candidate], copies: Sequence[Candidate],
             best: Candidate | None) -> str:  # fmt: skip
    """The answer under one reading, worded as every answer is: "the answer there is X" when X
    meets every requirement, else "none meets every requirement; closest is X (not met: ...)"."""
    near = best if best is not None else min(copies, key=lambda c: c.closeness(ev.objective))
    name = rechecked[list(copies).index(near)].label
    if near.standing == "meets":
        return f"the answer there is {name}"
    problems = near.problems()
    detail = f" (not met: {', '.join(problems)})" if problems else ""
    return f"none meets every requirement; closest is {name}{detail}"


def _drifted(under: Sequence[Evidence], base: Sequence[Evidence]) -> str:
    """The requirements whose mean crosses the bound under another reading although neither
    interval settles it ("" if none): the answer may depend on the reading."""
    parts = []
    for e, b in zip(under, base, strict=True):
        r, m = e.requirement, e.measure
        if r.holds(b.measure.mean) and not r.holds(m.mean) and e.verdict == "unsure":
            mean, interval = m.text()
            bound = str(r).rsplit(" ", 1)[-1]
            parts.append(f"{r.metric} mean {mean} is beyond {bound}, but its interval "
                         f"{interval} does not settle it")
    if not parts:
        return ""
    return "the recommended setting's " + "; ".join(parts) + " (more replications would)"


def _answer(ev: Evaluator, copies: Sequence[Candidate]) -> Candidate | None:
    """The answer among the rechecked candidates under one reading: the first (the recommended
    setting) unless another stands better, or as well and beats its objective beyond doubt."""
    mine = copies[0]
    alive = [c for c in copies if c.standing != "fails"]
    if not alive:
        return None
    best = min(alive, key=lambda c: c.rank(ev.objective))
    if best is mine or mine.standing == "fails":
        return best
    if STANDING_RANK[str(best.standing)] < STANDING_RANK[str(mine.standing)]:
        return best
    return best if _better(ev, best, mine) else mine


def _better(ev: Evaluator, challenger: Candidate, incumbent: Candidate) -> bool:
    """Whether `challenger`'s objective beats `incumbent`'s beyond doubt: the paired difference's
    interval (common random numbers) lies wholly on the better side of zero."""
    diff = paired(ev.runs(), ev.objective.metric, incumbent.run_id, challenger.run_id,
                  ev.confidence)  # fmt: skip
    if not (math.isfinite(diff.low) and math.isfinite(diff.high)):
        return False
    return diff.high < 0 if ev.objective.sense == "minimize" else diff.low > 0


def _summary(reading: str, outcomes: Sequence[ReadingOutcome], rechecked: int) -> str:
    same = [o.reading for o in outcomes if not o.simulated]
    if not any(o.changes is not False for o in outcomes):
        text = (f"the answer does not depend on the lease reading: the recommended setting is "
                f"also the best of the {rechecked} rechecked candidates under "
                f"{', '.join(o.reading for o in outcomes)}")  # fmt: skip
        if same:
            text += f" ({', '.join(same)} give{'s' if len(same) == 1 else ''} the same leases)"
        return text + "."
    parts = []
    for o in outcomes:
        if o.changes:
            parts.append(f"under {o.reading}, {o.why}; {o.answer}")
        elif o.changes is None:
            parts.append(f"under {o.reading}, {o.why}")
    verb = "depends" if any(o.changes for o in outcomes) else "may depend"
    return (f"the answer {verb} on the lease reading (the scenario uses {reading}): "
            + "; ".join(parts) + ".")
