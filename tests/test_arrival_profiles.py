"""Load that changes (issue 16): rate profiles and replayed traces.

- A profile is an exact non-homogeneous Poisson process: the arrivals of each segment, over all
  repetitions of the period, are a Poisson count with mean rate x exposure (the closed form of
  `arrival_profile.segment_loads`); within a segment they are uniform in time.
- A trace replays its recorded times exactly, relative to the earliest.
- Bad profiles and arrival files are refused by `leasesim validate` with exit status 2 and the
  file, line and field; a bad cell's message does not repeat the cell.
- The estimates see the profile: expected counts, the mean rate, the peak rate in the call rates,
  the size guard's task count.

Every interval is wide enough (two-sided 1e-6) to hold for any seed.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest
from builders import BASE, make_scenario, merge
from scipy import stats

import simulator
import simulator.cli as cli
from simulator import arithmetic, arrival_profile
from simulator.analytic.estimates import estimates
from simulator.experiments import guards
from simulator.scenario.load import load_scenario_dict, scenario_to_dict, scenario_warnings
from simulator.scenario.rates import call_rates
from simulator.scenario.schema import Poisson, Profile, Scenario

HOUR, DAY = 3600.0, 86400.0
NIGHTLY = [["0h", "20/h"], ["2h", "400/h"], ["5h", "40/h"]]
ALPHA = 1e-6  # two-sided: a false failure once in a million runs

# Short tasks and enough threads that the peak (400/h x 10 s) never queues: the run is cheap.
FLEET = [{"name": "etl", "worker_group": "wg", "runners": 4, "threads": 2, "start_spread": 0}]


def profile_scenario(mode: str, duration: str = "2d12h", **arrivals: object) -> Scenario:
    spec = {"kind": "profile", "period": "1d", "rates": NIGHTLY, **arrivals}
    return Scenario.model_validate(merge(BASE, {
        "duration": duration, "seed": 5, "fleet": FLEET,
        "simulation": {"mode": mode, "check_invariants": False},
        "workload": [{"name": "batch", "worker_group": "wg", "arrivals": spec,
                      "duration": {"dist": "fixed", "value": "10s"}}],
    }))  # fmt: skip


def poisson_interval(mean: float) -> tuple[float, float]:
    low, high = stats.poisson.interval(1 - ALPHA, mean)
    return float(low), float(high)


# --- the closed forms -----------------------------------------------------------------------------


def test_segment_loads_count_whole_and_partial_periods() -> None:
    points = [(0.0, 20 / HOUR), (2 * HOUR, 400 / HOUR), (5 * HOUR, 40 / HOUR)]
    loads = arrival_profile.segment_loads(DAY, points, 2.5 * DAY)  # 2 days and 12 hours
    assert [round(s.exposure / HOUR, 9) for s in loads] == [2 * 2 + 2, 2 * 3 + 3, 2 * 19 + 7]
    assert [round(s.expected, 9) for s in loads] == [120.0, 3600.0, 1800.0]
    total = arrival_profile.expected_before(DAY, points, [2.5 * DAY])[0]
    assert total == pytest.approx(sum(s.expected for s in loads))
    assert arrival_profile.per_period(DAY, points) == pytest.approx(40 + 1200 + 760)
    assert arrival_profile.peak_rate(points) == pytest.approx(400 / HOUR)
    assert arrival_profile.mean_rate(DAY, points) == pytest.approx(2000 / DAY)
    # A run shorter than the period sees only what it covers: 3 h = 2 h at 20/h + 1 h at 400/h.
    assert arrival_profile.mean_rate(DAY, points, 3 * HOUR) == pytest.approx(440 / (3 * HOUR))


def test_held_work_matches_the_poisson_formula_and_a_fine_sum() -> None:
    # A flat profile is a Poisson process: rate x (hold x T - hold^2 / 2).
    rate, horizon, hold = 0.01, 10 * HOUR, 600.0
    flat = arrival_profile.held_work(HOUR, [(0.0, rate)], horizon, hold)
    assert flat == pytest.approx(rate * (hold * horizon - hold**2 / 2))
    # The nightly profile, against a Riemann sum of rate(t) x min(hold, T - t).
    points = [(0.0, 20 / HOUR), (2 * HOUR, 400 / HOUR), (5 * HOUR, 40 / HOUR)]
    horizon, hold = 2 * HOUR + 1800, 3 * HOUR
    t = np.linspace(0, horizon, 2_000_001)[:-1] + horizon / 4_000_000
    rate_at = np.where(t % DAY < 2 * HOUR, 20 / HOUR, np.where(t % DAY < 5 * HOUR, 400 / HOUR,
                                                                 40 / HOUR))  # fmt: skip
    riemann = float(np.sum(rate_at * np.minimum(hold, horizon - t)) * horizon / len(t))
    assert arrival_profile.held_work(DAY, points, horizon, hold) == pytest.approx(riemann, rel=1e-6)


def test_arithmetic_and_estimates_see_the_profile() -> None:
    scenario = profile_scenario("exact")
    arrivals = scenario.workload[0].arrivals
    assert isinstance(arrivals, Profile)
    assert arithmetic.arrivals_before(arrivals, 2.5 * DAY) == pytest.approx(5520.0)
    assert arithmetic.submitted_before(arrivals, [DAY, 2 * HOUR]).tolist() == pytest.approx(
        [2000.0, 40.0]
    )
    assert arithmetic.arrival_rate(arrivals, 2.5 * DAY) == pytest.approx(5520 / (2.5 * DAY))
    assert arithmetic.peak_arrival_rate(arrivals, 2.5 * DAY) == pytest.approx(400 / HOUR)
    assert guards.estimate(scenario).tasks == pytest.approx(5520.0)
    found = estimates(scenario)
    assert found["tasks_submitted"].applies and found["tasks_submitted"].exact
    assert found["tasks_submitted"].value == pytest.approx(5520.0)
    assert not found["queue_wait_mean_s"].applies  # no steady state
    assert "rate that changes" in found["queue_wait_mean_s"].why_not
    # The call rates (throttle warnings) take the peak: as a Poisson workload at 400/h would.
    poisson = Poisson(kind="poisson", rate=400 / HOUR)
    workload = scenario.workload[0].model_copy(update={"arrivals": poisson})
    peak = scenario.model_copy(update={"workload": (workload,)})
    here, there = call_rates(scenario), call_rates(peak)
    assert (here.progress, here.status, here.in_progress) == pytest.approx(
        (there.progress, there.status, there.in_progress)
    )


def test_a_peak_beyond_the_threads_is_a_warning_when_the_mean_is_not() -> None:
    scenario = Scenario.model_validate(merge(BASE, {
        "fleet": [{"runners": 1, "threads": 2}],
        "workload": [{"arrivals": {"kind": "profile", "period": "1d",
                                   "rates": [["0h", "2/h"], ["2h", "40/h"], ["5h", "2/h"]]}}],
    }))  # fmt: skip
    notes = [str(w) for w in scenario_warnings(scenario)]
    # mean: 2/h x 21 h + 40/h x 3 h = 162 a day, 6.75/h x 10 min = 1.1 threads of 2 (56 %);
    # the peak 40/h x 10 min = 6.7 threads.
    assert any("busiest segment" in n and "6.7 threads' worth" in n for n in notes), notes
    flat = make_scenario(workload=[{"arrivals": {"kind": "poisson", "rate": "6/h"}}])
    assert not any("busiest segment" in str(w) for w in scenario_warnings(flat))


# --- the model ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_arrivals_per_segment_are_poisson_with_the_closed_form_mean(mode: str) -> None:
    scenario = profile_scenario(mode)
    result = simulator.run(scenario)
    submitted = result.tables["tasks"]["submitted_at"].to_numpy()
    arrivals = scenario.workload[0].arrivals
    assert isinstance(arrivals, Profile)
    starts = np.array([s for s, _ in arrivals.rates])
    segment = np.searchsorted(starts, submitted % arrivals.period, side="right") - 1
    for load in arrival_profile.segment_loads(arrivals.period, arrivals.rates, scenario.duration):
        n = int(np.sum(segment == load.index))
        low, high = poisson_interval(load.expected)
        assert low <= n <= high, (mode, load, n)
        # Given their number, a Poisson process's arrivals in a segment are uniform over it.
        inside = submitted[segment == load.index] % arrivals.period
        whole = inside[submitted[segment == load.index] < 2 * DAY]
        p = stats.kstest(whole, stats.uniform(load.start, load.end - load.start).cdf).pvalue
        assert p > ALPHA, (mode, load, p)


def test_fast_and_exact_submit_the_same_tasks() -> None:
    exact = simulator.run(profile_scenario("exact", duration="1d"))
    fast = simulator.run(profile_scenario("fast", duration="1d"))
    a, b = exact.tables["tasks"]["submitted_at"], fast.tables["tasks"]["submitted_at"]
    assert a.tolist() == b.tolist()


# --- files ----------------------------------------------------------------------------------------


def write_scenario(folder: Path, arrivals: str, duration: str = "2h") -> Path:
    path = folder / "scenario.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: arrivals
        duration: {duration}
        service: {{throttle: null}}
        fleet:
          - {{name: etl, worker_group: wg, runners: 2, threads: 2}}
        workload:
          - name: batch
            worker_group: wg
            arrivals: {arrivals}
            duration: 30s
        """), encoding="utf-8")  # fmt: skip
    return path


@pytest.mark.parametrize("mode", ["exact", "fast"])
def test_a_trace_replays_the_recorded_times(tmp_path: Path, mode: str) -> None:
    (tmp_path / "submissions.csv").write_text(
        "id,submitted_at\n"
        "1,2026-01-05T02:00:30+00:00\n"
        "2,2026-01-05T01:59:00Z\n"  # the earliest: time 0 (rows need not be in order)
        "3,2026-01-05T03:00:00+01:00\n"  # = 02:00 UTC
        "\n"
        "4,2026-01-05T01:59:00Z\n"  # two at once
        "5,2026-01-05T04:00:00Z\n",  # after the run's 2 h: never submitted
        encoding="utf-8",
    )
    path = write_scenario(tmp_path, "{kind: trace, file: submissions.csv, column: submitted_at}")
    scenario = simulator.load_scenario(path, [f"simulation.mode={mode}"])
    assert scenario.workload[0].arrivals.times == (0.0, 0.0, 60.0, 90.0, 7260.0)
    submitted = simulator.run(scenario).tables["tasks"]["submitted_at"].tolist()
    assert submitted == [0.0, 0.0, 60.0, 90.0]


def test_a_trace_of_seconds_is_relative_to_the_earliest(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("at\n1767578400\n1767578460.5\n1767578399\n", "utf-8")
    path = write_scenario(tmp_path, "{kind: trace, file: t.csv, column: at}")
    assert simulator.load_scenario(path).workload[0].arrivals.times == (0.0, 1.0, 61.5)


def test_a_profile_file_gives_the_inline_profile(tmp_path: Path) -> None:
    (tmp_path / "hourly.csv").write_text(
        "start,rate,comment\n0h,20/h,quiet\n2h,400/h,nightly ETL\n\n5h,40/h,\n", "utf-8"
    )
    from_file = simulator.load_scenario(
        write_scenario(tmp_path, "{kind: profile, period: 1d, file: hourly.csv}")
    )
    inline = simulator.load_scenario(write_scenario(
        tmp_path, "{kind: profile, period: 1d, rates: [[0h, 20/h], [2h, 400/h], [5h, 40/h]]}"
    ))  # fmt: skip
    assert from_file.workload[0].arrivals.rates == inline.workload[0].arrivals.rates
    # A manifest keeps the rates inline: loading it back needs no file.
    data = scenario_to_dict(from_file)
    (tmp_path / "hourly.csv").unlink()
    assert load_scenario_dict(data, base_dir=tmp_path) == from_file


def test_the_shipped_example_profile_is_valid() -> None:
    root = Path(__file__).resolve().parents[1] / "scenarios"
    data = merge(BASE, {"workload": [{"arrivals": {
        "kind": "profile", "period": "1d", "file": "nightly-etl-rates.csv"}}]})  # fmt: skip
    scenario = load_scenario_dict(data, base_dir=root)
    arrivals = scenario.workload[0].arrivals
    assert isinstance(arrivals, Profile) and len(arrivals.rates) == 24
    assert arrival_profile.peak_rate(arrivals.rates) == pytest.approx(400 / HOUR)


# --- bad input: `leasesim validate`, exit 2, file and line ----------------------------------------


def validate(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str]:
    status = cli.main(["validate", str(path)])
    out, err = capsys.readouterr()
    return status, out + err


BAD_INLINE = [
    ("[[0h, 20/h], [5h, 400/h], [2h, 40/h]]", "rates[2][0]", "strictly ascending"),
    ("[[0h, 20/h], [2h, -5/h]]", "rates[1][1]", "greater than or equal to 0"),
    ("[[1h, 20/h], [2h, 5/h]]", "rates[0][0]", "must start at 0"),
    ("[[0h, 20/h], [25h, 5/h]]", "rates[1][0]", "outside the period"),
    ("[[0h, 0/h]]", "rates[0]", "every rate is 0"),
    ("[[0h, 20/h, 3]]", "rates[0]", "[start, rate] pair"),
    ("[]", "rates", "needs `rates:"),
]


@pytest.mark.parametrize(("rates", "field", "words"), BAD_INLINE)
def test_bad_inline_profiles_name_the_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rates: str, field: str, words: str
) -> None:
    path = write_scenario(tmp_path, f"{{kind: profile, period: 1d, rates: {rates}}}")
    status, text = validate(capsys, path)
    assert status == 2, text
    assert f"scenario.yaml, line 9: workload[batch].arrivals.{field}:" in text, text
    assert words in text, text


SECRET = "sk-live-0000"  # a cell that must not be echoed

BAD_FILES = [
    # (file text, arrivals, field, line of the file named or None, words)
    ("start,rate\n0h,20/h\n5h,400/h\n2h,40/h\n", "{kind: profile, period: 1d, file: f.csv}",
     "time_column", 4, "strictly ascending"),
    ("start,rate\n0h,20/h\n2h,-400/h\n", "{kind: profile, period: 1d, file: f.csv}",
     "rate_column", 3, "0 or more"),
    ("begin,rate\n0h,20/h\n", "{kind: profile, period: 1d, file: f.csv}",
     "time_column", None, "has no column 'start'"),
    ("start,per_hour\n0h,20/h\n", "{kind: profile, period: 1d, file: f.csv, rate_column: rates}",
     "rate_column", None, "has no column 'rates'"),
    (f"start,rate\n0h,20/h\n2h,{SECRET}\n", "{kind: profile, period: 1d, file: f.csv}",
     "rate_column", 3, "not a rate"),
    (f"start,rate\n0h,20/h\n{SECRET},1/h\n", "{kind: profile, period: 1d, file: f.csv}",
     "time_column", 3, "not a start time"),
    (f"at\n2026-01-05T02:00:00Z\n{SECRET}\n", "{kind: trace, file: f.csv, column: at}",
     "column", 3, "not a time"),
    ("at\n2026-01-05T02:00:00Z\n2026-01-05T02:00:00\n", "{kind: trace, file: f.csv, column: at}",
     "column", 3, "every row must hold the same kind"),
    ("at\n12\n2026-01-05T02:00:00Z\n", "{kind: trace, file: f.csv, column: at}",
     "column", 3, "same kind"),
    ("at\n\n", "{kind: trace, file: f.csv, column: at}", "column", None, "has no values"),
    ("id,at\n1,5\n", "{kind: trace, file: f.csv, column: submitted_at}",
     "column", None, "has no column 'submitted_at'"),
    (None, "{kind: trace, file: f.csv, column: at}", "file", None, "does not exist"),
]  # fmt: skip


@pytest.mark.parametrize(("csv_text", "arrivals", "field", "line", "words"), BAD_FILES)
def test_bad_arrival_files_name_file_line_and_column_without_echoing_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
    csv_text: str | None, arrivals: str, field: str, line: int | None, words: str,
) -> None:  # fmt: skip
    if csv_text is not None:
        (tmp_path / "f.csv").write_text(csv_text, encoding="utf-8")
    status, text = validate(capsys, write_scenario(tmp_path, arrivals))
    assert status == 2, text
    assert f"scenario.yaml, line 9: workload[batch].arrivals.{field}:" in text, text
    if line is not None:
        assert f"'f.csv', line {line}, column " in text, text
    assert words in text, text
    assert SECRET not in text, text
