"""Scenario warnings reach Python users (issue 13 B5): `load_scenario`, `run`, `replicate` and
`sweep` issue the warnings `leasesim validate` prints as `simulator.ScenarioWarning`s, once per
scenario object, and what they return lists them in `warnings`."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import pytest

import simulator
from simulator.errors import ScenarioWarning

# Reports every 20 minutes against the 15-minute lease: one warning, on line 4.
LATE = """\
name: late
duration: 1h
service: {throttle: null}
fleet: [{name: g, worker_group: wg, runners: 2, threads: 1, progress_interval: 20m}]
workload: [{name: w, worker_group: wg, arrivals: {kind: poisson, rate: 2/h}, duration: 30m}]
"""


@pytest.fixture
def late(tmp_path: Path) -> Path:
    path = tmp_path / "late.yaml"
    path.write_text(LATE)
    return path


def _issued(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    """(return value, ScenarioWarnings issued), with every warning shown (no deduplication)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = call(*args, **kwargs)
    return value, [w for w in caught if issubclass(w.category, ScenarioWarning)]


def test_load_scenario_warns_with_file_and_line(late: Path) -> None:
    with pytest.warns(simulator.ScenarioWarning, match=r"line 4: fleet\[g\]\.progress_interval"):
        scenario = simulator.load_scenario(late)
    (note,) = simulator.scenario_warnings(scenario)
    assert note.file == str(late) and note.line == 4
    assert "expect every attempt to be reassigned" in note.message
    assert issubclass(simulator.ScenarioWarning, UserWarning)


def test_run_and_replicate_warn_once_and_list_the_warnings(late: Path) -> None:
    # From a path: once per call, pointing at the caller's line, whatever the replications.
    result, issued = _issued(simulator.run, late)
    assert len(issued) == 1 and issued[0].filename == __file__
    assert result.warnings == [str(issued[0].message)]
    assert "line 4" in result.warnings[0]
    reps, issued = _issued(simulator.replicate, late, 3)
    assert len(issued) == 1 and reps.warnings == result.warnings
    # Load, then run and replicate the loaded scenario: warned at the load only.
    scenario, issued = _issued(simulator.load_scenario, late)
    assert len(issued) == 1
    for call in (simulator.run, simulator.replicate):
        value, again = _issued(call, scenario)
        assert again == [] and value.warnings == result.warnings
    # Overrides make another scenario, with its own warnings (an interval below the lease: none).
    result, issued = _issued(simulator.run, scenario, overrides=["fleet.g.progress_interval=1m"])
    assert issued == [] and result.warnings == []


def test_a_scenario_built_in_python_warns_at_its_first_run(late: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        loaded = simulator.load_scenario(late)
    built = simulator.Scenario.model_validate(loaded.model_dump())
    result, issued = _issued(simulator.run, built)
    (warning,) = issued
    assert "fleet[g].progress_interval" in str(warning.message)  # no file: it has none
    assert result.warnings == [str(warning.message)]
    _, again = _issued(simulator.run, built)
    assert again == []


def test_sweep_warns_once(late: Path) -> None:
    frame, issued = _issued(simulator.sweep, late, {"fleet.g.runners": [1, 2]}, 2,
                            executor="serial")  # fmt: skip
    assert len(issued) == 1 and frame.attrs["warnings"] == [str(issued[0].message)]


def test_a_scenario_warning_is_a_record_too() -> None:
    note = ScenarioWarning("fleet[g].startup", "late", "s.yaml", 3)
    assert str(note) == "s.yaml, line 3: fleet[g].startup: late"
    assert pickle.loads(pickle.dumps(note)) == note
    # As an error (-W error), it can be raised.
    with pytest.raises(ScenarioWarning) as raised, warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)
        warnings.warn(note, stacklevel=1)
    assert raised.value == note and hash(raised.value) == hash(note)


def test_the_cli_prints_warnings_its_own_way(
    late: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import simulator.cli as cli

    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)  # a Python warning would raise here
        assert cli.main(["run", str(late), "-n", "2", "-q"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: ") == 1 and "ScenarioWarning" not in err
