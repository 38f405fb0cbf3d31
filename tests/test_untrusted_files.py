"""The catalogue of untrusted files (issue 19): a scenario file may come from a stranger, so every
file it names (`check.baseline`, empirical samples, arrival profiles and traces) is untrusted.

Each case of CASES crafts one hostile input: a path that leaves the scenario's folder (relative,
absolute, through a symlinked file or folder, from a `--set` override), a special file (a FIFO,
a device, /proc), an oversized or deeply nested file, a CSV that lies (an unbalanced quote, NUL
bytes, a secret in a cell or in the header), an output that would replace an input. Each must be
refused with exit status 2 and a clear message, without a traceback, without echoing anything
of a file the scenario may not read, without touching the files outside the folder, and without
hanging (a FIFO is unblocked after a while if the code under test opened it). The tests after
the catalogue cover what is allowed (`--allow-outside`; outputs the user names may go anywhere)
and control characters in names, which are shown escaped.

The rule they check: docs/scenarios.md, "Files a scenario names"; the messages: docs/errors.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import simulator.cli as cli
from simulator.cli.app import COMMANDS, build_parser
from simulator.errors import LeasesimError
from simulator.scenario.load import load_scenario

SECRET = "hunter2-secret-token"
BASE = """\
name: untrusted
duration: 1h
replications: 2
fleet:
  - name: etl
    worker_group: wg
    runners: 1
    threads: 1
workload:
  - name: batch
    worker_group: wg
    arrivals: ARRIVALS
    duration: DURATION
expect:
  tasks_submitted: {min: 0}
check:
  max_replications: 4
"""
POISSON = "{kind: poisson, rate: 10/h}"
FIXED = "{dist: fixed, value: 10s}"
# How each kind of file is named in a scenario; F is the file's name as the scenario writes it.
KINDS = {
    "empirical": ("DURATION", "{dist: empirical, file: 'F', column: s}"),
    "profile": ("ARRIVALS", "{kind: profile, period: 1d, file: 'F'}"),
    "trace": ("ARRIVALS", "{kind: trace, file: 'F', column: t}"),
}
GOOD_CSV = {"empirical": "s\n10s\n20s\n", "profile": "start,rate\n0h,10/h\n",
            "trace": "t\n0\n60\n"}  # fmt: skip


@dataclass
class World:
    """A project folder with a scenario in `folder`, a secret and a victim outside it."""

    root: Path
    folder: Path  # the scenario's folder: root/project/scenarios
    secret: Path  # root/secret/token.csv: a header and a cell that are the secret
    victim: Path  # root/victim: files a scenario must not write

    @property
    def scenario(self) -> Path:
        return self.folder / "s.yaml"

    def write(self, kind: str | None = None, name: str = "", extra: str = "") -> Path:
        """The scenario, naming `name` as its `kind` of file (or as check.baseline)."""
        text = BASE.replace("ARRIVALS", POISSON).replace("DURATION", FIXED)
        if kind in KINDS:
            marker, spec = KINDS[kind]
            text = BASE.replace(marker, spec.replace("F", name))
            text = text.replace("ARRIVALS", POISSON).replace("DURATION", FIXED)
        elif kind == "baseline":
            text += f"  baseline: '{name}'\n"
        self.scenario.write_text(text + extra, "utf-8")
        return self.scenario


def make_world(root: Path) -> World:
    folder = root / "project" / "scenarios"
    folder.mkdir(parents=True)
    (root / "secret").mkdir()
    secret = root / "secret" / "token.csv"
    secret.write_text(f"{SECRET}\n{SECRET}\n", "utf-8")
    (root / "victim").mkdir()
    (root / "victim" / ".bashrc").write_text("# my shell settings\n", "utf-8")
    return World(root, folder, secret, root / "victim")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (symlinks not followed) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink()}  # fmt: skip


@contextlib.contextmanager
def unblocking(fifo: Path | None) -> Iterator[None]:
    """While the block runs, keep opening `fifo` for writing and closing it: code that opened
    it for reading gets an end of file instead of waiting for ever (the old behaviour)."""
    if fifo is None:
        yield
        return
    done = threading.Event()

    def writer() -> None:
        while not done.wait(0.2):
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # no reader yet (ENXIO), or gone
                continue
            os.close(fd)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@dataclass
class Case:
    """One hostile input: `craft(world)` writes the files and returns the command's arguments
    (after `leasesim`); the message must contain every one of `says`."""

    name: str
    craft: Callable[[World], list[str]]
    says: tuple[str, ...]
    fifo: str | None = None  # a FIFO (relative to the scenario's folder) to unblock
    env: dict[str, str] = field(default_factory=dict)


OUTSIDE = "outside the scenario's folder"
SPECIAL = "not a regular file (a device, a pipe or a socket)"


def _named(kind: str, name: str, command: str = "validate") -> Callable[[World], list[str]]:
    def craft(w: World) -> list[str]:
        return [command, str(w.write(kind, name))]
    return craft


def _relative(kind: str) -> Callable[[World], list[str]]:
    return _named(kind, "../../secret/token.csv")


def _absolute(kind: str) -> Callable[[World], list[str]]:
    def craft(w: World) -> list[str]:
        return ["validate", str(w.write(kind, str(w.secret)))]
    return craft


def _symlinked_file(kind: str) -> Callable[[World], list[str]]:
    def craft(w: World) -> list[str]:
        (w.folder / "samples.csv").symlink_to(w.secret)
        return ["validate", str(w.write(kind, "samples.csv"))]
    return craft


def _symlinked_folder(kind: str) -> Callable[[World], list[str]]:
    def craft(w: World) -> list[str]:
        (w.folder / "data").symlink_to(w.secret.parent, target_is_directory=True)
        return ["validate", str(w.write(kind, "data/token.csv"))]
    return craft


def _fifo(kind: str) -> Callable[[World], list[str]]:
    def craft(w: World) -> list[str]:
        os.mkfifo(w.folder / "pipe.csv")
        return ["validate", str(w.write(kind, "pipe.csv"))]
    return craft


def _device(kind: str) -> Callable[[World], list[str]]:
    # Allowed outside, so that the reader itself must refuse the device (never read it).
    def craft(w: World) -> list[str]:
        return ["validate", "--allow-outside", str(w.write(kind, "/dev/zero"))]
    return craft


def _oversized(kind: str) -> Callable[[World], list[str]]:
    def craft(w: World) -> list[str]:
        with (w.folder / "big.csv").open("wb") as handle:
            handle.write(GOOD_CSV[kind].encode())
            handle.truncate(51 * 1024 * 1024)  # sparse: no disk used
        return ["validate", str(w.write(kind, "big.csv"))]
    return craft


def _binary(kind: str) -> Callable[[World], list[str]]:
    def craft(w: World) -> list[str]:
        (w.folder / "nul.csv").write_bytes(GOOD_CSV[kind].encode() + b"\x00\x00\n")
        return ["validate", str(w.write(kind, "nul.csv"))]
    return craft


def _csv(kind: str, text: str) -> Callable[[World], list[str]]:
    def craft(w: World) -> list[str]:
        (w.folder / "data.csv").write_text(text, "utf-8")
        return ["validate", str(w.write(kind, "data.csv"))]
    return craft


def _from_set(w: World) -> list[str]:
    spec = "{dist: empirical, file: ../../secret/token.csv, column: s}"
    return ["validate", str(w.write()), "--set", f"workload.batch.duration={spec}"]


def _proc_environ(w: World) -> list[str]:
    return ["validate", str(w.write("empirical", "/proc/self/environ"))]


def _nul_name(w: World) -> list[str]:
    path = w.write("empirical", "NAME")
    path.write_text(path.read_text().replace("'NAME'", '"a\\0b.csv"'), "utf-8")  # YAML's \0
    return ["validate", str(path)]


def _many_columns(w: World) -> list[str]:
    header = ",".join(f"c{i}" for i in range(1000))
    (w.folder / "wide.csv").write_text(f"{header}\n" + ",".join("1" for _ in range(1000)) + "\n")
    return ["validate", str(w.write("empirical", "wide.csv"))]


# --- baselines: written by check --update-baseline, read by check ---------------------------------


def _baseline(name: str, *extra: str, update: bool = True) -> Callable[[World], list[str]]:
    def craft(w: World) -> list[str]:
        flags = ["--update-baseline"] if update else []
        path = w.write("baseline", name.replace("VICTIM", str(w.victim)))
        return ["check", str(path), *flags, "--executor", "serial", *extra]
    return craft


def _baseline_symlinked_folder(w: World) -> list[str]:
    (w.folder / "baselines").symlink_to(w.victim, target_is_directory=True)
    return ["check", str(w.write()), "--update-baseline", "--executor", "serial"]


def _baseline_is_a_csv_input(w: World) -> list[str]:
    (w.folder / "samples.json").write_text(GOOD_CSV["empirical"], "utf-8")
    w.write("empirical", "samples.json")
    with w.scenario.open("a") as handle:
        handle.write("  baseline: samples.json\n")
    return ["check", str(w.scenario), "--update-baseline", "--executor", "serial"]


def _baseline_from_set(w: World) -> list[str]:
    return ["check", str(w.write()), "--update-baseline", "--executor", "serial",
            "--set", "check.baseline=../../victim/b.json"]  # fmt: skip


def _baseline_nul(w: World) -> list[str]:
    path = w.write()
    path.write_text(path.read_text() + '  baseline: "a\\0b.json"\n', "utf-8")  # YAML's \0
    return ["check", str(path), "--update-baseline", "--executor", "serial"]


def _baseline_file(write: Callable[[Path], None]) -> Callable[[World], list[str]]:
    """A check reading a crafted baselines/s.json."""
    def craft(w: World) -> list[str]:
        (w.folder / "baselines").mkdir()
        write(w.folder / "baselines" / "s.json")
        return ["check", str(w.write()), "--executor", "serial"]
    return craft


def _sparse(path: Path) -> None:
    with path.open("wb") as handle:
        handle.write(b"{")
        handle.truncate(101 * 1024 * 1024)


def _deep(depth: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        inner = "[" * depth + "]" * depth
        path.write_text('{"format": 1, "versions": {}, "runs": {"full": {"seed": 0, "values": {}, '
                        f'"scenario": {{"name": {inner}}}}}}}}}', "utf-8")  # fmt: skip
    return write


def _baseline_device(w: World) -> list[str]:
    (w.folder / "zero.json").symlink_to("/dev/zero")
    return ["check", str(w.write("baseline", "zero.json")), "--executor", "serial",
            "--allow-outside"]  # fmt: skip


# --- outputs the user names on the command line, over an input -----------------------------------


def _report_over_scenario(w: World) -> list[str]:
    return ["report", str(w.write()), "--out", str(w.scenario), "-n", "2", "-q"]


def _report_over_csv(w: World) -> list[str]:
    (w.folder / "samples.csv").write_text(GOOD_CSV["empirical"], "utf-8")
    return ["report", str(w.write("empirical", "samples.csv")), "--out",
            str(w.folder / "samples.csv"), "-n", "2", "-q"]  # fmt: skip


def _junit_over_scenario(w: World) -> list[str]:
    return ["check", str(w.write()), "--junit", str(w.scenario), "--executor", "serial"]


def _fit_over_observed(w: World) -> list[str]:
    observed = w.folder / "attempts.csv"
    observed.write_text("task,runner,assigned_at,ended_at,outcome\n", "utf-8")
    return ["fit", str(observed), "--out", str(observed)]


def _fit_over_base(w: World) -> list[str]:
    observed = w.folder / "attempts.csv"
    observed.write_text("task,runner,assigned_at,ended_at,outcome\n", "utf-8")
    return ["fit", str(observed), "--scenario", str(w.write()), "--out", str(w.scenario)]


NEVER = "leasesim never writes over its own input"
CASES: list[Case] = []
for _kind in KINDS:
    CASES += [
        Case(f"{_kind}-relative-traversal", _relative(_kind), (OUTSIDE, "--allow-outside")),
        Case(f"{_kind}-absolute-path", _absolute(_kind), (OUTSIDE,)),
        Case(f"{_kind}-symlink-leaving-the-folder", _symlinked_file(_kind),
             (OUTSIDE, "through a symbolic link")),
        Case(f"{_kind}-symlinked-folder", _symlinked_folder(_kind),
             (OUTSIDE, "through a symbolic link")),
        Case(f"{_kind}-fifo", _fifo(_kind), (SPECIAL,), fifo="pipe.csv"),
        Case(f"{_kind}-device", _device(_kind), (SPECIAL,)),
        Case(f"{_kind}-oversized", _oversized(_kind), ("MB, larger than the 50 MB limit",)),
        Case(f"{_kind}-nul-bytes", _binary(_kind), ("NUL bytes",)),
    ]  # fmt: skip
CASES += [
    Case("empirical-from-set-override", _from_set,
         (OUTSIDE, "--set workload.batch.duration=")),
    Case("empirical-proc-self-environ", _proc_environ, (OUTSIDE,),
         env={"LEASESIM_TEST_TOKEN": SECRET}),
    Case("empirical-etc-passwd", _named("empirical", "/etc/passwd"), (OUTSIDE,)),
    Case("empirical-unbalanced-quote", _csv("empirical", 's\n"10\n20\n'),
         ("line 3", "never closed")),
    Case("trace-unbalanced-quote", _csv("trace", 't\n"0\n60\n'), ("never closed",)),
    Case("profile-quote-then-text", _csv("profile", 'start,rate\n"0h"x,10/h\n'),
         ("line 2", "must be followed by a comma")),
    Case("empirical-bad-cell-is-not-echoed", _csv("empirical", f"s\n10s\n{SECRET}\n"),
         ("line 3, column 's'", "not a duration")),
    Case("empirical-a-thousand-columns", _many_columns, ("and 980 more",)),
    Case("empirical-nul-in-the-name", _nul_name, ("NUL character",)),
    # baselines written
    Case("baseline-relative-traversal", _baseline("../../victim/b.json"), (OUTSIDE,)),
    Case("baseline-absolute-path", _baseline("VICTIM/new/dir/b.json"), (OUTSIDE,)),
    Case("baseline-over-bashrc", _baseline("../../victim/.bashrc"), ("must be a .json file",)),
    Case("baseline-symlinked-folder", _baseline_symlinked_folder,
         (OUTSIDE, "through a symbolic link")),
    Case("baseline-is-the-scenario", _baseline("s.yaml"), ("must be a .json file",)),
    Case("baseline-is-a-csv-the-scenario-reads", _baseline_is_a_csv_input,
         ("a file this check reads",)),
    Case("baseline-from-set-override", _baseline_from_set, (OUTSIDE, "from --set")),
    Case("baseline-nul-in-the-name", _baseline_nul, ("NUL character",)),
    # baselines read
    Case("baseline-fifo", _baseline_file(os.mkfifo), (SPECIAL,), fifo="baselines/s.json"),
    Case("baseline-device", _baseline_device, (SPECIAL,)),
    Case("baseline-oversized", _baseline_file(_sparse), ("larger than the 100 MB limit",)),
    Case("baseline-100000-deep", _baseline_file(_deep(100_000)), ("nested more than 64",)),
    Case("baseline-500-deep", _baseline_file(_deep(500)), ("nested more than 64",)),
    # outputs over inputs
    Case("report-out-is-the-scenario", _report_over_scenario, (NEVER,)),
    Case("report-out-is-its-csv", _report_over_csv, (NEVER,)),
    Case("check-junit-is-the-scenario", _junit_over_scenario, (NEVER,)),
    Case("fit-out-is-the-observed-file", _fit_over_observed, (NEVER,)),
    Case("fit-out-is-the-base-scenario", _fit_over_base, (NEVER,)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_a_hostile_file_is_refused_clearly(
    case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    world = make_world(tmp_path)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    argv = case.craft(world)
    outside = snapshot(world.victim) | {"secret": world.secret.read_bytes()}
    inside = snapshot(world.folder)
    fifo = world.folder / case.fifo if case.fifo else None
    with unblocking(fifo):
        status = cli.main(argv)
    out, err = capsys.readouterr()
    assert status == 2, err
    assert "Traceback" not in out + err and "internal error" not in err
    assert err.startswith("error: ") or ": invalid\n" in err, err
    for words in case.says:
        assert words in err, f"{words!r} not in:\n{err}"
    assert SECRET not in out + err  # nothing of a file it may not read, no bad cell
    assert "root:" not in out + err  # /etc/passwd
    assert snapshot(world.victim) | {"secret": world.secret.read_bytes()} == outside
    assert not (world.victim / "new").exists()  # no folders made outside
    assert snapshot(world.folder) == inside  # refused before anything was written


# --- what is allowed ------------------------------------------------------------------------------


def test_inside_symlinks_work_and_allow_outside_reads_a_trusted_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    (world.folder / "data").mkdir()
    (world.folder / "data" / "samples.csv").write_text(GOOD_CSV["empirical"], "utf-8")
    (world.folder / "link.csv").symlink_to(world.folder / "data" / "samples.csv")
    assert cli.main(["validate", str(world.write("empirical", "link.csv"))]) == 0
    assert cli.main(["validate", str(world.write("empirical", "data/samples.csv"))]) == 0
    trusted = tmp_path / "shared" / "samples.csv"
    trusted.parent.mkdir()
    trusted.write_text(GOOD_CSV["empirical"], "utf-8")
    path = world.write("empirical", "../../shared/samples.csv")
    assert cli.main(["validate", str(path)]) == 2
    assert cli.main(["validate", "--allow-outside", str(path)]) == 0
    capsys.readouterr()
    # From Python: refused by default, read with allow_outside=True.
    with pytest.raises(LeasesimError, match="outside the scenario's folder"):
        load_scenario(path)
    assert load_scenario(path, allow_outside=True).workload[0].duration.values == (10.0, 20.0)


def test_allow_outside_lets_a_trusted_baseline_live_elsewhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    path = world.write("baseline", "../../victim/b.json")
    argv = ["check", str(path), "--update-baseline", "--executor", "serial", "-q"]
    assert cli.main([*argv, "--allow-outside"]) == 0, capsys.readouterr().err
    assert json.loads((world.victim / "b.json").read_text())["format"] == 1
    capsys.readouterr()


def test_every_command_takes_allow_outside() -> None:
    _, parsers = build_parser()
    for name in COMMANDS:
        options = {s for a in parsers[name]._actions for s in a.option_strings}
        assert "--allow-outside" in options, name


def test_outputs_named_by_the_user_may_go_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only paths written inside a scenario are confined; --junit and report --out are the
    user's own words (here outside the scenario's folder), refused only over an input."""
    world = make_world(tmp_path)
    junit = tmp_path / "elsewhere" / "check.xml"
    path = world.write()
    assert cli.main(["check", str(path), "--executor", "serial", "-q", "--junit", str(junit)]) == 0
    assert ET.parse(junit).getroot().tag == "testsuites"
    assert cli.main(["check", str(path), "--executor", "serial", "--junit", str(path)]) == 2
    assert NEVER in capsys.readouterr().err


# --- control characters in names and field names -------------------------------------------------

EVIL = "evil\x1b[2J\x1b[32mall checks passed\x1b[0m\u202e\x7f\rfake\nline"


def _escape_free(text: str) -> None:
    for char in ("\x1b", "\u202e", "\x7f", "\r", "fake\nline"):
        assert char not in text, repr(text)


def test_control_characters_in_a_file_name_are_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file found by listing a folder has a name a stranger chose; names inside a scenario
    refuse such characters (see the last section), file names cannot."""
    world = make_world(tmp_path)
    path = world.write().rename(world.folder / f"{EVIL}.yaml")
    junit = tmp_path / "out" / "check.xml"
    folder = str(world.folder)
    for argv in (["validate", folder], ["validate", folder, "--json"],
                 ["run", str(path), "-n", "2", "-q"],
                 ["check", folder, "--executor", "serial", "-q", "--junit", str(junit)]):
        assert cli.main(argv) == 0
        out, err = capsys.readouterr()
        _escape_free(out + err)
        if "--json" in argv:
            assert json.loads(out)["data"]["files"][0]["file"] == str(path)  # data intact
        elif argv[0] != "run":
            assert "evil\\x1b[2J\\x1b[32mall checks passed" in out
    suite = ET.parse(junit).getroot().find("testsuite")  # valid XML
    assert suite is not None
    _escape_free(suite.get("file", ""))


def test_control_characters_in_a_field_name_are_shown_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    path = world.write()
    path.write_text(path.read_text() + '"bad\\e[2Jkey\\e]0;title\\a": 1\n', "utf-8")
    assert cli.main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "bad\\x1b[2Jkey" in err
    with pytest.raises(LeasesimError) as caught:
        load_scenario(path)
    assert "\x1b" not in str(caught.value)  # from Python too


def test_printable_escapes_what_a_terminal_acts_on_and_keeps_the_rest() -> None:
    from simulator.errors import printable

    assert printable("naïve 名前 ok") == "naïve 名前 ok"
    assert printable("a\x1bb\x9bc\u202ed\u2028e\udc80") == "a\\x1bb\\x9bc\\u202ed\\u2028e\\udc80"
    assert printable("one\ntwo\tthree") == "one\\ntwo\\tthree"
    assert printable("one\ntwo\x1b", keep="\n") == "one\ntwo\\x1b"


# --- folders of scenarios: entries found by listing follow the rule too -------------------------
# `leasesim validate DIR` and `leasesim check DIR` list the folder's *.yaml and *.yml files; an
# entry that is a symbolic link leaving the folder is refused unless --allow-outside, an entry that
# is not a regular file is refused before anything opens it, and nothing of a file that is not a
# scenario is echoed. A file named on the command line itself may be anywhere (the user's choice).

LISTED = "outside that folder"
FOLDER_COMMANDS = {
    "validate": lambda folder: ["validate", str(folder)],
    "validate-json": lambda folder: ["validate", str(folder), "--json"],
    "check": lambda folder: ["check", str(folder), "--executor", "serial", "-q"],
}  # fmt: skip


def _listed_world(tmp_path: Path) -> World:
    """A folder with a good scenario, and an entry evil.yaml linking to the secret outside."""
    world = make_world(tmp_path)
    world.write()
    (world.folder / "evil.yaml").symlink_to(world.secret)
    return world


@pytest.mark.parametrize("command", FOLDER_COMMANDS)
def test_a_listed_symlink_leaving_the_folder_is_refused_unread(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = _listed_world(tmp_path)
    assert cli.main(FOLDER_COMMANDS[command](world.folder)) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert SECRET not in out + err  # the old code showed "but it is the text 'hunter2-...'"
    text = json.dumps(json.loads(out)) if command.endswith("json") else err
    for words in ("evil.yaml", "symbolic link", LISTED, "--allow-outside"):
        assert words in text, f"{words!r} not in:\n{text}"
    if command.endswith("json"):
        error = json.loads(out)["error"]
        assert error["code"] == "FILE_ERROR"
        assert [d["file"] for d in error["details"]] == [str(world.folder / "evil.yaml")]
    else:
        assert "s.yaml" not in err.split("\n\n", 1)[-1]  # the good file is not blamed


def test_a_listed_symlink_to_a_trusted_scenario_needs_allow_outside_or_its_own_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    shared = tmp_path / "shared"
    shared.mkdir()
    trusted = world.write().rename(shared / "trusted.yaml")
    (world.folder / "link.yaml").symlink_to(trusted)
    assert cli.main(["validate", str(world.folder)]) == 2
    assert LISTED in capsys.readouterr().err
    assert cli.main(["validate", "--allow-outside", str(world.folder)]) == 0
    assert cli.main(["validate", str(world.folder / "link.yaml")]) == 0  # named: the user's call
    argv = ["check", str(world.folder), "--executor", "serial", "-q"]
    assert cli.main(argv) == 2
    assert cli.main([*argv, "--allow-outside"]) == 0
    capsys.readouterr()


def test_listed_symlinks_inside_the_folder_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    (world.folder / "real").mkdir()
    world.write().rename(world.folder / "real" / "s.yaml")
    (world.folder / "alias.yaml").symlink_to(Path("real") / "s.yaml")
    assert cli.main(["validate", str(world.folder)]) == 0
    assert "alias.yaml: ok (untrusted)" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["fifo", "device", "folder", "link-to-a-fifo-outside"])
def test_a_listed_entry_that_is_not_a_regular_file_is_refused_before_opening(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    world.write()
    entry = world.folder / "odd.yaml"
    fifo: Path | None = None
    if kind == "fifo":
        os.mkfifo(entry)
        fifo = entry
    elif kind == "device":
        entry.symlink_to("/dev/zero")
    elif kind == "folder":
        entry.mkdir()
    else:
        fifo = world.victim / "pipe"
        os.mkfifo(fifo)
        entry.symlink_to(fifo)
    flags = ["--allow-outside"] if kind in ("device", "link-to-a-fifo-outside") else []
    with unblocking(fifo):  # the old code would have blocked opening a FIFO found in a folder
        status = cli.main(["validate", *flags, str(world.folder)])
    out, err = capsys.readouterr()
    assert status == 2
    assert "odd.yaml' was found in the folder" in err
    assert ("is a folder" if kind == "folder" else SPECIAL) in err
    assert "s.yaml: ok (untrusted)" in out


def test_listed_scenarios_reports_each_entry(tmp_path: Path) -> None:
    from simulator.scenario.files import listed_scenarios, outside_allowed

    world = _listed_world(tmp_path)
    (world.folder / "b.yml").write_text("x: 1\n", "utf-8")
    (world.folder / "notes.txt").write_text("not a scenario\n", "utf-8")
    (world.folder / "sub").mkdir()
    (world.folder / "sub" / "deep.yaml").write_text("x: 1\n", "utf-8")  # not listed: below
    found = listed_scenarios(world.folder)
    assert [(p.name, e is None) for p, e in found] == [
        ("b.yml", True), ("evil.yaml", False), ("s.yaml", True)]  # fmt: skip
    error = found[1][1]
    assert error is not None and error.code == "FILE_ERROR" and LISTED in error.message
    with outside_allowed():
        assert all(e is None for _, e in listed_scenarios(world.folder))


def test_a_file_that_is_a_single_value_is_not_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Named on the command line (the user's choice, so read), a token or a number that is not
    a scenario is described, never repeated."""
    for content, shape in ((f"{SECRET}\n{SECRET}\n", "a single text value"),
                           ("'hunter2-secret-token'\n", "a single text value"),
                           ("271828182845\n", "a single number")):  # fmt: skip
        path = tmp_path / "token.yaml"
        path.write_text(content, "utf-8")
        assert cli.main(["validate", str(path)]) == 2
        out, err = capsys.readouterr()
        assert f"but it is {shape} (line 1)" in err
        assert "hunter2" not in out + err and "271828" not in out + err


# --- names refuse control characters -----------------------------------------------------------
# A scenario's name and its fleet group, worker group and workload names become folder names,
# plot titles and JUnit test names: a character a terminal acts on (or that hides as it shows) is
# refused with the field and its line, not just shown escaped. description: may hold any text.

NAME_FIELDS = {
    "name": ("name: untrusted", "name: X", "line 1", ": name: 'ev"),
    "fleet-name": ("  - name: etl", "  - name: X", "line 5", "].name: 'ev"),
    "fleet-worker-group": ("    worker_group: wg\n    runners", "    worker_group: X\n    runners",
                           "line 6", "fleet[etl].worker_group: 'ev"),
    "workload-name": ("  - name: batch", "  - name: X", "line 10", "].name: 'ev"),
}  # fmt: skip
BAD_CHARACTERS = {"escape": ("\\e[2J", "U+001B"), "tab": ("\\t", "U+0009"),
                  "newline": ("\\n", "U+000A"), "rtl-override": ("\\u202E", "U+202E"),
                  "nul": ("\\0", "U+0000"), "del": ("\\x7f", "U+007F")}  # fmt: skip


@pytest.mark.parametrize("char", BAD_CHARACTERS)
@pytest.mark.parametrize("field_", NAME_FIELDS)
def test_a_name_with_a_control_character_is_refused(
    field_: str, char: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    path = world.write()
    old, new, line, shown = NAME_FIELDS[field_]
    escape, code = BAD_CHARACTERS[char]
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new.replace("X", f'"ev{escape}il"')), "utf-8")
    assert cli.main(["validate", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert f"{line}: " in err and shown in err, err
    assert f"holds the character {code}" in err and "at position 3" in err, err
    assert "may go in the description" in err
    _escape_free(out + err)
    assert "\t" not in out + err and "\x00" not in out + err


def test_a_name_with_a_control_character_is_refused_from_set_and_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    path = world.write()
    assert cli.main(["validate", str(path), "--set", 'workload.batch.worker_group="w\\eg"']) == 2
    err = capsys.readouterr().err
    assert "from --set" in err and "U+001B" in err and "\x1b" not in err
    with pytest.raises(LeasesimError, match="U\\+202E .RIGHT-TO-LEFT OVERRIDE"):
        load_scenario(path, overrides=["name=abc\u202efdp.exe"])


def test_printable_names_and_a_description_with_tabs_and_line_breaks_are_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world(tmp_path)
    path = world.write()
    text = path.read_text().replace("name: untrusted", 'name: "naïve 名前 ok (v2) #1"')
    path.write_text(text + 'description: "first line\\n\\tindented, then\\r\\nmore"\n', "utf-8")
    assert cli.main(["validate", str(path)]) == 0
    assert "ok (naïve 名前 ok (v2) #1)" in capsys.readouterr().out
    scenario = load_scenario(path)
    assert scenario.description == "first line\n\tindented, then\r\nmore"
