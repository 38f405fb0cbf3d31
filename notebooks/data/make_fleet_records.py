"""Make fleet_attempts.csv: the record `calibrate_from_records.ipynb` starts from.

A hidden fleet (its parameters are revealed only at the end of the notebook) is simulated for one
day and its attempts are written as a fleet's records would give them: ISO-8601 timestamps, only
the columns a Task Runner log and the service's API call log provide (docs/calibration.md).

    .venv/bin/python notebooks/data/make_fleet_records.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import simulator

HIDDEN = {
    "name": "hidden-fleet",
    "duration": "1d",
    "seed": 1,
    "service": {"report_progress_timeout": "10m"},
    "fleet": [{"name": "etl", "worker_group": "etl", "runners": 8, "threads": 4,
               "progress_interval": "1m", "startup": "10s",
               "faults": {"crash": {"rate": "2/d", "restart_after": "5m"}}}],
    "workload": [{"name": "nightly", "worker_group": "etl",
                  "arrivals": {"kind": "poisson", "rate": "45/h"},
                  "duration": {"dist": "lognormal", "median": "8m", "p95": "40m"}}],
}  # fmt: skip
ORIGIN = pd.Timestamp("2024-05-06T00:00:00Z")
COLUMNS = ["task_id", "runner", "workload", "submitted_at", "assigned_at", "acked_at",
           "work_started_at", "work_ended_at", "lease_lost_at", "ended_at", "outcome"]  # fmt: skip


def main() -> None:
    result = simulator.run(HIDDEN, seed=2024)
    record = simulator.simulated_record(result)
    record = record[COLUMNS].copy()
    for column in COLUMNS[3:-1]:
        stamps = ORIGIN + pd.to_timedelta(record[column], unit="s")
        record[column] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").str[:-3] + "Z"
        record.loc[stamps.isna(), column] = ""
    record["task_id"] = "df-" + record["task_id"].astype(str).str.zfill(5)
    out = Path(__file__).with_name("fleet_attempts.csv")
    record.to_csv(out, index=False)
    print(f"{out}: {len(record)} attempts, {out.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
