"""The `leasesim` command: exit statuses, the JSON envelope, saved output and error messages.

Most tests call `simulator.cli.main(argv)` in-process; a few run `python -m simulator.cli` in a
subprocess to prove that what reaches a real terminal has the right exit status and no traceback.
Every run is short (`--set duration=2h`, 1 to 3 replications).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import simulator.cli as cli
from simulator.cli import run_command
from simulator.results import METRICS, Result
from simulator.results.result import TABLES
from simulator.versions import leasesim_version

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
AWS = str(SCENARIOS / "aws-defaults.yaml")
SHORT = ["--set", "duration=2h"]  # a 2-hour run of aws-defaults takes a few milliseconds


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `leasesim argv...` run in-process."""
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    """(exit status, parsed stdout) of `leasesim argv... --json`; stdout must be one document."""
    status, out, err = _main(capsys, *argv, "--json")
    return status, json.loads(out)


# --- subprocess: the real command line ------------------------------------------------------------

_SUBPROCESS_CASES: dict[str, list[str]] = {
    "run_json": ["run", AWS, "-n", "2", *SHORT, "--json"],
    "bad_count": ["run", AWS, "-n", "abc"],
    "missing_file": ["run", str(SCENARIOS / "no-such-scenario.yaml")],
    "no_command": [],
}


@pytest.fixture(scope="module")
def subprocess_runs() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every case of _SUBPROCESS_CASES, run concurrently (interpreter start-up dominates)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
           os.environ.get("PYTHONPATH")]))}  # fmt: skip
    env.pop("LEASESIM_DEBUG", None)
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", *argv], cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        for name, argv in _SUBPROCESS_CASES.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


def test_subprocess_run_json_is_one_document(subprocess_runs):
    done = subprocess_runs["run_json"]
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    payload = json.loads(done.stdout)
    assert payload["success"] is True
    assert {r["metric"] for r in payload["data"]["summary"]} == set(METRICS)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("bad_count", "invalid"),
        ("missing_file", "does not exist"),
        ("no_command", "usage: leasesim"),
    ],
)
def test_subprocess_errors_exit_2_without_traceback(subprocess_runs, case, expected):
    done = subprocess_runs[case]
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == ""  # errors and help-on-error go to stderr, stdout stays clean
    if case == "bad_count":
        assert done.stderr.startswith("usage: leasesim run")
        assert "-n/--replications" in done.stderr and "'abc'" in done.stderr
    else:
        assert expected in done.stderr


# --- run ------------------------------------------------------------------------------------------


def test_run_prints_a_table_with_every_metric(capsys):
    status, out, _ = _main(capsys, "run", AWS, "-n", "2", *SHORT)
    assert status == 0
    assert out.startswith("aws-defaults: 2 replications of 2h simulated time, seed 1")
    assert "overrides: duration=2h" in out
    header = next(line for line in out.splitlines() if line.startswith("metric"))
    assert header.split() == ["metric", "mean", "95%", "CI", "n", "unit"]
    rows = {line.split()[0] for line in out.splitlines() if line.strip()}
    assert set(METRICS) <= rows


def test_run_json_has_summary_records_with_mean_and_ci(capsys):
    status, payload = _json(capsys, "run", AWS, "-n", "2", *SHORT)
    assert status == 0
    assert payload["success"] is True and "error" not in payload
    data = payload["data"]
    assert (data["scenario"], data["seed"], data["replications"]) == ("aws-defaults", 1, 2)
    assert data["duration_s"] == 7200 and data["overrides"] == ["duration=2h"]
    assert [r["metric"] for r in data["summary"]] == list(METRICS)
    for record in data["summary"]:
        assert {"mean", "ci_low", "ci_high", "half_width", "n", "unit"} <= set(record)
        if record["n"] >= 2:
            assert record["ci_low"] <= record["mean"] <= record["ci_high"]
    assert len(data["replication_summaries"]) == 2


def test_same_seed_gives_the_same_json_summary(capsys):
    argv = ("run", AWS, "-n", "2", "--seed", "5", *SHORT)
    first, second = _json(capsys, *argv)[1], _json(capsys, *argv)[1]
    assert first["data"]["seed"] == 5
    assert first["data"]["summary"] == second["data"]["summary"]
    assert first["data"]["replication_summaries"] == second["data"]["replication_summaries"]
    other = _json(capsys, "run", AWS, "-n", "2", "--seed", "6", *SHORT)[1]
    assert other["data"]["replication_summaries"] != first["data"]["replication_summaries"]


def test_out_saves_each_replication(capsys, tmp_path):
    out_dir = tmp_path / "results" / "aws"  # parents are created
    status, payload = _json(capsys, "run", AWS, "-n", "2", *SHORT, "--out", str(out_dir))
    assert status == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["rep-000", "rep-001"]  # no temp leftovers
    assert payload["data"]["saved"] == [str(out_dir / "rep-000"), str(out_dir / "rep-001")]
    for i, rep in enumerate(["rep-000", "rep-001"]):
        folder = out_dir / rep
        assert (folder / "summary.json").is_file()
        for table in TABLES:
            assert (folder / f"{table}.parquet").is_file() or (folder / f"{table}.csv").is_file()
        saved = json.loads((folder / "summary.json").read_text())
        assert saved == payload["data"]["replication_summaries"][i]
        assert Result.load(folder).meta["replication"] == i


def test_out_plain_text_says_where(capsys, tmp_path):
    status, out, _ = _main(capsys, "run", AWS, "-n", "1", *SHORT, "--out", str(tmp_path))
    assert status == 0
    assert f"results saved under {tmp_path}/ (rep-000)" in out
    assert "one replication: no confidence intervals" in out


def test_out_warns_about_leftovers_of_a_longer_earlier_run(capsys, tmp_path):
    assert _main(capsys, "run", AWS, "-n", "2", *SHORT, "--out", str(tmp_path), "-q")[0] == 0
    status, _, err = _main(capsys, "run", AWS, "-n", "1", *SHORT, "--out", str(tmp_path))
    assert status == 2 and "already holds rep-000 .. rep-001" in err  # not overwritten
    status, _, err = _main(capsys, "run", AWS, "-n", "1", *SHORT, "--out", str(tmp_path),
                           "--resume")  # fmt: skip
    assert status == 0
    assert "warning: " in err and "rep-001" in err and "does not replace" in err


def test_out_that_is_a_file_is_a_usage_error(capsys, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("not a folder")
    status, out, err = _main(capsys, "run", AWS, "-n", "1", *SHORT, "--out", str(target))
    assert status == 2 and out == ""
    assert f"--out {target}" in err and "folder" in err
    assert target.read_text() == "not a folder"


def test_scenario_warnings_are_printed_once(capsys):
    slow = str(SCENARIOS / "slow-acknowledgement.yaml")
    status, _, err = _main(capsys, "run", slow, "-n", "2", *SHORT)
    assert status == 0
    assert err.count("warning: ") == 1 and "acknowledgement timeout" in err
    status, payload = _json(capsys, "run", slow, "-n", "2", *SHORT)
    assert status == 0
    assert [w["field"] for w in payload["data"]["warnings"]] == ["fleet[etl].startup"]


# --- errors ---------------------------------------------------------------------------------------


def test_set_with_an_unknown_path_names_it(capsys):
    status, out, err = _main(capsys, "run", AWS, *SHORT, "--set", "fleet.etl.bogus=3")
    assert status == 2 and out == ""
    assert err.startswith("error: ") and "fleet.etl.bogus=3" in err and "bogus" in err

    status, out, err = _main(capsys, "run", AWS, "--set", "fleet.nope.runners=3")
    assert status == 2 and "'nope'" in err and "'etl'" in err


def test_set_with_an_unknown_path_in_the_json_envelope(capsys):
    status, payload = _json(capsys, "run", AWS, "--set", "fleet.etl.bogus=3")
    assert status == 2
    assert payload["success"] is False and "data" not in payload
    error = payload["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"]
    assert [d.get("override") for d in error["details"]] == ["fleet.etl.bogus=3"]
    assert error["details"][0]["field"] == "fleet[etl].bogus"


def test_missing_file(capsys, tmp_path):
    missing = str(tmp_path / "nope.yaml")
    status, out, err = _main(capsys, "run", missing)
    assert status == 2 and out == "" and "does not exist" in err
    status, payload = _json(capsys, "run", missing)
    assert status == 2 and payload["error"]["code"] == "FILE_ERROR"


def test_yaml_error_names_the_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nduration: 1d\nfleet:\n  - name: etl\n    runners: [1,\n")
    status, out, err = _main(capsys, "run", str(bad))
    assert status == 2 and out == ""
    assert "not valid YAML" in err and "line 6" in err
    status, payload = _json(capsys, "run", str(bad))
    assert status == 2 and payload["error"]["details"][0]["line"] == 6


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["-n", "0"], "-n/--replications: expected a whole number >= 1, got 0"),
        (["-n", "abc"], "-n/--replications: expected a whole number >= 1, got 'abc'"),
        (["--seed", "-1"], "--seed: expected a whole number >= 0, got -1"),
        (["--seed", "1.5"], "--seed: expected a whole number >= 0, got '1.5'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--sed", "3"], "(did you mean --seed?)"),
    ],
)
def test_bad_flags_are_usage_errors(capsys, flags, expected):
    status, out, err = _main(capsys, "run", AWS, *flags)
    assert status == 2 and out == ""
    assert err.startswith("usage: leasesim run ")
    assert expected in err and "leasesim run --help" in err
    status, payload = _json(capsys, "run", AWS, *flags)
    assert status == 2
    assert payload == {
        "success": False, "error": {"code": "USAGE_ERROR", "message": payload["error"]["message"],
                                    "details": []},
    }  # fmt: skip
    assert expected in payload["error"]["message"]


def test_no_command_prints_help_and_exits_2(capsys):
    status, out, err = _main(capsys)
    assert status == 2 and out == ""
    assert "usage: leasesim" in err and "run" in err and "validate" in err


def test_help_and_version(capsys):
    status, out, _ = _main(capsys, "--help")
    assert status == 0 and "examples:" in out and "exit status" in out
    status, out, _ = _main(capsys, "run", "--help")
    assert status == 0 and "--set PATH=VALUE" in out and "95% confidence" in out
    status, out, _ = _main(capsys, "--version")
    assert status == 0 and out.strip() == f"leasesim {leasesim_version()}"
    assert leasesim_version()


def test_internal_error_is_reported_without_traceback(capsys, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.delenv("LEASESIM_DEBUG", raising=False)
    monkeypatch.setattr(run_command, "run", broken)
    status, out, err = _main(capsys, "run", AWS, "-n", "1", *SHORT)
    assert status == 1 and out == ""
    assert "internal error: RuntimeError: boom" in err and "LEASESIM_DEBUG" in err
    status, payload = _json(capsys, "run", AWS, "-n", "1", *SHORT)
    assert status == 1 and payload["error"]["code"] == "RUN_ERROR"


# --- interrupting ---------------------------------------------------------------------------------


def _interrupt_on_second_call(monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = run_command.run, []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(run_command, "run", flaky)


def test_ctrl_c_keeps_finished_replications(capsys, monkeypatch, tmp_path):
    _interrupt_on_second_call(monkeypatch)
    status, out, err = _main(capsys, "run", AWS, "-n", "3", *SHORT, "--out", str(tmp_path))
    assert status == 130 and out == ""
    assert "interrupted after 1 of 3 replications" in err
    assert "1 finished replication kept" in err and str(tmp_path) in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep-000"]
    assert (tmp_path / "rep-000" / "summary.json").is_file()


def test_ctrl_c_in_the_json_envelope(capsys, monkeypatch, tmp_path):
    _interrupt_on_second_call(monkeypatch)
    status, payload = _json(capsys, "run", AWS, "-n", "3", *SHORT, "--out", str(tmp_path))
    assert status == 130
    error = payload["error"]
    assert payload["success"] is False and error["code"] == "INTERRUPTED"
    assert error["details"] == [
        {"finished": 1, "requested": 3, "saved": [str(tmp_path / "rep-000")]}
    ]


def test_ctrl_c_without_out_says_nothing_was_kept(capsys, monkeypatch):
    _interrupt_on_second_call(monkeypatch)
    status, _, err = _main(capsys, "run", AWS, "-n", "2", *SHORT)
    assert status == 130
    assert "interrupted after 1 of 2 replications; nothing was saved" in err


# --- validate -------------------------------------------------------------------------------------


def test_validate_the_scenarios_folder(capsys):
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert files
    status, out, err = _main(capsys, "validate", str(SCENARIOS), AWS)  # AWS twice: listed once
    assert status == 0 and err == ""
    for file in files:
        assert out.count(f"{file}: ok") == 1
    assert f"{len(files)} files valid" in out
    status, payload = _json(capsys, "validate", str(SCENARIOS))
    assert status == 0 and payload["success"] is True
    assert [f["file"] for f in payload["data"]["files"]] == [str(f) for f in files]
    assert payload["data"]["invalid"] == 0


def test_validate_an_invalid_file(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (SCENARIOS / "aws-defaults.yaml").read_text()
    bad.write_text(text.replace("runners: 10", "runners: -1"))
    status, out, err = _main(capsys, "validate", AWS, str(bad))
    assert status == 2
    assert f"{AWS}: ok" in out
    assert f"{bad}: invalid" in err and "fleet[etl].runners" in err
    assert "1 of 2 files invalid" in err

    status, payload = _json(capsys, "validate", AWS, str(bad))
    assert status == 2 and payload["success"] is False and "data" not in payload
    error = payload["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["message"].startswith("1 of 2 scenario files is invalid")
    assert [(d["file"], d["field"]) for d in error["details"]] == [(str(bad), "fleet[etl].runners")]
    assert isinstance(error["details"][0]["line"], int)


def test_validate_an_empty_folder(capsys, tmp_path):
    status, _, err = _main(capsys, "validate", str(tmp_path))
    assert status == 2 and "holds no *.yaml" in err


# --- which rate limit binds (issue 13 B6) ------------------------------------------------

BURST = """\
name: burst
duration: 2h
fleet: [{name: g, worker_group: wg, runners: 60, threads: 4, progress_interval: 60s}]
workload: [{name: w, worker_group: wg, arrivals: {kind: periodic, every: 1h, batch: 150},
            duration: 10m}]
"""


def test_run_names_the_binding_rate_limit_and_shows_throttled_calls_per_operation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """240 idle threads long-poll at about 2.7/s against PollForTask's 2/s; at most 150 tasks
    report (2.5/s, far below 10/s). The warning names PollForTask, and the summary shows the
    throttled calls of each operation."""
    path = tmp_path / "burst.yaml"
    path.write_text(BURST)
    status, out, err = _main(capsys, "run", str(path), "-n", "2", "-q")
    assert status == 0
    (warning,) = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert "service.throttle.poll" in warning and "PollForTask" in warning
    assert "ReportTaskProgress" not in warning
    lines = out.splitlines()
    start = lines.index("throttled calls by operation (per replication, mean of 2 replications):")
    header, rule, *rows = lines[start + 2:start + 8]
    assert header.split() == ["operation", "calls", "throttled", "share"]
    assert [row.split()[0] for row in rows] == ["PollForTask", "ReportTaskProgress",
                                                "SetTaskStatus", "ReportTaskRunnerHeartbeat"]
    poll = rows[0].split()
    assert int(poll[2].replace(",", "")) > 0  # polls were throttled
    assert max(len(line) for line in lines[start:start + 8]) <= 80

    status, payload = _json(capsys, "run", str(path), "-n", "2")
    calls = {c["operation"]: c for c in payload["data"]["calls"]}
    assert calls["PollForTask"]["throttled"] > 0 and calls["PollForTask"]["n"] == 2
    throttled = sum(c["throttled"] for c in calls.values())
    assert throttled == pytest.approx(
        next(m["mean"] for m in payload["data"]["summary"] if m["metric"] == "throttled_calls"))
    assert [w["field"] for w in payload["data"]["warnings"]] == ["service.throttle.poll"]


def test_run_without_throttled_calls_has_no_throttled_table(capsys: pytest.CaptureFixture[str]):
    status, out, _ = _main(capsys, "run", AWS, "-n", "1", *SHORT)
    assert status == 0 and "throttled calls by operation" not in out


# --- fast mode falling back to exact is announced (issue 13 B7) ------------------------------

FAST = """\
name: fast-throttle
duration: 2h
simulation: {mode: fast}
service: {call_latency: 10ms}
fleet: [{name: g, worker_group: wg, runners: 4, threads: 2}]
workload: [{name: w, worker_group: wg, arrivals: {kind: poisson, rate: 12/h}, duration: 20m}]
"""


def test_fast_mode_falling_back_to_exact_is_announced_with_the_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """docs/fast-mode.md promises it: a fast scenario with a call latency, or throttling by a
    fleet above the account's limits, runs exact; `run` says so in its summary, on stderr and in
    --json, with the reason."""
    from simulator.experiments.runs import run

    path = tmp_path / "fast.yaml"
    path.write_text(FAST)
    status, out, err = _main(capsys, "run", str(path), "-n", "2", "-q")
    assert status == 0
    mode = [line for line in out.splitlines() if line.startswith("mode: ")]
    assert mode == ["mode: exact, not fast: service.call_latency is not 0: each report is a "
                    "request"]  # wrapped at 80 columns
    assert max(len(line) for line in out.splitlines()[:6]) <= 80
    assert "simulation.mode: fast mode was asked for, but this scenario runs exact" in err
    assert "service.call_latency is not 0" in err

    status, payload = _json(capsys, "run", str(path), "-n", "2", "--set",
                            "service.throttle.poll=0.01/s")  # fmt: skip
    assert status == 0
    mode = payload["data"]["mode"]
    assert mode["requested"] == "fast" and mode["ran"] == "exact (fast mode fell back)"
    reason = mode["fallbacks"]["*"]
    assert "service.call_latency is not 0" in reason and "service.throttle: an estimated" in reason
    warning = next(w for w in payload["data"]["warnings"] if w["field"] == "simulation.mode")
    assert warning["line"] == 3
    assert run(path, seed=0).meta["mode"] == mode["ran"]  # the same words as Result.meta

    # Without latency it runs fast under the account's limits, and says so; a jittered group
    # alone runs exact.
    status, payload = _json(capsys, "run", str(path), "-n", "1", "--set", "service.call_latency=0")
    assert payload["data"]["mode"] == {"requested": "fast", "ran": "fast", "fallbacks": {}}
    assert payload["data"]["warnings"] == []
    status, out, err = _main(capsys, "run", str(path), "-n", "1", "--set", "service.call_latency=0",
                             "--set", "fleet.g.progress_jitter=5s")  # fmt: skip
    assert "mode: fast, except fleet group 'g' runs exact: fleet[g].progress_jitter" in out
    status, out, _ = _main(capsys, "validate", str(path))
    assert status == 0 and "simulation.mode: fast mode was asked for" in out
    status, out, _ = _main(capsys, "run", AWS, "-n", "1", *SHORT)  # exact: no mode line
    assert "mode:" not in out
