"""Fuzzing the scenario loader: random mutations of the shipped scenario files.

Whatever the mutation (bytes cut, lines swapped, characters inserted, values replaced by odd
ones, keys added or dropped, `--set` overrides of any path), loading gives either a valid
`Scenario` or a `LeasesimError` with a known code and a message; never another exception. A valid
result must also survive what a command does next: its warnings and its size estimate.
"""

from __future__ import annotations

import copy
import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.errors import FILE_ERROR, USAGE_ERROR, VALIDATION_ERROR, LeasesimError
from simulator.experiments.guards import estimate
from simulator.scenario.load import load_scenario, load_scenario_with_source
from simulator.scenario.schema import Scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))
TEXTS = {path.name: path.read_text(encoding="utf-8") for path in SCENARIOS}
DATA = {name: yaml.safe_load(text) for name, text in TEXTS.items()}  # parsed once; copied per use
CODES = {FILE_ERROR, USAGE_ERROR, VALIDATION_ERROR}
# The same examples on every run (derandomize); LEASESIM_FUZZ_EXAMPLES=5000 for a long hunt.
FUZZ = settings(
    max_examples=int(os.environ.get("LEASESIM_FUZZ_EXAMPLES", "200")), deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)  # fmt: skip

# Values that have broken parsers before: unit strings, signs, infinities, YAML look-alikes.
ODD_TEXT = st.sampled_from([
    "5 mins", "-1h", "1e400", "0", "0s", "15min", "nan", "inf", ".inf", "-.inf", "1/0s", "1/h",
    "120/h", "90s", "1h30m", "1m1h", "3/15m", "", " ", "∞", "null", "~", "yes", "on", "{}", "[]",
    "*a", "&a", "!!python/object:os.system", "%", "\t", "é", "2m30", "1.5.3", "--", "0x10",
])  # fmt: skip
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), ODD_TEXT, st.text(max_size=10),
    st.integers(-(10**30), 10**30), st.sampled_from([0, 1, -1, 2**63, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.one_of(st.integers(-5, 5), ODD_TEXT), max_size=3),
    st.dictionaries(st.text(max_size=6), st.one_of(st.integers(), ODD_TEXT), max_size=3),
)  # fmt: skip


def _outcome(path: Path, overrides: tuple[str, ...] = ()) -> Scenario | LeasesimError:
    """Load and check the contract: a valid scenario that commands can use, or a clean error."""
    try:
        loaded = load_scenario_with_source(path, overrides)
    except LeasesimError as err:
        assert err.code in CODES
        assert err.message and str(err)
        json.dumps(err.to_dict())  # the --json envelope can always carry it
        for detail in err.details:
            assert detail.get("message")
        return err
    scenario = loaded.scenario
    assert isinstance(scenario, Scenario)
    for warning in loaded.warnings():
        assert warning.message and str(warning)
    found = estimate(scenario, scenario.replications)
    assert found.events >= 0 and found.memory > 0
    assert math.isfinite(found.events) or found.events == math.inf
    return scenario


# --- the text: what a careless edit does ------------------------------------------------------


@st.composite
def edited_text(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(sorted(TEXTS.values())))
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        kinds = ["delete", "duplicate", "swap", "insert", "replace", "truncate", "indent"]
        kind = draw(st.sampled_from(kinds))
        n = draw(st.integers(0, len(lines) - 1))
        if kind == "delete":
            del lines[n]
        elif kind == "duplicate":
            lines.insert(n, lines[n])
        elif kind == "swap":
            m = draw(st.integers(0, len(lines) - 1))
            lines[n], lines[m] = lines[m], lines[n]
        elif kind == "indent":
            lines[n] = draw(st.sampled_from(["", " ", "  ", "\t", "      "])) + lines[n].lstrip()
        else:
            at = draw(st.integers(0, len(text)))
            if kind == "truncate":
                text = text[:at]
                continue
            junk = draw(st.text(alphabet=":{}[]-&*!|>'\"#%@`,?\t\n =0123456789hms/.éx", max_size=6))
            end = at + (draw(st.integers(1, 5)) if kind == "replace" else 0)
            text = text[:at] + junk + text[end:]
            continue
        text = "\n".join(lines)
    return text


@FUZZ
@given(text=edited_text())
def test_edited_scenario_text_loads_or_fails_cleanly(text: str, tmp_path: Path) -> None:
    path = tmp_path / "edited.yaml"
    path.write_text(text, encoding="utf-8")
    _outcome(path)


@FUZZ
@given(data=st.binary(max_size=200), name=st.sampled_from(sorted(TEXTS)))
def test_random_bytes_spliced_into_a_scenario_fail_cleanly(
    data: bytes, name: str, tmp_path: Path
) -> None:
    raw = TEXTS[name].encode()
    middle = len(raw) // 2
    path = tmp_path / "spliced.yaml"
    path.write_bytes(raw[:middle] + data + raw[middle:])
    _outcome(path)


# --- the data: every value replaced, removed or wrapped -----------------------------------------


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every position in plain data (keys and list indices), parents before children."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        data = data[step]
    return data


@st.composite
def mutated_data(draw: st.DrawFn) -> Any:
    data = copy.deepcopy(DATA[draw(st.sampled_from(sorted(DATA)))])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, key = _parent(data, path), path[-1]
        kind = draw(st.sampled_from(["replace", "remove", "add", "wrap", "copy"]))
        if kind == "replace":
            parent[key] = draw(ODD_VALUES)
        elif kind == "remove":
            del parent[key]
        elif kind == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "runers", "dist", "kind", "name", "rate"]))] = (
                draw(ODD_VALUES)
            )
        elif kind == "wrap":
            parent[key] = draw(st.sampled_from([[parent[key]], {"value": parent[key]}]))
        elif kind == "copy":  # a whole section where a value belongs, or the reverse
            other = _parent(data, (*draw(st.sampled_from(paths)), None))
            parent[key] = json.loads(json.dumps(other, default=str))
    return data


@FUZZ
@given(data=mutated_data())
def test_mutated_scenario_data_loads_or_fails_cleanly(data: Any, tmp_path: Path) -> None:
    path = tmp_path / "mutated.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    _outcome(path)


# --- --set: any path, any value ----------------------------------------------------------------


@st.composite
def overrides(draw: st.DrawFn) -> tuple[str, tuple[str, ...]]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    paths = [".".join(str(p) for p in path) for path in _paths(DATA[name])]
    invented = st.lists(
        st.sampled_from(["fleet", "workload", "service", "faults", "crash", "rate", "0", "9",
                         "etl", "batch", "throttle", "x", "duration", "median", "simulation"]),
        min_size=1, max_size=5,
    ).map(".".join)  # fmt: skip
    chosen = draw(st.lists(st.sampled_from(paths) | invented, min_size=1, max_size=3))
    values = st.one_of(
        ODD_TEXT, st.sampled_from(["3", "-3", "true", "null", "{dist: fixed, value: 3s}",
                                   "{kind: poisson}", "[1, 2", "a: b: c", "'quoted'", "1e999"]),
    )  # fmt: skip
    sets = tuple(f"{path}={draw(values)}" for path in chosen)
    if draw(st.booleans()):
        sets += (draw(st.sampled_from(["=3", "nope", ".=1", "a..b=1", "fleet.=1"])),)
    return name, sets


@FUZZ
@given(case=overrides())
def test_random_overrides_load_or_fail_cleanly(case: tuple[str, tuple[str, ...]]) -> None:
    name, sets = case
    _outcome(SCENARIOS[sorted(TEXTS).index(name)], sets)


# --- the originals, for contrast -----------------------------------------------------------------


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_the_unmutated_files_are_valid(path: Path) -> None:
    assert isinstance(_outcome(path), Scenario)
    assert load_scenario(path).name == path.stem
