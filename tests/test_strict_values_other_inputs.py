"""Numbers are numbers outside scenario files too (issue 19, item 4).

tests/test_strict_values.py checks the scenario loader and `--set`. Here the other places that
read numbers a person wrote follow the same rules, with one paragraph naming what to fix and
exit status 2 from the CLI:

- `recommend --vary PATH=RANGE` reads its YAML with the scenario loader's `scalars.Loader`: YAML
  1.1's look-alikes (010, 0x10, 1:30) are refused with what to write, not taken as 8, 16, 90;
- a `sweep:` range's `steps` is a number, not quoted text or a boolean;
- `fit --scenario BASE` reads the base as the loader read it (1e-3 is a number there);
- a list position in a path (`--set fleet.0...`, `--vary`) is ASCII digits: `fleet.０` is no entry;
- trace cells, whole-number flags (-n, --seed, ...), `compare --alpha`, `--target`, `--require`
  and `expect:` bounds, and the LEASESIM_* amounts refuse full-width (look-alike) digits, which
  Python's float() and int() read as numbers.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
from builders import make_scenario
from test_bad_input import BASE, line_of

import simulator
import simulator.cli as cli
from simulator.calibration.observed import read_observed
from simulator.errors import USAGE_ERROR, VALIDATION_ERROR, LeasesimError
from simulator.experiments import executors, guards
from simulator.recommendation.requirements import Requirement
from simulator.recommendation.space import axes, parse_vary
from simulator.scenario.load import load_scenario_with_source

FULL_WIDTH_TEN = "\uff11\uff10"  # "１０": float() and int() read it as 10


def run_cli(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out + err


def write(folder: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- --vary reads YAML as a scenario file does ----------------------------------------------------


@pytest.mark.parametrize(("vary", "says"), [
    ("fleet.etl.runners=[010, 20]", "010 has a leading zero: it is the octal number 8 in YAML 1.1"),
    ("fleet.etl.runners=[0x10, 20]", "0x10 is the hexadecimal number 16; scenario numbers are "
                                     "decimal: write 16."),
    ("fleet.etl.runners={from: 1, to: 0b101, steps: 3}", "0b101 is the binary number 5"),
    ("fleet.etl.progress_interval=[1:30, 2m]", "1:30 is the base-60 number 90 in YAML 1.1"),
])  # fmt: skip
def test_vary_refuses_yaml_look_alike_numbers(vary: str, says: str) -> None:
    with pytest.raises(LeasesimError) as info:
        axes(make_scenario(), [vary])
    assert info.value.code == USAGE_ERROR
    assert str(info.value).startswith(f"--vary {vary.partition('=')[0]}: "), str(info.value)
    assert says in str(info.value)


def test_vary_reads_numbers_as_the_scenario_file_does() -> None:
    # YAML 1.2 exponents are numbers; quoted text stays text (for the schema to judge).
    assert parse_vary("a.b=[1e3, 2.5e-3, '010']") == ("a.b", [1000.0, 0.0025, "010"])
    (runners,) = axes(make_scenario(), ["fleet.etl.runners=[10, 20]"])
    assert runners.values == (10, 20)


def test_recommend_refuses_a_look_alike_in_vary_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, BASE)
    status, text = run_cli(capsys, [
        "recommend", str(path), "--vary", "fleet.etl.runners=[010, 020]",
        "--require", "duplicated_fraction<=1e-3", "--minimize", "wasted_work_h", "-n", "2",
        "--executor", "serial",
    ])  # fmt: skip
    assert status == 2, text
    assert "010 has a leading zero" in text and "write 10 (or 8)" in text, text
    assert "Traceback" not in text


# --- sweep ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("steps", "says"), [
    ("'3'", "must be a number, not text"),
    ("yes", "must be a number, not a boolean"),
])  # fmt: skip
def test_sweep_range_steps_is_a_number(tmp_path: Path, steps: str, says: str) -> None:
    text = BASE + f"sweep:\n  fleet.etl.runners: {{from: 1, to: 4, steps: {steps}}}\n"
    with pytest.raises(LeasesimError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_scenario_with_source(write(tmp_path, text))
    (detail,) = info.value.details
    assert detail["field"] == "sweep.fleet.etl.runners.steps"
    assert detail["line"] == line_of(text, "steps:")
    assert says in str(detail["message"])


# --- fit --scenario reads the base as the loader did ----------------------------------------------

FIT_BASE = """\
name: fit-base
duration: 4h
seed: 3
fleet:
  - name: etl
    worker_group: w
    runners: 2
    threads: 4
    progress_interval: 30s
    faults:
      message_loss: 1e-3
workload:
  - name: reports
    worker_group: w
    arrivals: {kind: poisson, rate: 120/h}
    duration: {dist: lognormal, median: 2m, p95: 8m}
"""


def test_fit_keeps_a_base_number_the_loader_read(tmp_path: Path) -> None:
    # PyYAML's safe_load reads 1e-3 (no dot) as text, the scenario loader as 0.001: the fitted
    # scenario used to be refused ("must be a number, not text") for a base the loader accepted.
    base = write(tmp_path, FIT_BASE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = simulator.run(simulator.load_scenario(base), seed=4)
    record = tmp_path / "attempts.csv"
    simulator.simulated_record(result).to_csv(record, index=False)
    cal = simulator.fit_observed(record, base)
    assert cal.data["fleet"][0]["faults"]["message_loss"] == 0.001
    assert cal.scenario.fleet[0].faults.message_loss == 0.001
    fitted = cal.save(tmp_path / "fitted.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = simulator.load_scenario(fitted)
    assert again.fleet[0].faults.message_loss == 0.001


# --- trace cells ----------------------------------------------------------------------------------


def _trace_scenario(folder: Path, cells: list[str]) -> Path:
    (folder / "t.csv").write_text("at\n" + "\n".join(cells) + "\n", encoding="utf-8")
    return write(folder, textwrap.dedent("""\
        name: trace
        duration: 2h
        service: {throttle: null}
        fleet:
          - {name: etl, worker_group: wg, runners: 2, threads: 2}
        workload:
          - name: batch
            worker_group: wg
            arrivals: {kind: trace, file: t.csv, column: at}
            duration: {dist: fixed, value: 10s}
        """))


def test_a_trace_cell_in_full_width_digits_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _trace_scenario(tmp_path, ["5", FULL_WIDTH_TEN, "20"])
    status, text = run_cli(capsys, ["validate", str(path)])
    assert status == 2, text
    assert "scenario.yaml, line 9: workload[batch].arrivals.column:" in text, text
    assert "'t.csv', line 3, column 'at': not a time" in text, text
    assert "ASCII" in text and FULL_WIDTH_TEN not in text, text  # cells are never echoed


def test_a_trace_of_ascii_seconds_still_loads(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scenario = load_scenario_with_source(_trace_scenario(tmp_path, ["5", "10", "1e1"]))
    assert scenario.scenario.workload[0].arrivals.times == (0.0, 5.0, 5.0)


# --- command-line numbers -------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["run", "{path}", "-n", FULL_WIDTH_TEN],
    ["run", "{path}", "--seed", FULL_WIDTH_TEN],
    ["run", "{path}", "-n", "2", "--precision", "duplicated_fraction", "--target", "\uff15%"],
    ["compare", "{path}", "attempts.csv", "--alpha", "\uff10.05"],
])  # fmt: skip
def test_command_line_numbers_refuse_full_width_digits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    path = write(tmp_path, BASE)
    status, text = run_cli(capsys, [a.replace("{path}", str(path)) for a in argv])
    assert status == 2, text
    assert "Traceback" not in text
    flag = argv[-2]
    assert flag in text, text


def test_whole_number_flags_still_take_ascii_digits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulator.cli.arguments import plain_number, whole_number

    assert whole_number(1, "a whole number >= 1")("10") == 10
    assert plain_number("0.05") == 0.05


@pytest.mark.parametrize("bound", [f"{FULL_WIDTH_TEN}%", "\uff11e-4"])
def test_require_refuses_full_width_digits(bound: str) -> None:
    with pytest.raises(LeasesimError) as info:
        Requirement.parse(f"duplicated_fraction<={bound}")
    assert info.value.code == USAGE_ERROR
    assert "is not a valid bound for duplicated_fraction" in str(info.value)


def test_require_still_reads_ascii_bounds() -> None:
    assert Requirement.parse("duplicated_fraction<=0.01%").value == pytest.approx(1e-4)
    assert Requirement.parse("duplicated_fraction<=1e-4").value == pytest.approx(1e-4)


def test_an_expect_bound_in_full_width_digits_is_refused(tmp_path: Path) -> None:
    text = BASE + (
        "expect:\n  duplicated_fraction: {max: '\uff11e-4'}\n"
    )
    with pytest.raises(LeasesimError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_scenario_with_source(write(tmp_path, text))
    assert info.value.code == VALIDATION_ERROR
    assert "is not a valid value of duplicated_fraction" in str(info.value), str(info.value)


@pytest.mark.parametrize(("variable", "unit"), [
    (guards.MAX_EVENTS_VARIABLE, "M"), (guards.MAX_MEMORY_VARIABLE, "MB"),
])  # fmt: skip
def test_environment_amounts_refuse_full_width_digits(variable: str, unit: str) -> None:
    with pytest.raises(LeasesimError) as info:
        guards.Limits.from_environment({variable: "\uff15\uff10\uff10" + unit})
    assert info.value.code == USAGE_ERROR and variable in str(info.value)
    assert guards.Limits.from_environment({variable: "500" + unit}) != guards.Limits()


def test_dask_wait_refuses_full_width_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEASESIM_DASK_WAIT", FULL_WIDTH_TEN)
    with pytest.raises(LeasesimError) as info:
        executors._dask_wait()
    assert "LEASESIM_DASK_WAIT" in str(info.value)
    monkeypatch.setenv("LEASESIM_DASK_WAIT", "10")
    assert executors._dask_wait() == 10.0


# --- records of attempts (a guard: pandas already refuses these) ----------------------------------


def test_a_recorded_time_in_full_width_digits_is_refused(tmp_path: Path) -> None:
    record = tmp_path / "attempts.csv"
    record.write_text(
        "task_id,runner,assigned_at,ended_at,outcome\n"
        "1,r1,0,5,finished\n"
        f"2,r1,{FULL_WIDTH_TEN},20,finished\n",
        encoding="utf-8",
    )
    with pytest.raises(LeasesimError) as info:
        read_observed(record)
    (detail,) = info.value.details
    assert detail["field"] == "assigned_at" and detail["line"] == 3


# --- list positions in paths ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["fleet.\uff10.runners", "fleet.\u0660.runners"])  # "０", "٠"
def test_a_list_position_in_look_alike_digits_selects_no_entry(tmp_path: Path, path: str) -> None:
    # str.isdigit() and int() read full-width and other scripts' digits: fleet.０ was entry 0.
    scenario = write(tmp_path, BASE)
    with pytest.raises(LeasesimError) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_scenario_with_source(scenario, [f"{path}=3"])
    assert "fleet has no entry named" in str(info.value.details[0]["message"])
    with pytest.raises(LeasesimError) as vary:
        axes(make_scenario(), [f"{path}=[1, 2]"])
    assert "has no entry named" in str(vary.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_scenario_with_source(scenario, ["fleet.0.runners=3"])
    assert loaded.scenario.fleet[0].runners == 3
