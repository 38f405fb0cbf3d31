"""Scenario loading: every bad input is a LeasesimError naming file, line and field; overrides,
empirical CSV samples, warnings and the shipped scenario files."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from simulator.errors import LeasesimError, ScenarioWarning
from simulator.scenario.load import (
    LoadedScenario,
    load_scenario,
    load_scenario_dict,
    load_scenario_with_source,
    scenario_to_dict,
)
from simulator.scenario.overrides import parse_override
from simulator.scenario.schema import Empirical, Fixed, Lognormal, Scenario
from simulator.scenario.warnings import warnings

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"

# Line numbers below refer to this text (line 1 is "name: t").
MINIMAL = """\
name: t
duration: 1d
fleet:
  - name: etl
    worker_group: wg
    runners: 2
    startup: 30s
workload:
  - name: batch
    worker_group: wg
    arrivals: {kind: poisson, rate: 10/h}
    duration: {dist: lognormal, median: 10m, p95: 40m}
"""


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(path: Path, overrides: tuple[str, ...] = ()) -> LeasesimError:
    with pytest.raises(LeasesimError) as info:
        load_scenario(path, overrides)
    return info.value


def only_detail(error: LeasesimError) -> dict[str, Any]:
    assert len(error.details) == 1, error.details
    return error.details[0]


# --- the shipped scenarios ------------------------------------------------------------------------

SHIPPED = sorted(SCENARIOS.glob("*.yaml"))


def test_the_expected_scenarios_are_shipped() -> None:
    names = {p.name for p in SHIPPED}
    assert {
        "aws-defaults.yaml",
        "five-minute-reading.yaml",
        "gc-pauses.yaml",
        "flaky-network.yaml",
        "zone-partition.yaml",
        "throttled-fleet.yaml",
        "slow-acknowledgement.yaml",
    } <= names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert scenario.name == path.stem  # results are labelled by name: keep it the file's
    assert path.read_text().startswith("#"), "each shipped file starts with a header comment"
    assert scenario.duration <= 86400
    if path.stem != "throttled-fleet":
        assert sum(g.runners for g in scenario.fleet) <= 50


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenario_round_trips_through_a_manifest(path: Path) -> None:
    scenario = load_scenario(path)
    data = scenario_to_dict(scenario)
    json.dumps(data)  # JSON-safe
    assert load_scenario_dict(data) == scenario


def test_aws_defaults_are_the_documented_defaults() -> None:
    scenario = load_scenario(SCENARIOS / "aws-defaults.yaml")
    service = scenario.service
    assert service == type(service)()  # every value written out equals the schema default
    assert (service.ack_timeout, service.report_progress_timeout, service.long_poll) == (
        120,
        900,
        90,
    )
    assert scenario.seed == 1 and scenario.replications == 5
    group = scenario.fleet[0]
    assert (group.runners, group.threads) == (10, 2)
    assert warnings(scenario) == []


def test_shipped_scenarios_exercise_their_rules() -> None:
    five = load_scenario(SCENARIOS / "five-minute-reading.yaml")
    assert five.service.lease_reading == "5min"
    gc = load_scenario(SCENARIOS / "gc-pauses.yaml")
    assert gc.service.on_lease_expiry == "reassign_same_attempt"
    assert gc.service.stale_progress == "accepted"
    assert gc.fleet[0].faults.pause is not None
    flaky = load_scenario(SCENARIOS / "flaky-network.yaml")
    assert flaky.fleet[0].faults.message_loss == pytest.approx(0.2)
    zone = load_scenario(SCENARIOS / "zone-partition.yaml")
    partition = zone.fleet[0].faults.partition
    assert partition is not None and partition.scope == "group"
    assert partition.duration.low > 15 * 60  # always longer than the 15-minute lease
    throttled = load_scenario_with_source(SCENARIOS / "throttled-fleet.yaml")
    assert any("ReportTaskProgress" in w.message for w in throttled.warnings())
    slow = load_scenario_with_source(SCENARIOS / "slow-acknowledgement.yaml")
    assert any("acknowledgement" in w.message for w in slow.warnings())


# --- valid input ----------------------------------------------------------------------------------


def test_minimal_scenario_gets_defaults(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, MINIMAL))
    assert scenario.duration == 86400
    assert scenario.service.lease_reading == "15min"
    # a bare duration is a fixed value
    assert scenario.fleet[0].startup == Fixed(dist="fixed", value=30.0)
    assert isinstance(scenario.workload[0].duration, Lognormal)
    assert scenario.workload[0].arrivals.rate == pytest.approx(10 / 3600)


def test_anchors_and_merge_keys_work_and_keep_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        base: &base
          worker_group: wg
          threads: 4
        duration: 1h
        fleet:
          - <<: *base
            name: a
          - <<: *base
            name: b
            threads: x
        workload:
          - {name: w, worker_group: wg, arrivals: {kind: poisson, rate: 1/h}, duration: 1m}
        """,
    )
    error = load_error(path)
    fields = [d["field"] for d in error.details]
    assert "base" in " ".join(fields)  # the unknown top-level key `base`, on line 1
    threads = next(d for d in error.details if d["field"] == "fleet[b].threads")
    assert threads["line"] == 10  # the explicit key beats the merged one


def test_load_scenario_dict_validates_and_does_not_modify_its_input() -> None:
    data = {
        "duration": "1h",
        "fleet": [{"name": "a", "worker_group": "wg"}],
        "workload": [
            {
                "name": "w",
                "worker_group": "wg",
                "arrivals": {"kind": "poisson", "rate": "1/h"},
                "duration": "1m",
            }
        ],
    }
    before = json.dumps(data, sort_keys=True)
    scenario = load_scenario_dict(data, overrides=["fleet.a.runners=3"])
    assert scenario.fleet[0].runners == 3
    assert json.dumps(data, sort_keys=True) == before


def test_load_scenario_dict_names_its_source() -> None:
    with pytest.raises(LeasesimError) as info:
        load_scenario_dict({"duration": "1h"}, source="manifest.json")
    assert info.value.code == "VALIDATION_ERROR"
    assert "manifest.json" in str(info.value)
    assert {d["field"] for d in info.value.details} == {"fleet", "workload"}
    with pytest.raises(LeasesimError, match="mapping"):
        load_scenario_dict(["not", "a", "dict"])  # type: ignore[arg-type]


# --- validation errors: field path and line -------------------------------------------------------


def test_unknown_field_names_line_allowed_fields_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("    runners: 2\n", "    runers: 2\n"))
    error = load_error(path)
    assert error.code == "VALIDATION_ERROR"
    detail = only_detail(error)
    assert detail["field"] == "fleet[etl].runers"
    assert detail["line"] == 6
    assert detail["file"] == str(path)
    assert "Did you mean 'runners'?" in detail["message"]
    assert "progress_interval" in detail["message"]  # lists what is allowed
    text = str(error)
    assert f"{path}, line 6: fleet[etl].runers" in text


def test_nested_fault_field_is_named_by_group_name(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL.replace(
            "    startup: 30s\n",
            "    startup: 30s\n"
            "    faults:\n"
            "      pause:\n"
            "        rate: 2/d\n"
            "        duration: 5 sec\n",
        ),
    )
    detail = only_detail(load_error(path))
    assert detail["field"] == "fleet[etl].faults.pause.duration"
    assert detail["line"] == 11
    assert "'5 sec' is not a duration" in detail["message"]


def test_lognormal_p95_below_median_points_at_p95(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL.replace(
            "duration: {dist: lognormal, median: 10m, p95: 40m}",
            "duration:\n      dist: lognormal\n      median: 10m\n      p95: 5m",
        ),
    )
    detail = only_detail(load_error(path))
    assert detail["field"] == "workload[batch].duration.p95"
    assert detail["line"] == 15
    assert "p95" in detail["message"] and "median" in detail["message"]


def test_literal_lists_allowed_values(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "service:\n  lease_reading: 10min\n")
    detail = only_detail(load_error(path))
    assert detail["field"] == "service.lease_reading"
    assert detail["line"] == 14
    for allowed in ("'15min'", "'5min'", "'min'", "'two_stage'"):
        assert allowed in detail["message"]


def test_unknown_distribution_lists_tags(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("startup: 30s", "startup: {dist: gamma, shape: 2}"))
    detail = only_detail(load_error(path))
    assert detail["field"] == "fleet[etl].startup.dist"
    assert detail["line"] == 7
    for tag in ("fixed", "exponential", "lognormal", "uniform", "empirical"):
        assert repr(tag) in detail["message"]


def test_distribution_without_tag_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("startup: 30s", "startup: {median: 1m}"))
    detail = only_detail(load_error(path))
    assert detail["field"] == "fleet[etl].startup"
    assert "`dist:`" in detail["message"] and "bare duration" in detail["message"]


def test_unknown_arrival_kind_lists_kinds(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("kind: poisson", "kind: poison"))
    detail = only_detail(load_error(path))
    assert detail["field"] == "workload[batch].arrivals.kind"
    assert detail["line"] == 11
    assert "'periodic'" in detail["message"] and "Did you mean 'poisson'?" in detail["message"]


def test_missing_field_points_at_its_parent(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("    worker_group: wg\n    runners", "    runners"))
    detail = only_detail(load_error(path))
    assert detail["field"] == "fleet[etl].worker_group"
    assert detail["line"] == 4  # the list item
    assert "missing" in detail["message"]


def test_missing_distribution_parameter_names_the_distribution(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace(", p95: 40m", ""))
    detail = only_detail(load_error(path))
    assert detail["field"] == "workload[batch].duration.p95"
    assert "a lognormal distribution needs 'p95'" in detail["message"]


def test_bad_rate_shows_what_was_written(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("rate: 10/h", "rate: -10/h"))
    detail = only_detail(load_error(path))
    assert detail["field"] == "workload[batch].arrivals.rate"
    assert "greater than 0" in detail["message"] and "'-10/h'" in detail["message"]


def test_entries_without_names_are_named_by_index(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("  - name: etl\n    worker_group", "  - worker_group"))
    detail = only_detail(load_error(path))
    assert detail["field"] == "fleet[0].name"


def test_several_errors_are_all_reported_in_line_order(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace("runners: 2", "runners: 0")
        .replace("rate: 10/h", "rate: often")
        .replace("name: t", "name: t\nbogus: 1")
    )
    error = load_error(write(tmp_path, text))
    lines = [d["line"] for d in error.details]
    assert lines == sorted(lines) and len(lines) == 3
    assert [d["field"] for d in error.details] == [
        "bogus",
        "fleet[etl].runners",
        "workload[batch].arrivals.rate",
    ]
    assert "3 problems" in error.message


def test_unserved_worker_group_points_at_the_workload(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL.replace("    worker_group: wg\n    arrivals", "    worker_group: WG\n    arrivals"),
    )
    detail = only_detail(load_error(path))
    assert detail["field"] == "workload[batch].worker_group"
    assert detail["line"] == 10
    assert "no fleet group serves" in detail["message"]


def test_duplicate_names_point_at_the_second(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        MINIMAL.replace("workload:\n", "  - name: etl\n    worker_group: wg\nworkload:\n"),
    )
    detail = only_detail(load_error(path))
    assert detail["line"] == 8
    assert "used twice" in detail["message"]


def test_jitter_rule_points_at_progress_jitter(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("    startup: 30s\n", "    progress_jitter: 2m\n"))
    detail = only_detail(load_error(path))
    assert detail["field"] == "fleet[etl].progress_jitter"
    assert detail["line"] == 7


def test_wrong_shapes(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("name: t\n", "name: t\nservice: fast\n"))
    detail = only_detail(load_error(path))
    assert detail["field"] == "service" and detail["line"] == 2
    assert "section" in detail["message"]
    text = (
        "duration: 1h\nfleet: {name: a, worker_group: wg}\n" + MINIMAL[MINIMAL.index("workload") :]
    )
    detail = only_detail(load_error(write(tmp_path, text)))
    assert detail["field"] == "fleet" and "must be a list" in detail["message"]


def test_huge_integer_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("duration: 1d", "duration: " + "9" * 400))
    detail = only_detail(load_error(path))
    assert detail["field"] == "duration" and "too large" in detail["message"]


# --- file errors ----------------------------------------------------------------------------------


def test_missing_file_suggests_a_neighbour(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "aws-defaults.yaml")
    error = load_error(tmp_path / "aws-default.yaml")
    assert error.code == "FILE_ERROR"
    assert "does not exist" in error.message and "aws-defaults.yaml" in error.message


def test_directory_is_refused(tmp_path: Path) -> None:
    write(tmp_path, MINIMAL, "a.yaml")
    error = load_error(tmp_path)
    assert error.code == "FILE_ERROR" and "folder" in error.message and "a.yaml" in error.message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (b"# only a comment\n", "only comments"),
        (b"name: t\x00\n", "binary"),
        (b"name: caf\xe9\n", "not UTF-8"),
        (b"- 1\n- 2\n", "mapping"),
        (b"just text\n", "mapping"),
        (b"a: 1\n---\nb: 2\n", "single document"),
    ],
)
def test_unreadable_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    error = load_error(path)
    assert error.code == "FILE_ERROR"
    assert expected in error.message
    assert str(path) in error.message


def test_too_large_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * (5 * 1024 * 1024) + b"\n")
    error = load_error(path)
    assert error.code == "FILE_ERROR" and "5 MB" in error.message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\nduration: 1d\nfleet: [1, 2\nworkload: []\n")
    error = load_error(path)
    assert error.code == "FILE_ERROR"
    assert "not valid YAML" in error.message
    assert only_detail(error)["line"] in (3, 4)


def test_duplicate_key_is_refused_with_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "duration: 2d\n")
    detail = only_detail(load_error(path))
    assert detail["line"] == 13
    assert "'duration' appears twice" in detail["message"] and "line 2" in detail["message"]


def test_yaml_11_boolean_key_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "on: 1\n")
    detail = only_detail(load_error(path))
    assert detail["line"] == 13 and "'on'" in detail["message"]


def test_python_tags_are_not_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write(
        tmp_path,
        f"name: !!python/object/apply:os.system ['touch {marker}']\n" + MINIMAL.split("\n", 1)[1],
    )
    error = load_error(path)
    assert error.code == "FILE_ERROR" and only_detail(error)["line"] == 1
    assert not marker.exists()


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    error = load_error(path)
    assert error.code == "FILE_ERROR" and "alias" in error.message


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a: &a [1, *a]\n")
    error = load_error(path)
    assert "recursive alias" in error.message


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a: " + "[" * 100 + "]" * 100 + "\n")
    error = load_error(path)
    assert error.code == "FILE_ERROR" and "nested" in error.message


# --- overrides ------------------------------------------------------------------------------------


def test_overrides_from_the_brief(tmp_path: Path) -> None:
    scenario = load_scenario(
        write(tmp_path, MINIMAL),
        [
            "fleet.etl.progress_interval=30s",
            "service.lease_reading=5min",  # `service` is not in the file: created with defaults
            "workload.batch.arrivals.rate=200/h",
            "duration=2h",
        ],
    )
    assert scenario.fleet[0].progress_interval == 30
    assert scenario.service.lease_reading == "5min"
    assert scenario.workload[0].arrivals.rate == pytest.approx(200 / 3600)
    assert scenario.duration == 7200


def test_override_values_are_yaml(tmp_path: Path) -> None:
    scenario = load_scenario(
        write(tmp_path, MINIMAL),
        [
            "fleet.etl.startup={dist: uniform, low: 1m, high: 3m}",
            "fleet.etl.faults.crash.rate=1/d",  # faults and crash created on the way
            "fleet.etl.faults.crash.restart_after=null",
            "fleet.0.threads=4",  # by position
            "service.throttle=null",
            "seed=7",
        ],
    )
    group = scenario.fleet[0]
    assert group.startup.dist == "uniform" and group.startup.high == 180
    assert group.faults.crash is not None and group.faults.crash.restart_after is None
    assert group.threads == 4
    assert scenario.service.throttle is None
    assert scenario.seed == 7


def test_a_single_override_string_is_one_override(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, MINIMAL), "duration=1h")  # type: ignore[arg-type]
    assert scenario.duration == 3600


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("fleet.etk.runners=3", ["no entry named 'etk'", "'etl'", "Did you mean 'etl'?"]),
        ("fleet.etl.fault.crash.rate=1/d", ["no section 'fault'", "Did you mean 'faults'?"]),
        ("servise.lease_reading=5min", ["no section 'servise'", "Did you mean 'service'?"]),
        ("fleet.etl.startup.median=1m", ["single value '30s'", "Set it whole"]),
        ("workload.batch.name.x=1", ["single value 'batch'"]),
        ("duration", ["PATH=VALUE"]),
        ("fleet..runners=1", ["empty part"]),
        ("duration=[1h", ["not a valid YAML value"]),
    ],
)
def test_bad_overrides_are_usage_errors(tmp_path: Path, override: str, expected: list[str]) -> None:
    error = load_error(write(tmp_path, MINIMAL), (override,))
    assert error.code == "USAGE_ERROR"
    assert override in str(error)
    for text in expected:
        assert text in error.message


def test_invalid_override_value_says_from_set(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, MINIMAL), ("service.lease_reading=5m",))
    detail = only_detail(error)
    assert error.code == "VALIDATION_ERROR"
    assert detail["field"] == "service.lease_reading"
    assert detail["line"] is None and detail["override"] == "service.lease_reading=5m"
    assert "Did you mean '5min'?" in detail["message"]
    assert "from --set service.lease_reading=5m" in str(error)


def test_unknown_leaf_from_override_is_an_unknown_field(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, MINIMAL), ("fleet.etl.progres_interval=30s",))
    detail = only_detail(error)
    assert detail["field"] == "fleet[etl].progres_interval"
    assert detail["override"] == "fleet.etl.progres_interval=30s"
    assert "Did you mean 'progress_interval'?" in detail["message"]


def test_errors_below_an_overridden_section_say_from_set(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, MINIMAL), ("fleet.etl.faults.pause.rate=1/h",))
    detail = only_detail(error)
    assert detail["field"] == "fleet[etl].faults.pause.duration"
    assert detail["override"] == "fleet.etl.faults.pause.rate=1/h"


def test_fields_not_overridden_keep_their_lines(tmp_path: Path) -> None:
    text = MINIMAL.replace("runners: 2", "runners: 0")
    error = load_error(write(tmp_path, text), ("duration=2h",))
    detail = only_detail(error)
    assert detail["line"] == 6 and "override" not in detail


def test_parse_override() -> None:
    assert parse_override("fleet.etl.runners=3") == (("fleet", "etl", "runners"), 3)
    assert parse_override("a=30s") == (("a",), "30s")
    assert parse_override("a=") == (("a",), None)
    assert parse_override("a=x=y") == (("a",), "x=y")  # only the first '=' splits
    assert parse_override("a={dist: fixed, value: 3s}")[1] == {"dist": "fixed", "value": "3s"}


# --- empirical distributions ----------------------------------------------------------------------

EMPIRICAL = MINIMAL.replace(
    "duration: {dist: lognormal, median: 10m, p95: 40m}",
    "duration: {dist: empirical, file: data/durations.csv, column: seconds}",
)


def test_empirical_values_are_read_relative_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "durations.csv").write_text("id,seconds\n1,30\n2,2m\n3,\n4,1h1s\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    scenario = load_scenario(write(tmp_path, EMPIRICAL))
    duration = scenario.workload[0].duration
    assert isinstance(duration, Empirical)
    assert duration.values == (30.0, 120.0, 3601.0)  # blank cells skipped
    # A manifest keeps the values, so it loads without the CSV, from anywhere.
    assert load_scenario_dict(scenario_to_dict(scenario), base_dir=elsewhere) == scenario


def test_inline_empirical_values_skip_the_file_and_are_checked(tmp_path: Path) -> None:
    inline = "{dist: empirical, file: nowhere.csv, column: s, values: [30s, 2m]}"
    scenario = load_scenario(write(tmp_path, MINIMAL.replace("30s", inline)))
    assert scenario.fleet[0].startup.values == (30.0, 120.0)
    error = load_error(write(tmp_path, MINIMAL.replace("30s", inline.replace("2m", "-2"))))
    assert only_detail(error)["field"] == "fleet[etl].startup.values[1]"


def test_empirical_in_a_dict_uses_base_dir(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("s\n1\n2\n")
    data = scenario_to_dict(load_scenario(write(tmp_path, MINIMAL)))
    data["fleet"][0]["startup"] = {"dist": "empirical", "file": "d.csv", "column": "s"}
    scenario = load_scenario_dict(data, base_dir=tmp_path)
    assert scenario.fleet[0].startup.values == (1.0, 2.0)


@pytest.mark.parametrize(
    ("csv_text", "code", "field", "line", "expected"),
    [
        (None, "FILE_ERROR", "workload[batch].duration.file", 12, "does not exist"),
        (
            "id,second\n1,30\n",
            "VALIDATION_ERROR",
            "workload[batch].duration.column",
            12,
            "Did you mean 'second'?",
        ),
        (
            "id,seconds\n1,\n2,\n",
            "VALIDATION_ERROR",
            "workload[batch].duration.column",
            12,
            "has no values",
        ),
        (
            "id,seconds\n1,30\n2,soon\n",
            "VALIDATION_ERROR",
            "workload[batch].duration.column",
            12,
            "line 3",
        ),
        (
            "id,seconds\n1,-30\n",
            "VALIDATION_ERROR",
            "workload[batch].duration.column",
            12,
            "negative",
        ),
        ("", "VALIDATION_ERROR", "workload[batch].duration.file", 12, "empty"),
    ],
)
def test_empirical_errors(
    tmp_path: Path, csv_text: str | None, code: str, field: str, line: int, expected: str
) -> None:
    if csv_text is not None:
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "durations.csv").write_text(csv_text)
    error = load_error(write(tmp_path, EMPIRICAL))
    detail = only_detail(error)
    assert error.code == code
    assert detail["field"] == field and detail["line"] == line
    assert expected in detail["message"]


# --- warnings -------------------------------------------------------------------------------------


def loaded(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> LoadedScenario:
    return load_scenario_with_source(write(tmp_path, text), overrides)


def test_no_warnings_for_a_sensible_scenario(tmp_path: Path) -> None:
    assert loaded(tmp_path, MINIMAL).warnings() == []


def test_report_interval_beyond_the_lease_warns(tmp_path: Path) -> None:
    result = loaded(tmp_path, MINIMAL, ("fleet.etl.progress_interval=20m",))
    (warning,) = result.warnings()
    assert isinstance(warning, ScenarioWarning)
    assert warning.field == "fleet[etl].progress_interval"
    assert "expect every attempt to be reassigned" in warning.message
    assert warning.file == str(result.source.file) and warning.line is None  # from --set


def test_a_two_stage_lease_that_the_second_report_shortens_warns_what_is_lost(
    tmp_path: Path,
) -> None:
    """two_stage: the acknowledgement's 5-minute lease outlasts a 4-minute interval, so the
    second report lands in time and only work longer than 4 + 3 minutes is reassigned."""
    sets = ("fleet.etl.progress_interval=4m", "service.lease_reading=two_stage",
            "service.report_progress_timeout=3m")  # fmt: skip
    (warning,) = loaded(tmp_path, MINIMAL, sets).warnings()
    assert warning.field == "fleet[etl].progress_interval"
    assert "the report after the acknowledgement lands within its 5m lease" in warning.message
    assert "expect every attempt that works longer than 7m to be reassigned" in warning.message


BOUNDARY = """\
name: boundary
duration: 4h
service: {throttle: null}
fleet: [{name: g, worker_group: wg, runners: 2, threads: 2, progress_interval: 15m}]
workload: [{name: w, worker_group: wg, arrivals: {kind: poisson, rate: 4/h}, duration: 40m}]
"""


def test_report_interval_equal_to_the_lease_says_what_happens(tmp_path: Path) -> None:
    """Issue 13 A9: a report at the deadline keeps the lease, so an interval equal to the lease
    reassigns nothing; the warning says so, and that any latency or jitter loses the lease."""
    from simulator.experiments.runs import run

    path = write(tmp_path, BOUNDARY)
    (warning,) = load_scenario_with_source(path).warnings()
    assert warning.field == "fleet[g].progress_interval" and warning.line == 4
    assert "exactly at the lease deadline" in warning.message
    assert "reassigned" not in warning.message and "any call latency" in warning.message
    summary = run(path, seed=3).summary  # what the warning promises
    assert summary["reassignments"] == 0 and summary["tasks_finished"] > 0
    # With a call latency every report lands after the deadline: every attempt is reassigned.
    latent = ("service.call_latency=50ms",)
    (warning,) = load_scenario_with_source(path, latent).warnings()
    assert "expect every attempt to be reassigned" in warning.message
    summary = run(path, seed=3, overrides=latent).summary
    assert summary["reassignments"] > 0 and summary["tasks_finished"] == 0  # 40-minute tasks
    # Jitter on top of an interval equal to the lease makes some reports late.
    (warning,) = load_scenario_with_source(path, ("fleet.g.progress_jitter=10s",)).warnings()
    assert warning.field == "fleet[g].progress_jitter" and "some attempts" in warning.message
    # Jitter that reaches the lease exactly never passes it: no warning.
    even = ("fleet.g.progress_interval=14m50s", "fleet.g.progress_jitter=10s")
    assert load_scenario_with_source(path, even).warnings() == []


def test_five_minute_reading_uses_the_short_timeout(tmp_path: Path) -> None:
    text = MINIMAL.replace("    startup: 30s\n", "    startup: 30s\n    progress_interval: 6m\n")
    assert loaded(tmp_path, text).warnings() == []  # 6 min < 15 min
    (warning,) = loaded(tmp_path, text, ("service.lease_reading=5min",)).warnings()
    assert warning.line == 8 and "5m" in warning.message
    # Under "15min" a workload's own reportProgressTimeout counts.
    (warning,) = loaded(tmp_path, text, ("workload.batch.report_progress_timeout=5m",)).warnings()
    assert warning.field == "fleet[etl].progress_interval"


def test_unused_worker_group_warns(tmp_path: Path) -> None:
    text = MINIMAL.replace("workload:\n", "  - name: idle\n    worker_group: other\nworkload:\n")
    (warning,) = loaded(tmp_path, text).warnings()
    assert warning.field == "fleet[idle].worker_group" and warning.line == 9
    assert "only poll" in warning.message


def test_slow_startup_warns_with_share(tmp_path: Path) -> None:
    result = loaded(tmp_path, MINIMAL, ("fleet.etl.startup={dist: uniform, low: 1m, high: 3m}",))
    (warning,) = result.warnings()
    assert "about 50%" in warning.message


def test_overload_and_throttle_warn(tmp_path: Path) -> None:
    result = loaded(tmp_path, MINIMAL, ("workload.batch.arrivals.rate=100/h",))
    assert any("queue will grow" in w.message for w in result.warnings())
    result = loaded(tmp_path, MINIMAL, ("fleet.etl.runners=400", "fleet.etl.progress_interval=30s"))
    # 800 threads, but only about 3 tasks in progress: the idle threads' polls bind, not reports.
    (warning,) = result.warnings()
    assert warning.field == "service.throttle.poll" and "2/s" in warning.message
    result = loaded(tmp_path, MINIMAL, ("fleet.etl.runners=400", "fleet.etl.progress_interval=30s",
                                        "workload.batch.arrivals.rate=3000/h"))  # fmt: skip
    assert any("10/s" in w.message for w in result.warnings())


BURST = """\
name: burst-200x4
duration: 6h
fleet: [{name: g, worker_group: wg, runners: 200, threads: 4, progress_interval: 60s}]
workload: [{name: w, worker_group: wg, arrivals: {kind: periodic, every: 1h, batch: 500},
            duration: 10m}]
"""


def test_the_rate_limit_that_binds_is_the_one_warned_about(tmp_path: Path) -> None:
    """Issue 13 B6: 200 x 4 threads with hourly bursts of 500 tasks: at most 500 tasks report
    (8.3/s < 10/s), but 800 idle threads long-poll at about 9/s against PollForTask's 2/s."""
    from simulator.scenario.rates import call_rates

    result = loaded(tmp_path, BURST)
    fields = [w.field for w in result.warnings()]
    assert fields == ["service.throttle.poll"]  # not service.throttle.progress
    (warning,) = result.warnings()
    assert "PollForTask" in warning.message and "ReportTaskProgress" not in warning.message
    rates = call_rates(result.scenario)
    assert rates.in_progress == 500 and rates.idle == 800
    assert rates.poll == pytest.approx(800 / 90 + 500 / 3600)
    assert rates.progress == pytest.approx(500 / 60 + 500 / 3600)
    # Batches that overlap add up, and never exceed the threads.
    rates = call_rates(loaded(tmp_path, BURST, ("workload.w.duration=150m",)).scenario)
    assert rates.in_progress == 800 and rates.idle == 800 - 500  # up to 3 batches; 1 at the start


def test_warnings_without_a_source_have_no_line(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, MINIMAL), ("fleet.etl.progress_interval=1h",))
    (warning,) = warnings(scenario)
    assert warning.line is None and warning.file is None


# --- the error type -------------------------------------------------------------------------------


def test_error_is_json_safe_and_readable(tmp_path: Path) -> None:
    error = load_error(write(tmp_path, MINIMAL.replace("runners: 2", "runners: two")))
    data = json.loads(json.dumps(error.to_dict()))
    assert data["code"] == "VALIDATION_ERROR"
    assert set(data["details"][0]) >= {"field", "message", "file", "line"}
    paragraphs = str(error).split("\n\n")
    assert paragraphs[0] == error.message
    assert paragraphs[1].startswith(f"{tmp_path / 'scenario.yaml'}, line 6: fleet[etl].runners: ")
