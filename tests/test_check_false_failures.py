"""How often does `leasesim check` fail a scenario that did not change? (slow)

A small scenario's baseline is recorded with one seed; then the unchanged scenario is checked
with 200 other seeds. Another seed gives an independent sample, as a new version of NumPy or of
leasesim would, so the exact tier is skipped and the statistical tier decides. Every failure of
it (a metric called different, or still inconclusive at the replication cap) is a false failure.

The nominal level is alpha = 5 %: the tier calls an unchanged metric different at most that often
by construction (docs/regression.md), and the margins below follow the sizing rule there (about
2.5 standard deviations of one replication), which keeps inconclusive verdicts rarer still. The
measured rate must not exceed 5 %; the test prints it.

Margins from theory: arrivals are Poisson at 6/h, so one 12-hour replication submits 72 tasks
with standard deviation sqrt(72) = 8.5, and 2.5 x 8.5 / 72 = 30 %. About 3 crashes in 12 hours
each take back the tasks their runner holds (about 0.5, at 25 % utilisation of 2 threads): some
1.5 of 72 tasks, Poisson-like, sd about 0.017, and 2.5 sd is about 0.05. Utilisation is the work
of a compound Poisson sum over 4 threads: sd = sqrt(72 x E[S^2]) / (4 x 12 h) with exponential
10-minute work (E[S^2] = 2 x 600^2 s^2), 0.042 around 0.25, so 2.5 sd is 42 %: 45 %.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import BASE, merge

from simulator.check.equivalence import DIFFERENT
from simulator.check.expect import INCONCLUSIVE, PASS
from simulator.check.files import find
from simulator.check.runner import run_checks

NOMINAL = 0.05
SEEDS = range(1000, 1200)

SCENARIO: dict[str, Any] = merge(BASE, {
    "name": "unchanged", "duration": "12h", "replications": 4,
    "simulation": {"check_invariants": False},
    "fleet": [{"progress_interval": "60s",
               "faults": {"crash": {"rate": "3/d", "restart_after": "5m"}}}],
    "expect": {"tasks_submitted": {"min": 30}, "reassigned_fraction": {"max": 0.5}},
    "check": {"max_replications": 8,
              "tolerance": {"tasks_submitted": {"relative": "30%"},
                            "reassigned_fraction": {"absolute": 0.05},
                            "utilization": {"relative": "45%"}}},
})  # fmt: skip


@pytest.mark.slow
def test_false_failure_rate_of_the_statistical_tier_is_at_most_nominal(tmp_path: Path) -> None:
    path = tmp_path / "unchanged.yaml"
    path.write_text(yaml.safe_dump(SCENARIO, sort_keys=False))
    targets, _ = find([path], update=True)
    assert run_checks(targets, update=True, executor="serial").passed
    targets, _ = find([path])
    failed_checks = different = inconclusive = comparisons = expect_failures = 0
    for seed in SEEDS:
        check = run_checks(targets, seed=seed, executor="serial").checks[0]
        assert check.exact is not None and check.exact.status == "skipped"
        verdicts = [e.verdict for e in check.equivalence]
        comparisons += len(verdicts)
        different += verdicts.count(DIFFERENT)
        inconclusive += verdicts.count(INCONCLUSIVE)
        failed_checks += any(v in (DIFFERENT, INCONCLUSIVE) for v in verdicts)
        expect_failures += any(v.verdict != PASS for v in check.expectations)
    rate = failed_checks / len(SEEDS)
    print(f"\nstatistical tier on an unchanged scenario, {len(SEEDS)} seeds: {failed_checks} "
          f"checks failed ({rate:.1%}; nominal {NOMINAL:.0%}); per comparison: {different} "
          f"different and {inconclusive} inconclusive of {comparisons}; expectations failed in "
          f"{expect_failures} checks")  # fmt: skip
    assert different / comparisons <= NOMINAL
    assert rate <= NOMINAL, f"{failed_checks} of {len(SEEDS)} unchanged checks failed"
    assert expect_failures == 0  # bounds far from the truth never fail (see test_check_cli)
