"""Running a check: every scenario's replications on one executor, looks, verdicts, baselines.

All scenarios run together, in rounds, through the experiments' replication loop
(`experiments.batch.run_points`: executor, progress bar, Ctrl-C), one point per scenario: the
first round runs each scenario's first look; after each round the stopping rule `Looks` gives a
scenario whose verdict is still inconclusive (with replications left before its cap) the
replications of its next look. Jobs are the experiments' jobs (`run_job`: plain data in, a summary
back), so any executor gives the same verdicts.

`--update-baseline` locks each baseline folder (a second recorder is refused), runs each
scenario's full run and, when it has `check.quick`, its quick run, each to its cap (every
replication a check of that mode may use), writes the baseline files, and then judges the check
against them. It also collects the tolerances the recorded spread suggests
for the compared metrics (`Suggestion`, the larger over the recorded modes, since margins are
shared by both), for the report to print.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from simulator.check.baseline import (
    Baseline,
    current_versions,
    load,
    recorded,
    stale_reason,
)
from simulator.check.files import Target
from simulator.check.plan import Mode, Plan, has_quick, plan
from simulator.check.verdict import (
    CURRENT,
    NO_BASELINE,
    NOT_USED,
    RECORDED,
    STALE,
    BaselineUse,
    ScenarioCheck,
    compared_metrics,
    evaluate,
)
from simulator.errors import RUN_ERROR, LeasesimError
from simulator.experiments.batch import Interrupted, Point, run_points
from simulator.experiments.guards import Limits, estimate
from simulator.experiments.guards import check as check_limits
from simulator.experiments.locks import FolderLock, clean_leftovers
from simulator.experiments.runs import Failure, run_job
from simulator.results.result import Result
from simulator.scenario.load import scenario_to_dict


@dataclass
class _Unit:
    """One scenario run in one mode: its plan, the replications wanted so far and those done."""

    target: Target
    plan: Plan
    wanted: int
    done: dict[int, dict[str, float]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)

    def summaries(self, n: int) -> list[dict[str, float]]:
        return [self.done[i] for i in range(n) if i in self.done]


class Looks:
    """check's stopping rule (`experiments.batch.StoppingRule`), one point per unit: after each
    round, judge the unit's replications so far; an inconclusive verdict with a later look before
    the cap asks for that look's replications. The last verdict of each unit is kept."""

    def __init__(self, units: Sequence[_Unit], uses: Sequence[BaselineUse]) -> None:
        self.units = units
        self.uses = uses
        self.checks: dict[int, ScenarioCheck] = {}

    def more(self, point: int, replications: int, summaries: Sequence[Mapping[str, float]],
             failures: Sequence[Failure]) -> int | None:  # fmt: skip
        unit = self.units[point]
        check = evaluate(str(unit.target.file), unit.plan, summaries, self.uses[point], failures)
        self.checks[point] = check
        later = unit.plan.next_look(replications)
        return later if check.undecided() and later is not None else None


@dataclass(frozen=True)
class Suggestion:
    """A tolerance the recorded spread suggests for one compared metric of one scenario."""

    metric: str
    margin: float  # absolute, in the metric's unit
    written: str  # the scenario's own tolerance for it, as written ("" if none)
    replications: dict[str, int]  # replications recorded, by mode

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "absolute": self.margin, "written": self.written or None,
                "replications": self.replications}  # fmt: skip


@dataclass
class CheckRun:
    """A whole check: each scenario's verdicts, the files left out, the baselines written, and
    (with --update-baseline) the tolerances suggested by file."""

    checks: list[ScenarioCheck]
    mode: Mode
    skipped: list[str] = field(default_factory=list)
    recorded: list[str] = field(default_factory=list)
    executor: str = "serial"
    allow_inconclusive: bool = False
    suggestions: dict[str, list[Suggestion]] = field(default_factory=dict)

    @property
    def failed(self) -> list[ScenarioCheck]:
        return [c for c in self.checks if c.problems(self.allow_inconclusive)]

    @property
    def passed(self) -> bool:
        return not self.failed


def _use(target: Target, check_plan: Plan) -> BaselineUse:
    """The baseline a check of `target` compares with (FILE_ERROR if the file is broken)."""
    if not target.baseline.exists():
        return BaselineUse(None, NO_BASELINE, f"no baseline at {target.baseline}")
    found = load(target.baseline, str(target.file))
    run = found.runs.get(check_plan.mode)
    if run is None:
        return BaselineUse(str(target.baseline), STALE,
                           f"it holds no {check_plan.mode} run", None, found.versions)  # fmt: skip
    why = stale_reason(run, check_plan.scenario)
    if why is not None:
        return BaselineUse(str(target.baseline), STALE, why, run, found.versions)
    return BaselineUse(str(target.baseline), CURRENT, "", run, found.versions)


def run_checks(
    targets: Sequence[Target],
    mode: Mode = "full",
    *,
    seed: int | None = None,
    update: bool = False,
    use_baselines: bool = True,
    allow_inconclusive: bool = False,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    limits: Limits | None = None,
    run_fn: Callable[..., Result] | None = None,
) -> CheckRun:
    """Check every target in `mode` (see the module docstring); `seed` replaces the scenarios'.

    `limits` refuses, before anything runs, a check whose replications (every scenario at its
    cap) would pass the size guards; `run_fn` is a seam for tests (default `run`).
    """
    check_plans = [plan(t.scenario, mode, seed, str(t.file)) for t in targets]
    units: list[_Unit] = []
    uses: list[BaselineUse] = []
    check_unit: list[int] = []
    for target, check_plan in zip(targets, check_plans, strict=True):
        if update:  # every run the baseline holds, each to its cap
            modes: list[Mode] = ["full", "quick"] if has_quick(target.scenario) else ["full"]
            for m in modes:
                p = plan(target.scenario, m, seed, str(target.file))
                if p.mode == check_plan.mode:
                    check_unit.append(len(units))
                units.append(_Unit(target, p, p.cap))
            uses.append(BaselineUse(str(target.baseline), RECORDED))
        else:
            check_unit.append(len(units))
            units.append(_Unit(target, check_plan, check_plan.first))
            uses.append(_use(target, check_plan) if use_baselines
                        else BaselineUse(None, NOT_USED, "--no-baseline"))  # fmt: skip
    if limits is not None:
        found = [estimate(u.plan.scenario, u.plan.cap) for u in units]
        where = str(targets[0].file) if len(targets) == 1 else f"{len(targets)} scenario files"
        serial = executor in (None, "serial") and scheduler is None
        at_once = 1 if serial else workers or os.cpu_count() or 1  # each holds its memory
        check_limits(found, limits, where, at_once)
    job_fn = partial(run_job, run_fn=run_fn) if run_fn is not None else run_job
    points = [Point(j, {}, scenario_to_dict(u.plan.scenario), u.plan.seed)
              for j, u in enumerate(units)]  # fmt: skip
    looks = None if update else Looks(units, uses)  # update: every unit to its cap, once
    locks = _lock_baselines(targets) if update else []  # one recorder per baseline folder
    try:
        outcome = run_points(
            points, {j: u.wanted for j, u in enumerate(units)}, executor=executor,
            workers=workers, scheduler=scheduler, until=looks, progress=progress, job_fn=job_fn,
        )  # fmt: skip
    except Interrupted as exc:
        _release(locks)
        exc.message = (f"{exc.message}; nothing was recorded; run the same command again to "
                       "check.")  # fmt: skip
        raise
    except BaseException:
        _release(locks)
        raise
    for record in outcome.records:
        units[record.point].done[record.replication] = record.summary
    for failure in outcome.failures:
        units[failure.point].failures.append(failure)
    for j, n in outcome.replications.items():
        units[j].wanted = n
    checks: dict[int, ScenarioCheck] = dict(looks.checks) if looks is not None else {}
    written: list[str] = []
    suggestions: dict[str, list[Suggestion]] = {}
    if update:
        try:
            written = _record(units, uses, check_unit, targets)
        finally:
            _release(locks)
        for k, j in enumerate(check_unit):
            checks[k] = _judge_recorded(units[j], uses[k])
            if uses[k].status == RECORDED:
                suggestions[str(targets[k].file)] = _suggestions(units, units[j], uses[k])
    return CheckRun([checks[k] for k in range(len(targets))], mode, [], written,
                    outcome.executor, allow_inconclusive, suggestions)  # fmt: skip


def _lock_baselines(targets: Sequence[Target]) -> list[FolderLock]:
    """Lock every folder baselines are recorded in (created if missing), before any run: a
    second `--update-baseline` writing there is refused at once, not after its runs. A killed
    recorder's temporary files are removed under the lock."""
    folders: dict[Path, list[str]] = {}
    for target in targets:
        folders.setdefault(target.baseline.parent, []).append(target.baseline.name)
    locks: list[FolderLock] = []
    try:
        for folder, names in sorted(folders.items()):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LeasesimError(RUN_ERROR, f"cannot create the baseline folder {folder}: "
                                    f"{exc.strerror or exc}.") from None  # fmt: skip
            locks.append(FolderLock(folder, "--update-baseline: the baseline folder",
                                    "then run this check again").acquire())
            clean_leftovers(folder, names)
    except BaseException:
        _release(locks)
        raise
    return locks


def _release(locks: Sequence[FolderLock]) -> None:
    for lock in locks:
        lock.release()


def _suggestions(units: list[_Unit], unit: _Unit, use: BaselineUse) -> list[Suggestion]:
    """The suggested tolerances of the metrics a check of `unit`'s scenario compares: the larger
    over its recorded modes (margins are shared by the full and the quick check)."""
    assert use.run is not None
    mine = [u for u in units if u.target is unit.target]
    runs = {u.plan.mode: recorded(u.plan.scenario, u.plan.seed, u.summaries(u.wanted))
            for u in mine}  # fmt: skip
    tolerance = unit.plan.scenario.check.tolerance
    out = []
    for metric in compared_metrics(unit.plan, use.run):
        margins = [r.suggested[metric] for r in runs.values() if metric in r.suggested]
        if not margins:
            continue
        own = tolerance.named().get(metric)
        if own is None and "default" in tolerance.model_fields_set:
            own = tolerance.default
        out.append(Suggestion(metric, max(margins), own.describe() if own else "",
                              {m: r.replications for m, r in runs.items()}))  # fmt: skip
    return out


def _record(units: list[_Unit], uses: list[BaselineUse], check_unit: list[int],
            targets: Sequence[Target]) -> list[str]:  # fmt: skip
    """Write each target's baseline from its units (none for a target whose runs failed)."""
    written = []
    versions = current_versions()
    for k, target in enumerate(targets):
        mine = [u for u in units if u.target is target]
        if any(u.failures for u in mine):
            uses[k].status, uses[k].reason = NOT_USED, "not recorded: a replication raised"
            continue
        runs = {u.plan.mode: recorded(u.plan.scenario, u.plan.seed, u.summaries(u.wanted))
                for u in mine}  # fmt: skip
        Baseline(target.baseline, Path(target.file).name, versions, runs).save()
        written.append(str(target.baseline))
        uses[k].run = runs[units[check_unit[k]].plan.mode]
        uses[k].versions = versions
    return written


def _judge_recorded(unit: _Unit, use: BaselineUse) -> ScenarioCheck:
    """The check of a just-recorded unit: looks over the replications already run."""
    n = unit.plan.first
    while True:
        check = evaluate(str(unit.target.file), unit.plan, unit.summaries(n), use, unit.failures)
        later = unit.plan.next_look(n)
        if not check.undecided() or later is None:
            return check
        n = later
