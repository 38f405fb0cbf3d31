"""The log freezes finished records into typed columns without changing a single number.

A task and its attempts are frozen once nothing in the model refers to them (reference counts);
a record frozen too early would lose the changes made to it afterwards. So every shipped scenario
(both modes: faults, lost replies, stale writers and bulk reports take the rarer paths) is run with
the log freezing as often as it can and with it never freezing: the tables must be equal.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import ScenarioWarning, load_scenario
from simulator.model.log import Attempt, Kind, Log, Task
from simulator.model.simulation import Simulation, simulate
from simulator.results.tables import tables
from simulator.seeds import Streams

ROOT = Path(__file__).parent.parent
# The 1,600-thread fleet takes a minute: with the slow tests, and an hour of it (leases lost to
# throttling well within it) rather than three.
SCENARIOS = [
    pytest.param(p, marks=pytest.mark.slow) if p.stem == "throttled-fleet" else p
    for p in sorted((ROOT / "scenarios").glob("*.yaml")) + [ROOT / "bench" / "faults-mix.yaml"]
]
NAN = math.nan
KIND = Kind("w", "g", 2, 600.0, (900.0, 900.0, 900.0), None, 0.0)


@pytest.fixture
def eager(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Logs look for records to freeze at every 8 open ones; yields the counts frozen mid-run."""
    frozen: list[int] = []
    freeze = Log.freeze

    def counted(self: Log, everything: bool = False) -> int:
        done = freeze(self, everything)
        if not everything:
            frozen.append(done)
        return done

    monkeypatch.setattr(Log, "FREEZE_AFTER", 8)
    monkeypatch.setattr(Log, "freeze", counted)
    yield frozen


def _tables(path: Path, mode: str) -> dict[str, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        duration = "1h" if path.stem == "throttled-fleet" else "3h"
        overrides = [f"simulation.mode={mode}", f"duration={duration}"]
        scenario = load_scenario(path, overrides=overrides)
    log = simulate(scenario, Streams.from_seed(scenario.seed, 1)).log
    return tables(log, scenario.duration)


@pytest.mark.parametrize("mode", ["exact", "fast"])
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: Path(p).stem)
def test_freezing_changes_no_table(
    path: Path, mode: str, eager: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = _tables(path, mode)
    # Records were frozen while the run went on; throttled-fleet's tasks all outlive the run.
    assert sum(eager) > 0 or path.stem == "throttled-fleet"
    # The same run with every record left an object to the end: the tables as they always were.
    monkeypatch.setattr(Log, "FREEZE_AFTER", 10**12)
    monkeypatch.setattr(Log, "close", lambda self: None)
    objects = _tables(path, mode)
    for name in objects:
        pd.testing.assert_frame_equal(frozen[name], objects[name], check_exact=True)


# --- the reference rule, on logs built by hand ------------------------------------------------


def _task(log: Log, i: int) -> Task:
    task = Task(i, KIND, float(i), 10.0)
    log.tasks.append(task)
    return task


def _attempt(log: Log, task: Task, runner: str = "r0") -> Attempt:
    attempt = Attempt(task, task.attempt_number, runner, 1, task.submitted_at + 1.0)
    task.attempts += 1
    task.live = attempt
    log.attempts.append(attempt)
    return attempt


def _end(attempt: Attempt) -> None:
    task = attempt.task
    attempt.ended_at = task.ended_at = attempt.assigned_at + 5.0
    attempt.outcome, task.status = "finished", "finished"
    attempt.runner_outcome = "completed"
    task.live, task.finished_by = None, attempt


def test_only_records_nothing_refers_to_are_frozen() -> None:
    log = Log()
    held_task = _task(log, 0)  # still referred to (here: by this test, as a queue would)
    _end(_attempt(log, held_task))
    held = _attempt(log, _task(log, 1))  # its attempt referred to (as by its thread)
    _end(held)
    ended = _task(log, 2)
    _end(_attempt(log, ended))
    _end(_attempt(log, ended))  # a second attempt: both refer to the task
    del ended
    running = _task(log, 3)
    _attempt(log, running)  # live: the task refers to it, and this test to the task
    assert log.freeze() == 3  # task 2 and its two attempts
    assert [t.row for t in log.tasks.open] == [0, 1, 3]
    assert [a.row for a in log.attempts.open] == [0, 1, 4]
    copy = log.attempts[2]  # frozen: a copy rebuilt from its row
    assert (copy.task.id, copy.outcome, copy.runner_outcome, copy.ended_at) == (
        2, "finished", "completed", 8.0,
    )  # fmt: skip
    assert copy.task.finished_by is None and log.attempts[3].task.finished_by is not None
    del held, held_task
    assert log.freeze() == 4  # now tasks 0 and 1 with their attempts
    assert [t.row for t in log.tasks.open] == [3]
    del running
    assert log.freeze() == 2
    assert log.unfrozen == 0 and len(log.tasks) == 4 and len(log.attempts) == 5


def test_a_pending_timer_or_a_schedule_elsewhere_holds_the_attempt() -> None:
    log = Log()
    task = _task(log, 0)
    attempt = _attempt(log, task)
    _end(attempt)

    class Timer:
        def __init__(self, attempt: Attempt) -> None:
            self.attempt = attempt

    timer = Timer(attempt)
    attempt.timer = timer  # the attempt's own timer, also in a queue (this local)
    del task, attempt
    assert log.freeze() == 0
    del timer  # now only the attempt refers to its timer: a reference inside
    assert log.freeze() == 2
    assert log.attempts[0].timer is None


def test_frozen_rows_equal_the_objects() -> None:
    log = Log()
    tasks = [_task(log, i) for i in range(6)]
    attempts = [_attempt(log, t, runner=f"r{t.id % 2}") for t in tasks]
    for a in attempts[:4]:
        _end(a)
    attempts[1].runner_outcome, attempts[1].crashed_at = "crashed", 3.5
    attempts[2].reports, attempts[2].acked_at, attempts[2].expired_alive = 7, 2.5, True
    before = tables(log, 100.0)
    open_tasks = tasks[4:]
    del tasks, attempts, a
    assert log.freeze() == 8
    after = tables(log, 100.0)
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name], check_exact=True)
    assert list(after["attempts"]["live"]) == [False] * 4 + [True] * 2
    assert list(after["attempts"]["finished_task"]) == [True] * 4 + [False] * 2
    rebuilt = log.tasks[1]
    assert (rebuilt.id, rebuilt.status, rebuilt.attempts, rebuilt.kind) == (1, "finished", 1, KIND)
    assert [t.id for t in log.tasks] == list(range(6)) and log.tasks[-1] is open_tasks[1]


def test_tables_read_open_records_as_they_are_now() -> None:
    log = Log()
    task = _task(log, 0)
    attempt = _attempt(log, task)
    assert tables(log, 50.0)["attempts"]["outcome"].tolist() == ["running"]
    _end(attempt)
    assert tables(log, 50.0)["attempts"]["outcome"].tolist() == ["finished"]
    assert math.isnan(log.attempt_columns()["crashed_at"][0])


def test_records_cost_under_200_bytes_a_task() -> None:
    """Columns per task (its attempts included), and what stays open at the end: nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        scenario = load_scenario(
            ROOT / "bench" / "fleet-500.yaml",
            overrides=["simulation.mode=fast", "duration=2d", "fleet.etl.runners=50",
                       "workload.batch.arrivals.rate=49/h"],
        )  # fmt: skip
    simulation = Simulation(scenario, Streams.from_seed(scenario.seed, 0))
    open_at_most = 0
    freeze = simulation.log.freeze

    def watched(everything: bool = False) -> int:
        nonlocal open_at_most
        open_at_most = max(open_at_most, simulation.log.unfrozen)
        return freeze(everything)

    simulation.log.freeze = watched  # type: ignore[method-assign]
    simulation.log.FREEZE_AFTER = 256
    simulation.log.freeze_at = 256
    log = simulation.run()
    n = len(log.tasks)
    assert n > 2000
    assert log.unfrozen == 0 and not log.tasks.open and not log.attempts.open
    columns = log.tasks.nbytes() + log.attempts.nbytes()
    # What is used per task, and what is held (capacity grows by a quarter, 1,024 rows at least).
    used = sum(a[:n].nbytes for a in log.tasks.columns.arrays.values()) + sum(
        a[: len(log.attempts)].nbytes for a in log.attempts.columns.arrays.values()
    )
    assert used / n < 200 and columns <= 1.25 * used + 1024 * 150
    # Open records stay a small multiple of the tasks in progress (100 threads), not all of them.
    assert open_at_most < 2000
    assert np.all(log.task_columns()["id"] == np.arange(n))


def test_faults_read_and_write_like_a_list() -> None:
    log = Log()
    log.faults.append(("r1", "pause", 10.0, 20.0))
    log.faults.extend([("r2", "crash", 30.0, math.inf), ("r1", "pause", 40.0, NAN)])
    assert len(log.faults) == 3 and log.faults[0] == ("r1", "pause", 10.0, 20.0)
    runner, kind, start, _ = log.faults[2]
    log.faults[2] = (runner, kind, start, 45.0)  # a pause's end, known when it ends
    assert list(log.faults)[1:] == [("r2", "crash", 30.0, math.inf), ("r1", "pause", 40.0, 45.0)]
    table = tables(log, 100.0)["faults"]
    assert table["runner"].tolist() == ["r1", "r2", "r1"]
    assert table["duration_s"].tolist() == [10.0, 70.0, 5.0]
    with pytest.raises(IndexError):
        log.faults[3]
