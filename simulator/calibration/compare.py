"""Validation: run a scenario and set each metric it shares with a record beside the recorded value.

The test, per metric: the scenario's replications give R values v_1..v_R of the metric, each from
one simulated record computed exactly as from the observed one (`measures.task_frame`). If the
scenario is right, the observed value is one more draw of that metric, from a record of its own
size: (observed - mean(v)) / (s_rec * sqrt(1 + 1/R')) follows Student's t with R - 1 degrees of
freedom, where s_rec is the spread of one record (the replications' standard deviation scaled
by sqrt(simulated tasks per replication / observed tasks), and never below the bootstrap-over-
tasks standard error of the observed value). This is the prediction interval of the next
record; it accounts for the autocorrelation within a record (busy hours, a crash that hits
several tasks), which a bootstrap over tasks alone misses.

Each metric's test has a false-alarm rate of alpha (5%); over the metrics, Holm's step-down
correction keeps the chance of any false "differs" at most alpha (family-wise). The observed
interval shown is the percentile bootstrap over tasks (`scipy.stats.bootstrap`).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from simulator.calibration.measures import MEASURES, available, bootstrap, task_frame, value
from simulator.calibration.observed import Observed, from_tables, read_observed
from simulator.errors import ScenarioWarning
from simulator.experiments.replicate import replicate
from simulator.experiments.runs import resolve
from simulator.scenario.schema import Scenario

TEST = "prediction t test (R-1 df) of the observed value against the replications, Holm-corrected"


@dataclass
class MetricComparison:
    metric: str
    unit: str
    observed: float
    observed_low: float  # bootstrap over tasks
    observed_high: float
    simulated: float  # mean over replications
    simulated_low: float  # 95% prediction interval of a record of the observed size
    simulated_high: float
    p_value: float  # of the per-metric test
    p_holm: float  # Holm-adjusted
    verdict: str  # consistent | differs

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Comparison:
    """A scenario against a record: one `MetricComparison` per shared metric."""

    scenario: Scenario
    observed: Observed
    replications: int
    rows: list[MetricComparison]
    observed_tasks: pd.DataFrame = field(repr=False)
    simulated_tasks: pd.DataFrame = field(repr=False)  # every replication's tasks, "replication"
    alpha: float = 0.05
    skipped: list[str] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return all(r.verdict == "consistent" for r in self.rows)

    @property
    def differs(self) -> list[str]:
        return [r.metric for r in self.rows if r.verdict == "differs"]

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.as_dict() for r in self.rows])

    def __repr__(self) -> str:
        word = "consistent" if self.consistent else f"differs on {', '.join(self.differs)}"
        return f"<Comparison {self.scenario.name} vs {self.observed.source}: {word}>"


def _record(result: Any, like: Observed) -> Observed:
    """A replication's attempts as the record `like` would show them: the same columns only."""
    att = result.attempts
    sim = from_tables(att, result.tasks)
    keep = [c for c in sim.attempts.columns if c in like.attempts.columns]
    return Observed(sim.attempts[keep], sim.source)


def compare_observed(
    scenario: Scenario | str | os.PathLike[str] | dict[str, Any],
    observed: Observed | str | os.PathLike[str],
    n: int = 10,
    seed: int | None = None,
    alpha: float = 0.05,
    executor: Any = None,
    progress: bool | None = False,
) -> Comparison:
    """Run `n` replications of `scenario` and compare each shared metric with the record."""
    obs = observed if isinstance(observed, Observed) else read_observed(observed)
    base = resolve(scenario)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        reps = replicate(
            base, n=max(n, 2), seed=seed, tables=True, executor=executor, progress=progress
        )
    results = list(reps.results)
    obs_frame = task_frame(obs)
    sims = [task_frame(_record(r, obs)) for r in results]
    names = available(obs)
    rows: list[MetricComparison] = []
    skipped = [m for m in MEASURES if m not in names]
    n_obs = len(obs_frame)
    for name in names:
        m = MEASURES[name]
        o = value(m, obs_frame)
        low, high, se_boot = bootstrap(m, obs_frame)
        v = np.array([value(m, f) for f in sims])
        sizes = np.array([len(f) for f in sims], dtype=float)
        v_ok = np.isfinite(v)
        if not math.isfinite(o) or v_ok.sum() < 2:
            skipped.append(name)
            continue
        v, sizes = v[v_ok], sizes[v_ok]
        r = len(v)
        mean = float(v.mean())
        sd_rec = float(v.std(ddof=1)) * math.sqrt(float(sizes.mean()) / max(n_obs, 1))
        sd_rec = max(sd_rec, se_boot if math.isfinite(se_boot) else 0.0)
        scale = sd_rec * math.sqrt(1.0 + 1.0 / r)
        t_crit = float(stats.t.ppf(0.975, r - 1))
        if scale > 0:
            p = float(2.0 * stats.t.sf(abs(o - mean) / scale, r - 1))
        else:
            p = 1.0 if math.isclose(o, mean, rel_tol=1e-9, abs_tol=1e-12) else 0.0
        rows.append(
            MetricComparison(
                name,
                m.unit,
                o,
                low,
                high,
                mean,
                mean - t_crit * scale,
                mean + t_crit * scale,
                p,
                p,
                "consistent",
            )
        )
    _holm(rows, alpha)
    sim_tasks = (
        pd.concat([f.assign(replication=i) for i, f in enumerate(sims)], ignore_index=True)
        if sims
        else pd.DataFrame()
    )
    return Comparison(base, obs, len(results), rows, obs_frame, sim_tasks, alpha, skipped)


def _holm(rows: list[MetricComparison], alpha: float) -> None:
    """Holm's step-down adjustment of the p-values, in place; verdict differs when below alpha."""
    order = sorted(range(len(rows)), key=lambda i: rows[i].p_value)
    k = len(rows)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * rows[i].p_value))
        rows[i].p_holm = running
        rows[i].verdict = "differs" if running < alpha else "consistent"
