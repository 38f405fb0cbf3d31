"""Replications: independent runs with Student-t intervals, warm-up, the precision rule, saving and
resuming replication folders."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from builders import make_scenario

import simulator
from simulator.errors import LeasesimError
from simulator.experiments import runs
from simulator.experiments.precision import Precision, check
from simulator.experiments.store import OutputFolderWarning
from simulator.results.metrics import METRICS


def _equal(a: dict[str, float], b: dict[str, float]) -> bool:
    return list(a) == list(b) and pd.Series(a).equals(pd.Series(b))


def test_replication_i_is_run_with_replication_i() -> None:
    scenario = make_scenario(duration="6h")
    reps = simulator.replicate(scenario, 3)
    assert len(reps) == 3 and [r.replication for r in reps] == [0, 1, 2]
    for i, record in enumerate(reps):
        assert record.seed == 11
        assert _equal(record.summary, simulator.run(scenario, replication=i).summary)
    assert not _equal(reps[0].summary, reps[1].summary)  # independent streams
    frame = reps.frame()
    assert frame["replication"].tolist() == [0, 1, 2] and set(METRICS) <= set(frame.columns)
    summary = reps.summarize().set_index("metric")
    values = frame["tasks_submitted"].to_numpy()
    half = 4.302652729911275 * values.std(ddof=1) / math.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert summary.loc["tasks_submitted", "half_width"] == pytest.approx(half)
    assert summary.loc["detection_latency_mean_s", "n"] == 0  # no crash: no value, no error


def test_warmup_leaves_out_tasks_submitted_before_it() -> None:
    arrivals = {"kind": "times", "times": ["0s", "10m", "50m", "1h", "2h", "3h"]}
    base = {"duration": "4h", "workload": [{"arrivals": arrivals, "duration": "20m"}]}
    cold = simulator.run(make_scenario(**base)).summary
    warm = simulator.run(make_scenario(**base, warmup="1h")).summary
    assert cold["tasks_submitted"] == 6
    assert warm["tasks_submitted"] == 3  # a task submitted exactly at the warm-up counts
    assert warm["tasks_finished"] == 3 and warm["attempts"] == 3
    # Utilization is the busy time in the measured 3 hours on 4 threads: 3 tasks x 20 min, plus
    # the last 10 min of the task submitted at 50 min (worked 50m..70m), whoever submitted it.
    assert warm["utilization"] == pytest.approx((3 * 1200 + 600) / (4 * 3 * 3600))
    # Call counts carry no time: they still cover the whole run.
    assert warm["poll_calls_per_s"] == cold["poll_calls_per_s"]


def test_precision_stops_at_the_target() -> None:
    scenario = make_scenario(duration="6h")
    rule = {"metrics": ["tasks_submitted"], "relative": 0.5, "max_replications": 20}
    reps = simulator.replicate(scenario, 3, precision=rule)
    report = reps.precision
    assert report is not None and report.reached and len(reps) == 3
    assert report.points[0].reason == "target" and "target reached after 3" in report.describe()
    half = reps.summarize().set_index("metric").loc["tasks_submitted", ["mean", "half_width"]]
    assert half["half_width"] <= 0.5 * half["mean"]


def test_precision_adds_batches_until_the_cap() -> None:
    scenario = make_scenario(duration="6h")
    rule = Precision(metrics=("tasks_submitted",), absolute=1e-9, max_replications=7, batch=2)
    reps = simulator.replicate(scenario, 3, precision=rule)
    assert len(reps) == 7  # 3, then batches of 2 capped at 7
    assert not reps.precision.reached and reps.precision.points[0].reason == "cap"
    assert "replication cap of 7 reached" in reps.precision.describe()
    # The first replications are the same runs as without the precision rule.
    plain = simulator.replicate(scenario, 3)
    assert all(_equal(a.summary, b.summary) for a, b in zip(plain, reps[:3], strict=False))


def test_precision_check_uses_the_t_interval_and_never_meets_on_nan() -> None:
    rule = Precision.of({"metrics": ["wasted_work_h"], "absolute": 0.5})
    values = [{"wasted_work_h": v} for v in (1.0, 1.2, 0.9, 1.1)]
    verdict = check(rule, values)
    x = np.array([1.0, 1.2, 0.9, 1.1])
    assert verdict.half_widths["wasted_work_h"] == pytest.approx(
        3.182446305284263 * x.std(ddof=1) / 2)  # t(0.975, 3 degrees of freedom)
    assert verdict.met
    assert not check(rule, [{"wasted_work_h": math.nan}] * 4).met


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"metrics": []}, "needs the metrics"),
        ({"metrics": ["nope"]}, "unknown metric 'nope'"),
        ({"metrics": ["utilization"], "relative": -1}, "must be a number > 0"),
        ({"metrics": ["utilization"], "max_replications": 1}, "whole number >= 2"),
        ({"metrics": ["utilization"], "tolerance": 1}, "no option tolerance"),
    ],
)
def test_bad_precision_rules_are_usage_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(LeasesimError, match=message):
        Precision.of(spec)


def test_replicate_saves_folders_and_resumes_only_missing_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scenario = make_scenario(duration="6h")
    first = simulator.replicate(scenario, 2, out=tmp_path)
    assert first.saved == [str(tmp_path / "rep-000"), str(tmp_path / "rep-001")]
    real, calls = runs.run, []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("replication"))
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "run", counted)
    more = simulator.replicate(scenario, 4, out=tmp_path, resume=True)
    assert calls == [2, 3] and more.resumed == 2
    fresh = simulator.replicate(scenario, 4)
    assert all(_equal(a.summary, b.summary) for a, b in zip(more, fresh, strict=True))
    # Another seed is another experiment: refused, not mixed in or overwritten.
    calls.clear()
    with pytest.raises(LeasesimError, match="replications of another run: rep-000 \\(seed .*is 12"):
        simulator.replicate(scenario, 2, seed=12, out=tmp_path, resume=True)
    assert calls == []
    # Fewer replications of the same run: those beyond are kept, and said to be.
    with pytest.warns(OutputFolderWarning, match="already holds rep-002 .. rep-003"):
        assert simulator.replicate(scenario, 2, out=tmp_path, resume=True).resumed == 2


def test_a_failing_replication_is_reported_and_the_others_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = runs.run

    def flaky(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("replication") == 1:
            raise ValueError("model bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "run", flaky)
    with pytest.warns(UserWarning, match=r"1 of 3 runs failed.*replication 1 \(seed 11\): "
                      r"ValueError: model bug"):  # fmt: skip
        reps = simulator.replicate(make_scenario(duration="6h"), 3)
    assert [r.replication for r in reps] == [0, 2]
    assert [(f.replication, f.seed, f.error_type) for f in reps.failures] == [(1, 11, "ValueError")]
    assert "model bug" in reps.failures[0].traceback
    assert reps.frame()["error"].tolist()[1] == "ValueError: model bug"
