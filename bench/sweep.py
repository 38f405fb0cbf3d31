"""Sweep benchmark (`make bench`): a 16-run sweep serially and on 2 local worker processes.

The sweep is aws-defaults over four progress intervals x 4 replications, each replication a week of
simulated time. The parallel time includes starting the worker processes, as a user would see it.
The speed-up is serial wall time / parallel wall time; both runs must give identical results.
Printed as a table and written to bench/results/sweep-*.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

import simulator
from simulator.io import atomic_write_text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import history  # noqa: E402  (bench/history.py, beside this file)

GRID = {"fleet.etl.progress_interval": ["30s", "60s", "2m", "4m"]}


def timed_sweep(scenario: simulator.Scenario, executor: str, workers: int,
                replications: int) -> tuple[float, pd.DataFrame]:  # fmt: skip
    started = time.perf_counter()
    frame = simulator.sweep(scenario, GRID, replications, executor=executor, workers=workers,
                            progress=False)  # fmt: skip
    return time.perf_counter() - started, frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="7d", help="simulated time per run (default 7d)")
    parser.add_argument("--workers", type=int, default=2, help="local workers (default 2)")
    parser.add_argument("--replications", type=int, default=4, help="per point (default 4)")
    parser.add_argument("--scenario", type=Path,
                        default=HERE.parent / "scenarios" / "aws-defaults.yaml")
    args = parser.parse_args()
    scenario = simulator.load_scenario(args.scenario, overrides=[f"duration={args.duration}"])
    runs = len(GRID["fleet.etl.progress_interval"]) * args.replications
    serial_s, serial = timed_sweep(scenario, "serial", 1, args.replications)
    parallel_s, parallel = timed_sweep(scenario, "processes", args.workers, args.replications)
    identical = simulator.summarize(serial).equals(simulator.summarize(parallel))
    row = {
        "scenario": scenario.name, "runs": runs, "simulated_s_per_run": scenario.duration,
        "serial_wall_s": serial_s, "workers": args.workers, "parallel_wall_s": parallel_s,
        "speedup": serial_s / parallel_s, "run_wall_s_mean": float(serial["wall_time_s"].mean()),
        "identical_results": identical,
    }  # fmt: skip
    print(f"leasesim sweep benchmark: {runs} runs of {args.duration} of {scenario.name} "
          f"({len(GRID['fleet.etl.progress_interval'])} points x {args.replications} "
          "replications)")  # fmt: skip
    table = [
        ("serial wall time", f"{serial_s:.2f} s"),
        (f"{args.workers} worker processes wall time", f"{parallel_s:.2f} s (with start-up)"),
        ("speed-up", f"{row['speedup']:.2f}x"),
        ("mean time per run (serial)", f"{row['run_wall_s_mean']:.2f} s"),
        ("identical results", "yes" if identical else "NO"),
        ("cores seen", str(os.cpu_count())),
    ]
    width = max(len(k) for k, _ in table)
    for k, v in table:
        print(f"  {k.ljust(width)}  {v}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {**row, "python": platform.python_version(), "machine": platform.machine(),
              "cpus": os.cpu_count(), "created": stamp}  # fmt: skip
    target = out / f"sweep-{stamp}.json"
    atomic_write_text(target, json.dumps(record, indent=2))  # never a half-written result file
    print(f"written to {target.relative_to(HERE.parent)}")
    keys = ("serial_wall_s", "parallel_wall_s", "speedup", "run_wall_s_mean")
    history.append(history.rows("sweep", [(scenario.name, f"{args.workers} workers", k,
                                           float(row[k])) for k in keys]))  # fmt: skip
    print(f"appended to {history.HISTORY.relative_to(HERE.parent)}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
