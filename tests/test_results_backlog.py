"""A run with a huge backlog is unmistakable (issue 13, B1).

gc-pauses.yaml with `progress_interval: 5m` against a 3-minute lease finishes almost nothing: before
the fix its duplicated_fraction (over ended tasks) was 0 and it looked best. Now the fractions count
started tasks, the backlog is measured, and health flags name the problem in every summary.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import pytest

import simulator.cli as cli
from simulator.experiments.replicate import HealthWarning, replicate
from simulator.experiments.runs import run
from simulator.results import Flag, flags, health
from simulator.results.health import FLAG_NAMES

GC_PAUSES = str(Path(__file__).resolve().parents[1] / "scenarios" / "gc-pauses.yaml")
BROKEN = ["fleet.jvm.progress_interval=5m"]


@pytest.fixture(scope="module")
def broken() -> dict[str, float]:
    return run(GC_PAUSES, overrides=BROKEN).summary


def test_broken_setting_is_flagged_and_its_fractions_are_not_zero(broken: dict) -> None:
    assert broken["backlog_fraction"] > 0.9
    assert broken["backlog_growth"] > 0.8 and broken["backlog_growth_per_h"] > 20
    # Over started tasks: most were reassigned, some duplicated (was 0.0 over ended tasks).
    assert broken["duplicated_fraction"] > 0.01
    assert broken["reassigned_fraction"] > 0.8
    assert [f.name for f in flags(broken)] == ["backlog_grows", "most_attempts_reassigned"]


def test_default_setting_is_not_flagged() -> None:
    s = run(GC_PAUSES).summary
    assert flags(s) == []
    assert s["backlog_fraction"] < 0.05 and abs(s["backlog_growth"]) < 0.1


def test_a_stable_short_run_with_long_tasks_is_not_flagged() -> None:
    """60 % load, 1 h tasks, 8 h runs: the unfinished count moves a lot, but the mean summary is
    not flagged, and single runs only rarely (the noise guard)."""
    from builders import make_scenario

    scenario = make_scenario(
        duration="8h", fleet=[{"runners": 10, "threads": 1}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "6/h"},
                   "duration": {"dist": "exponential", "mean": "1h"}}],
    )  # fmt: skip
    reps = replicate(scenario, 40, seed=2)
    assert reps.flags == []
    assert sum(bool(flags(s)) for s in reps.summaries) <= 4


def test_flags_of_missing_or_nan_metrics_are_empty() -> None:
    assert flags({}) == []
    assert flags(dict.fromkeys(("backlog_growth", "backlog_fraction", "attempts"), math.nan)) == []
    assert health.flags is flags
    assert set(FLAG_NAMES) == {"backlog_grows", "most_attempts_reassigned"}


def test_most_attempts_reassigned_threshold() -> None:
    assert flags({"reassignments": 50, "attempts": 100}) == []
    (flag,) = flags({"reassignments": 51, "attempts": 100})
    assert isinstance(flag, Flag) and flag.name == "most_attempts_reassigned"
    assert "51%" in flag.message


def test_every_summary_shows_the_flags(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(GC_PAUSES, overrides=BROKEN)
    assert [f.name for f in result.flags] == ["backlog_grows", "most_attempts_reassigned"]
    assert "WARNING: backlog_grows" in repr(result) and "backlog_fraction=" in repr(result)
    assert "WARNING backlog_grows" in result._repr_html_()
    reps = replicate(GC_PAUSES, 2, overrides=BROKEN)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = reps.summarize()
    assert {str(w.message).split(":")[1].strip() for w in caught
            if issubclass(w.category, HealthWarning)} == set(FLAG_NAMES)  # fmt: skip
    assert [f.name for f in frame.attrs["flags"]] == list(FLAG_NAMES)
    assert "backlog_fraction" in set(frame["metric"])
    code = cli.main(["run", GC_PAUSES, "-n", "2", "--set", BROKEN[0]])
    out = capsys.readouterr().out
    assert code == 0
    assert "WARNING backlog_grows:" in out and "WARNING most_attempts_reassigned:" in out
    # pending and backlog sit in the table beside the fractions
    lines = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert lines.index("backlog_fraction") + 3 == lines.index("reassigned_fraction")


def test_sweep_frames_carry_the_backlog_metrics() -> None:
    from simulator.experiments.sweep import sweep

    frame = sweep(GC_PAUSES, {"fleet.jvm.progress_interval": ["30s", "5m"]}, 1, executor="serial",
                  overrides=["duration=4h"])  # fmt: skip
    for column in ("backlog_fraction", "backlog_growth", "backlog_growth_per_h"):
        assert column in frame.columns
