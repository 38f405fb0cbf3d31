"""Running an experiment's jobs: points x replications on an executor, saved and counted as they
finish, failures kept apart, more replications while a stopping rule asks for them, Ctrl-C handled.

This is the one replication loop: replications and sweeps come here (a replication study is an
experiment of one point), and so does `leasesim check` (one point per scenario and mode). Runs go in
rounds; after each round a `StoppingRule` is asked, per point still going, how many replications
it needs in all (a precision target: `PrecisionRule`; check's "until conclusive or the cap": its
looks). Without a rule every point runs its replications once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from simulator.errors import INTERRUPTED, LeasesimError
from simulator.experiments.executors import make_executor
from simulator.experiments.precision import Precision, PrecisionReport, PrecisionRule
from simulator.experiments.progress import Progress, wanted
from simulator.experiments.runs import Failure, Job, RunRecord, failure_of, run_job


@dataclass(frozen=True)
class Point:
    """One point of an experiment: its swept values and its fully resolved scenario (plain data).

    `parameters` maps each swept path to its value (in seconds / per second where the field has
    units); `seed` is the root seed of its replications.
    """

    index: int
    parameters: dict[str, Any]
    scenario: dict[str, Any]
    seed: int


class StoppingRule(Protocol):
    """Whether a point needs more replications: asked after each round, for every point going."""

    def more(self, point: int, replications: int, summaries: Sequence[Mapping[str, float]],
             failures: Sequence[Failure]) -> int | None:  # fmt: skip
        """The replications `point` should have in all, or None when it is done.

        `replications` is how many it was given; `summaries` are those of them that finished, in
        replication order, and `failures` those that raised. Decide from these alone (not from
        arrival order), so the answer does not depend on the executor. A number not above
        `replications` also ends the point.
        """
        ...


class Store(Protocol):
    """Where finished runs are written as they arrive (see `store`)."""

    def save(self, record: RunRecord, parameters: dict[str, Any]) -> None: ...

    def save_failure(self, failure: Failure, parameters: dict[str, Any]) -> None: ...


@dataclass
class Outcome:
    """Every run of an experiment, sorted by (point, replication), and how it stopped."""

    records: list[RunRecord]
    failures: list[Failure]
    replications: dict[int, int]
    precision: PrecisionReport | None = None
    executor: str = "serial"
    resumed: int = 0


class Interrupted(LeasesimError):
    """Ctrl-C during an experiment: what finished before it (already saved, if saving)."""

    def __init__(self, finished: list[RunRecord], failures: list[Failure], requested: int) -> None:
        super().__init__(
            INTERRUPTED,
            f"interrupted after {len(finished)} of {requested} runs",
            [{"finished": len(finished), "requested": requested}],
        )
        self.finished = finished
        self.failures = failures
        self.requested = requested
        self.saved: list[str] = []  # what the caller's store holds, when it keeps folders


@dataclass
class _State:
    """Bookkeeping of one experiment: what is done, failed, and wanted per point."""

    points: Sequence[Point]
    target: dict[int, int]
    done: dict[tuple[int, int], RunRecord] = field(default_factory=dict)
    failed: dict[tuple[int, int], Failure] = field(default_factory=dict)
    stopped: set[int] = field(default_factory=set)

    def wanted(self) -> Iterable[tuple[int, int]]:
        for p in self.points:
            for r in range(self.target[p.index]):
                yield p.index, r

    def missing(self) -> list[tuple[int, int]]:
        return [k for k in self.wanted() if k not in self.done and k not in self.failed]

    def finished_points(self, rule: StoppingRule | None) -> int:
        if rule is not None:
            return len(self.stopped)
        todo = {p for p, _ in self.missing()}
        return len(self.points) - len(todo)

    def records(self) -> list[RunRecord]:
        return [self.done[k] for k in self.wanted() if k in self.done]

    def failures(self) -> list[Failure]:
        return [self.failed[k] for k in self.wanted() if k in self.failed]


def run_points(
    points: Sequence[Point],
    replications: int | Mapping[int, int],
    *,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    default_executor: str = "serial",
    store: Store | None = None,
    finished: Iterable[RunRecord] = (),
    precision: Precision | None = None,
    until: StoppingRule | None = None,
    progress: bool | None = None,
    tables: bool = False,
    keep_tables: bool = True,
    job_fn: Callable[[Job], RunRecord | Failure] = run_job,
) -> Outcome:
    """Run `replications` of every point (a number, or one per point index); then more, per
    point, while the stopping rule `until` asks for them (`precision`: a `PrecisionRule`).

    `finished` runs (from a store being resumed) are not run again. Each finished run is passed
    to `store` at once. A failed run is kept as a `Failure`; the others go on. Ctrl-C raises
    `Interrupted` with what had finished, after ending the workers.
    """
    if precision is not None and until is not None:
        raise ValueError("give a precision target or a stopping rule, not both")
    counts = (replications if isinstance(replications, Mapping)
              else {p.index: replications for p in points})  # fmt: skip
    rule: StoppingRule | None = until
    if precision is not None:
        counts = {i: min(n, precision.max_replications) for i, n in counts.items()}
        first = min(counts.values(), default=1)
        rule = PrecisionRule(precision, precision.batch or first)
    state = _State(points, {p.index: counts[p.index] for p in points})
    for record in finished:
        state.done[record.key] = record
    resumed = sum(1 for k in state.wanted() if k in state.done)
    runner = make_executor(executor, workers, scheduler, default_executor)
    owned = runner is not executor  # an executor object of the caller's stays open
    bar = Progress(sum(state.target.values()), len(points), wanted(progress))
    bar.advance(resumed)
    by_index = {p.index: p for p in points}

    def jobs(keys: list[tuple[int, int]]) -> list[Job]:
        return [Job(p, r, by_index[p].seed, by_index[p].scenario, tables) for p, r in keys]

    try:
        while True:
            for job, outcome in runner.map(job_fn, jobs(state.missing())):
                parameters = by_index[job.point].parameters
                if isinstance(outcome, RunRecord):
                    state.done[job.key] = outcome
                    if store is not None:
                        store.save(outcome, parameters)
                        if not keep_tables:
                            outcome.result = None
                else:
                    if not isinstance(outcome, Failure):  # the executor could not run it
                        outcome = failure_of(job, outcome)
                    state.failed[job.key] = outcome
                    if store is not None:
                        store.save_failure(outcome, parameters)
                bar.advance()
                bar.points(state.finished_points(rule))
            if rule is None or not _more(state, rule):
                break
            bar.grow(sum(state.target.values()))
            bar.points(state.finished_points(rule))
    except KeyboardInterrupt:
        raise Interrupted(
            state.records(), state.failures(), sum(state.target.values())
        ) from None
    finally:
        if owned:
            runner.close()
        bar.close()
    report = None
    if isinstance(rule, PrecisionRule):
        report = rule.report([p.index for p in points])
    describe = getattr(runner, "describe", None)
    return Outcome(
        state.records(), state.failures(), dict(state.target), report,
        describe() if callable(describe) else type(runner).__name__, resumed,
    )  # fmt: skip


def _more(state: _State, rule: StoppingRule) -> bool:
    """Ask `rule` about every point still going: stop it, or set its new replication count.

    True while some point needs more.
    """
    going = False
    for p in state.points:
        if p.index in state.stopped:
            continue
        n = state.target[p.index]
        keys = [(p.index, r) for r in range(n)]
        summaries = [state.done[k].summary for k in keys if k in state.done]
        failures = [state.failed[k] for k in keys if k in state.failed]
        later = rule.more(p.index, n, summaries, failures)
        if later is None or later <= n:
            state.stopped.add(p.index)
        else:
            state.target[p.index] = later
            going = True
    return going
