"""Unit strings at the edges: durations and rates parse to float seconds / per second, or fail."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.units import UnitError, format_duration, parse_duration, parse_rate


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("2m", 120.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        (".5s", 0.5),
        ("7d", 604800.0),
        ("1w", 604800.0),
        (" 2 m ", 120.0),  # spaces are ignored
        ("1d2h3m4s", 86400 + 7200 + 180 + 4),
        ("12", 12.0),  # a bare number is seconds
        ("1e3", 1000.0),
        (45, 45.0),
        (0.25, 0.25),
        (0, 0.0),
    ],
)
def test_parse_duration_accepts(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "m", "5min", "1h30", "abc", "-5s", "10 minutes", "1.2.3s", "nan", "inf", "1e400", "5M"],
)
def test_parse_duration_rejects_malformed_strings(text: str) -> None:
    with pytest.raises(UnitError) as info:
        parse_duration(text)
    assert repr(text) in str(info.value)  # the message quotes what the user wrote


@pytest.mark.parametrize("value", [True, False, None, [1], {"s": 1}, float("nan"), float("inf")])
def test_parse_duration_rejects_other_types(value: object) -> None:
    with pytest.raises(UnitError):
        parse_duration(value)


def test_unit_error_is_a_value_error() -> None:
    # pydantic turns ValueErrors raised in validators into validation errors; keep it that way.
    assert issubclass(UnitError, ValueError)


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("120/h", 120 / 3600),
        ("2/s", 2.0),
        ("1/d", 1 / 86400),
        ("3/15m", 3 / 900),
        ("1/1h30m", 1 / 5400),
        ("0.5", 0.5),
        (0.5, 0.5),
        (3, 3.0),
        (" 60 / m ", 1.0),
    ],
)
def test_parse_rate_accepts(text: object, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["/h", "1/0s", "abc", "1/x", "nan/h", "inf", "1/h/h", "1/-1h"])
def test_parse_rate_rejects(text: str) -> None:
    with pytest.raises(UnitError):
        parse_rate(text)


@pytest.mark.parametrize("value", [True, None, [1], {"rate": 1}])
def test_parse_rate_rejects_other_types(value: object) -> None:
    with pytest.raises(UnitError):
        parse_rate(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (1.5, "1.5s"),
        (90, "1m30s"),
        (3600, "1h"),
        (3661.5, "1h1m1.5s"),
        (172805, "2d5s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_duration_of_non_finite_is_printable() -> None:
    assert format_duration(math.inf) == "inf"


@given(st.integers(min_value=0, max_value=10**11).map(lambda ms: ms / 1000))
def test_format_then_parse_round_trips(seconds: float) -> None:
    # Whole milliseconds up to ~3 years. format_duration keeps 6 significant digits of its last
    # part, so allow that much error.
    back = parse_duration(format_duration(seconds))
    assert back == pytest.approx(seconds, rel=1e-5, abs=1e-3)


@pytest.mark.parametrize("seconds", [1e-9, 60.00001])
def test_format_of_tiny_parts_parses_back(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=1e-3)


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=999), st.sampled_from(["ms", "s", "m", "h"])),
        min_size=1,
        max_size=4,
    )
)
def test_parts_add_up(parts: list[tuple[int, str]]) -> None:
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    # A duration names each unit once, largest first ("1h30m"); keep the first of each unit.
    first = {unit: n for n, unit in reversed(parts)}
    parts = [(first[unit], unit) for unit in sorted(first, key=lambda u: -factor[u])]
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert parse_duration(text) == pytest.approx(sum(n * factor[u] for n, u in parts))


@given(st.integers(min_value=1, max_value=10_000), st.sampled_from(["s", "m", "h", "d"]))
def test_rate_is_count_over_unit(count: int, unit: str) -> None:
    assert parse_rate(f"{count}/{unit}") == pytest.approx(count / parse_duration(f"1{unit}"))


@pytest.mark.parametrize("text", ["1m1m", "30s1m", "120/"])
def test_malformed_units_are_refused(text: str) -> None:
    parse = parse_rate if "/" in text else parse_duration
    with pytest.raises(UnitError):
        parse(text)


def test_rates_in_a_fixed_unit_and_metrics_by_their_suffix():
    from simulator.units import format_rate, rate_metric, rate_unit, seconds_metric

    assert rate_unit(0.0477) == "m" and format_rate(0.0477) == "2.86/m"
    assert format_rate(0.0477, "s") == "0.0477/s" and format_rate(6.019e-05, "h") == "0.217/h"
    assert seconds_metric("latency_p95_s") and not seconds_metric("poll_calls_per_s")
    assert rate_metric("poll_calls_per_s") and not rate_metric("wasted_work_h")


def test_metric_values_for_a_reader_in_recommend_text():
    from simulator.recommendation.evidence import Measure
    from simulator.recommendation.requirements import Requirement

    assert str(Requirement.parse("detection_latency_mean_s<=600")) == (
        "detection_latency_mean_s <= 10m")
    assert Measure("latency_p95_s", 2595.0, 2446.0, 2743.0, 5).text() == (
        "43m15s", "[40m46s, 45m43s]")
    diff = Measure("progress_calls_per_s", 6.019e-05, -3.157e-04, 4.361e-04, 5, "paired t")
    assert diff.text(signed=True) == ("+0.217/h", "[-1.14/h, +1.57/h]")


def test_resolved_scenario_data_in_human_units():
    from simulator.plots.sweeps import human_fields

    data = {"duration": 86400.0, "seed": 1, "fleet": [{"progress_interval": 90.0,
            "faults": {"crash": {"rate": 1.1574074074074073e-05}}}],
            "arrivals": {"kind": "profile", "rates": [[0.0, 0.0138888], [7200.0, 0.5]]}}
    assert human_fields(data) == {"duration": "1d", "seed": 1, "fleet": [
        {"progress_interval": "1m30s", "faults": {"crash": {"rate": "1/d"}}}],
        "arrivals": {"kind": "profile", "rates": [["0s", "50/h"], ["2h", "30/m"]]}}
