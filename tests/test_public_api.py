"""The public Python API: what notebooks and docs use is exported by `simulator` and documented.

Notebooks and docs import nothing else: `import simulator` and its public subpackages `plots` and
`analytic` (docs/api.md).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
from builders import BASE, merge

import simulator
from simulator.errors import LeasesimError

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = {"simulator", "simulator.plots", "simulator.analytic", "simulator.units"}
# `leasesim check` from Python is documented through its own modules until simulator.check exports
# a public entry point (owned with `leasesim check`).
ALLOWED = {"regression.md": {"simulator.check", "simulator.check.files", "simulator.check.runner"}}


def _sources() -> dict[str, str]:
    """Code of every notebook cell and every python block of README.md and docs/*.md."""
    texts = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        texts[path.name] = "\n".join("".join(c["source"]) for c in cells
                                     if c["cell_type"] == "code")  # fmt: skip
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        blocks = re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)
        texts[path.name] = "\n".join(blocks)
    return texts


def test_notebooks_and_docs_import_only_the_public_api() -> None:
    private = {}
    for name, code in _sources().items():
        for module in re.findall(r"^\s*(?:from|import)\s+(simulator[\w.]*)", code, flags=re.M):
            if module not in PUBLIC_MODULES | ALLOWED.get(name, set()):
                private.setdefault(name, []).append(module)
    assert private == {}, f"private modules imported: {private}"


def test_every_exported_name_is_documented_in_docs_api() -> None:
    text = (ROOT / "docs" / "api.md").read_text()
    missing = [name for name in simulator.__all__ if f"`{name}" not in text
               and f"simulator.{name}" not in text]  # fmt: skip
    assert missing == []
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None


def test_run_accepts_a_plain_dict_like_a_file() -> None:
    data = merge(BASE, {"duration": "2h"})
    from_dict = simulator.run(data, seed=3)
    loaded = simulator.load_scenario_dict(data)
    assert simulator.run(loaded, seed=3).summary == from_dict.summary
    assert data["duration"] == "2h"  # not modified
    overridden = simulator.load_scenario_dict(data, overrides=["duration=1h"])
    assert overridden.duration == 3600
    with pytest.raises(LeasesimError, match="dict of scenario fields"):
        simulator.load_scenario_dict(["not", "a", "dict"])  # type: ignore[arg-type]


def test_load_scenario_dict_issues_the_scenario_warnings_once() -> None:
    slow = merge(BASE, {"fleet": [{"startup": "150s"}]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scenario = simulator.load_scenario_dict(slow, source="mine")
        simulator.run(scenario, seed=1)
    found = [w for w in caught if issubclass(w.category, simulator.ScenarioWarning)]
    assert len(found) == 1 and "acknowledgement" in str(found[0].message)
    assert found[0].filename == __file__


def test_difference_is_paired_by_replication() -> None:
    df = simulator.sweep(merge(BASE, {"duration": "2h"}),
                         {"fleet.etl.progress_interval": ["30s", "2m"]}, 3,
                         executor="serial", progress=False)  # fmt: skip
    d = simulator.difference(df, "progress_calls_per_s", "fleet.etl.progress_interval", 30.0,
                             120.0)  # fmt: skip
    per_rep = (df[df["fleet.etl.progress_interval"] == 120.0].set_index("replication")
               ["progress_calls_per_s"]
               - df[df["fleet.etl.progress_interval"] == 30.0].set_index("replication")
               ["progress_calls_per_s"])  # fmt: skip
    assert d["n"] == 3 and d["mean"] == pytest.approx(per_rep.mean()) and d["mean"] < 0


def test_units_read_and_write_human_durations_and_rates() -> None:
    assert simulator.parse_duration("1h30m") == 5400 and simulator.parse_rate("120/h") == 1 / 30
    assert [simulator.human_duration(s) for s in (40.72, 210.4, 3905, 97200, 0.25, 4.24, 0)] == [
        "41s", "3m30s", "1h05m", "1d03h", "250ms", "4.2s", "0s"
    ]  # fmt: skip
    assert simulator.human_duration(59.6) == "1m"  # rounding carries into the next unit
    assert simulator.parse_duration(simulator.human_duration(3905)) == 3900
    assert [simulator.format_rate(r) for r in (2, 1 / 30, 1 / 86400)] == ["2/s", "2/m", "1/d"]
    assert simulator.format_duration(90) == "1m30s"


def test_lease_timeouts_and_distribution_mean() -> None:
    gc = simulator.load_scenario(str(ROOT / "scenarios" / "gc-pauses.yaml"))
    assert simulator.lease_timeouts(gc) == (120.0, 180.0, 180.0)
    assert simulator.lease_timeouts(gc, "reports").first == 180.0
    five = simulator.load_scenario_dict(merge(BASE, {"service": {"lease_reading": "5min"}}))
    assert simulator.lease_timeouts(five).renew == 300.0
    with pytest.raises(LeasesimError, match="no workload 'nope'"):
        simulator.lease_timeouts(gc, "nope")
    fixed = simulator.load_scenario_dict(merge(BASE, {"workload": [{"duration": "10m"}]}))
    assert simulator.distribution_mean(fixed.workload[0].duration) == 600.0
    with pytest.raises(LeasesimError, match="not a distribution"):
        simulator.distribution_mean("10m")
