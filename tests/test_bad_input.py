"""The catalogue of bad input: every malformed scenario or command line gets exit status 2, no
traceback, and one clear message naming the file, the line, the field and what is allowed.

Each case is a row of CASES: how to make the bad input (a scenario text, a file of some kind, or
command-line arguments) and what the message must name. Every case runs through `leasesim run`
twice, as text on stderr and as the `--json` envelope; a few also through a real subprocess.
Valid-but-surprising input (a progress interval at or above the lease) is a warning, tested at the
end: exit status 0, shown once, explained, and part of the `--json` output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import simulator.cli as cli

ROOT = Path(__file__).resolve().parents[1]

# A valid scenario; every case below breaks one thing in it. Keep each field on its own line:
# cases find the line they expect by a marker text.
BASE = """\
name: bad-input
duration: 2h
service:
  lease_reading: 15min
  on_lease_expiry: fail_and_retry
  stale_progress: canceled
  stale_status: rejected
  dispatch: fifo
  ack_uses_report_timeout: false
  heartbeat_renews_leases: false
simulation:
  mode: exact
fleet:
  - name: etl
    worker_group: wg
    runners: 2
    threads: 2
    progress_interval: 60s
    faults:
      pause:
        rate: 2/d
        duration: 30s
      partition:
        rate: 1/d
        duration: 5m
        scope: runner
      message_loss: 0.1
workload:
  - name: batch
    worker_group: wg
    arrivals: {kind: poisson, rate: 10/h}
    duration: {dist: lognormal, median: 10m, p95: 40m}
    failure_probability: 0.1
    max_retries: 2
"""


def edit(old: str, new: str, text: str = BASE) -> str:
    """`text` with its one occurrence of `old` replaced by `new`."""
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def line_of(text: str, marker: str) -> int:
    """The 1-based line of the only line of `text` containing `marker`."""
    found = [n for n, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(found) == 1, f"marker {marker!r} is on lines {found}"
    return found[0]


@dataclass(frozen=True)
class Bad:
    """One bad input and what its message must say.

    `text` is the scenario file's content (bytes as they are; None: `make` builds the path);
    `argv` follows `leasesim run FILE`; `line` is a line number or a marker text on that line;
    `field` is the field path the message names; `says` are the other fragments it must contain
    (what is allowed, a suggestion). `file` is False for command-line mistakes that concern no file.
    """

    name: str
    text: str | bytes | None = BASE
    argv: tuple[str, ...] = ()
    field: str | None = None
    line: int | str | None = None
    says: tuple[str, ...] = ()
    code: str = "VALIDATION_ERROR"
    file: bool = True
    make: Callable[[Path], Path] | None = None
    command: str = "run"

    def path(self, tmp_path: Path) -> Path:
        if self.make is not None:
            return self.make(tmp_path)
        path = tmp_path / "scenario.yaml"
        if isinstance(self.text, bytes):
            path.write_bytes(self.text)
        else:
            path.write_text(self.text or "", encoding="utf-8")
        return path

    def expected_line(self) -> int | None:
        if isinstance(self.line, str):
            assert isinstance(self.text, str)
            return line_of(self.text, self.line)
        return self.line


def _alias_bomb(tmp_path: Path) -> Path:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text(BASE + "\n".join(lines) + "\n")
    return path


def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.yaml"
    padding = "# " + "x" * 1000 + "\n"
    path.write_text(BASE + padding * 6_000)  # about 6 MB of comments
    return path


def _missing(tmp_path: Path) -> Path:
    (tmp_path / "aws-defaults.yaml").write_text(BASE)
    return tmp_path / "aws-default.yaml"  # a typo of a file that exists


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "one.yaml").write_text(BASE)
    return tmp_path


def _csv_missing(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(CSV_TEXT)
    return path


BEFORE_FLEET = BASE[: BASE.index("fleet:")]
FROM_WORKLOAD = BASE[BASE.index("workload:") :]
CSV_TEXT = edit(
    "duration: {dist: lognormal, median: 10m, p95: 40m}",
    "duration: {dist: empirical, file: samples.csv, column: seconds}",
)
CONTRADICTIONS = {  # every reading of a documented contradiction (reference section 3)
    "lease_reading": ("15min", "fifteen", ("'15min'", "'5min'", "'min'", "'two_stage'")),
    "on_lease_expiry": ("fail_and_retry", "retry", ("'fail_and_retry'", "'reassign_same_attempt'",
                                                    "'new_attempt_no_delay'")),
    "stale_progress": ("canceled", "cancelled", ("'canceled'", "'not_found'", "'accepted'")),
    "stale_status": ("rejected", "newest", ("'rejected'", "'first_writer_wins'",
                                            "'last_writer_wins'")),
    "dispatch": ("fifo", "lifo", ("'fifo'", "'random'")),
    "ack_uses_report_timeout": ("false", "maybe", ("true or false",)),
    "heartbeat_renews_leases": ("false", "sometimes", ("true or false",)),
}  # fmt: skip

CASES: list[Bad] = [
    # --- the file itself --------------------------------------------------------------------------
    Bad("yaml_unclosed_bracket", edit("    runners: 2\n", "    runners: [2\n"), code="FILE_ERROR",
        line=17, says=("not valid YAML",)),
    Bad("yaml_two_colons", edit("duration: 2h", "duration: 2h: 3h"), code="FILE_ERROR",
        line=2, says=("not valid YAML", "mapping values are not allowed")),
    Bad("yaml_tab_indent", edit("    runners: 2", "\trunners: 2"), code="FILE_ERROR", line=16,
        says=("not valid YAML", "tab")),
    Bad("top_level_list", "- name: a\n- name: b\n", code="FILE_ERROR", line=1,
        says=("must be a mapping of fields", "a list")),
    Bad("top_level_text", "just some text\n", code="FILE_ERROR", line=1,
        says=("must be a mapping of fields", "a single text value")),
    Bad("empty_file", "", code="FILE_ERROR", says=("is empty", "duration, fleet and workload")),
    Bad("only_comments", "# nothing yet\n", code="FILE_ERROR", says=("only comments",)),
    Bad("binary_file", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", code="FILE_ERROR",
        says=("binary file", "not a YAML scenario")),
    Bad("not_utf8", BASE.encode() + b"description: caf\xe9\n", code="FILE_ERROR", line=35,
        says=("not UTF-8", "Save the file as UTF-8")),
    Bad("file_missing", None, make=_missing, code="FILE_ERROR",
        says=("does not exist", "Did you mean", "aws-defaults.yaml")),
    Bad("a_directory", None, make=_folder, code="FILE_ERROR",
        says=("is a folder, not a scenario file", "one.yaml")),
    Bad("alias_bomb", None, make=_alias_bomb, code="FILE_ERROR",
        says=("alias bomb", "100000 repeated values")),
    Bad("recursive_alias", BASE + "loop: &loop [1, *loop]\n", code="FILE_ERROR", line="loop",
        says=("recursive alias",)),
    Bad("several_megabytes", None, make=_huge, code="FILE_ERROR",
        says=("MB", "limited to 5 MB", "CSV")),
    Bad("several_documents", BASE + "---\nname: second\n", code="FILE_ERROR",
        says=("not valid YAML", "single document")),
    Bad("duplicate_key", BASE + "duration: 3h\n", code="FILE_ERROR", line="duration: 3h",
        says=("'duration' appears twice", "first on line 2")),
    Bad("boolean_key", BASE + "on: true\n", code="FILE_ERROR", line="on: true",
        says=("'on' is not a plain name", "Quote it")),
    Bad("python_object_tag", edit("name: bad-input", "name: !!python/object/apply:os.getcwd []"),
        code="FILE_ERROR", line=1, says=("not valid YAML", "python/object")),
    Bad("nested_too_deep", BASE + "deep: " + "[" * 80 + "]" * 80 + "\n", code="FILE_ERROR",
        says=("nested",)),
    # --- fields: unknown, missing, wrong type -----------------------------------------------------
    Bad("unknown_top_level_field", edit("duration: 2h", "duration: 2h\nreplication: 3"),
        field="replication", line="replication", says=("unknown field", "Did you mean "
        "'replications'?", "The fields allowed in the top level of a scenario are")),
    Bad("unknown_fleet_field", edit("    runners: 2", "    runers: 2"),
        field="fleet[etl].runers", line="runers", says=("Did you mean 'runners'?",
        "progress_interval")),
    Bad("unknown_fault_field", edit("        duration: 30s", "        durration: 30s"),
        field="fleet[etl].faults.pause.durration", line="durration",
        says=("Did you mean 'duration'?",)),
    Bad("unknown_fault_kind", edit("      pause:", "      paws:"), field="fleet[etl].faults.paws",
        line="paws",
        says=("Did you mean 'pause'?",
              "crash, interruption, pause, progress_stall, heartbeat_stall")),
    Bad("missing_duration", edit("duration: 2h\n", ""), field="duration",
        says=("needs 'duration', which is missing", "add `duration:`")),
    Bad("missing_fault_duration", edit("        duration: 30s\n", ""),
        field="fleet[etl].faults.pause.duration", line="      pause:",
        says=("needs 'duration', which is missing",)),
    Bad("missing_arrivals", edit("    arrivals: {kind: poisson, rate: 10/h}\n", ""),
        field="workload[batch].arrivals", line="  - name: batch", says=("missing",)),
    Bad("runners_not_a_number", edit("runners: 2", "runners: two"), field="fleet[etl].runners",
        line="runners", says=("must be a whole number >= 1", "'two'")),
    Bad("threads_fractional", edit("threads: 2", "threads: 2.5"), field="fleet[etl].threads",
        line="threads", says=("must be a whole number >= 1", "2.5")),
    Bad("fleet_is_a_mapping", BEFORE_FLEET + "fleet: {name: etl, worker_group: wg}\n"
        + FROM_WORKLOAD, field="fleet", line="fleet:", says=("must be a list", "a mapping")),
    Bad("fleet_is_text", BEFORE_FLEET + "fleet: etl\n" + FROM_WORKLOAD, field="fleet",
        line="fleet:", says=("must be a list", "the text 'etl'")),
    Bad("service_not_a_section", "service: fast\n" + BASE[BASE.index("simulation:"):],
        field="service", line=1, says=("must be a section of fields", "the text 'fast'")),
    Bad("empty_fleet", BEFORE_FLEET + "fleet: []\n" + FROM_WORKLOAD, field="fleet",
        line="fleet: []", says=("must list at least one entry",)),
    # --- values out of range ----------------------------------------------------------------------
    Bad("negative_duration", edit("duration: 2h", "duration: -2h"), field="duration", line=2,
        says=("'-2h' is negative", "must be > 0")),
    Bad("zero_duration", edit("duration: 2h", "duration: 0s"), field="duration", line=2,
        says=("must be greater than 0", "'0s'")),
    Bad("infinite_duration", edit("duration: 2h", "duration: .inf"), field="duration", line=2,
        says=("must be finite",)),
    Bad("nan_interval", edit("progress_interval: 60s", "progress_interval: .nan"),
        field="fleet[etl].progress_interval", line="progress_interval", says=("must be finite",)),
    Bad("negative_rate", edit("rate: 10/h", "rate: -10/h"), field="workload[batch].arrivals.rate",
        line="arrivals", says=("must be greater than 0", "'-10/h'")),
    Bad("zero_rate", edit("        rate: 2/d", "        rate: 0/d"),
        field="fleet[etl].faults.pause.rate", line="rate: 0/d", says=("greater than 0", "'0/d'")),
    Bad("infinite_rate", edit("rate: 10/h", "rate: .inf"), field="workload[batch].arrivals.rate",
        line="arrivals", says=("must be finite",)),
    Bad("unknown_duration_unit", edit("        duration: 30s", "        duration: 5 mins"),
        field="fleet[etl].faults.pause.duration", line="5 mins",
        says=("'5 mins' is not a duration", "units ms, s, m, h, d, w")),
    Bad("unknown_rate_unit", edit("rate: 10/h", "rate: 10/hour"),
        field="workload[batch].arrivals.rate", line="arrivals",
        says=("'10/hour' is not a rate", "'120/h'")),
    Bad("probability_above_one", edit("failure_probability: 0.1", "failure_probability: 1.5"),
        field="workload[batch].failure_probability", line="failure_probability",
        says=("less than or equal to 1", "1.5")),
    Bad("probability_below_zero", edit("message_loss: 0.1", "message_loss: -0.1"),
        field="fleet[etl].faults.message_loss", line="message_loss",
        says=("greater than or equal to 0", "-0.1")),
    Bad("probability_as_percent", edit("message_loss: 0.1", "message_loss: 10%"),
        field="fleet[etl].faults.message_loss", line="message_loss",
        says=("must be a number from 0 to 1", "'10%'")),
    Bad("too_many_retries", edit("max_retries: 2", "max_retries: 9"),
        field="workload[batch].max_retries", line="max_retries",
        says=("less than or equal to 5",)),
    Bad("jitter_not_below_interval", edit("progress_interval: 60s",
        "progress_interval: 60s\n    progress_jitter: 90s"), field="fleet[etl].progress_jitter",
        line="progress_jitter", says=("must be below progress_interval",)),
    # --- distributions and arrivals ---------------------------------------------------------------
    Bad("unknown_distribution", edit("{dist: lognormal, median: 10m, p95: 40m}",
        "{dist: gamma, shape: 2}"), field="workload[batch].duration.dist", line="gamma",
        says=("'gamma' is not a known dist", "'fixed', 'exponential', 'lognormal'")),
    Bad("distribution_without_dist", edit("{dist: lognormal, median: 10m, p95: 40m}",
        "{median: 10m, p95: 40m}"), field="workload[batch].duration", line="median",
        says=("needs a `dist:` entry", "bare duration such as 30s")),
    Bad("lognormal_p95_below_median", edit("        duration: 30s",
        "        duration: {dist: lognormal, median: 1m, p95: 20s}"),
        field="fleet[etl].faults.pause.duration.p95", line="p95: 20s",
        says=("p95 (20s) must be greater than median (60s)",)),
    Bad("uniform_high_below_low", edit("        duration: 5m",
        "        duration: {dist: uniform, low: 5m, high: 1m}"),
        field="fleet[etl].faults.partition.duration.high", line="uniform",
        says=("must not be below low",)),
    Bad("unknown_arrival_kind", edit("kind: poisson", "kind: poison"),
        field="workload[batch].arrivals.kind", line="poison",
        says=("Did you mean 'poisson'?", "'periodic'", "'times'")),
    Bad("negative_arrival_time", edit("{kind: poisson, rate: 10/h}",
        "{kind: times, times: [0s, -5]}"), field="workload[batch].arrivals.times[1]",
        line="times", says=("greater than or equal to 0", "-5")),
    Bad("empirical_file_missing", None, make=_csv_missing, code="FILE_ERROR",
        field="workload[batch].duration.file", says=("'samples.csv' does not exist",
        "relative paths are read from the scenario file's folder")),
    # --- cross-field rules ------------------------------------------------------------------------
    Bad("workload_group_not_served", edit("    worker_group: wg\n    arrivals",
        "    worker_group: WG\n    arrivals"), field="workload[batch].worker_group",
        line="WG", says=("no fleet group serves", "served: wg")),
    Bad("duplicate_fleet_names", edit("workload:\n", "  - name: etl\n    worker_group: wg\n"
        "workload:\n"), field="fleet[etl].name", line=28, says=("'etl' is used twice",
        "names must be unique")),
    Bad("duplicate_workload_names", BASE + "  - name: batch\n    worker_group: wg\n"
        "    arrivals: {kind: poisson, rate: 1/h}\n    duration: 1m\n",
        field="workload[batch].name", line=35, says=("'batch' is used twice",)),
    Bad("huge_integer", edit("duration: 2h", "duration: " + "9" * 400), field="duration",
        line="999", says=("too large for a duration",)),
    Bad("astronomical_fleet", edit("runners: 2", "runners: " + "9" * 400), code="LIMIT_EXCEEDED",
        says=("not started", "astronomical", "--force")),
    Bad("huge_fleet_for_a_year", edit("runners: 2", "runners: 100000").replace(
        "duration: 2h", "duration: 52w"), code="LIMIT_EXCEEDED",
        says=("not started", "billion SimPy events", "LEASESIM_MAX_EVENTS", "--set duration=",
              "--force")),
    # --- an unknown value for each contradiction option, and the other choices -------------------
    *[
        Bad(f"unknown_{option}", edit(f"  {option}: {good}", f"  {option}: {bad}"),
            field=f"service.{option}", line=f"{option}:", says=allowed)
        for option, (good, bad, allowed) in CONTRADICTIONS.items()
    ],
    Bad("unknown_partition_scope", edit("scope: runner", "scope: zone"),
        field="fleet[etl].faults.partition.scope", line="scope", says=("'runner' or 'group'",)),
    Bad("unknown_simulation_mode", edit("mode: exact", "mode: turbo"), field="simulation.mode",
        line="mode", says=("'exact' or 'fast'",)),
    # --- --set ------------------------------------------------------------------------------------
    Bad("set_unknown_section", argv=("--set", "fleet.etl.fault.crash.rate=1/d"),
        code="USAGE_ERROR", says=("--set fleet.etl.fault.crash.rate=1/d",
        "no section 'fault'", "Did you mean 'faults'?")),
    Bad("set_unknown_entry", argv=("--set", "fleet.etk.runners=3"), code="USAGE_ERROR",
        says=("no entry named 'etk'", "'etl'", "Did you mean 'etl'?")),
    Bad("set_unknown_field", argv=("--set", "fleet.etl.progres_interval=30s"),
        field="fleet[etl].progres_interval", says=("from --set fleet.etl.progres_interval=30s",
        "Did you mean 'progress_interval'?")),
    Bad("set_wrong_type", argv=("--set", "fleet.etl.runners=many"), field="fleet[etl].runners",
        says=("from --set fleet.etl.runners=many", "must be a whole number >= 1")),
    Bad("set_wrong_enum", argv=("--set", "service.lease_reading=5m"),
        field="service.lease_reading", says=("from --set", "Did you mean '5min'?")),
    Bad("set_without_equals", argv=("--set", "duration"), code="USAGE_ERROR",
        says=("expects PATH=VALUE", "service.lease_reading=5min")),
    Bad("set_bad_yaml_value", argv=("--set", "duration=[2h"), code="USAGE_ERROR",
        says=("is not a valid YAML value", "quote it")),
    Bad("set_into_a_single_value", argv=("--set", "fleet.etl.faults.pause.duration.median=1m"),
        code="USAGE_ERROR", says=("single value '30s'", "Set it whole")),
    # --- values that are not what they seem (issue 19, items 4, 5, 9) -----------------------------
    Bad("boolean_as_count", edit("runners: 2", "runners: true"), field="fleet[etl].runners",
        line="runners", says=("must be a whole number >= 1 (got true)", "a boolean is not a "
        "number")),
    Bad("yes_as_probability", edit("message_loss: 0.1", "message_loss: yes"),
        field="fleet[etl].faults.message_loss", line="message_loss",
        says=("must be a number from 0 to 1", "yes/no and on/off as booleans")),
    Bad("boolean_as_failure_probability", edit("failure_probability: 0.1",
        "failure_probability: true"), field="workload[batch].failure_probability",
        line="failure_probability", says=("a boolean is not a number",)),
    Bad("no_as_retries", edit("max_retries: 2", "max_retries: no"),
        field="workload[batch].max_retries", line="max_retries",
        says=("must be a whole number from 0 to 5 (got false)",)),
    Bad("octal_looking_count", edit("runners: 2", "runners: 010"), field="fleet[etl].runners",
        line="runners", says=("leading zero", "octal number 8", "write 10 (or 8)")),
    Bad("hexadecimal_count", edit("threads: 2", "threads: 0x10"), field="fleet[etl].threads",
        line="threads", says=("hexadecimal number 16", "write 16")),
    Bad("sexagesimal_duration", edit("duration: 2h", "duration: 1:30:00"), field="duration",
        line=2, says=("base-60 number 5400", "1h30m")),
    Bad("full_width_count", edit("runners: 2", "runners: １０"), field="fleet[etl].runners",
        line="runners", says=("full-width digits", "ASCII digits")),
    Bad("full_width_duration", edit("duration: 2h", "duration: ２h"), field="duration", line=2,
        says=("full-width digits", "ASCII")),
    Bad("quoted_count", edit("runners: 2", "runners: '3'"), field="fleet[etl].runners",
        line="runners", says=("(got '3')", "write it without quotes")),
    Bad("cr_only_line_endings", BASE.replace("\n", "\r").encode(), code="FILE_ERROR", line=1,
        says=("carriage return (CR) not followed by a line feed", "LF (Unix) or CRLF")),
    Bad("stray_cr_after_a_comment", edit("name: bad-input", "name: bad-input  # seed\rseed: 7"),
        code="FILE_ERROR", line=1, says=("carriage return",)),
    Bad("empty_times", edit("{kind: poisson, rate: 10/h}", "{kind: times, times: []}"),
        field="workload[batch].arrivals.times", line="arrivals",
        says=("lists no times", "never submit a task")),
    Bad("burst_below_one", edit("  dispatch: fifo", "  dispatch: fifo\n  throttle: {burst: 0.5}"),
        field="service.throttle.burst", line="burst", says=("burst (0.5) must be at least 1",
        "could never pass a call")),
    Bad("certain_message_loss", edit("message_loss: 0.1", "message_loss: 1.0"),
        field="fleet[etl].faults.message_loss", line="message_loss",
        says=("loses every request and every reply", "below 1")),
    Bad("empty_duration", edit("duration: 2h", "duration:"), field="duration", line=2,
        says=("is empty (null)", "units ms, s, m, h, d, w")),
    Bad("profile_in_capitals", edit("  dispatch: fifo", "  dispatch: fifo\n  profile: SQS"),
        field="service.profile", line="profile", says=("Did you mean 'sqs'?",)),
    Bad("extension_key_in_a_section", edit("    threads: 2", "    threads: 2\n    x-note: 1"),
        field="fleet[etl].x-note", line="x-note", says=("unknown field 'x-note'",
        "only at the top level")),
    Bad("set_duplicate_key", argv=("--set", "fleet.etl.startup={dist: fixed, value: 1s, "
        "value: 2s}"), code="USAGE_ERROR", says=("'value' appears twice",
        "keep only the last one")),
    Bad("set_octal_looking", argv=("--set", "fleet.etl.runners=010"), field="fleet[etl].runners",
        says=("from --set fleet.etl.runners=010", "leading zero", "write 10 (or 8)")),
    Bad("set_boolean_as_loss", argv=("--set", "fleet.etl.faults.message_loss=on"),
        field="fleet[etl].faults.message_loss", says=("from --set", "a boolean is not a number")),
    Bad("set_sexagesimal", argv=("--set", "duration=1:30"), field="duration",
        says=("from --set duration=1:30", "1h30m (hours:minutes) or 1m30s (minutes:seconds)")),
    # --- other command-line mistakes --------------------------------------------------------------
    Bad("zero_replications", argv=("-n", "0"), code="USAGE_ERROR", file=False,
        says=("-n/--replications: expected a whole number >= 1, got 0", "usage: leasesim run")),
    Bad("negative_seed", argv=("--seed", "-1"), code="USAGE_ERROR", file=False,
        says=("--seed: expected a whole number >= 0, got -1",)),
    Bad("mistyped_flag", argv=("--sed", "3"), code="USAGE_ERROR", file=False,
        says=("unrecognized arguments", "did you mean --seed?")),
    Bad("unknown_command", command="runn", code="USAGE_ERROR", file=False,
        says=("invalid choice: 'runn'", "'run'")),
    Bad("validate_a_bad_file", edit("runners: 2", "runners: 0"), command="validate",
        field="fleet[etl].runners", line="runners", says=("greater than or equal to 1", "invalid")),
]  # fmt: skip


def test_the_catalogue_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


def _run(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str, str]:
    status = cli.main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def _argv(case: Bad, path: Path, *extra: str) -> list[str]:
    if case.command == "runn":
        return [case.command, str(path), *extra]
    return [case.command, str(path), *case.argv, *extra]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_bad_input_is_refused_clearly(
    case: Bad, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEASESIM_DEBUG", raising=False)
    path = case.path(tmp_path)
    line = case.expected_line()

    status, out, err = _run(capsys, _argv(case, path))
    assert status == 2, err
    assert "Traceback" not in out + err
    if case.command != "validate":  # validate lists the files it checked on stdout
        assert out == ""
    if case.file:
        assert str(path) in err
    if line is not None:
        assert f"line {line}" in err, err
    if case.field is not None:
        assert case.field in err, err
    for fragment in case.says:
        assert fragment in err, f"{fragment!r} not in:\n{err}"

    status, out, err = _run(capsys, _argv(case, path, "--json"))
    assert status == 2 and "Traceback" not in out + err
    payload = json.loads(out)  # stdout is exactly one JSON document
    error = payload["error"]
    assert payload["success"] is False and error["code"] == case.code
    for fragment in case.says:
        if fragment.startswith("usage:"):
            continue  # the usage line is printed for a reader, not put in the envelope
        if fragment.startswith("from --set"):  # in JSON, an override is a field of its own
            overrides = [d.get("override") for d in error["details"]]
            wanted = fragment.removeprefix("from --set").strip()
            assert (wanted in overrides) if wanted else any(overrides), error["details"]
            continue
        assert fragment in error["message"] + json.dumps(error["details"]), fragment
    if case.field is not None or line is not None:
        assert any(
            (case.field is None or d.get("field") == case.field)
            and (line is None or d.get("line") == line)
            for d in error["details"]
        ), error["details"]
    if case.file:
        assert any(d.get("file") == str(path) for d in error["details"]), error["details"]


# --- through a real process: exit status and stderr as a shell sees them ------------------------


@pytest.mark.slow  # four interpreters start: seconds each on a busy machine
def test_bad_input_in_a_real_process(tmp_path: Path) -> None:
    chosen = ["yaml_unclosed_bracket", "binary_file", "alias_bomb", "set_wrong_type"]
    cases = {case.name: case for case in CASES}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LEASESIM_DEBUG", None)
    procs = {}
    for name in chosen:
        folder = tmp_path / name
        folder.mkdir()
        case = cases[name]
        argv = [sys.executable, "-m", "simulator.cli", *_argv(case, case.path(folder))]
        procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, (name, err)
        assert out == "" and "Traceback" not in err and err.startswith("error: "), (name, err)


# --- warnings: valid but surprising, shown once, explained, in the JSON -------------------------


def _warning_case(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "warn.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("interval", ["15m1s", "20m"])  # just above the 15-minute lease, and far
def test_progress_interval_above_the_lease_is_a_warning(
    interval: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edit("progress_interval: 60s", f"progress_interval: {interval}")
    path = _warning_case(tmp_path, text)
    line = line_of(text, "progress_interval")

    status, out, err = _run(capsys, ["run", str(path), "-n", "1", "--set", "duration=30m", "-q"])
    assert status == 0 and "Traceback" not in out + err
    warnings = [w for w in err.splitlines() if w.startswith("warning: ")]
    assert len(warnings) == 1, err  # once, although the run has a replication that could repeat it
    (warning,) = warnings
    assert f"{path}, line {line}: fleet[etl].progress_interval" in warning
    assert f"reports progress every {interval}" in warning and "15m of silence" in warning
    assert "expect every attempt to be reassigned" in warning  # the consequence

    status, out, err = _run(capsys, ["run", str(path), "-n", "2", "--set", "duration=30m",
                                     "--json"])  # fmt: skip
    assert status == 0 and err == ""  # with --json, warnings are in the document, not on stderr
    (entry,) = json.loads(out)["data"]["warnings"]
    assert entry["field"] == "fleet[etl].progress_interval"
    assert entry["file"] == str(path) and entry["line"] == line
    assert "reassigned" in entry["message"]

    status, out, err = _run(capsys, ["validate", str(path)])
    assert status == 0 and out.count("warning: ") == 1 and "reassigned" in out


def test_a_fleet_group_no_workload_uses_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = edit("workload:\n", "  - name: idle\n    worker_group: nobody\nworkload:\n")
    path = _warning_case(tmp_path, text)
    status, out, err = _run(capsys, ["validate", str(path), "--json"])
    assert status == 0
    (file_report,) = json.loads(out)["data"]["files"]
    (entry,) = file_report["warnings"]
    assert entry["field"] == "fleet[idle].worker_group"
    assert entry["line"] == line_of(text, "nobody")
    assert "only poll" in entry["message"]


def test_the_base_scenario_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every case breaks exactly one thing: the base it starts from must itself be fine."""
    path = _warning_case(tmp_path, BASE)
    status, out, err = _run(capsys, ["validate", str(path)])
    assert status == 0 and "warning" not in out + err, out + err
