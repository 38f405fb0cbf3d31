"""Size guards: the event and memory estimates against real runs and closed forms, the refusal
message, the limits from the environment, and `leasesim run --force`."""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import pytest

import simulator.cli as cli
from simulator.errors import LeasesimError
from simulator.experiments.guards import (
    DEFAULT_MAX_EVENTS,
    REPLICATION_EVENTS,
    Estimate,
    Limits,
    check,
    estimate,
    guard,
)
from simulator.experiments.runs import run
from simulator.scenario.load import load_scenario, load_scenario_dict
from simulator.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
AWS = ROOT / "scenarios" / "aws-defaults.yaml"
LOOSE = Limits(max_events=DEFAULT_MAX_EVENTS, max_memory=4e9)  # fixed, whatever the machine


def _ratio(scenario: Scenario) -> float:
    """Estimated over real SimPy events of replication 0."""
    real = run(scenario, replication=0).meta["events"]
    return estimate(scenario).events / real


# --- calibration against real runs -----------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_event_estimate_is_within_a_factor_of_two_of_the_shipped_scenarios(path: Path) -> None:
    # throttled-fleet is 1,600 busy threads: half an hour of it keeps this test fast (the full
    # two hours are in the slow test below).
    overrides = ["duration=30m"] if path.stem == "throttled-fleet" else []
    assert 0.5 <= _ratio(load_scenario(path, overrides)) <= 2.0


VARIANTS = {
    "call latency": ["service.call_latency=200ms"],
    "fast mode": ["simulation.mode=fast", "service.throttle=null"],
    "fast mode with loss": ["simulation.mode=fast", "service.throttle=null",
                            "fleet.etl.faults.message_loss=0.2"],
    "fast mode renewing heartbeats": ["simulation.mode=fast", "service.throttle=null",
                                      "service.heartbeat_renews_leases=true"],
    "overload": ["workload.batch.arrivals.rate=200/h"],
    "periodic batches": ["workload.batch.arrivals={kind: periodic, every: 30m, batch: 10}"],
    "listed times": ["workload.batch.arrivals={kind: times, times: [0, 0, 1h, 5h]}"],
    "frequent pauses": ["fleet.etl.faults.pause.rate=4/h"],
    "frequent crashes": ["fleet.etl.faults.crash.rate=2/h"],
    "failures and retries": ["workload.batch.failure_probability=0.5",
                             "workload.batch.retry_delay=0"],
    "loss and partitions": ["fleet.etl.faults.message_loss=0.3",
                            "fleet.etl.faults.partition.rate=6/h",
                            "fleet.etl.faults.partition.duration=2m"],
    "report past the lease": ["service.lease_reading=5min", "fleet.etl.progress_interval=6m"],
    "jittered reports": ["fleet.etl.progress_interval=10s", "fleet.etl.progress_jitter=5s"],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", VARIANTS)
def test_event_estimate_holds_for_variants(name: str) -> None:
    scenario = load_scenario(AWS, ["duration=6h", *VARIANTS[name]])
    assert 0.5 <= _ratio(scenario) <= 2.0


@pytest.mark.slow
def test_event_estimate_of_the_full_throttled_fleet() -> None:
    assert 0.5 <= _ratio(load_scenario(ROOT / "scenarios" / "throttled-fleet.yaml")) <= 2.0


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        [],  # small: the fixed parts dominate
        ["duration=10m", "fleet.etl.runners=1000", "workload.batch.arrivals.rate=1/h"],  # runners
        ["duration=1h", "fleet.etl.runners=20", "fleet.etl.threads=100", "service.throttle=null",
         "workload.batch.arrivals.rate=10000/h", "workload.batch.duration=1s"],  # records
    ],
    ids=["aws-defaults", "many-runners", "many-records"],
)  # fmt: skip
def test_memory_estimate_is_within_a_factor_of_two_of_tracemalloc(overrides: list[str]) -> None:
    scenario = load_scenario(AWS, overrides)
    tracemalloc.start()
    try:
        assert run(scenario, replication=0).summary  # the log, then its tables and metrics
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # The closed-form estimates (run and report print them) are not made here.
    found = estimate(scenario)
    assert 0.5 <= (found.memory - found.memory_by_source["closed-form report schedule"]) / peak <= 2


# --- closed forms -----------------------------------------------------------------------------


def _one_thread(arrivals: dict[str, object], work: str, horizon: str) -> Scenario:
    """One runner with one thread, no faults, no throttle: every term of the estimate is known."""
    return load_scenario_dict({
        "duration": horizon, "service": {"throttle": None},
        "fleet": [{"name": "g", "worker_group": "wg", "runners": 1, "threads": 1,
                   "progress_interval": "60s", "runner_heartbeat_interval": "15m"}],
        "workload": [{"name": "w", "worker_group": "wg", "arrivals": arrivals, "duration": work,
                      "max_retries": 0}],
    })  # fmt: skip


def test_periodic_arrivals_count_batches_before_the_end_and_work_cut_by_it() -> None:
    # Batches at 30m, 90m, ..., 270m of a 5 h run (5 batches of 3); each task holds a thread for
    # 2 h, but the last two batches only until the end: 2 + 2 + 2 + 1.5 + 0.5 hours, times 3.
    e = estimate(_one_thread({"kind": "periodic", "every": "1h", "batch": 3, "offset": "30m"},
                             "2h", "5h"))  # fmt: skip
    assert e.tasks == 15 and e.events_by_source["arrivals"] == 5
    # One thread can do at most the 5 hours of the run: 5 h / 60 s reports.
    assert e.events_by_source["progress reports"] == pytest.approx(5 * 3600 / 60)
    e = estimate(_one_thread({"kind": "periodic", "every": "10h", "batch": 1}, "2h", "5h"))
    assert e.tasks == 1 and e.events_by_source["progress reports"] == pytest.approx(2 * 3600 / 60)
    # Idle the other 3 hours: a 90 s long poll, each a timer and a reply.
    assert e.events_by_source["idle polls"] == pytest.approx(2 * 3 * 3600 / 90)


def test_poisson_work_is_the_integral_of_the_cut_hold() -> None:
    # rate * integral_0^T min(h, s) ds = rate * (h T - h^2 / 2): 1/h * (1 h * 10 h - 0.5 h^2).
    e = estimate(_one_thread({"kind": "poisson", "rate": "1/h"}, "1h", "10h"))
    assert e.tasks == pytest.approx(10)
    assert e.events_by_source["progress reports"] == pytest.approx(9.5 * 3600 / 60)
    assert e.events_by_source["heartbeats"] == pytest.approx(10 * 3600 / 900)


def test_listed_times_after_the_end_are_not_counted() -> None:
    e = estimate(_one_thread({"kind": "times", "times": [0, 0, "1h", "9h"]}, "30m", "5h"))
    assert e.tasks == 3 and e.events_by_source["arrivals"] == 2  # two distinct times
    assert e.events_by_source["progress reports"] == pytest.approx(1.5 * 3600 / 60)


def test_retries_multiply_attempts_geometrically() -> None:
    data = {"failure_probability": 0.5, "max_retries": 2}
    base = _one_thread({"kind": "poisson", "rate": "1/h"}, "1m", "10h").model_dump(mode="json")
    base["workload"][0].update(data)
    e = estimate(load_scenario_dict(base))
    assert e.attempts == pytest.approx(10 * (1 + 0.5 + 0.25))


def test_memory_grows_with_runners_and_records() -> None:
    small = estimate(load_scenario(AWS))
    more_runners = estimate(load_scenario(AWS, ["fleet.etl.runners=1000"]))
    longer = estimate(load_scenario(AWS, ["duration=10d"]))
    assert more_runners.memory > small.memory and longer.memory > small.memory
    assert longer.memory_by_source["task and attempt records"] == pytest.approx(
        10 * small.memory_by_source["task and attempt records"]
    )


def test_replications_multiply_events_not_memory() -> None:
    one, ten = estimate(load_scenario(AWS), 1), estimate(load_scenario(AWS), 10)
    assert ten.total_events == pytest.approx(10 * one.total_events)
    assert ten.memory == one.memory


def test_beyond_any_float_the_estimate_is_infinite_not_an_error() -> None:
    huge = load_scenario(AWS, ["fleet.etl.runners=" + "9" * 400])
    assert estimate(huge).events == math.inf
    flood = load_scenario(AWS, ["workload.batch.arrivals.rate=1e308", "fleet.etl.faults={}"])
    e = estimate(flood)
    assert e.events == math.inf and e.memory == math.inf  # inf * 0 never hides as NaN
    for n in (1, 1_000_000):  # refused with words, not a NaN on the way to "-n N fits"
        with pytest.raises(LeasesimError, match="astronomical"):
            guard(huge, n, LOOSE)


# --- the guard ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_the_shipped_scenarios_pass_the_default_limits(path: Path) -> None:
    scenario = load_scenario(path)
    found = guard(scenario, scenario.replications, LOOSE, str(path))
    assert isinstance(found, Estimate)


def _refusal(scenario: Scenario, replications: int, limits: Limits, **kw: object) -> LeasesimError:
    with pytest.raises(LeasesimError) as info:
        guard(scenario, replications, limits, "big.yaml", **kw)  # type: ignore[arg-type]
    assert info.value.code == "LIMIT_EXCEEDED"
    return info.value


def test_too_many_events_are_refused_with_the_estimate_and_ways_forward() -> None:
    scenario = load_scenario(AWS, ["service.throttle=null"])  # fast mode applies without it
    per_rep = estimate(scenario).events
    # Each replication's fixed cost counts too (a million tiny ones are not free).
    err = _refusal(scenario, 10, Limits(max_events=3 * (per_rep + REPLICATION_EVENTS),
                                        max_memory=4e9))  # fmt: skip
    text = err.message
    assert text.startswith("big.yaml: not started: it would schedule about ")
    assert "10 replications x " in text and "progress reports" in text
    assert "LEASESIM_MAX_EVENTS" in text and "of computing" in text
    # Each way forward gives a figure that fits: 3 replications, or 3/10 of the day less 10 %
    # (6.48 h, rounded down to whole hours).
    assert "fewer replications (-n 3 fits)" in text
    assert "--set duration=6h fits" in text
    assert "--set simulation.mode=fast" in text
    assert "--force" in text and "\n" not in text  # one paragraph
    (detail,) = err.details
    assert detail["file"] == "big.yaml"
    assert detail["estimate"]["replications"] == 10
    assert detail["estimate"]["events_per_replication"] == round(per_rep)
    json.dumps(err.to_dict())


def test_fast_mode_is_not_offered_when_it_cannot_help() -> None:
    travelling = load_scenario(AWS, ["service.call_latency=200ms"])  # each report an event
    err = _refusal(travelling, 1, Limits(max_events=1000, max_memory=4e9))
    assert "simulation.mode=fast" not in err.message
    fast = load_scenario(AWS, ["service.throttle=null", "simulation.mode=fast"])
    err = _refusal(fast, 1, Limits(max_events=1000, max_memory=4e9))
    assert "simulation.mode=fast" not in err.message


def test_too_much_memory_is_refused_and_workers_multiply_it() -> None:
    scenario = load_scenario(AWS)
    one = estimate(scenario).memory
    guard(scenario, 4, Limits(max_events=1e12, max_memory=1.5 * one))  # serial: one at a time
    err = _refusal(scenario, 4, Limits(max_events=1e12, max_memory=1.5 * one), workers=4)
    assert "x 4 running at once" in err.message and "LEASESIM_MAX_MEMORY" in err.message
    assert "fewer replications running at once" in err.message


def test_a_sweep_adds_the_events_of_its_points() -> None:
    points = [estimate(load_scenario(AWS), 2), estimate(load_scenario(AWS, ["duration=2d"]), 2)]
    total = sum(p.total_events for p in points)
    check(points, Limits(max_events=total * 1.01, max_memory=4e9))
    with pytest.raises(LeasesimError, match="over 2 points"):
        check(points, Limits(max_events=total * 0.99, max_memory=4e9))


# --- limits from the environment ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "memory", "expected"),
    [
        ("2e9", "16GB", (2e9, 16e9)),
        ("500M", "512MB", (5e8, 5.12e8)),
        ("1.5e+9", "1GiB", (1.5e9, 2.0**30)),
        (" 7k ", "100", (7e3, 100)),
    ],
)
def test_limits_from_the_environment(events: str, memory: str, expected: tuple[float, float]):
    limits = Limits.from_environment(
        {"LEASESIM_MAX_EVENTS": events, "LEASESIM_MAX_MEMORY": memory}
    )
    assert (limits.max_events, limits.max_memory) == pytest.approx(expected)
    assert Limits.from_environment({}).max_events == DEFAULT_MAX_EVENTS


@pytest.mark.parametrize("text", ["lots", "-5", "0", "5 apples", "inf", "nan", "1e999"])
def test_bad_limits_name_the_variable(text: str) -> None:
    with pytest.raises(LeasesimError) as info:
        Limits.from_environment({"LEASESIM_MAX_MEMORY": text})
    assert info.value.code == "USAGE_ERROR"
    assert f"LEASESIM_MAX_MEMORY={text!r}" in info.value.message and "16GB" in info.value.message


# --- the command --------------------------------------------------------------------------------


def test_run_refuses_past_the_limit_and_force_runs_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEASESIM_MAX_EVENTS", "1000")
    argv = ["run", str(AWS), "-n", "2", "--set", "duration=2h"]
    assert cli.main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.startswith(f"error: {AWS}: not started") and "--force" in err

    assert cli.main([*argv, "--json"]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["error"]["code"] == "LIMIT_EXCEEDED"
    assert payload["error"]["details"][0]["estimate"]["replications"] == 2

    assert cli.main([*argv, "--force", "-q"]) == 0
    assert "aws-defaults: 2 replications" in capsys.readouterr().out


def test_run_with_a_bad_limit_variable_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEASESIM_MAX_MEMORY", "plenty")
    assert cli.main(["run", str(AWS), "--set", "duration=1h"]) == 2
    err = capsys.readouterr().err
    assert "LEASESIM_MAX_MEMORY='plenty'" in err and "Traceback" not in err


# --- what the guard missed (issue 19, item 8) ---------------------------------------------------


def _throttled_thread(backoff: str, horizon: str) -> Scenario:
    """One runner, one thread, a progress bucket far below its reports: every report backs off."""
    data = _one_thread({"kind": "periodic", "every": "10h", "batch": 1}, "10h", horizon)
    raw = data.model_dump(mode="json")
    raw["service"]["throttle"] = {"burst": 1, "progress": 1 / 3600}
    raw["fleet"][0]["backoff"] = {"base": backoff, "cap": backoff, "jitter": False}
    return load_scenario_dict(raw)


def test_throttled_retries_are_counted_and_match_the_model() -> None:
    scenario = _throttled_thread("2s", "1h")  # a retry every 2 s instead of a report a minute
    e = estimate(scenario)
    assert e.events_by_source["throttled retries"] > 1000
    assert 0.5 <= _ratio(scenario) <= 2.0


def test_a_millisecond_back_off_is_refused_not_run_for_ever() -> None:
    scenario = _throttled_thread("1ms", "1w")  # 600 million retries: days of computing
    err = _refusal(scenario, 1, Limits(max_events=DEFAULT_MAX_EVENTS, max_memory=4e9))
    assert "throttled retries" in err.message and "--force" in err.message


def test_the_closed_form_report_schedule_is_in_the_memory_estimate() -> None:
    from simulator.analytic import closed_form_section
    from simulator.experiments.replicate import replicate

    overrides = ["duration=1h", "service.throttle=null", "fleet.etl.progress_interval=1s"]
    scenario = load_scenario(AWS, overrides)
    frame = replicate(scenario, 2, 1, progress=False).summarize(warn=False)
    tracemalloc.start()
    try:
        closed_form_section(scenario, frame)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 0.5 <= estimate(scenario).memory_by_source["closed-form report schedule"] / peak <= 2
    fine = load_scenario(AWS, ["service.throttle=null", "simulation.mode=fast",
                               "fleet.etl.progress_interval=1ms"])  # fmt: skip
    err = _refusal(fine, 1, Limits(max_events=DEFAULT_MAX_EVENTS, max_memory=8e9))
    assert "closed-form report schedule" in err.message and "progress_interval" in err.message


def test_a_million_tiny_replications_are_refused_for_their_fixed_cost() -> None:
    scenario = load_scenario(AWS, ["duration=1s"])
    err = _refusal(scenario, 1_000_000, LOOSE)
    assert "1,000,000 replications x " in err.message and "set-up" in err.message
    assert "fewer replications (-n " in err.message
    assert "events" in err.details[0]["exceeded"]


def test_what_replications_keep_adds_up_and_tables_keep_more() -> None:
    scenario = load_scenario(AWS)
    summaries, tables = estimate(scenario, 10), estimate(scenario, 10, tables=True)
    assert tables.kept > 10 * summaries.kept
    limit = Limits(max_events=1e12, max_memory=summaries.memory + 1000 * summaries.kept)
    check([estimate(scenario, 900)], limit)
    with pytest.raises(LeasesimError, match="keep to the end"):
        check([estimate(scenario, 100_000)], limit)


def test_empirical_samples_are_counted_and_saving_them_must_fit_on_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import simulator.experiments.guards as guards

    raw = load_scenario(AWS).model_dump(mode="json")
    values = [float(v) for v in range(1, 100_001)]
    raw["workload"][0]["duration"] = {"dist": "empirical", "file": "x.csv", "column": "s",
                                      "values": values}  # fmt: skip
    scenario = load_scenario_dict(raw)
    e = estimate(scenario)
    assert e.memory_by_source["empirical samples"] >= 100_000 * 8
    assert e.output > 100_000 * 5  # scenario.json holds every sample, per replication
    monkeypatch.setattr(guards, "_free_space", lambda folder: 10 * e.output)
    check([estimate(scenario, 5)], LOOSE, out=tmp_path)
    with pytest.raises(LeasesimError, match="free there") as info:
        check([estimate(scenario, 20)], LOOSE, out=tmp_path)
    assert info.value.details[0]["exceeded"] == ["disk"]


def test_a_large_sweep_grid_is_estimated_from_a_sample_of_its_points() -> None:
    from simulator.experiments.guards import SWEEP_SAMPLE, sweep_parts

    base = load_scenario(AWS, ["sweep={fleet.etl.runners: {from: 1, to: 1000, steps: 1000}}"])
    parts, points = sweep_parts(base, 3)
    assert points == 1000 and len(parts) <= SWEEP_SAMPLE
    assert sum(n for _, n in parts) == pytest.approx(3000, rel=0.01)
    assert parts[-1][0].fleet[0].runners > parts[0][0].fleet[0].runners


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", str(AWS), "-n", "2", "--executor", "serial",
         "--set", "sweep={fleet.etl.runners: [5, 10]}"],
        ["report", str(AWS), "-n", "2"],
        ["recommend", str(AWS), "--vary", "fleet.etl.progress_interval=[30s, 1m]",
         "--require", "duplicated_fraction<=0.01", "-n", "2"],
        ["compare", str(AWS), "attempts.csv", "-n", "2"],  # refused before the record is read
    ],
    ids=["sweep", "report", "recommend", "compare"],
)  # fmt: skip
def test_every_simulating_command_is_guarded(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    monkeypatch.setenv("LEASESIM_MAX_EVENTS", "1000")
    if argv[0] == "report":
        argv = [*argv, "--out", str(tmp_path / "r.html")]
    assert cli.main([*argv, "--json"]) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["error"]["code"] == "LIMIT_EXCEEDED"
    assert "--force" in payload["error"]["message"]
    assert "LEASESIM_MAX_EVENTS" in payload["error"]["message"]
