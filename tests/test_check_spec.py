"""The `expect:` and `check:` blocks of a scenario file: what is allowed, and the messages (with
the field and the line) for what is not."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from builders import BASE, merge

from simulator.check.plan import plan
from simulator.errors import LeasesimError
from simulator.scenario.load import load_scenario, load_scenario_dict, scenario_to_dict


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(BASE, sort_keys=False) + textwrap.dedent(extra))
    return path


def error_of(path: Path, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(LeasesimError) as info:
        load_scenario(path, overrides)
    assert info.value.code == "VALIDATION_ERROR"
    return str(info.value)


def test_blocks_load_and_read_back_the_same(tmp_path: Path) -> None:
    path = write(tmp_path, """
        expect:
          duplicated_fraction: {max: 0.001}
          reassigned_fraction: {between: [0.01, 0.03]}
          tasks_failed: {equals: 0}
          utilization: {min: 1e-3}
        check:
          max_replications: 12
          tolerance:
            default: {relative: 10%}
            reassigned_fraction: {relative: 0.5, absolute: 0.002}
          quick: {replications: 3, duration: 2h}
          baseline: elsewhere/s.json
    """)
    s = load_scenario(path)
    bounds = s.expect.bounds()
    assert list(bounds) == ["duplicated_fraction", "reassigned_fraction", "tasks_failed",
                            "utilization"]  # fmt: skip
    assert bounds["reassigned_fraction"].interval == (0.01, 0.03)
    assert bounds["duplicated_fraction"].describe() == "<= 0.001"
    assert bounds["utilization"].min == 0.001  # YAML 1.1 reads 1e-3 as text: accepted
    assert s.check.tolerance.default.relative == pytest.approx(0.10)
    assert s.check.tolerance.of("reassigned_fraction").margin(0.001) == 0.002  # the floor
    assert s.check.tolerance.of("reassigned_fraction").margin(0.02) == pytest.approx(0.01)
    assert s.check.tolerance.of("utilization").margin(0.5) == pytest.approx(0.05)
    assert s.check.quick.duration == 7200.0
    data = scenario_to_dict(s)
    assert data["expect"]["duplicated_fraction"] == {"max": 0.001}  # one key, as written
    assert load_scenario_dict(data) == s


def test_defaults() -> None:
    s = load_scenario_dict(BASE)
    assert s.expect is None
    assert s.check.max_replications == 30
    assert s.check.tolerance.default.relative == 0.05
    assert s.check.quick is None


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("expect:\n  duplicated_fractoin: {max: 0.1}\n",
         ["line", "expect.duplicated_fractoin", "is not a summary metric", "Did you mean "
          "'duplicated_fraction'?", "The metrics are: tasks_submitted"]),
        ("expect:\n  utilization:\n    maxx: 0.9\n",
         ["expect.utilization.maxx", "unknown bound 'maxx'. Did you mean 'max'?"]),
        ("expect:\n  utilization: 0.9\n", ["must be a bound such as {max: 0.001}"]),
        ("expect:\n  utilization: {min: 0.1, max: 0.9}\n",
         ["give one bound, not 2", "between: [low, high]"]),
        ("expect:\n  utilization: {between: [0.9, 0.1]}\n",
         ["expect.utilization.between", "must not be below the low end"]),
        ("expect:\n  utilization: {between: [0.9]}\n", ["two numbers"]),
        ("expect:\n  utilization: {max: .nan}\n", ["finite number"]),
        ("expect:\n  utilization: {max: lots}\n", ["'lots' is not a valid value of utilization",
                                                    "0.01%"]),
        ("expect:\n  latency_p95_s: {max: 10 mins}\n", ["expect.latency_p95_s.max",
                                                        "'10 mins'", "such as 90s or 10m"]),
        ("expect:\n  poll_calls_per_s: {between: [1/h, 2/fortnight]}\n",
         ["expect.poll_calls_per_s.between[1]", "120/h"]),
        ("expect:\n  utilization: {max: true}\n", ["must be a number"]),
        ("expect: {}\n", ["lists no metric"]),
        ("expect:\n  allow_flags: [backlog_grow]\n", ["not a run health flag",
                                                       "Did you mean 'backlog_grows'?"]),
        ("check:\n  tolerance:\n    defualt: {relative: 5%}\n", ["Did you mean 'default'?"]),
        ("check:\n  tolerance:\n    utilization: {}\n", ["give relative (e.g. 5%) and/or "
                                                          "absolute"]),
        ("check:\n  tolerance:\n    utilization: {relative: 5 percent}\n",
         ["'5 percent'", "write e.g. 5% or 0.05"]),
        ("check:\n  tolerance:\n    utilization: {relative: -1}\n", ["greater than or equal"]),
        ("check:\n  max_replications: 1\n", ["check.max_replications", "greater than or equal"]),
        ("check:\n  quick: {duration: 5 minutes}\n", ["check.quick.duration", "not a duration"]),
        ("check:\n  quik: {replications: 3}\n", ["unknown field 'quik'", "Did you mean 'quick'?"]),
    ],
)  # fmt: skip
def test_mistakes_are_named_with_their_line(tmp_path: Path, extra: str,
                                            expected: list[str]) -> None:  # fmt: skip
    message = error_of(write(tmp_path, extra))
    assert "s.yaml, line " in message
    for part in expected:
        assert part in message, message


def test_bounds_accept_the_units_of_require(tmp_path: Path) -> None:
    """Issue 13 B8: `expect:` bounds read units as `recommend --require` does (one parser)."""
    from simulator.recommendation.requirements import Requirement

    path = write(tmp_path, """
        expect:
          latency_p95_s: {max: 10m}
          duplicated_fraction: {between: [0.1%, 2%]}
          poll_calls_per_s: {max: 120/h}
          detection_latency_mean_s: {min: 1m30s}
          tasks_submitted: {min: 30}
    """)
    bounds = load_scenario(path).expect.bounds()
    assert bounds["latency_p95_s"].max == Requirement.parse("latency_p95_s<=10m").value == 600
    assert bounds["duplicated_fraction"].between == pytest.approx((0.001, 0.02))
    assert bounds["poll_calls_per_s"].max == pytest.approx(1 / 30)
    assert bounds["detection_latency_mean_s"].min == 90.0
    assert bounds["tasks_submitted"].min == 30.0
    assert load_scenario(path, ["expect.latency_p95_s.max=15m"]).expect.bounds()[
        "latency_p95_s"].max == 900.0


def test_a_bad_unit_in_a_bound_is_exit_status_2_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import simulator.cli as cli

    path = write(tmp_path, "expect:\n  latency_p95_s: {max: 10 parsecs}\n")
    line = path.read_text().splitlines().index("  latency_p95_s: {max: 10 parsecs}") + 1
    assert cli.main(["check", str(path), "--no-baseline", "--executor", "serial"]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert f"s.yaml, line {line}: expect.latency_p95_s.max: '10 parsecs'" in err


def test_bounds_can_be_set_from_the_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, "expect:\n  utilization: {max: 0.9}\n")
    s = load_scenario(path, ["expect.utilization.max=0.5", "check.quick.duration=1h"])
    assert s.expect.bounds()["utilization"].max == 0.5
    assert s.check.quick.duration == 3600.0
    assert "from --set expect.utilization.max=x" in error_of(path, ("expect.utilization.max=x",))


def test_quick_plan_replaces_replications_duration_and_cap() -> None:
    s = load_scenario_dict(merge(BASE, {
        "replications": 5,
        "check": {"max_replications": 40, "quick": {"replications": 3, "duration": "2h",
                                                    "max_replications": 6}},
    }))  # fmt: skip
    full, quick = plan(s, "full"), plan(s, "quick", seed=4)
    assert (full.mode, full.looks, full.scenario.duration, full.seed) == ("full", (5, 10, 20, 40),
                                                                         86400.0, 11)  # fmt: skip
    assert (quick.mode, quick.looks, quick.scenario.duration, quick.seed) == ("quick", (3, 6),
                                                                             7200.0, 4)  # fmt: skip
    assert quick.confidence == pytest.approx(0.975)
    # Without a quick block, a quick check is the full one.
    assert plan(load_scenario_dict(BASE), "quick").mode == "full"
    assert plan(load_scenario_dict(BASE), "full").looks == (2, 4, 8, 16, 30)  # at least 2 reps


def test_quick_duration_must_exceed_the_warmup() -> None:
    s = load_scenario_dict(merge(BASE, {"warmup": "3h", "check": {"quick": {"duration": "2h"}}}))
    with pytest.raises(LeasesimError, match="check.quick.duration"):
        plan(s, "quick", source="s.yaml")
