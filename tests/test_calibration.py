"""`leasesim fit` and `leasesim compare` (issue 17): the round trip, bad input.

The round trip: a scenario is simulated once (the "fleet"), its attempts are written in the
observed-file shape, and `fit` must recover the work distribution's median and p95 and the arrival
rate within the intervals it reports; `compare` of the same scenario against that record must say
consistent. Doubling the pause rate or the work: tests/test_calibration_power.py (slow).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import yaml

import simulator
from simulator.calibration.compare import MetricComparison, _holm
from simulator.cli import main

matplotlib.use("Agg")

FLEET = """\
name: roundtrip
duration: 12h
seed: 3
replications: 5
service:
  on_lease_expiry: reassign_same_attempt
  report_progress_timeout: 3m
fleet:
  - name: jvm
    worker_group: w
    runners: 10
    threads: 2
    progress_interval: 30s
    startup: 5s
    faults:
      pause:
        rate: 4/h
        duration: {dist: lognormal, median: 20s, p95: 4m}
workload:
  - name: reports
    worker_group: w
    arrivals: {kind: poisson, rate: 60/h}
    duration: {dist: lognormal, median: 5m, p95: 20m}
"""
TRUE_MEDIAN, TRUE_P95, TRUE_RATE = 300.0, 1200.0, 60.0 / 3600.0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(scenario file, recorded CSV) of one simulated day of the fleet."""
    folder = tmp_path_factory.mktemp("roundtrip")
    scenario = folder / "fleet.yaml"
    scenario.write_text(FLEET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = simulator.run(simulator.load_scenario(scenario), seed=11)
    csv = folder / "attempts.csv"
    simulator.simulated_record(result).to_csv(csv, index=False)
    return scenario, csv


def test_fit_recovers_the_work_and_the_arrival_rate(recorded: tuple[Path, Path]) -> None:
    scenario, csv = recorded
    cal = simulator.fit_observed(csv, scenario)
    (wf,) = cal.workloads
    assert wf.work.chosen.name == "lognormal"
    assert not wf.work.candidate("lognormal").rejected
    assert wf.work.candidate("exponential").rejected
    assert wf.work.chosen.median.contains(TRUE_MEDIAN), wf.work.chosen.median
    assert wf.work.chosen.p95.contains(TRUE_P95), wf.work.chosen.p95
    assert wf.arrivals.rate.contains(TRUE_RATE), wf.arrivals.rate
    # Every candidate reports intervals around its estimate.
    for c in wf.work.candidates:
        assert c.median.low <= c.median.value <= c.median.high
        assert c.p95.low <= c.p95.value <= c.p95.high
    # The leases: every loss of a live holder is false; the implied pause rate covers 4/h.
    assert cal.leases.false_known and cal.leases.crash_losses == 0
    pause = next(i for i in cal.leases.implied if i.fault == "pause")
    assert pause.value.contains(4 / 3600)
    assert cal.scenario.workload[0].duration.dist == "lognormal"


def test_fit_command_writes_a_loadable_scenario(
    recorded: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, csv = recorded
    out = tmp_path / "fitted.yaml"
    code = main(
        [
            "fit",
            str(csv),
            "--scenario",
            str(scenario),
            "--out",
            str(out),
            "--plots",
            str(tmp_path / "figs"),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    for word in (
        "lognormal",
        "exponential",
        "empirical",
        "Anderson-Darling",
        "chosen:",
        "dispersion",
        "per attempt-hour",
        "implied pause",
    ):
        assert word in printed
    fitted = simulator.load_scenario(out)
    assert fitted.fleet[0].runners == 10  # the base's fleet is kept
    assert math.isclose(fitted.workload[0].duration.median, 311.2, rel_tol=0.01)
    assert {p.name for p in (tmp_path / "figs").iterdir()} == {
        "reports-work-ecdf.png",
        "reports-work-qq.png",
    }
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries left
    # Without a base: a minimal scenario with the fleet the record shows.
    code = main(["fit", str(csv), "--out", str(tmp_path / "minimal.yaml"), "--json"])
    data = json.loads(capsys.readouterr().out)["data"]
    assert code == 0 and data["workloads"][0]["chosen"] == "lognormal"
    minimal = simulator.load_scenario(tmp_path / "minimal.yaml")
    assert (minimal.fleet[0].runners, minimal.fleet[0].threads) == (10, 2)


def test_compare_of_the_same_scenario_is_consistent(
    recorded: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, csv = recorded
    code = main(["compare", str(scenario), str(csv), "-n", "10", "--seed", "101", "--json"])
    data = json.loads(capsys.readouterr().out)["data"]
    assert code == 0, data["differs"]
    assert data["consistent"] and data["differs"] == []
    shared = {m["metric"] for m in data["metrics"]}
    assert shared == {
        "reassigned_fraction",
        "duplicated_fraction",
        "attempts_per_task",
        "latency_p50_s",
        "latency_p95_s",
        "queue_wait_mean_s",
        "ack_timeout_fraction",
        "work_per_task_s",
    }
    for m in data["metrics"]:
        assert m["observed_low"] <= m["observed"] <= m["observed_high"]


def test_compare_plots_and_text(
    recorded: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, csv = recorded
    code = main(["compare", str(scenario), str(csv), "-n", "3", "--plots", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code in (0, 1)
    assert "verdict" in printed and "Holm" in printed
    assert {p.name for p in tmp_path.iterdir()} == {
        "latency.png",
        "work.png",
        "queue_wait.png",
        "attempts.png",
    }


def test_plots_draw_into_given_axes(recorded: tuple[Path, Path]) -> None:
    import matplotlib.pyplot as plt

    scenario, csv = recorded
    cal = simulator.fit_observed(csv, scenario)
    cmp = simulator.compare_observed(scenario, csv, n=2)
    fig, axes = plt.subplots(1, 3)
    assert simulator.plots.fit_ecdf(cal.workloads[0].work, ax=axes[0]) is axes[0]
    assert simulator.plots.qq(cal.workloads[0].work, ax=axes[1]) is axes[1]
    assert simulator.plots.compare_ecdf(cmp, "latency", ax=axes[2]) is axes[2]
    assert len(axes[0].lines) >= 3  # recorded, lognormal, exponential
    plt.close(fig)


def test_iso_timestamps_and_minimal_columns(tmp_path: Path) -> None:
    rows = [
        ("t1", "r1", "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", "finished"),
        ("t2", "r1", "2024-05-01T10:06:00Z", "2024-05-01T10:16:00Z", "finished"),
        ("t3", "r2", "2024-05-01T10:07:30Z", "2024-05-01T10:10:30Z", "progress_timeout"),
        ("t3", "r1", "2024-05-01T10:17:00Z", "2024-05-01T10:20:00Z", "finished"),
        ("t4", "r2", "2024-05-01T11:00:00Z", "2024-05-01T11:30:00Z", "finished"),
    ]
    path = tmp_path / "a.csv"
    path.write_text(
        "task_id,runner,assigned_at,ended_at,outcome\n"
        + "\n".join(",".join(r) for r in rows)
        + "\n"
    )
    obs = simulator.read_observed(path)
    assert obs.origin is not None and obs.origin.startswith("2024-05-01T10:00:00")
    assert obs.attempts["ended_at"].tolist()[:2] == [300.0, 960.0]
    assert obs.tasks == 4 and math.isclose(obs.span, 5400.0)


BAD = [
    (
        "task_id,runner,assigned,ended_at,outcome\n1,r,0,5,finished\n",
        ["'assigned_at' is missing", "Did you mean 'assigned'?"],
    ),
    (
        "task_id,runner,assigned_at,ended_at,outcome\n1,r,0,5,finished\n2,r,3,x9,finished\n",
        ["line 3", "ended_at", "'x9'"],
    ),
    (
        "task_id,runner,assigned_at,ended_at,outcome\n1,r,0,5,finished\n2,r,3,9,finised\n",
        ["line 3", "outcome", "Did you mean 'finished'?"],
    ),
    (
        "task_id,runner,assigned_at,ended_at,outcome\n1,r,10,5,finished\n",
        ["line 2", "ended_at (5 s) is before assigned_at (10 s)"],
    ),
    (
        "task_id,runner,assigned_at,ended_at,outcome\n1,r,0,2024-05-01T10:00:00Z,finished\n",
        ["mix ISO-8601 timestamps"],
    ),
    ("task_id,runner,assigned_at,ended_at,outcome\n", ["no attempts"]),
    ("", ["is empty"]),
]


@pytest.mark.parametrize(("text", "expected"), BAD)
def test_bad_input_exits_2_with_file_line_and_field(
    text: str, expected: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code = main(["fit", str(path), "--out", str(tmp_path / "f.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and str(path) in err
    for piece in expected:
        assert piece in err, err
    assert not (tmp_path / "f.yaml").exists()
    scenario = tmp_path / "s.yaml"
    scenario.write_text(FLEET)
    assert main(["compare", str(scenario), str(path), "-n", "2"]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "f.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "x" / "f.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_holm_controls_the_family() -> None:
    def row(p: float) -> MetricComparison:
        return MetricComparison("m", "", 0, 0, 0, 0, 0, 0, p, p, "consistent")

    rows = [row(0.01), row(0.04), row(0.03), row(0.5)]
    _holm(rows, 0.05)
    assert [r.verdict for r in rows] == ["differs", "consistent", "consistent", "consistent"]
    assert np.allclose([r.p_holm for r in rows], [0.04, 0.09, 0.09, 0.5])


def test_dispersion_flags_bursty_arrivals(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    # Bursts: 40 tasks at the top of every other hour, none in between.
    times = np.concatenate([h * 3600 + rng.uniform(0, 60, 40) for h in range(0, 24, 2)])
    lines = [f"t{i},r{i % 5},{t:.1f},{t + 100:.1f},finished" for i, t in enumerate(times)]
    path = tmp_path / "bursty.csv"
    path.write_text("task_id,runner,assigned_at,ended_at,outcome\n" + "\n".join(lines) + "\n")
    cal = simulator.fit_observed(path)
    arrivals = cal.workloads[0].arrivals
    assert not arrivals.poisson_plausible and arrivals.dispersion > 1
    assert any("kind: profile" in w for w in cal.warnings)
    assert yaml.safe_load(yaml.safe_dump(cal.data))["workload"][0]["arrivals"]["kind"] == "poisson"
