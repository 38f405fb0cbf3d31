"""Baseline files: what they record, when they are stale, the exact tier, broken files."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from builders import BASE, merge

from simulator.check.baseline import (
    CHANGED,
    IDENTICAL,
    SKIPPED,
    Baseline,
    baseline_path,
    current_versions,
    exact_tier,
    load,
    recorded,
    release,
    stale_reason,
)
from simulator.errors import LeasesimError
from simulator.scenario.load import load_scenario_dict

SUMMARIES = [{"a": 1.0, "b": math.nan}, {"a": 2.5, "b": 0.1}]


def scenario(**extra: object):  # type: ignore[no-untyped-def]
    return load_scenario_dict(merge(BASE, extra))


def test_recorded_run_round_trips_through_the_file(tmp_path: Path) -> None:
    s = scenario()
    path = tmp_path / "baselines" / "s.json"
    Baseline(path, "s.yaml", current_versions(), {"full": recorded(s, 11, SUMMARIES)}).save()
    text = path.read_text()
    assert '"a": [1.0, 2.5]' in text  # one metric's replications per line
    assert '"b": [null, 0.1]' in text  # NaN as null: strict JSON
    back = load(path)
    run = back.runs["full"]
    assert (run.seed, run.replications) == (11, 2)
    assert run.column("a") == [1.0, 2.5]
    assert math.isnan(run.column("b")[0])
    assert back.versions == current_versions()
    assert run.scenario["duration"] == 86400.0
    assert stale_reason(run, s) is None
    # Saving again gives the same bytes: re-recording an unchanged scenario changes nothing.
    Baseline(path, "s.yaml", current_versions(), {"full": recorded(s, 11, SUMMARIES)}).save()
    assert path.read_text() == text
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporaries


def test_baseline_path_is_beside_the_file_or_configured(tmp_path: Path) -> None:
    file = tmp_path / "team" / "etl.yaml"
    assert baseline_path(file, scenario()) == tmp_path / "team" / "baselines" / "etl.json"
    configured = scenario(check={"baseline": "../b/x.json"})
    assert baseline_path(file, configured) == tmp_path / "team" / "../b/x.json"


def test_changes_that_do_not_alter_a_run_do_not_make_it_stale() -> None:
    run = recorded(scenario(), 11, SUMMARIES)
    same = scenario(name="renamed", description="new words", seed=5, replications=9,
                    expect={"utilization": {"max": 0.9}},
                    check={"max_replications": 4, "quick": {"duration": "1h"}},
                    sweep={"fleet.etl.runners": [1, 2]})  # fmt: skip
    assert stale_reason(run, same) is None


def test_a_changed_scenario_makes_the_baseline_stale_and_says_where() -> None:
    run = recorded(scenario(), 11, SUMMARIES)
    why = stale_reason(run, scenario(duration="2h", fleet=[{"runners": 3}]))
    assert why is not None
    assert "duration: 86400.0 in the baseline, 7200.0 now" in why
    assert "fleet[etl].runners: 2 in the baseline, 3 now" in why


def test_a_baseline_scenario_no_longer_valid_is_stale() -> None:
    run = recorded(scenario(), 11, SUMMARIES)
    run.scenario["fleet"][0]["retired_field"] = 1
    assert "not valid in this version" in (stale_reason(run, scenario()) or "")


def test_exact_tier_identical_changed_and_skipped() -> None:
    run = recorded(scenario(), 11, SUMMARIES)
    now = current_versions()
    assert exact_tier(run, now, 11, SUMMARIES).status == IDENTICAL
    changed = exact_tier(run, now, 11, [SUMMARIES[0], {"a": 2.5, "b": 0.2}])
    assert changed.status == CHANGED
    assert [(c.metric, c.replications, c.baseline, c.current) for c in changed.changes] == [
        ("b", [1], 0.1, 0.2)]  # fmt: skip
    # Fewer replications than recorded: the ones run are compared.
    assert exact_tier(run, now, 11, SUMMARIES[:1]).replications == 1
    other_seed = exact_tier(run, now, 12, SUMMARIES)
    assert other_seed.status == SKIPPED and "seed 12 here, 11 in the baseline" in other_seed.reason
    older = exact_tier(run, {**now, "numpy": "1.0.0"}, 11, SUMMARIES)
    assert older.status == SKIPPED and f"numpy {now['numpy']} here, 1.0.0" in older.reason
    checkout = exact_tier(run, {**now, "leasesim": now["leasesim"] + "+checkout"}, 11, SUMMARIES)
    assert checkout.status == IDENTICAL  # a source checkout of the same release


def test_release_drops_the_checkout_mark() -> None:
    assert release("0.1.0+checkout") == "0.1.0"
    assert release("0.1.0") == "0.1.0"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "cannot be read as JSON"),
        ('{"format": 9, "runs": {}, "versions": {}}', "not a leasesim baseline of format 1"),
        ('{"format": 1, "versions": {}}', "is not a valid baseline: 'runs'"),
        ('{"format": 1, "versions": {}, "runs": {"slow": {}}}', "unknown run 'slow'"),
        ('{"format": 1, "versions": {}, "runs": {"full": {"seed": 1, "scenario": {}, '
         '"values": {"a": [1, 2], "b": [1]}}}}', "different replication counts"),
        ('{"format": 1, "versions": {}, "runs": {"full": {"seed": 1, "scenario": {}, '
         '"values": {"a": ["x"]}}}}', "is not a valid baseline"),
    ],
)  # fmt: skip
def test_broken_baseline_files_are_file_errors(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(LeasesimError) as info:
        load(path, "s.yaml")
    assert info.value.code == "FILE_ERROR"
    assert expected in info.value.message
    assert "leasesim check --update-baseline s.yaml" in info.value.message
    assert json.dumps(info.value.to_dict())


@pytest.mark.parametrize(("key", "value"), [("seed", "11"), ("seed", True), ("seed", 11.5),
                                            ("value", "1.0"), ("value", True)])  # fmt: skip
def test_a_hand_edited_baseline_holds_numbers_only(tmp_path: Path, key: str, value: Any) -> None:
    # Issue 19: baselines can come from strangers; "11" or true is not silently read as a number.
    path = tmp_path / "baselines" / "s.json"
    runs = {"full": recorded(scenario(), 11, SUMMARIES)}
    Baseline(path, "s.yaml", current_versions(), runs).save()
    data = json.loads(path.read_text())
    if key == "seed":
        data["runs"]["full"]["seed"] = value
    else:
        data["runs"]["full"]["values"]["a"][0] = value
    path.write_text(json.dumps(data))
    with pytest.raises(LeasesimError, match="not a (whole )?number"):
        load(path)
