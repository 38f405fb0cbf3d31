"""Service profiles: other lease systems' documented defaults (reference §4) as service defaults.

Checks that each profile sets what docs/model.md says it sets, that a scenario's own values win,
that changing the profile of a written-out scenario (a sweep, --set) takes the new defaults, and
that simulations under a profile follow its rules (lease length from the hand-out, long poll,
no retry used up) against closed-form values.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import get_args

import pytest
from builders import make_scenario

import simulator
from simulator.analytic import estimates
from simulator.experiments.sweep import plan, with_grid
from simulator.scenario import profiles
from simulator.scenario.leases import timeouts
from simulator.scenario.load import load_scenario_dict, load_scenario_with_source, scenario_to_dict
from simulator.scenario.schema import Service

ROOT = Path(__file__).resolve().parents[1]


def _service(**fields: object) -> Service:
    return make_scenario(service=fields).service


def test_profile_names_are_the_schema_choices() -> None:
    allowed = get_args(Service.model_fields["profile"].annotation)
    assert set(allowed) == set(profiles.PROFILES)
    assert Service().profile == profiles.DEFAULT == "aws-data-pipeline"


def test_every_profile_sets_every_governed_field() -> None:
    for profile in profiles.PROFILES.values():
        assert set(profile.rules) == set(profiles.GOVERNED), profile.name
        assert all(rule.why for rule in profile.rules.values())


def test_data_pipeline_profile_is_the_schema_defaults() -> None:
    """The default profile changes nothing: its values are the schema's documented defaults."""
    service = Service()
    for name in profiles.GOVERNED:
        value = getattr(service, name)
        value = value.model_dump() if hasattr(value, "model_dump") else value
        assert value == profiles.PROFILES[profiles.DEFAULT].rules[name].value, name


def test_sqs_profile_sets_the_documented_defaults() -> None:
    s = _service(profile="sqs", throttle={"poll": "2/s"})
    assert (s.long_poll, s.report_progress_timeout, s.ack_timeout) == (20.0, 30.0, 30.0)
    assert s.on_lease_expiry == "reassign_same_attempt"
    assert s.stale_progress == "not_found" and s.stale_status == "rejected"
    assert s.retry_delay_floor == 0.0 and s.lease_reading == "15min"
    assert s.ack_uses_report_timeout is True
    assert s.throttle is not None and s.throttle.poll == 2.0  # the scenario's own value wins
    assert Service(profile="sqs").throttle is None  # nearly unlimited API calls


@pytest.mark.parametrize("name", ["swf", "step-functions", "temporal"])
def test_heartbeat_timeout_profiles(name: str) -> None:
    s = Service(profile=name)
    assert s.ack_timeout == s.report_progress_timeout == 900.0  # no separate ack window
    assert s.on_lease_expiry == "fail_and_retry" and s.retry_delay_floor == 0.0
    assert s.stale_progress == "not_found" and s.throttle is None
    assert s.long_poll == {"swf": 60.0, "step-functions": 60.0, "temporal": 90.0}[name]


def test_ack_follows_the_scenarios_own_timeout() -> None:
    s = _service(profile="swf", report_progress_timeout="2m")
    assert s.ack_timeout == 120.0
    s = _service(profile="swf", report_progress_timeout="2m", ack_timeout="10s")
    assert s.ack_timeout == 10.0


def test_changing_the_profile_of_a_written_out_scenario_takes_its_defaults() -> None:
    base = make_scenario()
    data = scenario_to_dict(base)
    sqs = load_scenario_dict(data, overrides=["service.profile=sqs"])
    assert sqs.service == make_scenario(service={"profile": "sqs"}).service
    back = load_scenario_dict(scenario_to_dict(sqs),
                              overrides=["service.profile=aws-data-pipeline"])
    assert back == base
    # A field changed at the same time as (or after) the profile is the user's own value.
    mixed = load_scenario_dict(data, overrides=["service.profile=sqs", "service.long_poll=5s"])
    assert mixed.service.long_poll == 5.0 and mixed.service.report_progress_timeout == 30.0
    assert load_scenario_dict(scenario_to_dict(sqs)) == sqs  # written out and read back


def test_a_sweep_over_profiles_gives_each_profiles_rules() -> None:
    base = with_grid(make_scenario(), {"service.profile": list(profiles.PROFILES)})
    _, points = plan(base)
    for point in points:
        service = load_scenario_dict(dict(point.scenario)).service
        name = point.parameters["service.profile"]
        assert service == make_scenario(service={"profile": name}).service


def test_copied_data_pipeline_values_are_flagged(tmp_path: Path) -> None:
    loaded = load_scenario_with_source(ROOT / "scenarios" / "aws-defaults.yaml",
                                       overrides=["service.profile=sqs"])  # fmt: skip
    found = [w for w in loaded.warnings() if w.field == "service.profile"]
    assert len(found) == 1 and "long_poll" in found[0].message
    assert loaded.scenario.service.long_poll == 90.0  # the file's own value still wins
    plain = make_scenario(service={"profile": "sqs"})
    assert profiles.shadowed(plain.service) is None


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(simulator.LeasesimError) as info:
        load_scenario_dict(scenario_to_dict(make_scenario()), overrides=["service.profile=sns"])
    assert "service.profile" in str(info.value) and "sqs" in str(info.value)


def test_model_docs_show_the_profile_table() -> None:
    text = (ROOT / "docs" / "model.md").read_text()
    assert profiles.markdown_table() in text
    for name in profiles.PROFILES:
        assert f"`{name}`" in text


def test_temporal_heartbeat_throttling_interval() -> None:
    assert profiles.temporal_heartbeat_interval(None, 1.0) == 30.0
    assert profiles.temporal_heartbeat_interval(20.0, 1.0) == 16.0  # 0.8 x timeout
    assert profiles.temporal_heartbeat_interval(600.0, 1.0) == 60.0  # at most 60 s
    assert profiles.temporal_heartbeat_interval(20.0, 45.0) == 45.0  # calls rarer than that


# --- simulations follow the profile's rules ------------------------------------------------------


def test_sqs_visibility_timeout_runs_from_the_receive() -> None:
    """A 40 s startup beats Data Pipeline's 2-minute acknowledgement window, but not SQS's 30 s
    visibility timeout: every SQS attempt is lost before its first renewal, and, the message
    being received again, no retry is used up and no task fails."""
    extra = {"duration": "2h", "fleet": [{"startup": "40s", "progress_interval": "10s"}],
             "workload": [{"arrivals": {"kind": "times", "times": ["0s", "10m"]},
                           "duration": "5m"}]}  # fmt: skip
    dp = simulator.run(make_scenario(**extra), seed=3).summary
    sqs = simulator.run(make_scenario(**extra, service={"profile": "sqs"}), seed=3).summary
    assert dp["reassignments"] == 0 and dp["tasks_finished"] == 2
    assert sqs["tasks_finished"] == 0 and sqs["tasks_failed"] == 0
    assert sqs["reassignments_ack"] == sqs["attempts"] - sqs["tasks_running"] > 10


def test_sqs_idle_threads_long_poll_for_20_seconds() -> None:
    """Idle threads poll once per long poll: 20 s under SQS, 90 s under Data Pipeline."""
    extra = {"duration": "1h", "workload": [{"arrivals": {"kind": "times", "times": ["59m59s"]},
                                             "duration": "1s"}]}  # fmt: skip
    for profile, hold in (("aws-data-pipeline", 90.0), ("sqs", 20.0)):
        s = make_scenario(**extra, service={"profile": profile})
        polls = simulator.run(s, seed=1).summary["poll_calls_per_s"] * s.duration
        threads = 4
        # Each thread polls at 0, hold, 2 hold, ...: floor(T / hold) + 1 polls, plus the task.
        expected = threads * (math.floor((s.duration - 1) / hold) + 1)
        assert expected <= polls <= expected + threads, profile


def test_sqs_crash_detection_matches_the_closed_form() -> None:
    """Crash detection under the 30 s visibility timeout: mean R - I/2 for long work (analytic
    `detection_latency_mean_s`, exact here), inside the replications' 99.9 % interval."""
    s = make_scenario(
        duration="12h", service={"profile": "sqs"},
        fleet=[{"progress_interval": "10s", "faults": {"crash": {"rate": "1/h",
                                                                  "restart_after": "1m"}}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "12/h"}, "duration": "15m"}],
    )  # fmt: skip
    assert timeouts(s.service, s.workload[0]) == (30.0, 30.0, 30.0)
    est = estimates(s)["detection_latency_mean_s"]
    assert est.applies and est.exact and 24.0 < est.value < 26.0
    reps = simulator.replicate(s, n=8, seed=5)
    row = reps.summarize(confidence=0.999).set_index("metric").loc["detection_latency_mean_s"]
    assert row["ci_low"] <= est.value <= row["ci_high"]
