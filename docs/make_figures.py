"""Regenerate the figures of docs/figures.md into docs/img/ (run from the project root).

    PYTHONPATH=. python docs/make_figures.py

Each figure comes from a scenario file in scenarios/ with the seed and overrides written here, so
the pictures in the docs can be reproduced exactly (same seed, same numbers).
"""

from __future__ import annotations

import sys
from pathlib import Path

from matplotlib.figure import Figure

import simulator
from simulator import plots

IMG = Path(__file__).resolve().parent / "img"
DPI = 80  # small files: the docs show the shape, a run's own figures use the default


def save(fig: Figure, name: str) -> None:
    path = plots.save_png(fig, IMG / f"{name}.png", dpi=DPI)
    print(f"{path} ({path.stat().st_size // 1024} KiB)")


def main(only: set[str]) -> None:
    IMG.mkdir(exist_ok=True)

    def want(name: str) -> bool:
        return not only or name in only

    if want("timeline") or want("overlap"):
        gc = simulator.run("scenarios/gc-pauses.yaml", seed=1, overrides=["duration=3h"])
        if want("timeline"):
            save(plots.timeline(gc), "timeline")
        if want("overlap"):
            long_gc = simulator.run("scenarios/gc-pauses.yaml", seed=1)
            save(plots.distribution(long_gc, "overlap"), "overlap")
    if want("latency") or want("detection"):
        runs = [simulator.run("scenarios/aws-defaults.yaml", seed=1, replication=i)
                for i in range(5)]  # fmt: skip
        if want("latency"):
            save(plots.distribution(runs[0], "latency"), "latency")
        if want("detection"):
            save(plots.distribution(runs, "detection"), "detection")
    if want("tradeoff"):
        df = simulator.sweep(
            "scenarios/flaky-network.yaml",
            {"fleet.etl.progress_interval": ["15s", "30s", "1m", "2m", "5m"],
             "service.lease_reading": ["15min", "5min"]},
            3, overrides=["fleet.etl.faults.crash={rate: 2/d, restart_after: 5m}"],
            executor="serial", progress=False,
        )  # fmt: skip
        save(plots.tradeoff(
            df, x="fleet.etl.progress_interval", by="service.lease_reading",
            y=["progress_calls_per_s", "false_reassignments_per_1000_tasks",
               "duplicated_fraction", "detection_latency_mean_s"],
            title="flaky-network with crashes: the cost of the progress interval",
        ), "tradeoff")  # fmt: skip
    if want("capacity"):
        df = simulator.sweep(
            "scenarios/throttled-fleet.yaml",
            {"fleet.big.runners": [60, 80, 120, 200, 400]},
            3, overrides=[
                "duration=3h",
                "workload.long-jobs.arrivals={kind: poisson, rate: 1500/h}",
                "workload.long-jobs.duration={dist: lognormal, median: 10m, p95: 40m}",
            ], executor="serial", progress=False,
        )  # fmt: skip
        save(plots.capacity(
            df, x="fleet.big.runners", target="30m",
            title="1500 tasks/h on runners x 4 threads reporting every 30 s",
        ), "capacity")  # fmt: skip


if __name__ == "__main__":
    main(set(sys.argv[1:]))
