"""Values that are not what they seem (issue 19, items 4, 5 and part of 9).

A number must be written as a number: a boolean (`true`, and YAML 1.1's `yes`/`no`/`on`/`off`),
a quoted number or full-width digits where a number belongs are refused; YAML 1.1's look-alike
notations (`010`, `0x10`, `0b101`, `1:30:00`) are refused with what to write; line breaks that
editors do not show are refused; a setting under which nothing could ever happen (`times: []`,
`burst` below 1, `message_loss: 1`) is an error, and a loss that wastes most attempts a warning.
`--set` values follow the file's rules. Top-level `x-` keys hold anchors for merge keys.

The command-line side (exit status 2, one paragraph naming the field, file and line) is in
tests/test_bad_input.py; here the loader's results and messages are checked in detail.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from builders import make_scenario
from scipy import stats
from test_bad_input import BASE, edit, line_of

import simulator
from simulator.errors import LeasesimError
from simulator.scenario.load import (
    load_scenario_dict,
    load_scenario_with_source,
    scenario_to_dict,
)
from simulator.scenario.rates import lost_before_work


def load(tmp_path: Path, text: str | bytes, overrides: tuple[str, ...] = ()) -> simulator.Scenario:
    path = tmp_path / "scenario.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_scenario_with_source(path, overrides).scenario


def refusal(tmp_path: Path, text: str | bytes, overrides: tuple[str, ...] = ()) -> LeasesimError:
    with pytest.raises(LeasesimError) as info:
        load(tmp_path, text, overrides)
    return info.value


def only_detail(err: LeasesimError) -> dict[str, object]:
    assert len(err.details) == 1, err.details
    return err.details[0]


# --- item 4: numbers are numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("runners: 2", "runners: true", "fleet[etl].runners"),
        ("threads: 2", "threads: on", "fleet[etl].threads"),
        ("failure_probability: 0.1", "failure_probability: true",
         "workload[batch].failure_probability"),
        ("message_loss: 0.1", "message_loss: yes", "fleet[etl].faults.message_loss"),
        ("max_retries: 2", "max_retries: no", "workload[batch].max_retries"),
        ("duration: 2h\n", "duration: 2h\nseed: off\n", "seed"),
        ("duration: 2h\n", "duration: 2h\nreplications: yes\n", "replications"),
        ("  dispatch: fifo", "  dispatch: fifo\n  throttle:\n    burst: yes",
         "service.throttle.burst"),
    ],
)  # fmt: skip
def test_a_boolean_where_a_number_belongs_is_refused(
    tmp_path: Path, old: str, new: str, field: str
) -> None:
    text = edit(old, new)
    detail = only_detail(refusal(tmp_path, text))
    assert detail["field"] == field
    assert detail["line"] == line_of(text, field.rsplit(".", 1)[-1].split("]")[-1] + ":")
    assert "a boolean is not a number" in str(detail["message"])


def test_booleans_are_refused_as_numbers_from_python_too() -> None:
    data = scenario_to_dict(make_scenario())
    data["fleet"][0]["runners"] = True
    with pytest.raises(LeasesimError) as info:
        load_scenario_dict(data)
    assert only_detail(info.value)["field"] == "fleet[etl].runners"


def test_yes_no_on_off_are_fine_where_a_boolean_belongs(tmp_path: Path) -> None:
    text = edit("ack_uses_report_timeout: false", "ack_uses_report_timeout: yes")
    text = edit("heartbeat_renews_leases: false", "heartbeat_renews_leases: on", text)
    text = edit("    threads: 2", "    threads: 2\n    backoff: {jitter: off}", text)
    scenario = load(tmp_path, text)
    assert scenario.service.ack_uses_report_timeout is True
    assert scenario.service.heartbeat_renews_leases is True
    assert scenario.fleet[0].backoff.jitter is False


def test_numbers_and_unit_strings_still_read_as_before(tmp_path: Path) -> None:
    """Strict numbers must not touch durations and rates, which take unit strings."""
    text = edit("progress_interval: 60s", "progress_interval: 90")
    text = edit("        duration: 30s", "        duration: 1h30m", text)
    text = edit("rate: 10/h", "rate: 120/h", text)
    text = edit("        rate: 2/d", "        rate: 0.5", text)
    throttle = "  dispatch: fifo\n  throttle: {burst: 1e3, poll: 2.5e-1}"
    text = edit("  dispatch: fifo", throttle, text)
    text = edit("duration: 2h\n", "duration: 2h\nseed: 1_000\n", text)
    text = edit("runners: 2", "runners: 3.0", text)  # a whole number written as a float
    scenario = load(tmp_path, text)
    group = scenario.fleet[0]
    assert group.progress_interval == 90.0 and group.runners == 3
    assert group.faults.pause is not None and group.faults.pause.duration.value == 5400.0
    assert group.faults.pause.rate == 0.5
    assert scenario.workload[0].arrivals.rate == pytest.approx(120 / 3600)
    assert scenario.service.throttle is not None
    assert scenario.service.throttle.burst == 1000.0 and scenario.service.throttle.poll == 0.25
    assert scenario.seed == 1000


def test_numpy_numbers_from_python_are_numbers() -> None:
    data = scenario_to_dict(make_scenario())
    data["fleet"][0]["runners"] = np.int64(3)
    data["workload"][0]["failure_probability"] = np.float64(0.25)
    scenario = load_scenario_dict(data)
    assert scenario.fleet[0].runners == 3 and scenario.workload[0].failure_probability == 0.25


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("010", "the octal number 8 in YAML 1.1 and 10 in YAML 1.2; write 10 (or 8)"),
        ("-010", "write -10 (or -8)"),
        ("08", "write 8 without the leading zero"),
        ("0x10", "the hexadecimal number 16; scenario numbers are decimal: write 16"),
        ("0b101", "the binary number 5 in YAML 1.1 and text in YAML 1.2"),
        ("0o17", "the octal number 15 in YAML 1.2; scenario numbers are decimal: write 15"),
        ("1:30", "1h30m (hours:minutes) or 1m30s (minutes:seconds)"),
        ("1:30:00", "base-60 number 5400 in YAML 1.1 and text in YAML 1.2; write a duration with "
                    "units such as 1h30m"),
        ("1:30.5", "base-60 number 90.5"),
    ],
)  # fmt: skip
@pytest.mark.parametrize(
    ("old", "field"),
    [("runners: 2", "fleet[etl].runners"),
     ("progress_interval: 60s", "fleet[etl].progress_interval")],
)  # fmt: skip
def test_yaml_look_alike_numbers_are_refused_with_what_to_write(
    tmp_path: Path, written: str, says: str, old: str, field: str
) -> None:
    key = old.split(":")[0]
    text = edit(old, f"{key}: {written}")
    detail = only_detail(refusal(tmp_path, text))
    assert detail["field"] == field and detail["line"] == line_of(text, f"{key}:")
    assert says in str(detail["message"])


def test_a_look_alike_in_a_merged_anchor_is_reported_once_where_it_is_written(
    tmp_path: Path,
) -> None:
    text = "x-defaults: &group\n  worker_group: wg\n  runners: 010\n" + BASE.replace(
        "  - name: etl\n    worker_group: wg\n    runners: 2\n", "  - name: etl\n    <<: *group\n"
    )
    detail = only_detail(refusal(tmp_path, text))
    assert detail["line"] == 3 and detail["field"] == "x-defaults.runners"


def test_a_quoted_look_alike_is_text(tmp_path: Path) -> None:
    """Quoted, '010' is text: refused where a number belongs, read as decimal by the duration
    parser (text is never read as YAML numbers)."""
    detail = only_detail(refusal(tmp_path, edit("runners: 2", "runners: '010'")))
    assert "write it without quotes" in str(detail["message"])
    scenario = load(tmp_path, edit("progress_interval: 60s", "progress_interval: '010'"))
    assert scenario.fleet[0].progress_interval == 10.0


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("runners: 2", "runners: １０", "fleet[etl].runners"),
        ("message_loss: 0.1", "message_loss: ０.１", "fleet[etl].faults.message_loss"),
        ("duration: 2h", "duration: ２h", "duration"),
        ("rate: 10/h", "rate: １０/h", "workload[batch].arrivals.rate"),
        ("progress_interval: 60s", "progress_interval: '６０'", "fleet[etl].progress_interval"),
    ],
)
def test_full_width_digits_are_refused(tmp_path: Path, old: str, new: str, field: str) -> None:
    detail = only_detail(refusal(tmp_path, edit(old, new)))
    assert detail["field"] == field
    assert "full-width digits" in str(detail["message"])


# --- item 4: line breaks --------------------------------------------------------------------------


def test_crlf_line_endings_read_as_lf(tmp_path: Path) -> None:
    crlf = load(tmp_path, BASE.replace("\n", "\r\n").encode())
    lf = load(tmp_path, BASE)
    assert crlf == lf


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (BASE.replace("\n", "\r"), 1, "carriage return (CR) not followed by a line feed"),
        # An editor shows "seed: 7" as part of the comment; YAML reads it as a setting.
        (edit("stale_status: rejected", "stale_status: rejected  # keep\rseed: 7"), 7, "(CR)"),
        (edit("name: bad-input", "name: bad-input\u2028seed: 7"), 1, "U+2028"),
        (edit("dispatch: fifo", "dispatch: fifo\x85seed: 7"), 8, "NEL"),
    ],
)
def test_line_breaks_editors_do_not_show_are_refused(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    err = refusal(tmp_path, text.encode())
    assert err.code == "FILE_ERROR"
    detail = only_detail(err)
    assert detail["line"] == line and says in str(detail["message"])
    assert "LF (Unix) or CRLF (Windows)" in str(detail["message"])


# --- item 4: --set follows the file's rules -------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("fleet.etl.runners=010", "leading zero"),
        ("fleet.etl.runners=true", "a boolean is not a number"),
        ("fleet.etl.faults.message_loss=yes", "a boolean is not a number"),
        ("workload.batch.max_retries=off", "a boolean is not a number"),
        ("duration=1:30:00", "1h30m"),
        ("fleet.etl.threads=0x4", "write 4"),
    ],
)
def test_set_values_follow_the_rules_of_the_file(tmp_path: Path, override: str, says: str) -> None:
    detail = only_detail(refusal(tmp_path, BASE, (override,)))
    assert detail["override"] == override and detail["line"] is None
    assert says in str(detail["message"])


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ("fleet.etl.startup={dist: fixed, value: 1s, value: 2s}", "'value' appears twice"),
        ("fleet.etl.faults.pause={rate: 1/d, duration: 1m, rate: 2/d}", "'rate' appears twice"),
        ("fleet.etl.startup={dist: fixed, on: 1s}", "the key 'on' is not a plain name"),
        ("description=&a [*a]", "recursive alias"),
    ],
)
def test_set_refuses_what_the_file_loader_refuses(tmp_path: Path, override: str, says: str) -> None:
    err = refusal(tmp_path, BASE, (override,))
    assert err.code == "USAGE_ERROR"
    detail = only_detail(err)
    assert detail["override"] == override and says in str(detail["message"])


def test_set_reads_numbers_as_the_file_does(tmp_path: Path) -> None:
    scenario = load(
        tmp_path,
        BASE,
        (
            "service.throttle={burst: 1e3}",
            "fleet.etl.startup={dist: uniform, low: 1s, high: 2s}",
            "fleet.etl.backoff.jitter=no",
        ),
    )
    assert scenario.service.throttle is not None and scenario.service.throttle.burst == 1000.0
    assert scenario.fleet[0].startup.high == 2.0 and scenario.fleet[0].backoff.jitter is False


# --- item 5: settings under which nothing can happen ----------------------------------------------


def test_an_empty_list_of_times_is_refused(tmp_path: Path) -> None:
    text = edit("{kind: poisson, rate: 10/h}", "{kind: times, times: []}")
    detail = only_detail(refusal(tmp_path, text))
    assert detail["field"] == "workload[batch].arrivals.times"
    assert "never submit a task" in str(detail["message"])
    scenario = load(tmp_path, edit("{kind: poisson, rate: 10/h}", "{kind: times, times: [0s]}"))
    assert scenario.workload[0].arrivals.times == (0.0,)


@pytest.mark.parametrize("burst", ["0.5", "0", "-1", ".nan", "0.999"])
def test_a_bucket_smaller_than_one_call_is_refused(tmp_path: Path, burst: str) -> None:
    text = edit("  dispatch: fifo", f"  dispatch: fifo\n  throttle:\n    burst: {burst}")
    detail = only_detail(refusal(tmp_path, text))
    assert detail["field"] == "service.throttle.burst"
    assert detail["line"] == line_of(text, "burst:")
    assert "could never pass a call" in str(detail["message"])


def test_a_bucket_of_one_call_is_allowed(tmp_path: Path) -> None:
    scenario = load(tmp_path, edit("  dispatch: fifo", "  dispatch: fifo\n  throttle: {burst: 1}"))
    assert scenario.service.throttle is not None and scenario.service.throttle.burst == 1.0


@pytest.mark.parametrize(
    ("direction", "says"),
    [("both", "every request and every reply"), ("request", "no call would reach the service"),
     ("reply", "the runner would never hear the service")],
)  # fmt: skip
def test_losing_every_message_is_refused(tmp_path: Path, direction: str, says: str) -> None:
    text = edit("message_loss: 0.1", f"message_loss: 1\n      loss_direction: {direction}")
    detail = only_detail(refusal(tmp_path, text))
    assert detail["field"] == "fleet[etl].faults.message_loss"
    assert says in str(detail["message"])


def _loss_warnings(tmp_path: Path, loss: float, direction: str = "both") -> list[str]:
    text = edit("message_loss: 0.1", f"message_loss: {loss}\n      loss_direction: {direction}")
    path = tmp_path / "loss.yaml"
    path.write_text(text)
    return [
        f"{w.field} line {w.line}: {w.message}"
        for w in load_scenario_with_source(path).warnings()
        if w.field == "fleet[etl].faults.message_loss"
    ]


def test_a_loss_that_wastes_most_attempts_is_a_warning(tmp_path: Path) -> None:
    (warning,) = _loss_warnings(tmp_path, 0.9)
    # The hand-over lost (0.9), or else the three reports due within the 2-minute window (at 0,
    # 60 and 120 s: no start-up) all lost: 1 - 0.1 x (1 - 0.9^3) = 97% of attempts wasted; a
    # task fails for good when its 3 tries all are: 0.973^3 = 92%.
    assert "loses about 97% of the attempts" in warning and "line 27" in warning
    assert "about 92% of the tasks of workload 'batch' would fail for good" in warning
    assert _loss_warnings(tmp_path, 0.2) == []  # scenarios/flaky-network.yaml's loss
    assert _loss_warnings(tmp_path, 0.6, "request") == []  # hand-overs arrive; 36% of acks lost


@pytest.mark.parametrize(
    ("loss", "direction"), [(0.5, "reply"), (0.8, "request"), (0.5, "both")]
)
def test_the_warning_estimate_matches_the_model(loss: float, direction: str) -> None:
    """`lost_before_work` against the simulation: the share of ended attempts that ended for
    want of an acknowledgement (their hand-over or every report within the window lost)."""
    scenario = make_scenario(
        duration="2d",
        fleet=[{"progress_interval": "60s", "startup": "5s",
                "faults": {"message_loss": loss, "loss_direction": direction}}],
        workload=[{"duration": "3m", "max_retries": 5}],
    )  # fmt: skip
    expected = lost_before_work(scenario.fleet[0], scenario.workload[0], scenario.service)
    attempts = simulator.run(scenario, seed=5).attempts
    ended = attempts[attempts.outcome != "running"]
    lost = int((ended.outcome == "ack_timeout").sum())
    low, high = stats.binomtest(lost, len(ended)).proportion_ci(confidence_level=0.9999)
    assert len(ended) > 300
    assert low <= expected <= high, (lost / len(ended), expected)


# --- item 9: messages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("duration: 2h", "duration:", "duration"),
        ("progress_interval: 60s", "progress_interval: null", "fleet[etl].progress_interval"),
        ("rate: 10/h", "rate: null", "workload[batch].arrivals.rate"),
        ("progress_interval: 60s", "progress_interval: [60s]", "fleet[etl].progress_interval"),
    ],
)
def test_an_empty_or_odd_value_says_so_once(tmp_path: Path, old: str, new: str, field: str) -> None:
    detail = only_detail(refusal(tmp_path, edit(old, new)))
    message = str(detail["message"])
    assert detail["field"] == field
    assert "NoneType" not in message and "(got null)" not in message and "list [" not in message
    assert "is empty (null)" in message or "not a list" in message


@pytest.mark.parametrize(
    ("old", "new", "meant"),
    [
        ("  dispatch: fifo", "  dispatch: fifo\n  profile: SQS", "sqs"),
        ("  dispatch: fifo", "  dispatch: fifo\n  profile: Step_Functions", "step-functions"),
        ("lease_reading: 15min", "lease_reading: 15MIN", "15min"),
        ("{dist: lognormal,", "{dist: LogNormal,", "lognormal"),
        ("kind: poisson", "kind: Poisson", "poisson"),
    ],
)
def test_did_you_mean_across_case(tmp_path: Path, old: str, new: str, meant: str) -> None:
    detail = only_detail(refusal(tmp_path, edit(old, new)))
    assert f"Did you mean {meant!r}?" in str(detail["message"])


def test_top_level_x_keys_hold_anchors_for_merge_keys(tmp_path: Path) -> None:
    """docs/scenarios.md: anchors, aliases and merge keys work as usual; a top-level key named
    x-... is ignored, so it can hold the shared values."""
    shared = BASE.replace(
        "fleet:\n  - name: etl\n    worker_group: wg\n    runners: 2\n    threads: 2\n",
        "x-defaults: &group\n  worker_group: wg\n  runners: 2\n  threads: 2\n"
        "x-note: anything at all\n"
        "fleet:\n  - name: etl\n    <<: *group\n",
    )
    assert "<<: *group" in shared
    scenario = load(tmp_path, shared)
    assert scenario == load(tmp_path, BASE)
    assert not any(key.startswith("x-") for key in scenario_to_dict(scenario))
    overridden = edit("    <<: *group\n", "    <<: *group\n    runners: 5\n", shared)
    assert load(tmp_path, overridden).fleet[0].runners == 5  # a key beside << wins


def test_other_unknown_top_level_keys_are_still_refused(tmp_path: Path) -> None:
    detail = only_detail(refusal(tmp_path, "defaults: &d {runners: 2}\n" + BASE))
    assert detail["field"] == "defaults" and "unknown field" in str(detail["message"])
    assert "x-" not in str(detail["message"])  # the hint is for x- keys in sections


def test_x_keys_are_ignored_in_python_data_too() -> None:
    data = {**scenario_to_dict(make_scenario()), "x-defaults": {"runners": 2}}
    assert load_scenario_dict(data) == make_scenario()


def test_a_look_alike_where_text_belongs_says_to_quote_it(tmp_path: Path) -> None:
    text = edit("duration: 2h\n", "duration: 2h\ndescription: 1:30\n")
    detail = only_detail(refusal(tmp_path, text))
    assert detail["field"] == "description"
    assert str(detail["message"]).endswith("If you meant it as text, put it in quotes.")
    scenario = load(tmp_path, edit("duration: 2h\n", "duration: 2h\ndescription: '1:30'\n"))
    assert scenario.description == "1:30"


@pytest.mark.parametrize(
    ("check", "field"),
    [
        ("{tolerance: {default: {absolute: yes}}}", "check.tolerance.default.absolute"),
        ("{tolerance: {default: {relative: on}}}", "check.tolerance.default.relative"),
        ("{max_replications: true}", "check.max_replications"),
        ("{quick: {replications: '4'}}", "check.quick.replications"),
    ],
)
def test_the_check_block_takes_numbers_as_numbers_too(
    tmp_path: Path, check: str, field: str
) -> None:
    text = BASE + f"check: {check}\n"
    detail = only_detail(refusal(tmp_path, text))
    assert detail["field"] == field and detail["line"] == line_of(text, "check:")


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("        duration: 30s", "        duration:",
         "must be a duration such as 30s or a distribution such as {dist: lognormal, ...}, not "
         "empty (null)."),
        ("    arrivals: {kind: poisson, rate: 10/h}", "    arrivals:",
         "must be an arrival process such as {kind: poisson, rate: 120/h}, not empty (null)."),
        ("        duration: 30s", "        duration: true", "not the boolean true."),
    ],
)  # fmt: skip
def test_an_empty_distribution_or_arrival_process_says_what_belongs_there(
    tmp_path: Path, old: str, new: str, says: str
) -> None:
    detail = only_detail(refusal(tmp_path, edit(old, new)))
    assert str(detail["message"]).endswith(says) and "section of fields" not in says


MERGED = """\
duration: 1h
x-small: &small {worker_group: wg, threads: 4}
x-big: &big {runners: 3, threads: 8}
fleet:
  - name: g
    <<: [*small, *big]
workload:
  - {name: w, worker_group: wg, arrivals: {kind: poisson, rate: 10/h}, duration: 1m}
"""


def test_a_key_two_merged_mappings_both_set_is_refused(tmp_path: Path) -> None:
    """The merge-key rule keeps the first mapping's `threads` (4), PyYAML the last (8): the file
    would mean different things to different readers."""
    err = refusal(tmp_path, MERGED)
    assert err.code == "FILE_ERROR"
    detail = only_detail(err)
    assert detail["line"] == 6
    assert "the key 'threads' comes from two mappings merged here (lines 2 and 3)" in str(
        detail["message"]
    )
    for fixed in (
        MERGED.replace("    <<: [*small, *big]\n", "    <<: [*small, *big]\n    threads: 2\n"),
        MERGED.replace("runners: 3, threads: 8", "runners: 3"),
        MERGED.replace("[*small, *big]", "[*small, *small]"),
    ):
        load(tmp_path, fixed)
    group = load(tmp_path, MERGED.replace("runners: 3, threads: 8", "runners: 3")).fleet[0]
    assert (group.runners, group.threads, group.worker_group) == (3, 4, "wg")
