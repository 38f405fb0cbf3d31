"""Answers, not just numbers: the heartbeat and timeout settings that meet stated requirements.

    import simulator
    rec = simulator.recommend(
        "scenarios/aws-defaults.yaml",
        vary={"fleet.etl.progress_interval": {"from": "10s", "to": "5m", "steps": 6,
                                              "scale": "log"},
              "service.report_progress_timeout": ["5m", "10m", "15m", "30m"]},
        require=["duplicated_fraction<=1e-3", "detection_latency_mean_s<=10m"],
        minimize="progress_calls_per_s",
    )
    rec.setting, rec.confirmed, rec.evidence      # the answer and each requirement's interval
    print(rec.describe()); rec.figure()           # the whole story; the Pareto frontier
    rec.candidates, rec.runs                      # DataFrames of everything evaluated

Modules: `requirements` (METRIC<=VALUE, the objective), `space` (--vary axes, grid,
refinement), `screening` (closed-form estimates), `simulate` and `evaluator` (common random
numbers), `evidence` (intervals and verdicts), `pareto`, `readings` (5 vs 15 minutes), `search`
(the algorithm), `result` (`Recommendation`), `figure`. See docs/recommend.md.
"""

from simulator.recommendation.evidence import Evidence, Measure
from simulator.recommendation.readings import ReadingCheck, ReadingOutcome
from simulator.recommendation.requirements import Objective, Requirement
from simulator.recommendation.result import Recommendation, RunnerUp
from simulator.recommendation.search import recommend

__all__ = [
    "Evidence",
    "Measure",
    "Objective",
    "ReadingCheck",
    "ReadingOutcome",
    "Recommendation",
    "Requirement",
    "RunnerUp",
    "recommend",
]
