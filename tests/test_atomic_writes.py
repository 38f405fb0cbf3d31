"""Nothing half-written: a writer killed at any moment leaves the old file (or folder) or the new.

Each writer leasesim has (a saved `Result` folder, the JSON files of experiment stores, figures,
the HTML report) is run in a forked child that rewrites one target over and over, alternating
two versions, until the parent kills it with SIGKILL at a random moment. The target must then be
exactly one of the two versions, whole; anything else next to it must be a hidden temporary name
that readers ignore. SIGKILL gives the writer no chance to clean up: this is a crash, not Ctrl-C.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulator.experiments.runs import run
from simulator.results.result import TABLES, Result
from simulator.scenario.load import load_scenario

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


@dataclass
class Writer:
    """How to write version 0 or 1 of a target, and how to tell which whole version is there.

    `which` raises AssertionError for anything that is not exactly one of the two versions.
    `patch` is applied for the test (the forked child inherits it), e.g. to skip slow rendering
    so that the kills land in the writing itself.
    """

    name: str
    target: str
    write: Callable[[Path, int], Any]
    which: Callable[[Path], int]
    patch: Callable[[pytest.MonkeyPatch], None] = lambda monkeypatch: None


def _kill_while_writing(writer: Writer, target: Path, delay: float) -> None:
    """Fork a child that rewrites `target` (1, 0, 1, 0, ...) forever; SIGKILL it after `delay`."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            while True:
                writer.write(target, 1)
                writer.write(target, 0)
        except BaseException:
            code = 3  # the writer itself failed: the parent reports it
        finally:
            os._exit(code)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    # Killed while writing, not stopped by an error of its own.
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status


def _check_rounds(
    writer: Writer, tmp_path: Path, rounds: int, span: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer.patch(monkeypatch)
    target = tmp_path / writer.target
    writer.write(target, 0)
    assert writer.which(target) == 0
    rng = random.Random(f"{writer.name}-{rounds}")  # the same kill moments every run
    for _ in range(rounds):
        _kill_while_writing(writer, target, rng.uniform(0.0, span))
        assert writer.which(target) in (0, 1)
        for other in tmp_path.iterdir():  # temporaries are hidden: readers and globs skip them
            assert other == target or other.name.startswith("."), other


# --- the writers --------------------------------------------------------------------------------


def _results() -> tuple[Result, Result]:
    scenario = load_scenario(ROOT / "scenarios" / "aws-defaults.yaml", ["duration=6h"])
    return run(scenario, seed=1), run(scenario, seed=2)


def _result_writer(tmp_path: Path) -> Writer:
    versions = _results()
    references = []
    for i, result in enumerate(versions):  # what each version reads back as
        folder = result.save(tmp_path.parent / f"reference-{tmp_path.name}-{i}")
        references.append((sorted(p.name for p in folder.iterdir()), Result.load(folder)))

    def which(target: Path) -> int:
        if not target.exists():
            # The known gap (see the strict xfail below): killed between its two renames, the
            # writer leaves the old folder aside, whole, and nothing at the target.
            aside = list(target.parent.glob(f".{target.name}.old-*"))
            assert len(aside) == 1, f"{target} is missing and no whole old folder is aside"
            version(aside[0])
            pytest.xfail(f"{target} was between its two renames: the old result is whole, aside "
                         f"as {aside[0].name}")  # fmt: skip
        return version(target)

    def version(target: Path) -> int:
        names = sorted(p.name for p in target.iterdir())
        loaded = Result.load(target)
        for i, (expected_names, reference) in enumerate(references):
            if loaded.seed == reference.seed:
                assert names == expected_names
                assert loaded.summary == reference.summary
                for table in TABLES:  # a truncated CSV would still parse: compare every row
                    assert loaded.tables[table].equals(reference.tables[table]), table
                return i
        raise AssertionError(f"{target} holds seed {loaded.seed}")

    return Writer("Result.save", "rep-000", lambda t, i: versions[i].save(t), which)


def _text_versions(size: int) -> list[str]:
    return [f"<!-- version {i} -->\n" + f"{i}" * size + "\n<!-- end -->\n" for i in (0, 1)]


def _which_text(versions: list[str]) -> Callable[[Path], int]:
    def which(target: Path) -> int:
        text = target.read_text(encoding="utf-8")
        assert text in versions, f"{target} is partial ({len(text)} characters)"
        return versions.index(text)

    return which


def _store_writer(tmp_path: Path) -> Writer:
    from simulator.io import atomic_write_text

    versions = _text_versions(4_000_000)
    return Writer("io.atomic_write_text", "manifest.json",
                  lambda t, i: atomic_write_text(t, versions[i]),
                  _which_text(versions))  # fmt: skip


def _report_writer(tmp_path: Path) -> Writer:
    import simulator.report as report

    versions = _text_versions(4_000_000)
    results = _results()

    def patch(monkeypatch: pytest.MonkeyPatch) -> None:  # render nothing: kills hit the write
        monkeypatch.setattr(report, "report_html", lambda rs, **kw: versions[results.index(rs[0])])

    return Writer("report.write_report", "report.html",
                  lambda t, i: report.write_report(t, [results[i]]), _which_text(versions),
                  patch)  # fmt: skip


def _figure_writer(tmp_path: Path) -> Writer:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    import simulator.plots.files as files

    figures = [Figure(), Figure()]
    data = [bytes([i]) * 3_000_000 for i in (0, 1)]

    def patch(monkeypatch: pytest.MonkeyPatch) -> None:  # the file matters, not the picture
        monkeypatch.setattr(files, "png_bytes", lambda fig, dpi=None: data[figures.index(fig)])

    def which(target: Path) -> int:
        content = target.read_bytes()
        assert content in data, f"{target} is partial ({len(content)} bytes)"
        return data.index(content)

    return Writer("plots.save_png", "timeline.png",
                  lambda t, i: files.save_png(figures[i], t), which, patch)  # fmt: skip


WRITERS = {
    "result-folder": _result_writer,
    "store-json": _store_writer,
    "report-html": _report_writer,
    "figure-png": _figure_writer,
}


@pytest.mark.parametrize("kind", WRITERS)
def test_a_killed_writer_leaves_the_old_or_the_new(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    _check_rounds(WRITERS[kind](folder), folder, 4, 0.15, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("kind", WRITERS)
def test_many_kills_leave_the_old_or_the_new(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    _check_rounds(WRITERS[kind](folder), folder, 24, 0.3, monkeypatch)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux-only")
def test_a_writer_killed_right_after_swapping_a_folder_in(tmp_path: Path) -> None:
    """The moment the random kills rarely hit, hit on purpose: the new folder has just been
    exchanged with the old one, which is not yet deleted."""
    from simulator import io as io_module

    folder = tmp_path / "out"
    folder.mkdir()
    writer = _result_writer(folder)
    target = folder / writer.target
    writer.write(target, 0)
    pid = os.fork()
    if pid == 0:
        try:
            real = io_module._exchange

            def exchange_then_die(a: Path, b: Path) -> bool:
                done = real(a, b)
                os.kill(os.getpid(), signal.SIGKILL)
                return done

            io_module._exchange = exchange_then_die  # type: ignore[assignment]
            writer.write(target, 1)
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert writer.which(target) == 1


@pytest.mark.slow
def test_the_kills_do_catch_a_plain_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness is sharp enough: a writer that writes in place is caught half-way."""
    versions = _text_versions(4_000_000)
    plain = Writer("write_text", "plain.json",
                   lambda t, i: t.write_text(versions[i], encoding="utf-8"),
                   _which_text(versions))  # fmt: skip
    with pytest.raises(AssertionError, match="partial"):
        _check_rounds(plain, tmp_path, 40, 0.3, monkeypatch)


# --- Ctrl-C: a real SIGINT to a running `leasesim run --out` -----------------------------------


@pytest.mark.slow
def test_ctrl_c_keeps_finished_replications_whole_and_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "out"
    scenario = str(ROOT / "scenarios" / "aws-defaults.yaml")
    argv = [sys.executable, "-m", "simulator.cli", "run", scenario, "-n", "6", "--out", str(out),
            "-q"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        for _ in range(600):  # wait (up to a minute) for the first replication to be saved
            if (out / "rep-000").is_dir() or proc.poll() is not None:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be interrupted")
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err and "kept under" in err
    kept = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert kept and all(name.startswith("rep-") for name in kept)
    for name in kept:  # every folder left is a whole result
        assert Result.load(out / name).meta["replication"] == int(name[4:])

    done = subprocess.run([*argv, "--resume", "--json"], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)["data"]
    assert data["replications"] == 6 and data["resumed"] == len(kept)


# --- on disk before the rename: fsync -------------------------------------------------------------


def test_every_saved_file_and_its_rename_are_flushed_to_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A power cut must not leave a renamed folder of empty files: each file pandas and json
    wrote is fsynced before the rename, and the parent folder (the rename itself) after it."""
    import simulator.io as io

    flushed: list[tuple[int, int]] = []  # (device, inode) of each fsync, in order
    real = os.fsync

    def fsync(fd: int) -> None:
        info = os.fstat(fd)
        flushed.append((info.st_dev, info.st_ino))
        real(fd)

    monkeypatch.setattr(io.os, "fsync", fsync)
    scenario = load_scenario(ROOT / "scenarios" / "aws-defaults.yaml")
    result = run(scenario.model_copy(update={"duration": 3600.0}), seed=1)
    target = result.save(tmp_path / "rep-000")
    files = sorted(p for p in target.iterdir())
    assert {p.name for p in files} >= {"summary.json", "scenario.json", "meta.json"}
    for path in files:  # the rename keeps the inode: the file flushed is the file kept
        info = path.stat()
        assert (info.st_dev, info.st_ino) in flushed, f"{path.name} was not flushed"
    parent = tmp_path.stat()
    assert flushed[-1] == (parent.st_dev, parent.st_ino)  # the rename, last

    flushed.clear()
    io.write_json(tmp_path / "x.json", {"a": 1})
    kept = (tmp_path / "x.json").stat()
    assert flushed == [(kept.st_dev, kept.st_ino), (parent.st_dev, parent.st_ino)]
