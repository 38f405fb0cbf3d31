"""Public helpers for notebooks and scripts that are not experiments themselves.

Everything here is exported by `simulator` (`simulator.load_scenario_dict`, ...); the modules they
wrap are internal and may change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from simulator import arithmetic
from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.scenario import leases
from simulator.scenario import load as _scenario
from simulator.scenario.schema import Scenario, Workload


def load_scenario_dict(
    data: Mapping[str, Any],
    overrides: Sequence[str] = (),
    *,
    source: str = "<dict>",
    base_dir: str | os.PathLike[str] | None = None,
) -> Scenario:
    """Validate a scenario given as plain data: the fields of a scenario file, as a dict.

    The same checks, defaults, units ("30s", "120/h") and `--set` overrides as `load_scenario`;
    an error names `source` and the field. The scenario's warnings are issued once as
    `ScenarioWarning`s, as by `load_scenario`. Empirical CSV files are read relative to `base_dir`
    (default: the current folder). `data` is not modified. `simulator.run(data)` does the same
    in one step.
    """
    if not isinstance(data, Mapping):
        raise LeasesimError(
            USAGE_ERROR, f"load_scenario_dict: expected a dict of scenario fields, got "
            f"{type(data).__name__}; for a file use load_scenario(path).",
        )  # fmt: skip
    loaded = _scenario.load_dict_with_source(dict(data), source, overrides, base_dir)
    _scenario.remember(loaded)
    _scenario.announce(loaded.scenario, stacklevel=2)
    return loaded.scenario


def distribution_mean(spec: Any) -> float:
    """The mean of a distribution of a loaded scenario, in its unit (seconds for durations).

    `spec` is a distribution field of a `Scenario`, e.g. `scenario.workload[0].duration` or
    `scenario.fleet[0].faults.pause.duration`.
    """
    try:
        return float(arithmetic.mean(spec))
    except (TypeError, AttributeError):
        raise LeasesimError(
            USAGE_ERROR, f"distribution_mean: {spec!r} is not a distribution of a loaded "
            "scenario (e.g. scenario.workload[0].duration).",
        ) from None  # fmt: skip


class LeaseTimes(NamedTuple):
    """How long the service waits, in seconds, under the scenario's lease reading (ref §3.1)."""

    ack: float  # from the assignment to the first report (the acknowledgement)
    first: float  # after the first report
    renew: float  # after each later report


def lease_timeouts(scenario: Scenario, workload: str | int = 0) -> LeaseTimes:
    """The acknowledgement window and the lease after the first and later reports of `workload`
    (its name or index), as the model applies them: `lease_reading`, the activity's
    reportProgressTimeout and `ack_uses_report_timeout` (docs/model.md, "Leases")."""
    chosen: Workload | None
    if isinstance(workload, str):
        chosen = next((w for w in scenario.workload if w.name == workload), None)
    elif isinstance(workload, int) and not isinstance(workload, bool):
        chosen = scenario.workload[workload] if -len(scenario.workload) <= workload < len(
            scenario.workload) else None  # fmt: skip
    else:
        chosen = None
    if chosen is None:
        names = ", ".join(w.name for w in scenario.workload)
        raise LeasesimError(
            USAGE_ERROR, f"lease_timeouts: no workload {workload!r}; the scenario has: {names}."
        )
    return LeaseTimes(*leases.timeouts(scenario.service, chosen))
