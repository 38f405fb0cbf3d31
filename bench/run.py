"""Benchmarks (`make bench`): leasesim's engine against a bare SimPy loop, in the same process.

The 500-runner, one-day scenario (bench/fleet-500.yaml) is run in exact mode; its SimPy event count
is then replayed as plain timeouts spread over 1,000 processes, which is the least any SimPy model
of that many events can cost. Two ratios give leasesim's overhead: its time per SimPy event over a
bare timeout's, and its time per modelled API call over a bare timeout's (issue 18's measure: a
model that spent fewer events per call would show it here).

Times are CPU seconds of this process (`time.process_time`), best of `--repeats`: on a shared
machine a neighbour slows the wall clock, not the work done (history rows before 2026-12-06 were
wall times). Results are printed as a table and written to bench/results/ (a JSON file per run).
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

import simpy

import simulator
from simulator.io import atomic_write_text
from simulator.model import simulate
from simulator.seeds import Streams

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import history  # noqa: E402  (bench/history.py, beside this file)


def bare_simpy(events: int, processes: int = 1000) -> float:
    """CPU seconds for `events` plain timeouts in `processes` SimPy processes."""
    env = simpy.Environment()
    per = max(1, events // processes)

    def loop(env: simpy.Environment):
        for _ in range(per):
            yield env.timeout(1.0)

    for _ in range(processes):
        env.process(loop(env))
    started = time.process_time()
    env.run()
    return time.process_time() - started


def engine(scenario_path: Path, repeats: int) -> dict[str, float]:
    """Best-of-`repeats` CPU time of one replication, with its event and call counts."""
    scenario = simulator.load_scenario(scenario_path)
    best, sim = float("inf"), None
    for _ in range(repeats):
        started = time.process_time()
        sim = simulate(scenario, Streams.from_seed(scenario.seed, 0))
        best = min(best, time.process_time() - started)
    assert sim is not None
    events = sim.events
    bare = min(bare_simpy(events) for _ in range(repeats))
    reports = sim.log.calls[1]
    calls = sum(sim.log.calls)  # every API call sent: polls, reports, statuses, heartbeats
    return {
        "scenario": scenario.name,
        "simulated_s": scenario.duration,
        "runners": sum(g.runners for g in scenario.fleet),
        "events": events,
        "progress_reports": reports,
        "api_calls": calls,
        "tasks": len(sim.log.tasks),
        "cpu_s": best,
        "events_per_s": events / best,
        "bare_simpy_cpu_s": bare,
        "bare_simpy_events_per_s": events / bare,
        "overhead_ratio": best / bare,
        "overhead_per_call": (best / calls) / (bare / events),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="best of N runs (default 3)")
    parser.add_argument("--scenario", type=Path, default=HERE / "fleet-500.yaml")
    args = parser.parse_args()
    row = engine(args.scenario, args.repeats)
    print(f"leasesim engine benchmark: {row['scenario']} ({row['runners']} runners, "
          f"{row['simulated_s'] / 3600:g} h simulated), best of {args.repeats}")  # fmt: skip
    table = [
        ("SimPy events", f"{row['events']:,}"),
        ("progress reports", f"{row['progress_reports']:,}"),
        ("API calls (all kinds)", f"{row['api_calls']:,}"),
        ("tasks", f"{row['tasks']:,}"),
        ("leasesim CPU time", f"{row['cpu_s']:.2f} s"),
        ("leasesim events/CPU s", f"{row['events_per_s']:,.0f}"),
        ("bare SimPy CPU time", f"{row['bare_simpy_cpu_s']:.2f} s"),
        ("bare SimPy events/CPU s", f"{row['bare_simpy_events_per_s']:,.0f}"),
        ("time per event, leasesim / bare", f"{row['overhead_ratio']:.2f}x"),
        ("time per API call, leasesim / bare event", f"{row['overhead_per_call']:.2f}x"),
    ]
    width = max(len(k) for k, _ in table)
    for k, v in table:
        print(f"  {k.ljust(width)}  {v}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {
        **row, "python": platform.python_version(), "simpy": simpy.__version__,
        "machine": platform.machine(), "cpus": os.cpu_count(), "created": stamp,
    }  # fmt: skip
    target = out / f"engine-{stamp}.json"
    atomic_write_text(target, json.dumps(record, indent=2))  # never a half-written result file
    print(f"written to {target.relative_to(HERE.parent)}")
    keys = ("events", "cpu_s", "events_per_s", "bare_simpy_events_per_s", "overhead_ratio",
            "overhead_per_call")
    history.append(history.rows("engine", [(row["scenario"], "exact", k, float(row[k]))
                                           for k in keys]))  # fmt: skip
    print(f"appended to {history.HISTORY.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
