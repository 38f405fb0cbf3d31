"""Regression checks of scenario files: `leasesim check` (docs/regression.md).

The `expect:` and `check:` blocks themselves are part of the scenario
(`simulator.scenario.expect`); this package judges them.

- `plan`: how a scenario is run in a check (full or quick), and the replication counts at which
  its verdicts are looked at;
- `expect`: bounds judged on the confidence interval of the replication mean;
- `equivalence`: two one-sided tests (Welch) of a metric against its baseline;
- `baseline`: recorded baselines (`baselines/NAME.json`), staleness and the exact tier;
- `verdict`: everything a check concluded about one scenario, and whether it passes;
- `files`: which scenario files a check runs;
- `runner`: runs the checks on an executor and gathers the verdicts (`run_checks`);
- `report`: the text table, the JSON data and JUnit XML.
"""
