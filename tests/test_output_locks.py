"""One writer per output folder, no silent overwrite, and --resume that trusts no foreign file.

`run --out`, `sweep --out` and `check --update-baseline` lock the folder they write; a second
writer is refused (exit 2) instead of mixing two experiments. A folder that holds results is
refused without --resume; with it, every kept file must be of this experiment. A killed writer's
temporaries are removed; what is reported as kept is what is on disk. Small runs, serial.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import make_scenario

import simulator
import simulator.cli as cli
from simulator.errors import LeasesimError
from simulator.experiments import runs, store
from simulator.experiments.locks import FolderLock
from simulator.results.result import Result

ROOT = Path(__file__).resolve().parents[1]
AWS = ROOT / "scenarios" / "aws-defaults.yaml"
SHORT = {"duration": "2h"}
GRID = {"fleet.etl.runners": [1, 2]}
BUSY = "is being written by another leasesim command"


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --- one writer at a time -----------------------------------------------------------------------


def test_a_second_writer_of_a_run_folder_is_refused_while_the_first_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scenario = make_scenario(**SHORT)
    real, refused = runs.run, []

    def meanwhile(*args: Any, **kwargs: Any) -> Any:
        if not refused:  # while the first writer holds the folder, a second one starts
            with pytest.raises(LeasesimError, match=BUSY) as caught:
                simulator.replicate(scenario, 1, seed=99, out=tmp_path, resume=True)
            refused.append(str(caught.value))
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "run", meanwhile)
    reps = simulator.replicate(scenario, 2, out=tmp_path)
    assert refused and len(reps) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep-000", "rep-001"]
    # The lock went with the first writer: the folder can be resumed now.
    assert simulator.replicate(scenario, 2, out=tmp_path, resume=True).resumed == 2


def test_a_sweep_into_a_folder_another_process_writes_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The race of two sweeps started together: the second is refused, naming the first."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from simulator.experiments.locks import "
         f"FolderLock; lock = FolderLock({str(tmp_path)!r}).acquire(); print('locked', "
         "flush=True); "
         "sys.stdin.read()"],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        status, out, err = _main(capsys, "sweep", str(AWS), "-n", "1", "--set", "duration=1h",
                                 "--set", "sweep={fleet.etl.runners: [1, 2]}", "--executor",
                                 "serial", "--out", str(tmp_path))  # fmt: skip
    finally:
        holder.communicate("")
    assert status == 2 and out == ""
    assert BUSY in err and f"(process {holder.pid})" in err
    assert list(tmp_path.iterdir()) == []  # nothing written beside the first writer's files


def test_a_second_baseline_recorder_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = yaml.safe_load(AWS.read_text())
    data["duration"] = "1h"
    data["check"].pop("quick", None)
    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump(data))
    (tmp_path / "baselines").mkdir()
    with FolderLock(tmp_path / "baselines"):
        status, _, err = _main(capsys, "check", str(scenario), "--update-baseline", "--executor",
                               "serial", "-q")  # fmt: skip
    assert status == 2 and BUSY in err and "--update-baseline" in err
    assert list((tmp_path / "baselines").iterdir()) == []


# --- no silent overwrite; --resume checks what it keeps ------------------------------------------


def test_a_run_into_a_used_folder_is_refused_without_resume(tmp_path: Path) -> None:
    scenario = make_scenario(**SHORT)
    simulator.replicate(scenario, 2, out=tmp_path)
    before = _files(tmp_path)
    with pytest.raises(LeasesimError, match=r"already holds rep-000 \.\. rep-001.*--resume"):
        simulator.replicate(scenario, 2, seed=5, out=tmp_path)
    assert _files(tmp_path) == before  # not one byte overwritten


def test_resume_refuses_run_files_of_another_seed(tmp_path: Path) -> None:
    """What two sweeps racing into one folder left: the manifest of seed 3, the runs of seed 4.
    Resuming must not report seed 3 with seed 4's numbers."""
    scenario = make_scenario(**SHORT, sweep=GRID)
    mixed, other = tmp_path / "mixed", tmp_path / "other"
    simulator.sweep(scenario, replications=2, seed=3, executor="serial", out=mixed)
    simulator.sweep(scenario, replications=2, seed=4, executor="serial", out=other)
    for run_file in (other / "runs").iterdir():
        shutil.copy(run_file, mixed / "runs" / run_file.name)
    with pytest.raises(LeasesimError, match=r"runs of another sweep: p00000-r00000\.json "
                       r"\(seed 4; the manifest's is 3\) and 3 other files"):  # fmt: skip
        simulator.sweep(scenario, replications=2, seed=3, executor="serial", out=mixed,
                        resume=True)  # fmt: skip


def test_resume_refuses_run_files_of_another_scenario(tmp_path: Path) -> None:
    """Same seed and grid, another scenario (--set): only the run files' stamp tells them apart."""
    mixed, other = tmp_path / "mixed", tmp_path / "other"
    scenario = make_scenario(**SHORT, sweep=GRID)
    simulator.sweep(scenario, replications=1, executor="serial", out=mixed)
    simulator.sweep(make_scenario(duration="3h", sweep=GRID), replications=1, executor="serial",
                    out=other)  # fmt: skip
    shutil.copy(other / "runs" / "p00001-r00000.json", mixed / "runs" / "p00001-r00000.json")
    with pytest.raises(LeasesimError, match=r"p00001-r00000\.json \(written by another sweep\)"):
        simulator.sweep(scenario, replications=1, executor="serial", out=mixed, resume=True)


def test_resume_reruns_a_run_file_that_cannot_be_read(tmp_path: Path) -> None:
    scenario = make_scenario(**SHORT, sweep=GRID)
    first = simulator.sweep(scenario, replications=1, executor="serial", out=tmp_path)
    (tmp_path / "runs" / "p00001-r00000.json").write_text("")  # e.g. lost in a power cut
    again = simulator.sweep(scenario, replications=1, executor="serial", out=tmp_path,
                            resume=True)  # fmt: skip
    assert again.attrs["resumed"] == 1
    assert again["tasks_finished"].tolist() == first["tasks_finished"].tolist()


# --- leftovers, empty paths, what is counted as kept ----------------------------------------------


def test_a_killed_writers_temporaries_are_removed(tmp_path: Path) -> None:
    scenario = make_scenario(**SHORT)
    simulator.replicate(scenario, 1, out=tmp_path / "run")
    (tmp_path / "run" / ".rep-001.tmp-abc123").mkdir()
    (tmp_path / "run" / ".rep-001.tmp-abc123" / "summary.json").write_text("{")
    (tmp_path / "run" / ".rep-000.old-0a1b2c3d").mkdir()
    simulator.replicate(scenario, 2, out=tmp_path / "run", resume=True)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["rep-000", "rep-001"]

    sweep_dir = tmp_path / "sweep"
    simulator.sweep(make_scenario(**SHORT, sweep=GRID), replications=1, executor="serial",
                    out=sweep_dir)  # fmt: skip
    (sweep_dir / "runs" / ".p00000-r00000.json.tmp-x1y2").write_text('{"point"')
    (sweep_dir / ".manifest.json.tmp-z3").write_text("")
    simulator.sweep(make_scenario(**SHORT, sweep=GRID), replications=1, executor="serial",
                    out=sweep_dir, resume=True)  # fmt: skip
    assert not [p for p in sweep_dir.rglob(".*")]


def test_an_empty_out_path_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    scenario = make_scenario(**SHORT)
    with pytest.raises(LeasesimError, match="empty path"):
        simulator.replicate(scenario, 1, out="")
    with pytest.raises(LeasesimError, match="empty path"):
        simulator.sweep(make_scenario(**SHORT, sweep=GRID), replications=1, out="")
    status, _, err = _main(capsys, "run", str(AWS), "-n", "1", "--set", "duration=1h", "--out", "")
    assert status == 2 and "--out" in err and "empty path" in err
    assert list(tmp_path.iterdir()) == []  # nothing in the current folder


def _interrupt_third_run_file(monkeypatch: pytest.MonkeyPatch) -> None:
    real, calls = store.write_json, []

    def write(path: Any, value: Any) -> Any:
        if Path(path).parent.name == "runs":
            calls.append(path)
            if len(calls) == 3:
                raise KeyboardInterrupt  # Ctrl-C while the third run is being saved
        return real(path, value)

    monkeypatch.setattr(store, "write_json", write)


def test_an_interrupted_save_is_not_counted_as_kept(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _interrupt_third_run_file(monkeypatch)
    status, _, err = _main(capsys, "sweep", str(AWS), "-n", "2", "--set", "duration=1h", "--set",
                           "sweep={fleet.etl.runners: [1, 2]}", "--executor", "serial",
                           "--out", str(tmp_path))  # fmt: skip
    assert status == 130
    assert "interrupted after 3 of 4 runs; 2 finished runs kept under" in err
    assert len(list((tmp_path / "runs").glob("p*.json"))) == 2


def test_a_failed_save_still_says_what_was_kept(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A folder that stops being writable (read-only, full disk) mid-run: the error says what
    was kept and how to finish."""
    real, calls = Result.save, []

    def save(self: Result, directory: Any) -> Any:
        calls.append(directory)
        if len(calls) == 3:
            raise PermissionError(13, "Permission denied")
        return real(self, directory)

    monkeypatch.setattr(Result, "save", save)
    status, _, err = _main(capsys, "run", str(AWS), "-n", "4", "--set", "duration=1h", "--out",
                           str(tmp_path))  # fmt: skip
    assert status == 1
    assert "cannot save replication 2" in err and "Permission denied" in err
    assert f"2 finished replications kept under {tmp_path} (rep-000 .. rep-001)" in err
    assert "--resume" in err

    real_write, writes = store.write_json, []

    def write(path: Any, value: Any) -> Any:
        if Path(path).parent.name == "runs":
            writes.append(path)
            if len(writes) == 3:
                raise OSError(28, "No space left on device")
        return real_write(path, value)

    monkeypatch.setattr(store, "write_json", write)
    status, _, err = _main(capsys, "sweep", str(AWS), "-n", "2", "--set", "duration=1h", "--set",
                           "sweep={fleet.etl.runners: [1, 2]}", "--executor", "serial",
                           "--out", str(tmp_path / "sweep"))  # fmt: skip
    assert status == 1 and "No space left on device" in err
    assert "2 finished runs kept under" in err and "--resume" in err
    manifest = json.loads((tmp_path / "sweep" / "manifest.json").read_text())
    assert manifest["kind"] == "leasesim sweep"


def test_two_sweeps_started_together_one_runs_and_one_is_refused(tmp_path: Path) -> None:
    """The race of issue 19: both used to pass the 'already holds a sweep' check and exit 0
    with the folder mixing their seeds. Now one runs, the other is refused (exit 2), and the
    folder resumes as the winner's sweep alone."""
    argv = [sys.executable, "-m", "simulator", "sweep", str(AWS), "-n", "2", "--set",
            "duration=2h", "--set", "sweep={fleet.etl.runners: [1, 2]}", "--executor", "serial",
            "--out", str(tmp_path), "--json"]  # fmt: skip
    both = [subprocess.Popen([*argv, "--seed", seed], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for seed in ("3", "4")]  # fmt: skip
    done = [(p.wait(timeout=300), *p.communicate()) for p in both]
    assert sorted(status for status, _, _ in done) == [0, 2], done
    winner = next(json.loads(out)["data"] for status, out, _ in done if status == 0)
    refused = next(json.loads(out)["error"] for status, out, _ in done if status == 2)
    assert BUSY in refused["message"] or "already holds a sweep" in refused["message"]
    seed = str(winner["seeds"][0])
    again = subprocess.run([*argv, "--seed", seed, "--resume"], cwd=ROOT, text=True,
                           capture_output=True, timeout=300)  # fmt: skip
    assert again.returncode == 0, again.stderr
    data = json.loads(again.stdout)["data"]
    assert data["resumed"] == 4 and data["rows"] == winner["rows"]


def test_run_file_names_take_ascii_digits_only(tmp_path: Path) -> None:
    # Issue 19: a file planted with full-width digits (p０-r０.json) is not taken for a run file.
    assert store._RUN_NAME.fullmatch("p0-r12.json") is not None
    assert store._RUN_NAME.fullmatch("p０-r１.json") is None
    assert store._REP_NAME.fullmatch("rep-０００") is None
