"""`leasesim report`: what the page holds, and bad input refused in one paragraph (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEFAULTS = str(ROOT / "scenarios" / "aws-defaults.yaml")


def _short_error(err: str) -> None:
    """The CLI's error form: an `error:` line (after the usage line for a bad flag), and for an
    invalid scenario one line per problem with file, line or --set and field; no traceback."""
    assert "Traceback" not in err
    text = err.strip()
    assert text.startswith(("error:", "usage:")), err
    assert "\nerror: " in "\n" + text, err
    assert len(text.splitlines()) <= 6, err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["no-such-file.yaml"], "no-such-file.yaml"),
        ([DEFAULTS, "--set", "fleet.etl.runners=0"], "runners"),
        ([DEFAULTS, "--set", "duration=soon"], "duration"),
        ([DEFAULTS, "--set", "nonsense"], "PATH=VALUE"),
        ([DEFAULTS, "-n", "0"], "-n"),
        ([DEFAULTS, "--seed", "-1"], "--seed"),
        ([DEFAULTS, "--frobnicate"], "unrecognized"),
    ],
    ids=["missing-file", "bad-field", "bad-duration", "bad-set", "zero-reps", "bad-seed",
         "unknown-flag"],
)  # fmt: skip
def test_bad_input_is_a_short_error_exit_2(argv: list[str], says: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    out = tmp_path / "report.html"
    assert main(["report", *argv, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    _short_error(err)
    assert says in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_a_bad_yaml_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfleet: [\n")
    assert main(["report", str(bad), "--out", str(tmp_path / "r.html"), "-q"]) == 2
    _short_error(capsys.readouterr().err)


def test_bad_input_in_json_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["report", DEFAULTS, "--set", "duration=soon", "--out", str(tmp_path / "r.html"),
            "--json"]  # fmt: skip
    assert main(argv) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["success"] is False and doc["error"]["code"] == "VALIDATION_ERROR"
    assert doc["error"]["details"][0]["field"] == "duration"


def test_out_must_be_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", DEFAULTS, "--out", str(tmp_path), "-q"]) == 2
    _short_error(capsys.readouterr().err)


def test_report_holds_every_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Warnings, fast-mode fallbacks, throttled calls per operation, estimates, replications."""
    out = tmp_path / "old.html"
    out.write_text("the previous report")
    argv = ["report", str(ROOT / "scenarios" / "throttled-fleet.yaml"), "-n", "3", "--set",
            "duration=20m", "--set", "simulation.mode=fast", "--out", str(out), "-q"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr()
    page = out.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["old.html"]  # replaced, nothing left over
    # the scenario's warning, as validate prints it, with file and line
    assert "ReportTaskProgress calls/s" in page and "throttled-fleet.yaml, line" in page
    assert "warning:" in printed.err
    # fast mode asked for, but throttling makes it fall back, with the reason
    assert "Fast mode fell back to exact simulation" in page and "service.throttle" in page
    # throttled calls per operation, and the summary's pending and backlog rows with definitions
    assert '<table class="calls">' in page and "throttled share" in page
    assert "Calls were throttled" in page
    for metric in ("tasks_pending", "backlog_fraction", "backlog_growth"):
        assert f"<code>{metric}</code>" in page
    from simulator.results.metrics import METRICS

    assert METRICS["backlog_fraction"].definition.split(":")[0] in page  # visible, not a title
    assert '<table class="estimates">' in page or "No closed-form estimate applies" in page
    # the replications actually run: 2, not the scenario's default
    assert page.count('<tr><td class="num">') == 3 and "This report ran 3 replications" in page
    assert 'id="health"' in page


def test_report_html_from_python(tmp_path: Path) -> None:
    import simulator
    from simulator.report import human_duration, percent, write_report

    reps = simulator.replicate(DEFAULTS, 2, overrides=["duration=1h"], tables=True)
    page = write_report(tmp_path / "r.html", reps).read_text()
    assert "2 replications of 1h simulated time" in page
    assert [human_duration(x) for x in (0.25, 4.23, 42, 210, 7512, 101_000)] == [
        "250ms", "4.2s", "42s", "3m30s", "2h05m", "1d04h"]  # fmt: skip
    assert [percent(x) for x in (0, 0.01073, 0.5217, 0.00034)] == [
        "0%", "1.07%", "52.2%", "0.034%"]  # fmt: skip
