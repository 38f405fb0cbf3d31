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
"""

from simulator.errors import LeasesimError, ScenarioWarning
from simulator.experiments.precision import Precision
from simulator.experiments.replicate import Replications, replicate
from simulator.experiments.runs import run
from simulator.experiments.scenario import load_scenario, scenario_warnings
from simulator.experiments.sweep import summarize, sweep
from simulator.recommend import Recommendation, recommend
from simulator.results.result import Result
from simulator.results.stats import summarize_replications
from simulator.schema import Scenario

__all__ = [
    "LeasesimError",
    "Precision",
    "Recommendation",
    "Replications",
    "Result",
    "Scenario",
    "ScenarioWarning",
    "load_scenario",
    "recommend",
    "replicate",
    "run",
    "scenario_warnings",
    "summarize",
    "summarize_replications",
    "sweep",
]
