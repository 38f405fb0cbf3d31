"""leasesim: a discrete-event simulator of AWS Data Pipeline task leases.

Public API::

    import simulator
    scenario = simulator.load_scenario("scenarios/aws-defaults.yaml")
    result = simulator.run(scenario, seed=1)
    result.summary, result.attempts, result.tasks
"""

from simulator.errors import LeasesimError
from simulator.experiments.runs import replicate, run
from simulator.experiments.scenario import load_scenario
from simulator.results.result import Result
from simulator.results.stats import summarize_replications
from simulator.schema import Scenario

__all__ = [
    "LeasesimError",
    "Result",
    "Scenario",
    "load_scenario",
    "replicate",
    "run",
    "summarize_replications",
]
