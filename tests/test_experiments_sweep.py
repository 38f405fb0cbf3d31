"""Sweeps: the grid a sweep block makes, its errors, the tidy frame, failures, saving and resuming.

Every run here is a few simulated hours of the small test scenario, on the serial executor (the
executors themselves are compared in test_experiments_executors.py).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from builders import make_scenario

import simulator
from simulator.errors import LeasesimError
from simulator.experiments import runs
from simulator.experiments.batch import Interrupted
from simulator.experiments.replicate import RunFailures
from simulator.experiments.sweep import difference
from simulator.results.metrics import METRICS

SHORT = {"duration": "6h"}
GRID = {"fleet.etl.progress_interval": ["30s", "2m"], "service.lease_reading": ["15min", "5min"]}


def _without_wall_time(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=["wall_time_s"])


# --- the grid -------------------------------------------------------------------------------------


def test_grid_is_the_product_of_lists_and_zip_rows() -> None:
    scenario = make_scenario(**SHORT, sweep={
        "service.lease_reading": ["15min", "5min"],
        "zip": [{"fleet.etl.runners": [1, 2, 3], "workload.batch.arrivals.rate": ["3/h", "6/h",
                                                                                   "9/h"]}],
    })  # fmt: skip
    frame = simulator.sweep(scenario, replications=1, executor="serial")
    assert frame.attrs["parameters"] == [
        "service.lease_reading", "fleet.etl.runners", "workload.batch.arrivals.rate"
    ]
    points = frame[frame.attrs["parameters"]].drop_duplicates()
    assert len(points) == len(frame) == 2 * 3
    # Zipped paths vary together (rates in per second), and the product covers every pair.
    assert set(zip(points["fleet.etl.runners"], points["workload.batch.arrivals.rate"],
                   strict=True)) == {(1, 3 / 3600), (2, 6 / 3600), (3, 9 / 3600)}  # fmt: skip
    assert set(points["service.lease_reading"]) == {"15min", "5min"}
    assert list(frame["point"]) == list(range(6))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"from": "15s", "to": "60s", "steps": 4}, [15.0, 30.0, 45.0, 60.0]),
        ({"from": "15s", "to": "4m", "steps": 3, "scale": "log"}, [15.0, 60.0, 240.0]),
    ],
    ids=["linear", "log"],
)
def test_ranges_expand_in_the_fields_unit(spec: dict[str, Any], expected: list[float]) -> None:
    scenario = make_scenario(**SHORT, sweep={"fleet.etl.progress_interval": spec})
    frame = simulator.sweep(scenario, replications=1, executor="serial")
    assert frame["fleet.etl.progress_interval"].tolist() == pytest.approx(expected, rel=1e-12)


def test_an_integer_range_gives_whole_numbers() -> None:
    scenario = make_scenario(**SHORT, sweep={"fleet.etl.runners": {"from": 1, "to": 8, "steps": 4,
                                                                    "scale": "log"}})
    frame = simulator.sweep(scenario, replications=1, executor="serial")
    assert frame["fleet.etl.runners"].tolist() == [1, 2, 4, 8]


def test_set_overrides_apply_before_the_sweep() -> None:
    scenario = make_scenario(**SHORT, sweep={"fleet.etl.runners": [1, 2]})
    frame = simulator.sweep(scenario, replications=1, executor="serial", overrides=[
        "workload.batch.arrivals={kind: times, times: [0, 60]}",
        "sweep={fleet.etl.threads: [1, 3]}",  # --set can replace the grid too
    ])  # fmt: skip
    assert frame.attrs["parameters"] == ["fleet.etl.threads"]
    assert frame["fleet.etl.threads"].tolist() == [1, 3]
    assert frame["tasks_submitted"].tolist() == [2, 2]  # every point has the overridden workload


def _sweep_file(tmp_path: Path, block: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "name: t\nduration: 6h\nfleet:\n  - name: etl\n    worker_group: wg\nworkload:\n"
        "  - name: batch\n    worker_group: wg\n    arrivals: {kind: poisson, rate: 6/h}\n"
        "    duration: 10m\n" + block
    )
    return path


@pytest.mark.parametrize(
    ("block", "field", "line", "words"),
    [
        ("sweep:\n  fleet.etl.progres_interval: [30s, 1m]\n",
         "sweep.fleet.etl.progres_interval", 12, ["Did you mean 'progress_interval'"]),
        ("sweep:\n  fleet.etl.runners: [1, 2]\n  fleet.nope.runners: [1]\n",
         "sweep.fleet.nope.runners", 13, ["no entry named 'nope'", "'etl'"]),
        ("sweep:\n  fleet.etl.progress_interval: [30s, soon]\n",
         "sweep.fleet.etl.progress_interval[1]", 12, ["'soon' is not a duration"]),
        ("sweep:\n  zip:\n    - fleet.etl.runners: [1, 2]\n      duration: [1h]\n",
         "sweep.zip[0]", 13, ["same number of values"]),
        ("sweep:\n  fleet.etl.runners: {from: 1, to: 2, steps: 5}\n",
         "sweep.fleet.etl.runners.steps", 12, ["repeat whole numbers"]),
        ("sweep:\n  service.lease_reading: {from: 1, to: 2, steps: 3}\n",
         "sweep.service.lease_reading.from", 12, ["'15min'"]),
        ("sweep:\n  replications: [1, 2]\n", "sweep.replications", 12, ["cannot be swept"]),
        ("warmup: 7h\n", "warmup", 11, ["shorter than duration"]),
    ],
    ids=["typo", "entry", "value", "zip", "int-range", "range-of-text", "reserved", "warmup"],
)
def test_sweep_errors_name_the_path_and_line(
    tmp_path: Path, block: str, field: str, line: int, words: list[str]
) -> None:
    path = _sweep_file(tmp_path, block)
    with pytest.raises(LeasesimError) as caught:
        simulator.load_scenario(path)
    err = caught.value
    assert err.code == "VALIDATION_ERROR"
    assert [(d["field"], d["line"]) for d in err.details] == [(field, line)]
    for word in words:
        assert word in str(err)


def test_a_point_that_breaks_a_cross_field_rule_is_named() -> None:
    scenario = make_scenario(**SHORT, fleet=[{"progress_jitter": "20s"}],
                             sweep={"fleet.etl.progress_interval": ["30s", "10s"]})  # fmt: skip
    with pytest.raises(LeasesimError) as caught:
        simulator.sweep(scenario, replications=1, executor="serial")
    message = str(caught.value)
    assert "sweep point 1 (fleet.etl.progress_interval=10s)" in message
    assert "progress_jitter" in message


def test_a_scenario_without_a_sweep_is_refused() -> None:
    with pytest.raises(LeasesimError, match="no sweep: block"):
        simulator.sweep(make_scenario(**SHORT), replications=1, executor="serial")


# --- the tidy frame and its summary --------------------------------------------------------------


def test_tidy_frame_has_a_row_per_run_and_replications_use_common_streams() -> None:
    scenario = make_scenario(**SHORT, seed=5)
    frame = simulator.sweep(scenario, GRID, replications=2, executor="serial")
    assert list(frame.columns[:5]) == [
        "point", "fleet.etl.progress_interval", "service.lease_reading", "replication", "seed"
    ]
    assert set(METRICS) <= set(frame.columns)
    assert len(frame) == 4 * 2 and frame["error"].isna().all()
    # Replication i of a point is run(point scenario, seed, replication=i), exactly.
    row = frame.iloc[3]
    direct = simulator.run(scenario, replication=int(row["replication"]), overrides=[
        "fleet.etl.progress_interval=30s", "service.lease_reading=5min"])
    assert row["fleet.etl.progress_interval"] == 30.0 and row["service.lease_reading"] == "5min"
    assert row[list(METRICS)].to_dict() == pytest.approx(direct.summary, nan_ok=True)
    # The arrivals stream does not depend on the swept settings: same submissions everywhere.
    by_rep = frame.groupby("replication")["tasks_submitted"].nunique()
    assert (by_rep == 1).all()


def test_summarize_gives_mean_and_student_t_interval_per_point() -> None:
    frame = simulator.sweep(make_scenario(**SHORT), GRID, replications=3, executor="serial")
    summary = simulator.summarize(frame)
    assert list(summary.columns) == [*GRID, "metric", "mean", "ci_low", "ci_high", "half_width",
                                     "n", "method"]  # fmt: skip
    assert len(summary) == 4 * len(METRICS)
    one = summary[(summary["metric"] == "tasks_finished")].iloc[0]
    values = frame[frame["point"] == 0]["tasks_finished"].to_numpy()
    mean, sd = values.mean(), values.std(ddof=1)
    half = 4.302652729911275 * sd / math.sqrt(3)  # t(0.975, 2 degrees of freedom)
    assert (one["mean"], one["half_width"], one["n"]) == pytest.approx((mean, half, 3))
    # NaN-safe: a metric with no value in any run (no crash: no detection latency) has n = 0.
    latency = summary[summary["metric"] == "detection_latency_mean_s"]
    assert (latency["n"] == 0).all() and latency["mean"].isna().all()
    whole = simulator.summarize(frame, by=[], metrics=["tasks_finished"])
    assert whole["n"].tolist() == [12]


def test_common_random_numbers_narrow_the_interval_of_a_difference() -> None:
    """Startup 0 s vs 60 s: replication i of both points shares arrivals and work (CRN), so the
    paired differences of utilization and of finished tasks have much narrower intervals than with
    independent seeds (the same comparison with seed 1 for one point and seed 2 for the other).
    Over seeds 11-16 the ratio of the two half-widths stayed below 0.2; the bound is 0.5."""
    scenario = make_scenario(duration="1d", fleet=[{"runners": 2, "threads": 2}],
                             workload=[{"arrivals": {"kind": "poisson", "rate": "18/h"}}])
    crn = simulator.sweep(scenario, {"fleet.etl.startup": ["0s", "60s"]}, 6, executor="serial")
    independent = simulator.sweep(
        scenario, {"zip": [{"fleet.etl.startup": ["0s", "60s"], "seed": [1, 2]}]}, 6,
        executor="serial",
    )  # fmt: skip
    for metric in ("utilization", "tasks_finished"):
        paired = difference(crn, metric, "fleet.etl.startup", "0s", "60s")
        apart = difference(independent, metric, "fleet.etl.startup", "0s", "60s")
        assert paired["n"] == apart["n"] == 6
        assert paired["half_width"] < 0.5 * apart["half_width"], (metric, paired, apart)
        # Each point's own interval is wider than the paired difference's.
        own = simulator.summarize(crn, metrics=[metric])["half_width"]
        assert (own > paired["half_width"]).all()


# --- failures, saving, resuming ------------------------------------------------------------------


def _fail_once(monkeypatch: pytest.MonkeyPatch, point_runners: int, replication: int) -> None:
    """Make the model raise for one (point, replication): the point is picked by its runners."""
    real = runs.run

    def flaky(scenario: Any, seed: Any = None, replication: int = 0, **kw: Any) -> Any:
        if scenario.fleet[0].runners == point_runners and replication == failing:
            raise RuntimeError("boom")
        return real(scenario, seed=seed, replication=replication, **kw)

    failing = replication
    monkeypatch.setattr(runs, "run", flaky)


def test_a_failing_run_is_reported_and_the_others_are_kept(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scenario = make_scenario(**SHORT, sweep={"fleet.etl.runners": [1, 2, 3]})
    clean = simulator.sweep(scenario, replications=3, executor="serial")
    _fail_once(monkeypatch, point_runners=2, replication=1)
    with pytest.warns(RunFailures, match=r"1 of 9 runs failed.*point 1 \(fleet.etl.runners=2\), "
                      r"replication 1, seed 11: RuntimeError: boom"):  # fmt: skip
        frame = simulator.sweep(scenario, replications=3, executor="serial", out=tmp_path)
    assert len(frame) == 9
    bad = frame[frame["error"].notna()]
    assert bad[["point", "replication", "seed"]].values.tolist() == [[1, 1, 11]]
    assert bad["error"].iloc[0] == "RuntimeError: boom"
    assert bad[list(METRICS)].isna().all(axis=None)
    good = frame["error"].isna()
    pd.testing.assert_frame_equal(_without_wall_time(frame[good]),
                                  _without_wall_time(clean[good]))  # fmt: skip
    assert frame.attrs["failures"][0] | {} == {
        "point": 1, "replication": 1, "seed": 11, "error_type": "RuntimeError",
        "message": "boom", "parameters": {"fleet.etl.runners": 2},
    }  # fmt: skip
    summary = simulator.summarize(frame, metrics=["tasks_submitted"])
    assert summary["n"].tolist() == [3, 2, 3]  # the failed run is left out of its point's n
    assert len(list((tmp_path / "runs").glob("*.json"))) == 8
    failure = json.loads((tmp_path / "failures" / "p00001-r00001.json").read_text())
    assert failure["message"] == "boom" and "RuntimeError" in failure["traceback"]
    # Resuming runs the failed run again (the model is fixed now) and only it.
    monkeypatch.undo()
    calls = _count_runs(monkeypatch)
    resumed = simulator.sweep(scenario, replications=3, executor="serial", out=tmp_path,
                              resume=True)  # fmt: skip
    assert len(calls) == 1
    pd.testing.assert_frame_equal(_without_wall_time(resumed), _without_wall_time(clean))
    assert not list((tmp_path / "failures").glob("*.json"))


def _count_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    real, calls = runs.run, []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "run", counted)
    return calls


def test_an_interrupted_sweep_resumes_to_the_same_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scenario = make_scenario(**SHORT, sweep=GRID)
    whole_dir, broken_dir = tmp_path / "whole", tmp_path / "broken"
    whole = simulator.sweep(scenario, replications=2, executor="serial", out=whole_dir)

    real, calls = runs.run, []

    def interrupt_at_fifth(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "run", interrupt_at_fifth)
    with pytest.raises(Interrupted) as caught:
        simulator.sweep(scenario, replications=2, executor="serial", out=broken_dir)
    assert caught.value.code == "INTERRUPTED"
    assert len(caught.value.finished) == 4 and caught.value.requested == 8
    assert "resume=True" in str(caught.value)
    assert len(list((broken_dir / "runs").glob("*.json"))) == 4
    assert not (broken_dir / "results.csv").exists()
    assert not [p for p in broken_dir.rglob("*") if ".tmp-" in p.name]  # nothing half-written

    monkeypatch.undo()
    calls = _count_runs(monkeypatch)
    resumed = simulator.sweep(scenario, replications=2, executor="serial", out=broken_dir,
                              resume=True)  # fmt: skip
    assert len(calls) == 4 and resumed.attrs["resumed"] == 4
    pd.testing.assert_frame_equal(_without_wall_time(resumed), _without_wall_time(whole))
    for name in ("results.csv", "summary.csv"):
        a = pd.read_csv(whole_dir / name).drop(columns=["wall_time_s"], errors="ignore")
        b = pd.read_csv(broken_dir / name).drop(columns=["wall_time_s"], errors="ignore")
        pd.testing.assert_frame_equal(a, b)


def test_manifest_records_scenario_versions_seeds_and_grid(tmp_path: Path) -> None:
    scenario = make_scenario(**SHORT, sweep={"fleet.etl.runners": [1, 2]})
    simulator.sweep(scenario, replications=2, executor="serial", out=tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["scenario"]["sweep"]["fleet.etl.runners"] == [1, 2]
    assert manifest["scenario"]["fleet"][0]["progress_interval"] == 60.0  # resolved, defaults in
    assert manifest["seed"] == 11 and manifest["replications"] == 2
    assert manifest["grid"] == {"paths": ["fleet.etl.runners"],
                                "points": [{"fleet.etl.runners": 1}, {"fleet.etl.runners": 2}]}
    assert {"leasesim", "python", "numpy", "simpy", "pandas"} <= set(manifest["versions"])
    assert "SeedSequence" in manifest["seeds"]["rule"]


def test_out_refuses_to_mix_two_sweeps(tmp_path: Path) -> None:
    scenario = make_scenario(**SHORT, sweep={"fleet.etl.runners": [1, 2]})
    simulator.sweep(scenario, replications=1, executor="serial", out=tmp_path)
    with pytest.raises(LeasesimError, match="already holds a sweep; add --resume"):
        simulator.sweep(scenario, replications=1, executor="serial", out=tmp_path)
    with pytest.raises(LeasesimError, match="holds a different sweep"):
        simulator.sweep(scenario, replications=1, executor="serial", out=tmp_path, resume=True,
                        overrides=["duration=5h"])  # fmt: skip
    more = simulator.sweep(scenario, replications=2, executor="serial", out=tmp_path, resume=True)
    assert more.attrs["resumed"] == 2 and len(more) == 4  # more replications: only new ones run


def test_a_broken_sweep_point_is_flagged_and_intervals_stay_in_range() -> None:
    """gc-pauses at a 5-minute interval (lease 3 minutes): the point's means raise both health
    flags, the 30-second point none; and no interval of a fraction or count leaves its range (the
    plain t interval of backlog_fraction went below 0 at the healthy points: issue 13, B1/B2)."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scenarios" / "gc-pauses.yaml"
    scenario = simulator.load_scenario(path, ["duration=6h"])
    frame = simulator.sweep(scenario, {"fleet.jvm.progress_interval": ["30s", "5m"]},
                            replications=3, executor="serial", progress=False)  # fmt: skip
    summary = simulator.summarize(frame)
    flagged = {key[0]: [f.name for f in found] for key, found in summary.attrs["flags"]}
    assert flagged == {300.0: ["backlog_grows", "most_attempts_reassigned"]}
    for metric in ("backlog_fraction", "duplicated_fraction", "reassigned_fraction"):
        rows = summary[summary["metric"] == metric]
        assert (rows["ci_low"] >= 0).all() and (rows["ci_high"] <= 1).all(), metric
