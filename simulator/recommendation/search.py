"""`recommend`: the setting of the varied fields that meets every requirement at the least cost.

The search, in order (docs/recommend.md):

1. every combination of the `vary` values becomes a candidate scenario (settings the schema
   refuses are kept aside with the reason);
2. the closed-form estimates discard candidates that clearly fail a requirement and order the
   rest (`screening`);
3. candidates are simulated in that order, `confirm` at a time, all with the same seed and
   replications (common random numbers), until one meets every requirement and the next cannot
   beat it by its estimate, or `max_candidates` have been simulated;
4. `refine` rounds try settings halfway between the best and its nearest neighbours;
5. the best simulated candidate is recommended: every requirement met over its whole interval
   (`confirmed`), else the best that fails none; the Pareto frontier and runners-up are kept;
6. the recommended setting and the next best are rechecked under the other lease readings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from simulator.errors import USAGE_ERROR, VALIDATION_ERROR, LeasesimError
from simulator.experiments.executors import make_executor
from simulator.experiments.runs import ScenarioLike, check_index, resolve
from simulator.recommendation.evaluator import Candidate, Evaluator
from simulator.recommendation.evidence import Measure, tasks_needed
from simulator.recommendation.pareto import frontier
from simulator.recommendation.readings import check, skipped, why_not
from simulator.recommendation.requirements import Objective, Requirement
from simulator.recommendation.result import Recommendation, RunnerUp
from simulator.recommendation.screening import (
    APPROXIMATE_SLACK,
    EXACT_SLACK,
    order_key,
    usage,
)
from simulator.recommendation.simulate import paired
from simulator.recommendation.space import axes, grid, neighbours

RUNNERS_UP = 3
NO_VALUE = Measure("", math.nan, math.nan, math.nan, 0, "")


def recommend(
    scenario: ScenarioLike,
    vary: Mapping[str, Any] | Sequence[str],
    require: Sequence[str | Requirement] | str | Requirement,
    minimize: str | None = None,
    *,
    maximize: str | None = None,
    replications: int = 10,
    confirm: int = 4,
    max_candidates: int = 24,
    refine: int = 1,
    readings: bool = True,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    confidence: float = 0.95,
) -> Recommendation:
    """Recommend a setting of the `vary` fields that meets every requirement of `require` and
    makes the objective (`minimize`, default progress_calls_per_s, or `maximize`) best.

    - `vary`: {path: values or range} as in a `sweep:` block, or ["PATH=RANGE", ...] as on the
      command line, e.g. {"fleet.etl.progress_interval": {"from": "10s", "to": "5m", "steps": 8,
      "scale": "log"}}.
    - `require`: ["duplicated_fraction<=1e-4", "detection_latency_mean_s<=10m", ...].
    - `replications` per candidate (>= 2); `confirm`: candidates simulated per batch;
      `max_candidates`: simulated at most before refinement; `refine`: rounds of refinement;
      `readings`: recheck the answer under the other lease readings.
    - `executor`, `workers`, `scheduler`: as for `sweep` (default: local processes). Results
      do not depend on them.

    Returns a `Recommendation`: `.setting`, `.confirmed`, `.evidence`, `.runners_up`,
    `.frontier`, `.readings`, `.figure()`, `.describe()`, and `.candidates` / `.runs`, the
    DataFrames of everything evaluated.
    """
    base = resolve(scenario, overrides)
    items = [require] if isinstance(require, str | Requirement) else list(require)
    requirements = [Requirement.parse(r) for r in items]
    if not requirements:
        raise LeasesimError(USAGE_ERROR, "recommend needs at least one requirement "
                            "(--require METRIC<=VALUE), e.g. duplicated_fraction<=1e-4.")
    objective = Objective.of(minimize, maximize)
    check_index("replications", replications, 2)
    check_index("confirm", confirm, 1)
    check_index("max_candidates", max_candidates, 1)
    check_index("refine", refine, 0)
    if not 0 < confidence < 1:
        raise LeasesimError(USAGE_ERROR, f"confidence must lie between 0 and 1, got {confidence}")
    seed = base.seed if seed is None else check_index("seed", seed, 0)
    space = axes(base, vary)
    runner = make_executor(executor, workers, scheduler, default="processes")
    owned = runner is not executor
    try:
        ev = Evaluator(base, space, requirements, objective, replications=replications,
                       seed=seed, executor=runner, progress=progress,
                       confidence=confidence)  # fmt: skip
        for setting in grid(space):
            ev.add(setting, "grid")
        valid = [c for c in ev.candidates if c.scenario is not None]
        if not valid:
            first = ev.candidates[0]
            raise LeasesimError(VALIDATION_ERROR, f"no --vary setting makes a valid scenario; "
                                f"the first, {first.label}: {first.invalid}")  # fmt: skip
        kept = sorted((c for c in valid if not c.discarded),
                      key=lambda c: order_key(c.screen, objective, c.id))  # type: ignore[arg-type]
        unsimulated = _confirm(ev, kept, confirm, max_candidates)
        for round_ in range(1, refine + 1):
            best = _best(ev)
            if best is None:
                break
            tried = [c.setting for c in ev.candidates if c.stage != "reading"]
            fresh = [ev.add(s, f"refine {round_}") for s in neighbours(space, best.setting, tried)]
            ev.simulate([c for c in fresh if c.scenario is not None and not c.discarded])
        ranked = sorted(_main(ev), key=lambda c: c.rank(objective))
        winner = ranked[0] if ranked and ranked[0].standing != "fails" else None
        tie = ""
        if winner is not None:
            ranked, tie = _prefer_safer(ev, ranked)
            winner = ranked[0]
        if readings:
            reading_check = check(ev, winner, ranked[1:confirm])
        else:
            why = why_not(base, [a.path for a in space], winner) or "not asked for"
            reading_check = skipped(base.service.lease_reading, why)
    finally:
        if owned:
            runner.close()
    return _answer(ev, ranked, winner, reading_check, unsimulated, tie)


def _tied(ev: Evaluator, best: Candidate, other: Candidate) -> Measure | None:
    """The paired difference of the objective (other - best) when the two are a statistical
    tie: same standing, as many requirements unsettled, and the interval of the difference
    contains 0. None when they are not."""
    if other.standing != best.standing or other.flags:
        return None
    unsettled = [sum(1 for e in c.evidence if e.verdict != "meets") for c in (best, other)]
    if unsettled[0] != unsettled[1]:
        return None
    diff = paired(ev.runs(), ev.objective.metric, best.run_id, other.run_id, ev.confidence)
    if not (math.isfinite(diff.low) and math.isfinite(diff.high)):
        return None
    return diff if diff.low <= 0 <= diff.high else None


def _prefer_safer(ev: Evaluator, ranked: list[Candidate]) -> tuple[list[Candidate], str]:
    """Among the best candidate and those statistically tied with it on the objective, the one
    with the largest safety margin (`Candidate.safety_margin`: lease / report interval) goes
    first; a note says so when there were ties ("" otherwise)."""
    best = ranked[0]
    ties = [(c, d) for c in ranked[1:] if (d := _tied(ev, best, c)) is not None]
    if not ties:
        return ranked, ""
    margin = {c.id: c.safety_margin for c in [best, *(c for c, _ in ties)]}
    chosen = max([best, *(c for c, _ in ties)],
                 key=lambda c: (margin[c.id] if math.isfinite(margin[c.id]) else -math.inf,
                                -ranked.index(c)))  # fmt: skip
    metric = ev.objective.metric
    others = ", ".join(f"{c.label} ({margin[c.id]:.3g}; {_signed(d)})" for c, d in ties)
    if chosen is best:
        return ranked, (f"statistical tie on {metric} with {others} (safety margin; paired "
                        f"difference from the best mean); the recommended setting has the "
                        f"largest safety margin, {margin[best.id]:.3g} report intervals per "
                        "lease, so it stays.")  # fmt: skip
    diff = dict((c.id, d) for c, d in ties)[chosen.id]
    note = (f"preferred for its larger safety margin: {chosen.label} is recommended rather than "
            f"{best.label}, which has the best mean of {metric}, because the two are a "
            f"statistical tie ({metric} paired difference {_signed(diff)}) and it has "
            f"{margin[chosen.id]:.3g} report intervals per lease against "
            f"{margin[best.id]:.3g} (safety margin: lease / progress interval).")  # fmt: skip
    return [chosen, *(c for c in ranked if c is not chosen)], note


def _signed(m: Measure) -> str:
    return " ".join(m.text(signed=True))


def _edges(ev: Evaluator, winner: Candidate | None) -> list[str]:
    """Each numeric varied field whose recommended value is the smallest or largest value tried:
    the best may lie beyond the searched range."""
    if winner is None:
        return []
    out = []
    tried = [c.setting for c in ev.candidates if c.stage != "reading" and c.scenario is not None]
    for axis in ev.space:
        values = sorted({t[axis.path] for t in tried if axis.path in t})
        value = winner.setting.get(axis.path)
        if not axis.numeric or len(values) < 2 or value not in (values[0], values[-1]):
            continue
        end = "smallest" if value == values[0] else "largest"
        out.append(f"{axis.path}={axis.show(value)} is the {end} value searched (range "
                   f"{axis.show(values[0])} to {axis.show(values[-1])}): the best setting may "
                   f"lie beyond it; widen the range (--vary {axis.path}=...) to check.")
    return out


def _main(ev: Evaluator) -> list[Candidate]:
    """Simulated candidates of the search itself (not the lease-reading rechecks)."""
    return [c for c in ev.candidates if c.simulated and c.stage != "reading"]


def _best(ev: Evaluator) -> Candidate | None:
    """The best simulated candidate that fails no requirement, if any."""
    ranked = sorted((c for c in _main(ev) if c.standing != "fails"),
                    key=lambda c: c.rank(ev.objective))  # fmt: skip
    return ranked[0] if ranked else None


def _cannot_beat(c: Candidate, best: Candidate, objective: Objective) -> bool:
    """Whether `c`'s estimates say it cannot be better than `best` (simulated, meeting all)."""
    assert c.screen is not None
    if c.screen.beyond:  # an estimate puts it beyond a bound: it would not be confirmed
        return True
    est = c.screen.found.get(objective.metric)
    value = c.screen.objective
    mean = best.objective(objective).mean
    if est is None or not math.isfinite(value) or not math.isfinite(mean):
        return False
    slack = (EXACT_SLACK if est.exact else APPROXIMATE_SLACK) * max(abs(value), abs(mean))
    return objective.key(value) > objective.key(mean) + slack


def _confirm(ev: Evaluator, order: list[Candidate], batch: int, budget: int) -> int:
    """Simulate candidates in `order`, `batch` at a time (see the module docstring); the number
    of kept candidates left unsimulated."""
    queue, done = list(order), 0
    while queue and done < budget:
        take = queue[: min(batch, budget - done)]
        queue = queue[len(take):]
        ev.simulate(take)
        done += len(take)
        best = _best(ev)
        if best is not None and best.standing == "meets" and queue and _cannot_beat(
            queue[0], best, ev.objective
        ):
            return 0  # the rest are ruled out by their estimates, not left over
    return len(queue)


def _answer(ev: Evaluator, ranked: list[Candidate], winner: Candidate | None,
            reading_check: Any, unsimulated: int, tie: str = "") -> Recommendation:  # fmt: skip
    objective, requirements = ev.objective, ev.requirements
    metrics = ev.metrics
    larger = [objective.sense == "maximize" if m == objective.metric else
              next(r.op == ">=" for r in requirements if r.metric == m) for m in metrics]
    healthy = [c for c in ranked if not c.flags]  # a broken setting is on no frontier
    values = [[c.measures[m].mean for m in metrics] for c in healthy]
    on_front = frontier(pd.DataFrame(values).to_numpy(dtype=float), larger) if healthy else []
    front_ids = {c.id for c, f in zip(healthy, on_front, strict=True) if f}
    runs = ev.runs()
    runners_up = []
    for c in ranked[1 : 1 + RUNNERS_UP] if winner is not None else ranked[:RUNNERS_UP]:
        versus = (paired(runs, objective.metric, winner.id, c.id, ev.confidence)
                  if winner is not None else NO_VALUE)
        runners_up.append(RunnerUp(c.setting, c.label, str(c.standing), c.evidence,
                                   c.objective(objective), versus,
                                   tuple(f.name for f in c.flags)))  # fmt: skip
    frame = _frame(ev, front_ids, winner)
    front = frame[frame["pareto"]].reset_index(drop=True)
    screens = [c.screen for c in ev.candidates if c.screen is not None and c.stage == "grid"]
    screening = [u.describe(len(screens)) for u in usage(screens, requirements, objective)]
    searched = [c for c in ev.candidates if c.stage != "reading"]
    discarded = sum(1 for c in searched if c.discarded)
    invalid = sum(1 for c in searched if c.invalid)
    head = (f"{len(searched)} candidates ({len(screens)} in the grid, "
            f"{len(searched) - len(screens)} from refinement): {discarded} discarded by the "
            f"estimates, {len(ranked)} simulated x {ev.replications} replications in the order "
            "the estimates give")  # fmt: skip
    if invalid:
        head += f", {invalid} not valid scenarios (see `candidates.invalid`)"
    screening.insert(0, head)
    if any(math.isfinite(s.proxy) for s in screens):
        screening.append(f"{objective.metric}: where faults rule its estimate out, candidates "
                         "were ordered by its estimate without the faults (order only)")
    return Recommendation(
        scenario=ev.base.name, requirements=tuple(requirements), objective_spec=objective,
        setting=None if winner is None else dict(winner.setting),
        label=None if winner is None else winner.label,
        confirmed=winner is not None and winner.standing == "meets",
        evidence=() if winner is None else winner.evidence,
        objective=None if winner is None else winner.objective(objective),
        runners_up=tuple(runners_up), frontier=front, readings=reading_check,
        screening=tuple(screening), candidates=frame, runs=runs,
        replications=ev.replications, seed=ev.seed, confidence=ev.confidence,
        varied=tuple(a.path for a in ev.space),
        notes=tuple(_notes(ev, winner, unsimulated)), failures=tuple(ev.failures),
        flagged=tuple(_flagged(ranked)), edges=tuple(_edges(ev, winner)), tie=tie,
        safety_margin=math.nan if winner is None else winner.safety_margin,
        closest=None if winner is not None or not ranked else
        _closest_text(min(ranked, key=lambda c: c.closeness(objective))),
    )  # fmt: skip


def _closest_text(c: Candidate) -> str:
    """`LABEL (fails: REQ; flagged: FLAG)`: the candidate closest to meeting everything."""
    return f"{c.label} (not met: {', '.join(c.problems())})" if c.problems() else c.label


def _flagged(ranked: list[Candidate]) -> list[str]:
    """One line per simulated candidate set aside for a health flag, with what is wrong."""
    return [f"{c.label}: {f.name}: {f.message}" for c in ranked for f in c.flags]


def _notes(ev: Evaluator, winner: Candidate | None, unsimulated: int) -> list[str]:
    notes = []
    if unsimulated:
        notes.append(f"{unsimulated} candidates kept by the screening were not simulated "
                     "(max_candidates / --max-candidates reached); raise it to look further.")
    if winner is not None and winner.standing != "meets":
        for e in winner.evidence:
            if e.verdict == "meets":
                continue
            hint = "more replications (-n) or a longer duration would narrow the interval"
            needed = tasks_needed(e.requirement, ev.confidence)
            if e.measure.interval == "binomial" and e.measure.mean == 0 and needed:
                hint = (f"with no event at all, about {needed:,.0f} ended tasks are needed "
                        "before the exact upper bound falls below the bound")
            notes.append(f"{e.requirement} is {e.verdict} for the recommended setting: {hint}.")
    if ev.failures:
        notes.append(f"{len(ev.failures)} runs failed (an error in the model) and are left out "
                     "of the intervals; see `runs.error`.")  # fmt: skip
    return notes


def _frame(ev: Evaluator, front: set[int], winner: Candidate | None) -> pd.DataFrame:
    """One row per candidate: its setting, screening, simulated intervals and verdicts."""
    paths = list(dict.fromkeys(p for c in ev.candidates for p in c.setting))
    rows = []
    for c in ev.candidates:
        row: dict[str, Any] = {"candidate": c.id, "stage": c.stage}
        row.update({p: c.setting.get(p) for p in paths})
        row.update(label=c.label, invalid=c.invalid or None,
                   discarded="; ".join(c.screen.discard) if c.screen and c.screen.discard
                   else None)  # fmt: skip
        for m in ev.metrics:
            row[f"estimate:{m}"] = c.screen.value(m) if c.screen else math.nan
        row["simulated"] = c.simulated
        for m in ev.metrics:
            measure = c.measures.get(m)
            row[f"{m}:mean"] = measure.mean if measure else math.nan
            row[f"{m}:ci_low"] = measure.low if measure else math.nan
            row[f"{m}:ci_high"] = measure.high if measure else math.nan
        for e in c.evidence:
            row[f"verdict:{e.requirement}"] = e.verdict
        row["flags"] = ", ".join(f.name for f in c.flags) or None
        row["safety_margin"] = c.safety_margin
        row.update(standing=c.standing or None, pareto=c.id in front,
                   recommended=winner is not None and c.id == winner.id)  # fmt: skip
        rows.append(row)
    frame = pd.DataFrame(rows)
    for r in ev.requirements:
        column = f"verdict:{r}"
        if column not in frame.columns:
            frame[column] = None
    return frame
