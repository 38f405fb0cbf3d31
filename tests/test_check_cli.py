"""`leasesim check`: an unchanged scenario passes, a changed rule fails the right metrics, an
undecided bound is inconclusive, seeds agree, output formats, bad input.

A small scenario (2 runners x 2 threads, 12 simulated hours, crashes) is written to a temporary
folder; every check runs in this process on the serial executor and takes well under a second.
Its expectations are set from theory: Poisson arrivals at 6/h give 72 tasks in 12 h, so at least
30 is a clear pass and "at most 72" puts the bound on the true mean, where no interval can decide.
"""

from __future__ import annotations

import json
import math
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import BASE, merge

import simulator.cli as cli
from simulator.check.files import find
from simulator.check.plan import plan
from simulator.check.runner import run_checks
from simulator.errors import LeasesimError
from simulator.scenario.schema import Service, Workload

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
SERIAL = ["--executor", "serial"]

TINY: dict[str, Any] = merge(BASE, {
    "name": "tiny", "duration": "12h", "replications": 4,
    "simulation": {"check_invariants": False},
    "fleet": [{"progress_interval": "60s",
               "faults": {"crash": {"rate": "3/d", "restart_after": "5m"}}}],
    "expect": {"tasks_submitted": {"min": 30},           # 72 expected in 12 h
               "reassigned_fraction": {"max": 0.5},      # crashes only: a few percent
               "stale_status_accepted": {"equals": 0}},  # stale_status: rejected
    "check": {"max_replications": 8,
              "tolerance": {"tasks_submitted": {"relative": "30%"},
                            "reassigned_fraction": {"absolute": 0.1}}},
})  # fmt: skip


def write(folder: Path, data: dict[str, Any] = TINY, name: str = "tiny.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """(exit status, JSON envelope) of `leasesim check argv... --json` on the serial executor."""
    status = cli.main(["check", *argv, *SERIAL, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, json.loads(out)


def verdicts(payload: dict[str, Any]) -> dict[str, str]:
    """kind:metric -> verdict of the first scenario."""
    scenario = payload["data"]["scenarios"][0]
    out = {f"expect:{v['metric']}": v["verdict"] for v in scenario["expectations"]}
    out.update({f"baseline:{e['metric']}": e["verdict"]
                for e in scenario["baseline"]["equivalence"]})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def recorded_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the tiny scenario and its baseline (seed 11, 8 replications), made once."""
    folder = tmp_path_factory.mktemp("recorded")
    path = write(folder)
    targets, _ = find([path], update=True)
    result = run_checks(targets, update=True, executor="serial")
    assert result.passed
    assert result.recorded == [str(folder / "baselines" / "tiny.json")]
    return folder


@pytest.fixture
def recorded(recorded_once: Path, tmp_path: Path) -> Path:
    """This test's copy of the recorded folder; the scenario file in it."""
    shutil.copytree(recorded_once, tmp_path, dirs_exist_ok=True)
    return tmp_path / "tiny.yaml"


def test_update_baseline_records_and_then_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path)
    status, payload = check(capsys, str(path), "--update-baseline")
    assert status == 0, payload
    assert payload["data"]["recorded"] == [str(tmp_path / "baselines" / "tiny.json")]
    assert payload["data"]["scenarios"][0]["baseline"]["status"] == "recorded"


def test_right_after_recording_a_check_passes_with_any_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13 B9: a scenario with no tolerances of its own, recorded with seed 11, used to fail
    with other seeds (the 5 % default margin of noisy metrics: inconclusive at the cap, or
    different). --update-baseline records every replication a check may use, prints the
    tolerances the spread suggests, and the check uses them where the file sets none."""
    data = merge({k: v for k, v in TINY.items() if k != "check"}, {
        "expect": {"reassignments": {"max": 100}, "latency_p95_s": {"max": "2h"}},
    })  # fmt: skip
    data["check"] = {"max_replications": 16}
    path = write(tmp_path, data)
    assert cli.main(["check", str(path), "--update-baseline", *SERIAL]) == 0
    out = capsys.readouterr().out
    assert "recorded 16 full replications (as many as a check uses)" in out
    assert "  check:\n    tolerance:\n      tasks_submitted: {absolute: " in out
    stored = json.loads((tmp_path / "baselines" / "tiny.json").read_text())
    run = stored["runs"]["full"]
    assert run["replications"] == 16 and "reassignments" in run["suggested_tolerance"]
    for seed in ("2", "3"):
        status, payload = check(capsys, str(path), "--seed", seed)
        assert status == 0, payload["data"]["scenarios"][0]["problems"]
        scenario = payload["data"]["scenarios"][0]
        assert scenario["baseline"]["exact"]["status"] == "skipped"
        margins = {e["metric"]: e["margin"] for e in scenario["baseline"]["equivalence"]}
        assert margins["reassignments"] == run["suggested_tolerance"]["reassignments"]
    status, payload = check(capsys, str(path), "--update-baseline")
    suggested = payload["data"]["suggested_tolerances"][str(path)]
    assert {s["metric"] for s in suggested} >= {"reassignments", "latency_p95_s"}


def test_an_unchanged_scenario_passes(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, payload = check(capsys, str(recorded))
    assert status == 0
    assert payload["success"] is True
    scenario = payload["data"]["scenarios"][0]
    assert scenario["passed"] and scenario["problems"] == []
    assert scenario["baseline"]["status"] == "current"
    assert scenario["baseline"]["exact"]["status"] == "identical"
    assert {v["verdict"] for v in scenario["expectations"]} == {"pass"}
    assert {e["metric"] for e in scenario["baseline"]["equivalence"]} == {
        "tasks_submitted", "reassigned_fraction", "stale_status_accepted"}  # fmt: skip
    assert "different" not in verdicts(payload).values()


def test_the_baseline_records_runs_seeds_versions_and_scenario(recorded: Path) -> None:
    data = json.loads((recorded.parent / "baselines" / "tiny.json").read_text())
    assert set(data["versions"]) >= {"leasesim", "numpy", "simpy", "pandas", "scipy", "pydantic"}
    run = data["runs"]["full"]  # no check.quick block: the full run only
    assert set(data["runs"]) == {"full"}
    assert (run["seed"], run["replications"]) == (11, 8)  # recorded up to the cap
    assert run["scenario"]["duration"] == 43200.0
    assert len(run["values"]["tasks_submitted"]) == 8
    assert "SeedSequence(seed, spawn_key=(i,))" in run["streams"]


def test_a_changed_rule_fails_the_metrics_it_moves(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A lease shorter than the 60 s report interval: every attempt loses its lease. Arrivals do
    # not depend on leases, so the task count still passes; and the scenario no longer matches
    # its baseline, which is reported as stale, not compared.
    status, payload = check(capsys, str(recorded), "--set", "service.report_progress_timeout=45s")
    assert status == 1
    got = verdicts(payload)
    assert got["expect:reassigned_fraction"] == "fail"
    assert got["expect:tasks_submitted"] == "pass"
    assert got["expect:stale_status_accepted"] == "pass"
    scenario = payload["data"]["scenarios"][0]
    assert scenario["baseline"]["status"] == "stale"
    assert "service.report_progress_timeout: 900.0 in the baseline, 45.0 now" in \
        scenario["baseline"]["reason"]
    assert payload["error"]["code"] == "CHECK_FAILED"
    problems = " ".join(d["message"] for d in payload["error"]["details"])
    assert "reassigned_fraction" in problems and "tasks_submitted" not in problems


def test_a_code_change_fails_the_right_metrics_in_both_tiers(
    recorded: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug injected into the model: leases renewed for 45 s instead of reportProgressTimeout.
    from simulator.model import workload as model_workload

    real = model_workload.timeouts

    def broken(service: Service, w: Workload) -> tuple[float, float, float]:
        ack, first, renew = real(service, w)
        return ack, 45.0, 45.0

    monkeypatch.setattr(model_workload, "timeouts", broken)
    status, payload = check(capsys, str(recorded))
    assert status == 1
    scenario = payload["data"]["scenarios"][0]
    assert scenario["baseline"]["status"] == "current"  # the scenario did not change
    exact = scenario["baseline"]["exact"]
    assert exact["status"] == "changed"
    changed = {c["metric"] for c in exact["changes"]}
    assert {"reassigned_fraction", "reassignments_progress", "attempts"} <= changed
    assert "tasks_submitted" not in changed  # common random numbers: arrivals are untouched
    got = verdicts(payload)
    assert got["baseline:reassigned_fraction"] == "different"
    assert got["baseline:tasks_submitted"] == "equivalent"
    assert got["expect:reassigned_fraction"] == "fail"


BROKEN: dict[str, Any] = merge(TINY, {
    "name": "broken", "replications": 4,
    "fleet": [{"progress_interval": "4m", "faults": {"crash": None}}],
    "workload": [{"report_progress_timeout": "2m"}],  # every report comes after the lease ends
    "expect": {"reassigned_fraction": {"max": 2}},  # with the others: every bound passes
    "check": {"max_replications": 4},
})  # fmt: skip


def test_a_flagged_run_fails_its_check_unless_the_scenario_allows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13 B1: a run whose attempts nearly all lose their lease passes every bound of its
    expect: block, yet is broken; the check shows the health flag and fails, unless the scenario
    says it is meant to show it (expect: {allow_flags: [...]})."""
    path = write(tmp_path, BROKEN, "broken.yaml")
    status, payload = check(capsys, str(path), "--no-baseline")
    assert status == 1 and payload["success"] is False
    scenario = payload["data"]["scenarios"][0]
    assert {v["verdict"] for v in scenario["expectations"]} == {"pass"}
    names = [f["name"] for f in scenario["flags"]]
    assert "most_attempts_reassigned" in names
    assert not any(f["allowed"] for f in scenario["flags"])
    assert any(p.startswith("flagged most_attempts_reassigned") and "allow_flags" in p
               for p in scenario["problems"])  # fmt: skip
    assert cli.main(["check", str(path), "--no-baseline", *SERIAL]) == 1
    out = capsys.readouterr().out
    assert any(line.split()[1:3] == ["health", "most_attempts_reassigned"]
               and line.rstrip().endswith("flagged") for line in out.splitlines() if line)

    allowed = merge(BROKEN, {"expect": {"allow_flags": names}})
    path = write(tmp_path, allowed, "broken.yaml")
    status, payload = check(capsys, str(path), "--no-baseline")
    assert status == 0, payload["data"]["scenarios"][0]["problems"]
    assert all(f["allowed"] for f in payload["data"]["scenarios"][0]["flags"])
    junit = tmp_path / "check.xml"
    assert cli.main(["check", str(path), "--no-baseline", *SERIAL, "--junit", str(junit)]) == 0
    capsys.readouterr()
    assert 'name="health most_attempts_reassigned"' in junit.read_text()


def test_a_bound_on_the_true_mean_is_inconclusive_not_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = {**TINY, "expect": {"tasks_submitted": {"max": 72}},  # 6/h x 12 h
            "check": {"max_replications": 6}}  # fmt: skip
    path = write(tmp_path, data)
    status, payload = check(capsys, str(path))
    assert status == 1
    scenario = payload["data"]["scenarios"][0]
    verdict = next(v for v in scenario["expectations"] if v["metric"] == "tasks_submitted")
    assert verdict["verdict"] == "inconclusive"
    assert verdict["low"] < 72 < verdict["high"]
    assert scenario["replications"] == 6  # replications were added up to the cap
    assert "inconclusive at the cap of 6 replications" in " ".join(scenario["problems"])
    status, payload = check(capsys, str(path), "--allow-inconclusive")
    assert status == 0 and payload["success"] is True


def test_two_seeds_agree_on_a_clearly_passing_scenario(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = []
    for seed in ("101", "202"):
        status, payload = check(capsys, str(recorded), "--seed", seed)
        scenario = payload["data"]["scenarios"][0]
        assert scenario["baseline"]["exact"]["status"] == "skipped"  # another seed
        outcomes.append((status, verdicts(payload)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == 0
    assert set(outcomes[0][1].values()) <= {"pass", "equivalent"}


def test_text_table_and_junit(recorded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit = recorded.parent / "reports" / "check.xml"
    status = cli.main(["check", str(recorded), *SERIAL, "--junit", str(junit), "--set",
                       "service.report_progress_timeout=45s"])  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 1 and "Traceback" not in out + err
    header = out.splitlines()[0].split()
    assert header == ["scenario", "kind", "metric", "expected", "observed", "verdict"]
    assert "tiny      expect    reassigned_fraction" in out.replace("  ", "  ")
    assert "1 scenario checked: 0 passed, 1 failed" in out
    assert "baseline is stale" in out
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None and suite.get("name") == "tiny"
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["expect reassigned_fraction <= 0.5"].find("failure") is not None
    assert cases["expect tasks_submitted >= 30"].find("failure") is None
    assert cases["baseline"].find("failure").get("type") == "stale"
    # A 45 s lease against 60 s reports: most attempts lose it, a health flag (issue 13 B1).
    assert cases["health most_attempts_reassigned"].find("failure").get("type") == "flagged"
    assert int(suite.get("failures")) == 3 and int(suite.get("tests")) == len(cases)
    assert not [p for p in junit.parent.iterdir() if p.name.startswith(".")]  # written whole


def test_folders_run_what_has_something_to_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, TINY, "a.yaml")
    write(tmp_path, {k: v for k, v in TINY.items() if k != "expect"}, "plain.yaml")
    status, payload = check(capsys, str(tmp_path), "--no-baseline")
    assert status == 0
    assert [s["file"] for s in payload["data"]["scenarios"]] == [str(tmp_path / "a.yaml")]
    assert payload["data"]["skipped"] == [str(tmp_path / "plain.yaml")]


@pytest.mark.parametrize(
    ("setup", "argv", "expected"),
    [
        (lambda d: write(d, {**TINY, "expect": {"tasks_submited": {"min": 1}}}), [],
         "Did you mean 'tasks_submitted'?"),
        (lambda d: (write(d), (d / "baselines").mkdir(), (d / "baselines" / "tiny.json")
                    .write_text("{")), [], "cannot be read as JSON"),
        (lambda d: write(d, {k: v for k, v in TINY.items() if k != "expect"}), [],
         "nothing to check"),
        (lambda d: (write(d), (d / "out.xml").mkdir()), ["--junit", "{d}/out.xml"],
         "--junit takes the name"),
        (lambda d: write(d), ["--set", "fleet.etk.runners=3"], "Did you mean 'etl'?"),
        (lambda d: None, [], "does not exist"),
    ],
)  # fmt: skip
def test_invalid_input_is_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], setup: Any, argv: list[str], expected: str
) -> None:
    setup(tmp_path)
    status, payload = check(capsys, str(tmp_path / "tiny.yaml"),
                            *[a.format(d=tmp_path) for a in argv])  # fmt: skip
    assert status == 2
    assert payload["success"] is False
    assert expected in json.dumps(payload["error"])


def test_a_run_that_raises_fails_the_scenario(tmp_path: Path) -> None:
    from simulator.experiments.runs import run as real_run

    def flaky(scenario: Any, seed: int, replication: int) -> Any:
        if replication == 2:
            raise RuntimeError("boom")
        return real_run(scenario, seed=seed, replication=replication)

    targets, _ = find([write(tmp_path)])
    result = run_checks(targets, executor="serial", run_fn=flaky)
    assert not result.passed
    problems = result.checks[0].problems()
    assert any("replication 2" in p and "boom" in p for p in problems)


def test_the_size_guard_refuses_a_huge_check(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("LEASESIM_MAX_EVENTS", "1000")
    status, payload = check(capsys, str(write(tmp_path)))
    assert status == 2 and payload["error"]["code"] == "LIMIT_EXCEEDED"


# --- the shipped scenarios ------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_carry_expectations_and_current_baselines(path: Path) -> None:
    from simulator.check.baseline import load, stale_reason

    (target,), _ = find([path])
    s = target.scenario
    assert s.expect is not None and len(s.expect.bounds()) >= 3
    assert s.check.quick is not None
    assert target.baseline == ROOT / "scenarios" / "baselines" / f"{path.stem}.json"
    baseline = load(target.baseline, str(path))
    for mode in ("full", "quick"):
        p = plan(s, mode)  # type: ignore[arg-type]
        run = baseline.runs[mode]
        assert stale_reason(run, p.scenario) is None, f"{mode}: re-record the baseline"
        assert (run.seed, run.replications) == (s.seed, p.cap)
        assert all(not math.isinf(v) for col in run.values.values() for v in col)


def test_unknown_command_line_mistakes_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["check", "--quik"])
    _, err = capsys.readouterr()
    assert status == 2 and "did you mean --quick?" in err


def test_errors_are_leasesim_errors() -> None:
    with pytest.raises(LeasesimError):
        find(["/nonexistent/folder/x.yaml"])


@pytest.mark.slow
def test_the_executor_does_not_change_the_verdicts(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, serial = check(capsys, str(recorded), "--seed", "5")
    status = cli.main(["check", str(recorded), "--seed", "5", "--workers", "2", "--json"])
    processes = json.loads(capsys.readouterr().out)
    assert status == 0
    assert processes["data"]["executor"].startswith("processes")
    assert processes["data"]["scenarios"] == serial["data"]["scenarios"]


@pytest.mark.slow
def test_the_shipped_scenarios_pass_their_full_check(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["check", str(ROOT / "scenarios"), "--workers", "2", "--json"])
    payload = json.loads(capsys.readouterr().out)
    assert status == 0, payload.get("error")
    for scenario in payload["data"]["scenarios"]:
        assert scenario["mode"] == "full"
        assert scenario["baseline"]["status"] == "current"
        assert scenario["baseline"]["exact"]["status"] in ("identical", "skipped")
