"""One replication loop, one I/O module, one did-you-mean (issue 14, item 6).

`experiments.batch.run_points` is the loop of replicate, sweep and check; a `StoppingRule` decides,
after each round, how many replications a point needs. `simulator.io` writes every file and holds
the JSON rule; `simulator.errors.did_you_mean` suggests the fix of a typo.
"""

from __future__ import annotations

import math
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from simulator.errors import INTERRUPTED, LeasesimError, closest, did_you_mean
from simulator.experiments.batch import Interrupted, Point, run_points
from simulator.experiments.precision import Precision
from simulator.experiments.runs import Failure, Job, RunRecord
from simulator.io import atomic_write_bytes, atomic_write_text, json_safe, json_text


def _fake(job: Job) -> RunRecord | Failure:
    if job.point == 1 and job.replication == 3:
        return Failure(job.point, job.replication, job.seed, "RuntimeError", "boom")
    return RunRecord(job.point, job.replication, job.seed, {"x": float(job.replication)})


class _Rule:
    """Point 0 goes 2 -> 5 -> 7 and stops; point 1 goes 2 -> 4 and stops (a failure)."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int, list[float], list[int]]] = []

    def more(self, point: int, replications: int, summaries: Sequence[Mapping[str, float]],
             failures: Sequence[Failure]) -> int | None:  # fmt: skip
        self.asked.append((point, replications, [s["x"] for s in summaries],
                           [f.replication for f in failures]))  # fmt: skip
        if failures:
            return None
        return {2: 5, 5: 7}.get(replications)


def _points(n: int) -> list[Point]:
    return [Point(i, {}, {}, 10 + i) for i in range(n)]


def test_the_loop_asks_the_stopping_rule_after_each_round() -> None:
    rule = _Rule()
    outcome = run_points(_points(2), 2, until=rule, job_fn=_fake, progress=False)
    assert rule.asked == [
        (0, 2, [0.0, 1.0], []), (1, 2, [0.0, 1.0], []),
        (0, 5, [0.0, 1.0, 2.0, 3.0, 4.0], []), (1, 5, [0.0, 1.0, 2.0, 4.0], [3]),
        (0, 7, [float(r) for r in range(7)], []),
    ]  # fmt: skip
    assert outcome.replications == {0: 7, 1: 5}
    assert [f.key for f in outcome.failures] == [(1, 3)]
    assert len(outcome.records) == 7 + 4


def test_replications_per_point_and_no_rule_run_once() -> None:
    outcome = run_points(_points(2), {0: 1, 1: 3}, job_fn=_fake, progress=False)
    assert sorted(r.key for r in outcome.records) == [(0, 0), (1, 0), (1, 1), (1, 2)]


def test_a_precision_target_is_a_stopping_rule() -> None:
    def noisy(job: Job) -> RunRecord:
        return RunRecord(job.point, job.replication, job.seed,
                         {"duplicated_fraction": 1.0 + (job.replication % 2)})  # fmt: skip

    rule = Precision.of({"metrics": ["duplicated_fraction"], "relative": 0.01,
                         "max_replications": 9, "batch": 3})  # fmt: skip
    outcome = run_points(_points(1), 4, precision=rule, job_fn=noisy, progress=False)
    assert outcome.replications == {0: 9}  # 4, 7, 9 (capped): never precise enough
    assert outcome.precision is not None and not outcome.precision.reached
    assert outcome.precision.points[0].replications == 9


def test_ctrl_c_in_a_check_keeps_nothing_and_says_so(tmp_path: Path) -> None:
    from test_check_cli import write

    from simulator.check.files import find
    from simulator.check.runner import run_checks

    def interrupted(scenario: Any, seed: int, replication: int) -> Any:
        raise KeyboardInterrupt

    targets, _ = find([write(tmp_path)])
    with pytest.raises(Interrupted) as caught:
        run_checks(targets, "quick", executor="serial", run_fn=interrupted)
    assert caught.value.code == INTERRUPTED
    assert "interrupted after 0 of" in str(caught.value)
    assert "nothing was recorded; run the same command again to check." in str(caught.value)
    assert not list(tmp_path.glob("*.baseline*"))


def test_json_safe_is_strict_json() -> None:
    value = {1: (math.nan, np.float64(2.5), np.int64(3)), "inf": [math.inf, -math.inf]}
    assert json_safe(value) == {"1": [None, 2.5, 3], "inf": [None, None]}
    assert json_text({"a": math.nan}) == '{\n  "a": null\n}\n'


def test_atomic_writes_leave_an_ordinary_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.json"
    atomic_write_text(target, "old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]

    class Boom(Exception):
        pass

    def fail(fd: int) -> None:
        raise Boom

    monkeypatch.setattr("simulator.io.os.fsync", fail)
    with pytest.raises(Boom):
        atomic_write_bytes(target, b"half")  # fails before the rename
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_did_you_mean() -> None:
    assert did_you_mean("duplicated_fractoin", ["duplicated_fraction", "latency_p95_s"]) == (
        " Did you mean 'duplicated_fraction'?")
    assert did_you_mean("zzz", ["duplicated_fraction"]) == ""
    assert closest("workrs", ["workers", "seed"], cutoff=0.7) == "workers"
    assert closest(3, [1, 2]) is None
    from simulator.recommendation.requirements import Requirement

    with pytest.raises(LeasesimError, match="Did you mean 'duplicated_fraction'"):
        Requirement.parse("duplicated_fractoin<=0.1")
