"""Killed at any moment, resumed to the same files: `run --out`, `sweep --out` and
`check --update-baseline` as real processes, killed with SIGKILL (no clean-up) or SIGTERM.

The kill loop: an uninterrupted command writes the reference folder; the same command is then
started in a second folder and killed at seeded random moments, resumed with --resume after each
kill, and finally let finish. Every file of the two folders must then be identical byte for byte,
except the fields that hold wall-clock facts (when a file was created, how long a run took), which
are compared without those fields. After every kill no process of the killed command may be left
(workers, forkserver, resource tracker), and its stderr must reach end-of-file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
AWS = ROOT / "scenarios" / "aws-defaults.yaml"
GRID = "sweep={fleet.etl.progress_interval: [30s, 2m], service.lease_reading: [15min, 5min]}"
WALL_CLOCK = ("created", "wall_time_s")  # JSON fields that differ between any two runs

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the process tree from /proc (Linux)"
)


def _command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "simulator", *argv]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "LEASESIM_PROGRESS": "0"}


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` now (children, their children, ...)."""
    parents = {int(p.name): _parent(int(p.name)) for p in Path("/proc").iterdir()
               if p.name.isdigit()}  # fmt: skip
    found, todo = set(), [pid]
    while todo:
        here = todo.pop()
        for child, parent in parents.items():
            if parent == here and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_gone(pids: set[int], timeout: float) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = {p for p in pids if _alive(p)}
        if not left:
            return set()
        time.sleep(0.05)
    return {p for p in pids if _alive(p)}


def _read_to_eof(stream: io.BufferedReader, timeout: float) -> tuple[bytes, bool]:
    """What `stream` still gives, and whether it reached end-of-file within `timeout`."""
    data, deadline = b"", time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([stream], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return data, False
        chunk = os.read(stream.fileno(), 65536)
        if not chunk:
            return data, True
        data += chunk


def _kill_at(argv: Sequence[str], delay: float, sig: int = signal.SIGKILL,
             ready: Callable[[int], bool] | None = None) -> tuple[int, str]:  # fmt: skip
    """Start `argv`, send `sig` after `delay` s (counted from when `ready(pid)`, if given);
    check that nothing it started outlives it and that its stderr ends. Its exit status and
    stderr (-sig if it was killed before it finished, its own status if it finished first)."""
    proc = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    assert proc.stderr is not None
    try:
        started = time.monotonic()
        while ready is not None and not ready(proc.pid) and proc.poll() is None:
            if time.monotonic() - started > 120:
                break
            time.sleep(0.05)
        end = time.monotonic() + delay
        seen: set[int] = set()
        while proc.poll() is None and time.monotonic() < end:
            seen |= _descendants(proc.pid)  # workers, forkserver, resource tracker
            time.sleep(0.02)
        seen |= _descendants(proc.pid)
        if proc.poll() is None:
            proc.send_signal(sig)
        err, ended = _read_to_eof(proc.stderr, 30)
        status = proc.wait(timeout=60)
        left = _wait_gone(seen, 15)
        for pid in left:  # end them here: a failing test must not leave them running
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        assert not left, f"processes outlived the killed command: {sorted(left)}"
        assert ended, "stderr stayed open after the command ended (a worker holds it)"
        return status, err.decode(errors="replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.stderr.close()


def _finish(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def _without_wall_clock(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_wall_clock(v) for k, v in value.items() if k not in WALL_CLOCK}
    if isinstance(value, list):
        return [_without_wall_clock(v) for v in value]
    return value


def _comparable(path: Path) -> bytes | object:
    """The file's bytes; JSON and CSV without their wall-clock fields and columns."""
    data = path.read_bytes()
    if path.suffix == ".json":
        return _without_wall_clock(json.loads(data))
    if path.suffix == ".csv" and b"wall_time_s" in data.split(b"\n", 1)[0]:
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        return [{k: v for k, v in row.items() if k not in WALL_CLOCK} for row in rows]
    return data


def _compare_folders(reference: Path, resumed: Path) -> int:
    """Assert the two folders hold the same files, equal; the number of files compared."""
    ref = sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    got = sorted(p.relative_to(resumed) for p in resumed.rglob("*") if p.is_file())
    assert got == ref, f"other files: {sorted(set(got) ^ set(ref))}"  # no temporaries left
    for name in ref:
        assert _comparable(resumed / name) == _comparable(reference / name), name
    return len(ref)


def _kill_loop(argv: Sequence[str], reference: Path, work: Path, kills: int, seed: int,
               span: float, resume: Sequence[str] = ("--resume",)) -> tuple[int, int]:  # fmt: skip
    """SIGKILL `argv` (which writes `work`) at random moments in [0, span) s, resuming after each
    kill, until `kills` kills have landed before it finished; a round that finished first is
    compared with `reference` and the loop goes on in a fresh folder. The last folder is then
    resumed to the end and compared. The kills that landed and the files compared."""
    rng = random.Random(seed)
    landed, compared, fresh, folder = 0, 0, True, work
    for _ in range(4 * kills):
        if landed == kills:
            break
        delay = rng.uniform(0, span)
        command = [*argv, "--out", str(folder), *(() if fresh else resume)]
        status, err = _kill_at(command, delay)
        assert status in (-signal.SIGKILL, 0), err
        assert "Traceback" not in err
        saved = sum(1 for p in folder.rglob("*") if p.is_file())
        print(f"kill at {delay:.2f} s: status {status}, {saved} files in {folder.name}")  # -s
        if status == 0:  # it finished first: it must be whole; start again elsewhere
            compared += _compare_folders(reference, folder)
            folder, fresh = work.with_name(f"{work.name}-{compared}"), True
        else:
            landed, fresh = landed + 1, False
    _finish([*argv, "--out", str(folder), *(() if fresh else resume)])
    return landed, compared + _compare_folders(reference, folder)


def _span(argv: Sequence[str], reference: Path) -> float:
    """Run the uninterrupted reference; how long it took (the kills land within it)."""
    started = time.monotonic()
    _finish(argv)
    assert reference.is_dir()
    return time.monotonic() - started


# --- no worker outlives its parent ----------------------------------------------------------------


SWEEP = ["sweep", str(AWS), "-n", "2", "--set", "duration=30d", "--set", GRID, "--workers", "2",
         "-q"]  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_no_worker_outlives_a_killed_sweep(tmp_path: Path, sig: int) -> None:
    """Workers, the forkserver and the resource tracker end with leasesim, and leasesim's stderr
    (which they inherited) reaches end-of-file: a `| tee` or a CI job is not left waiting."""
    out = tmp_path / "out"

    def working(pid: int) -> bool:  # both workers started, beside forkserver and tracker
        return len(_descendants(pid)) >= 4

    status, err = _kill_at(_command(*SWEEP, "--out", str(out)), 0.5, sig, working)
    if sig == signal.SIGTERM:  # handled like Ctrl-C: stopped, counted, the way on shown
        assert status == 130, err
        assert "interrupted after" in err and "--resume" in err and "Traceback" not in err
    else:
        assert status == -signal.SIGKILL


@pytest.mark.parametrize("command", ["run", "sweep", "check"])
def test_sigterm_outside_the_writing_stops_as_ctrl_c_does(command: str) -> None:
    """SIGTERM before a command's results are written (the scenario still loading) or after
    (the last lines printing) is Ctrl-C too: exit status 130 and a message, not death by signal."""
    code = (
        "import os, signal, sys\n"
        f"from simulator.cli import app, {command}_command as command\n"
        "command.execute = lambda args: os.kill(os.getpid(), signal.SIGTERM) or 0\n"
        f"sys.exit(app.main([{command!r}, {str(AWS)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), timeout=60)  # fmt: skip
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert "interrupted" in done.stderr and "Traceback" not in done.stderr


# --- the kill loops ------------------------------------------------------------------------------


@pytest.mark.slow
def test_killed_runs_resume_to_the_same_replications(tmp_path: Path) -> None:
    argv = ["run", str(AWS), "-n", "8", "--set", "duration=2d", "-q"]
    reference, work = tmp_path / "reference", tmp_path / "work"
    span = _span(_command(*argv, "--out", str(reference)), reference)
    landed, compared = _kill_loop(_command(*argv), reference, work, 3, seed=19, span=span)
    assert landed == 3 and compared % (8 * 8) == 0  # 5 tables, summary, scenario, meta


@pytest.mark.slow
def test_killed_sweeps_resume_to_the_same_runs(tmp_path: Path) -> None:
    argv = ["sweep", str(AWS), "-n", "3", "--set", "duration=1d", "--set", GRID, "--workers",
            "2", "-q"]  # fmt: skip
    reference, work = tmp_path / "reference", tmp_path / "work"
    span = _span(_command(*argv, "--out", str(reference)), reference)
    landed, compared = _kill_loop(_command(*argv), reference, work, 3, seed=6, span=span)
    assert landed == 3 and compared % (4 * 3 + 3) == 0  # runs, manifest, results, summary


@pytest.mark.slow
def test_a_killed_sweep_stopped_by_sigterm_resumes(tmp_path: Path) -> None:
    # Three days a run, the signal half a second after its runs folder appears: mid-sweep (a
    # one-day sweep once ended first, and the signal came as the process exited: status -15).
    argv = ["sweep", str(AWS), "-n", "2", "--set", "duration=3d", "--set", GRID, "--executor",
            "serial", "-q"]  # fmt: skip
    reference, work = tmp_path / "reference", tmp_path / "work"
    _span(_command(*argv, "--out", str(reference)), reference)
    status, err = _kill_at(_command(*argv, "--out", str(work)), 0.5, signal.SIGTERM,
                           lambda pid: (work / "runs").is_dir())  # fmt: skip
    assert status in (130, 0), err
    _finish(_command(*argv, "--out", str(work), "--resume"))
    _compare_folders(reference, work)


def _check_scenario(folder: Path) -> Path:
    """aws-defaults, small: a 6h day, check capped at 6 replications, no quick block."""
    data = yaml.safe_load(AWS.read_text())
    data["duration"] = "12h"
    data["check"]["max_replications"] = 6
    data["check"].pop("quick", None)
    folder.mkdir()
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
def test_killed_baseline_updates_leave_the_old_file_or_the_new(tmp_path: Path) -> None:
    """check has no --resume: a killed --update-baseline leaves the old baseline or the new one,
    whole, and running it again gives the file an uninterrupted update writes."""
    reference = _check_scenario(tmp_path / "reference")
    work = _check_scenario(tmp_path / "work")
    argv = ["check", "--update-baseline", "--executor", "serial", "-q"]
    span = _span(_command(*argv, str(reference)), reference.parent / "baselines")
    new = (reference.parent / "baselines" / "small.json").read_bytes()
    _finish(_command(*argv, "--seed", "5", str(work)))  # the old baseline, of another seed
    baseline = work.parent / "baselines" / "small.json"
    old = baseline.read_bytes()
    assert old != new
    rng = random.Random(7)
    seen = []
    for _ in range(4):  # the baseline is written at the end: kill late
        delay = rng.uniform(0.6 * span, 1.2 * span)
        status, err = _kill_at(_command(*argv, str(work)), delay)
        assert status in (-signal.SIGKILL, 0), err
        assert baseline.read_bytes() in (old, new)  # whole, old or new
        seen.append("new" if baseline.read_bytes() == new else "old")
        print(f"kill at {delay:.2f} s: status {status}, baseline {seen[-1]}")  # with -s
        baseline.write_bytes(old)
    _finish(_command(*argv, str(work)))
    assert _compare_folders(reference.parent, work.parent) == 2  # the scenario, its baseline
