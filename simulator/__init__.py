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
"""

from simulator.api import LeaseTimes, distribution_mean, lease_timeouts, load_scenario_dict
from simulator.errors import LeasesimError, ScenarioWarning
from simulator.experiments.precision import Precision
from simulator.experiments.replicate import Replications, replicate
from simulator.experiments.runs import run
from simulator.experiments.sweep import difference, summarize, sweep
from simulator.recommend import Recommendation, recommend
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

__all__ = [
    "LeaseTimes",
    "LeasesimError",
    "Precision",
    "Recommendation",
    "Replications",
    "Result",
    "Scenario",
    "ScenarioWarning",
    "UnitError",
    "difference",
    "distribution_mean",
    "format_duration",
    "format_rate",
    "human_duration",
    "lease_timeouts",
    "load_scenario",
    "load_scenario_dict",
    "parse_duration",
    "parse_rate",
    "recommend",
    "replicate",
    "run",
    "scenario_warnings",
    "summarize",
    "summarize_replications",
    "sweep",
]
