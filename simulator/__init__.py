"""leasesim: a discrete-event simulator of AWS Data Pipeline task leases.

Public API::

    import simulator
    scenario = simulator.load_scenario("scenarios/aws-defaults.yaml")
    result = simulator.run(scenario, seed=1)
    result.summary, result.attempts, result.tasks
    result.warnings                                     # also issued once as ScenarioWarning
    reps = simulator.replicate(scenario, n=10)          # reps.summarize(): mean and 95% CI
    df = simulator.sweep(scenario, {"fleet.etl.progress_interval": ["30s", "2m"]}, 5)
    simulator.summarize(df)                             # mean and CI per sweep point
    rec = simulator.recommend(scenario, {"fleet.etl.progress_interval": ["30s", "1m", "2m"]},
                              ["duplicated_fraction<=1e-3"])   # rec.setting, rec.describe()
    simulator.run({"name": "mine", "duration": "2h", "fleet": [...], "workload": [...]})
    simulator.difference(df, "wasted_work_h", "fleet.etl.progress_interval", 30.0, 120.0)
    simulator.parse_duration("1h30m"), simulator.human_duration(210.4)   # 5400.0, '3m30s'

Subpackages `simulator.plots` (figures) and `simulator.analytic` (closed forms) are public too;
docs/api.md lists everything with its signature. Other modules are internal.

Every name is imported when it is first used (PEP 562), so `import simulator` costs nothing and
importing one layer (`simulator.model`, `simulator.scenario`) does not load the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_HOMES = {
    "simulator.api": ("LeaseTimes", "distribution_mean", "lease_timeouts", "load_scenario_dict"),
    "simulator.calibration": ("Calibration", "Comparison", "Observed", "compare_observed",
                              "fit_observed", "read_observed", "simulated_record"),
    "simulator.errors": ("LeasesimError", "ScenarioWarning"),
    "simulator.experiments.precision": ("Precision",),
    "simulator.experiments.replicate": ("Replications", "replicate"),
    "simulator.experiments.runs": ("run",),
    "simulator.experiments.sweep": ("difference", "summarize", "sweep"),
    "simulator.recommendation.result": ("Recommendation",),
    "simulator.recommendation.search": ("recommend",),
    "simulator.results.result": ("Result",),
    "simulator.results.stats": ("summarize_replications",),
    "simulator.scenario.load": ("load_scenario", "scenario_warnings"),
    "simulator.scenario.schema": ("Scenario",),
    "simulator.units": ("UnitError", "format_duration", "format_rate", "human_duration",
                        "parse_duration", "parse_rate"),
}  # fmt: skip
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "Calibration", "Comparison", "Observed", "compare_observed", "fit_observed", "read_observed",
    "simulated_record",
    "LeaseTimes", "LeasesimError", "Precision", "Recommendation", "Replications", "Result",
    "Scenario", "ScenarioWarning", "UnitError", "difference", "distribution_mean",
    "format_duration", "format_rate", "human_duration", "lease_timeouts", "load_scenario",
    "load_scenario_dict", "parse_duration", "parse_rate", "recommend", "replicate", "run",
    "scenario_warnings", "summarize", "summarize_replications", "sweep",
]  # fmt: skip  (each name's home: _HOMES)


def __getattr__(name: str) -> Any:
    """A public name, imported from its home module on first use and then kept here."""
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from simulator.api import LeaseTimes, distribution_mean, lease_timeouts, load_scenario_dict
    from simulator.calibration import (
        Calibration,
        Comparison,
        Observed,
        compare_observed,
        fit_observed,
        read_observed,
        simulated_record,
    )
    from simulator.errors import LeasesimError, ScenarioWarning
    from simulator.experiments.precision import Precision
    from simulator.experiments.replicate import Replications, replicate
    from simulator.experiments.runs import run
    from simulator.experiments.sweep import difference, summarize, sweep
    from simulator.recommendation.result import Recommendation
    from simulator.recommendation.search import recommend
    from simulator.results.result import Result
    from simulator.results.stats import summarize_replications
    from simulator.scenario.load import load_scenario, scenario_warnings
    from simulator.scenario.schema import Scenario
    from simulator.units import (
        UnitError,
        format_duration,
        format_rate,
        human_duration,
        parse_duration,
        parse_rate,
    )
