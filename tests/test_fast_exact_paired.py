"""Fast mode equals exact mode in distribution, tested paired (issue 14, item 3).

Each replication runs in both modes with the same seed and replication number, so the pair shares
every random stream that both modes draw from; the paired t test on the differences then detects
a bias far smaller than the run-to-run spread. Same-instant ties are broken by the same rule in
both modes (each thread's seeded rank, `service.Poll.rank`), so a difference here is a bug, not a
tolerance to widen. Throttling is switched off so that bulk counting is compared on its own (under
message loss fast mode falls back to exact where throttling is on; tests/test_fast_throttle.py
pairs the shipped scenarios under their limits).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import simulator

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml")) + [ROOT / "bench" / "faults-mix.yaml"]
PAIRS = 200
ALPHA = 0.01
METRICS = [
    "reassignments", "duplicated_fraction", "false_reassignments", "progress_calls_per_s",
    "latency_p95_s",
]  # fmt: skip
# Short runs keep 2 x 200 replications of every scenario affordable (about 2 minutes on 2 cores).
DURATION = {"throttled-fleet": "10m"}
# throttled-fleet's one group has `progress_jitter`, so fast mode runs it exact (docs/fast-mode.md):
# its pairs must be equal draw for draw, which a few pairs show as well as 200.
IDENTICAL = {"throttled-fleet": 10}


def paired_p(exact: list[float], fast: list[float]) -> float:
    """Two-sided paired t test's p-value; 1 where every pair is equal (nothing to test)."""
    diff = np.asarray(fast, dtype=float) - np.asarray(exact, dtype=float)
    diff = diff[~np.isnan(diff)]  # e.g. latency_p95_s of a run that finished no task
    if len(diff) < 2 or not diff.any():
        return 1.0
    if np.all(diff == diff[0]):  # a constant nonzero shift: certainly a difference
        return 0.0
    return float(stats.ttest_1samp(diff, 0.0).pvalue)


def summaries(path: Path, mode: str, pairs: int = PAIRS) -> list[dict[str, float]]:
    overrides = [
        f"duration={DURATION.get(path.stem, '6h')}", "service.throttle=null",
        f"simulation.mode={mode}",
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scenario warnings (e.g. fleet groups that run exact)
        scenario = simulator.load_scenario(path, overrides)
        runs = simulator.replicate(
            scenario, pairs, executor="processes", workers=2, progress=False
        )
    return runs.summaries


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_fast_mode_is_exact_mode_in_distribution(path: Path) -> None:
    if path.stem in IDENTICAL:
        pairs = IDENTICAL[path.stem]
        exact, fast = summaries(path, "exact", pairs), summaries(path, "fast", pairs)
        assert len(exact) == pairs and pd.DataFrame(exact).equals(pd.DataFrame(fast)), (
            f"{path.stem}: fast mode was to run this scenario exact, pair for pair; if it now "
            "runs some of it in bulk, move it from IDENTICAL to the paired t test"
        )
        return
    exact, fast = summaries(path, "exact"), summaries(path, "fast")
    assert len(exact) == len(fast) == PAIRS
    pvalues = {
        m: paired_p([s[m] for s in exact], [s[m] for s in fast]) for m in METRICS
    }
    print(f"{path.stem}: " + ", ".join(f"{m} p={p:.3g}" for m, p in pvalues.items()))
    differ = {m: p for m, p in pvalues.items() if not math.isnan(p) and p < ALPHA}
    assert not differ, f"{path.stem}: fast mode differs from exact mode (paired t): {differ}"
