"""Fast-mode benchmarks (`make bench`): speed-up over exact mode, scale, and a peer (Ciw).

1. Speed-up: bench/fleet-500.yaml (500 runners, one day) in exact and in fast mode, wall time
   ratio and the scenario's metrics side by side; then scenarios/aws-defaults.yaml over 7 days
   (the account's rate limits on, so fast mode keeps its proof that no call is throttled), CPU
   time ratio; and the same scenario at 80 runners for a day (160 threads, more than the burst:
   the bound that counts calls on their grids).
2. Scale: simulated runner-hours per wall second and peak memory for 100, 1,000 and 10,000
   runners over 7 simulated days in fast mode, each in a fresh process (peak RSS is per process).
   The 100,000-runner week (16.5 million tasks, 46 million events; measured on the project's
   2-core machine on 2026-12-06: 6.3 GiB peak, 13.3 CPU minutes, as long in wall time on a
   quiet machine) is opt-in: `--sizes 100,1000,10000,100000`.
3. Peer: an M/M/c queue (Poisson arrivals, exponential work, c threads, no faults, no reports) in
   leasesim (fast mode: exact here, as nothing is throttled or lost) and in Ciw for the same
   number of tasks, each tool in a fresh process, best CPU time of `--repeats` runs: tasks per
   CPU second, results included, and each one's mean queue wait beside the Erlang C value. Ciw
   is optional (`pip install ciw`); without it, it is skipped. `--only-mmc` runs this alone.

Results are printed and written to bench/results/fast-STAMP.json (atomically).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import history  # noqa: E402  (bench/history.py, beside this file)

import simulator  # noqa: E402
from simulator.io import atomic_write_text  # noqa: E402
from simulator.scenario.load import load_scenario  # noqa: E402

FLEET = HERE / "fleet-500.yaml"
AWS_DEFAULTS = HERE.parent / "scenarios" / "aws-defaults.yaml"


def speedup(path: Path, repeats: int, fast_per_round: int = 5, overrides: tuple = ()) -> dict:
    """Best wall and CPU time of each mode (run, log, `Result` and its summary), the rounds
    interleaved.

    Each round runs exact mode once and fast mode `fast_per_round` times, so that a noisy
    neighbour on a shared machine slows both modes alike; the best of each is compared. The
    ratio is of wall times; `cpu_ratio`, of CPU times (`time.process_time`), is the one a
    neighbour's load moves least.
    """
    scenarios = {
        mode: load_scenario(path, overrides=[f"simulation.mode={mode}", *overrides])
        for mode in ("exact", "fast")
    }
    best = {mode: math.inf for mode in scenarios}
    best_cpu = dict(best)
    results = {}
    for _ in range(repeats):
        for mode, scenario in scenarios.items():
            for _ in range(1 if mode == "exact" else fast_per_round):
                started, cpu = time.perf_counter(), time.process_time()
                results[mode] = simulator.run(scenario)
                _ = results[mode].summary
                best_cpu[mode] = min(best_cpu[mode], time.process_time() - cpu)
                best[mode] = min(best[mode], time.perf_counter() - started)
    out: dict = {
        mode: {"wall_s": best[mode], "cpu_s": best_cpu[mode], "events": r.meta["events"],
               "mode": r.meta["mode"], "summary": r.summary}
        for mode, r in results.items()
    }  # fmt: skip
    out["ratio"] = out["exact"]["wall_s"] / out["fast"]["wall_s"]
    out["cpu_ratio"] = out["exact"]["cpu_s"] / out["fast"]["cpu_s"]
    return out


def peak_rss_kib() -> int:
    """This process's peak resident memory, in KiB.

    Linux's VmHWM, since `ru_maxrss` carries over the high-water mark of the process it was
    forked from (the benchmark's parent, after its exact-mode runs) across the exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kib() -> int:
    """This process's resident memory now, in KiB (Linux's VmRSS; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def scale_one(runners: int) -> dict:
    """One scale point, measured in this (fresh) process."""
    rate = 490 * runners / 500  # the same load per runner as fleet-500
    scenario = load_scenario(FLEET, overrides=[
        "simulation.mode=fast", "duration=7d", f"fleet.etl.runners={runners}",
        f"workload.batch.arrivals.rate={rate:g}/h",
    ])  # fmt: skip
    from simulator.experiments.guards import estimate

    found = estimate(scenario)  # the size guard's, checked against this run
    before_kib = current_rss_kib()
    # CPU time beside wall time: on a shared machine the wall time of a long point is mostly
    # the neighbours' load; the CPU time is this process's own work.
    started, cpu = time.perf_counter(), time.process_time()
    result = simulator.run(scenario)
    summary = result.summary  # tables and metrics included in the timing
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak_kib = peak_rss_kib()
    return {
        "runners": runners, "wall_s": wall, "cpu_s": cpu, "events": result.meta["events"],
        "tasks": summary["tasks_submitted"],
        "runner_hours_per_s": runners * 7 * 24 / wall, "peak_mib": peak_kib / 1024,
        "est_events": found.events, "est_memory_bytes": found.memory,
        "rss_growth_bytes": max(peak_kib - before_kib, 0) * 1024,
    }  # fmt: skip


def scale(sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--scale-one", str(n)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    a = lam / mu
    top = a**c / math.factorial(c) / (1 - a / c)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top) / (c * mu - lam)


def mmc_scenario(tasks: int, c: int, rho: float, mean_work: float) -> simulator.Scenario:
    """M/M/c in leasesim: Poisson arrivals, exponential work, c one-thread runners, no faults,
    no throttle, reports and heartbeats too rare to matter."""
    lam = rho * c / mean_work
    horizon = tasks / lam
    return simulator.Scenario.model_validate({
        "name": "mmc", "duration": horizon, "seed": 3,
        "service": {"throttle": None}, "simulation": {"mode": "fast"},
        "fleet": [{"name": "c", "worker_group": "q", "runners": c, "threads": 1,
                   "progress_interval": 10 * horizon, "runner_heartbeat_interval": 10 * horizon}],
        "workload": [{"name": "w", "worker_group": "q",
                      "arrivals": {"kind": "poisson", "rate": lam},
                      "duration": {"dist": "exponential", "mean": mean_work},
                      "report_progress_timeout": 20 * horizon}],
    })  # fmt: skip


def mmc_one(tool: str, tasks: int, repeats: int, c: int = 10, rho: float = 0.8,
            mean_work: float = 600.0) -> dict:  # fmt: skip
    """One tool's M/M/c runs in this (fresh) process: best CPU and wall time of `repeats` runs,
    results included (leasesim: the `Result` and its summary; Ciw: its records).

    CPU time (`time.process_time`), best of several: the machine may be shared, and a neighbour
    slows a run's wall time, not the work it does. A fresh process per tool: neither pays for
    the other's objects (Ciw runs with Python's cyclic collector on, as it ships, and its cost
    grows with every object alive in the process; leasesim pauses it during a run itself).
    """
    lam = rho * c / mean_work
    horizon = tasks / lam
    best_cpu = best_wall = math.inf
    if tool == "leasesim":
        scenario = mmc_scenario(tasks, c, rho, mean_work)
        # Untimed first: leasesim imports its layers when first used, Ciw before its timer.
        _ = simulator.run(mmc_scenario(200, c, rho, mean_work)).summary
        for _ in range(repeats):
            cpu, wall = time.process_time(), time.perf_counter()
            result = simulator.run(scenario)
            summary = result.summary
            best_cpu = min(best_cpu, time.process_time() - cpu)
            best_wall = min(best_wall, time.perf_counter() - wall)
        done, wait = summary["tasks_submitted"], summary["queue_wait_mean_s"]
    else:
        import ciw

        for _ in range(repeats):
            network = ciw.create_network(
                arrival_distributions=[ciw.dists.Exponential(rate=lam)],
                service_distributions=[ciw.dists.Exponential(rate=1 / mean_work)],
                number_of_servers=[c],
            )
            ciw.seed(3)
            cpu, wall = time.process_time(), time.perf_counter()
            sim = ciw.Simulation(network)
            sim.simulate_until_max_time(horizon)
            records = sim.get_all_records()
            best_cpu = min(best_cpu, time.process_time() - cpu)
            best_wall = min(best_wall, time.perf_counter() - wall)
        done = len(records)
        wait = sum(r.waiting_time for r in records) / done
    return {"tool": tool, "tasks": done, "cpu_s": best_cpu, "wall_s": best_wall,
            "tasks_per_s": done / best_cpu, "wait_s": wait}  # fmt: skip


def mmc(tasks: int, c: int = 10, rho: float = 0.8, mean_work: float = 600.0,
        repeats: int = 3) -> dict:  # fmt: skip
    """leasesim and Ciw on the same M/M/c, each in a fresh process (`mmc_one`): tasks per CPU
    second and the mean queue wait of each beside the Erlang C value."""
    lam = rho * c / mean_work
    row: dict = {"tasks": tasks, "c": c, "rho": rho, "repeats": repeats,
                 "erlang_c_wait_s": erlang_c_wait(lam, 1 / mean_work, c)}  # fmt: skip
    for tool in ("leasesim", "ciw"):
        if tool == "ciw":
            try:
                import ciw  # noqa: F401
            except ImportError:
                row["ciw"] = "not installed (pip install ciw)"
                return row
        done = subprocess.run(
            [sys.executable, __file__, "--mmc-one", tool, "--mmc-tasks", str(tasks),
             "--repeats", str(repeats)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        one = json.loads(done.stdout.strip().splitlines()[-1])
        row.update({f"{tool}_{k}": v for k, v in one.items() if k != "tool"})
    if "ciw_tasks_per_s" in row:
        row["ratio_leasesim_over_ciw"] = row["leasesim_tasks_per_s"] / row["ciw_tasks_per_s"]
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=3,
        help="rounds of the speed-up, each one exact and five fast runs, and runs of each tool "
        "in the M/M/c comparison (default 3)",
    )
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--mmc-tasks", type=int, default=100_000)
    parser.add_argument("--scale-one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mmc-one", choices=("leasesim", "ciw"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--only-mmc", action="store_true", help="run the M/M/c comparison alone (not recorded)"
    )
    args = parser.parse_args()
    if args.mmc_one:
        print(json.dumps(mmc_one(args.mmc_one, args.mmc_tasks, args.repeats)))
        return 0
    if args.only_mmc:
        print(json.dumps(mmc(args.mmc_tasks, repeats=args.repeats), indent=1))
        return 0
    if args.scale_one:
        print(json.dumps(scale_one(args.scale_one)))
        return 0
    record: dict = {"created": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"), "cpus": os.cpu_count()}

    s = record["speedup"] = speedup(FLEET, args.repeats)
    print(f"fast mode on {FLEET.name}: exact {s['exact']['wall_s']:.2f} s "
          f"({s['exact']['events']:,} events), fast {s['fast']['wall_s']:.2f} s "
          f"({s['fast']['events']:,} events): {s['ratio']:.1f}x")  # fmt: skip
    print(f"  {'metric':<26} {'exact':>12} {'fast':>12}")
    for key, value in s["exact"]["summary"].items():
        print(f"  {key:<26} {value:>12.5g} {s['fast']['summary'][key]:>12.5g}")

    a = record["aws_defaults_7d"] = speedup(AWS_DEFAULTS, args.repeats, overrides=("duration=7d",))
    print(f"\nfast mode on {AWS_DEFAULTS.name} over 7 days (the account's rate limits on): "
          f"exact {a['exact']['cpu_s']:.3f} CPU s ({a['exact']['events']:,} events), fast "
          f"{a['fast']['cpu_s']:.3f} CPU s ({a['fast']['events']:,} events, ran "
          f"{a['fast']['mode']}): {a['cpu_ratio']:.1f}x (wall time {a['ratio']:.1f}x)")  # fmt: skip

    big = ("fleet.etl.runners=80", "workload.batch.arrivals.rate=400/h", "duration=1d")
    b = record["aws_defaults_80_runners"] = speedup(AWS_DEFAULTS, args.repeats, overrides=big)
    print(f"fast mode on {AWS_DEFAULTS.name} at 80 runners (160 threads: more than the burst, "
          f"calls counted on their grids), 1 day: exact {b['exact']['cpu_s']:.2f} CPU s, "
          f"fast {b['fast']['cpu_s']:.2f} CPU s (ran {b['fast']['mode']}): "
          f"{b['cpu_ratio']:.1f}x")  # fmt: skip

    rows = record["scale"] = scale([int(x) for x in args.sizes.split(",") if x])
    print("\nscale, fast mode, 7 simulated days:")
    print(f"  {'runners':>8} {'wall s':>8} {'CPU s':>8} {'events':>11} {'tasks':>10} "
          f"{'runner-h/s':>11} {'peak MiB':>9}")  # fmt: skip
    for r in rows:
        print(f"  {r['runners']:>8,} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['events']:>11,} "
              f"{r['tasks']:>10,.0f} {r['runner_hours_per_s']:>11,.0f} "
              f"{r['peak_mib']:>9,.0f}")  # fmt: skip
    print("  size guard against it: estimated events / counted, estimated memory / RSS growth")
    for r in rows:
        print(f"  {r['runners']:>8,} {r['est_events']:>13,.0f} / {r['events']:,} = "
              f"{r['events'] / r['est_events']:.2f};  {r['est_memory_bytes'] / 1e6:,.0f} MB / "
              f"{r['rss_growth_bytes'] / 1e6:,.0f} MB = "
              f"{r['rss_growth_bytes'] / r['est_memory_bytes']:.2f}")  # fmt: skip

    m = record["mmc"] = mmc(args.mmc_tasks, repeats=args.repeats)
    print(f"\nM/M/{m['c']} at rho {m['rho']}, {m['tasks']:,} tasks: Erlang C wait "
          f"{m['erlang_c_wait_s']:.1f} s (one seed's mean wait: at this load it varies by about "
          "10% from seed to seed)")  # fmt: skip
    print(f"  leasesim: {m['leasesim_tasks_per_s']:,.0f} tasks per CPU second, "
          f"wait {m['leasesim_wait_s']:.1f} s")  # fmt: skip
    if "ciw_tasks_per_s" in m:
        print(f"  Ciw:      {m['ciw_tasks_per_s']:,.0f} tasks per CPU second, "
              f"wait {m['ciw_wait_s']:.1f} s")  # fmt: skip
        print(f"  leasesim / Ciw tasks per second: {m['ratio_leasesim_over_ciw']:.2f}x "
              f"(each in a fresh process, best of {m['repeats']})")  # fmt: skip
    else:
        print(f"  Ciw: {m['ciw']}")

    out = HERE / "results"
    out.mkdir(exist_ok=True)
    target = out / f"fast-{record['created']}.json"
    atomic_write_text(target, json.dumps(record, indent=2, default=float))  # never half-written
    print(f"\nwritten to {target.relative_to(HERE.parent)}")
    figures = [("fleet-500", "fast", "speedup", s["ratio"]),
               ("fleet-500", "exact", "wall_s", s["exact"]["wall_s"]),
               ("fleet-500", "fast", "wall_s", s["fast"]["wall_s"]),
               ("aws-defaults-7d", "fast", "speedup", a["cpu_ratio"]),
               ("aws-defaults-7d", "exact", "cpu_s", a["exact"]["cpu_s"]),
               ("aws-defaults-7d", "fast", "cpu_s", a["fast"]["cpu_s"]),
               ("aws-defaults-80-runners", "fast", "speedup", b["cpu_ratio"])]  # fmt: skip
    for r in rows:
        name = f"fleet-{r['runners']}-7d"
        figures += [(name, "fast", k, float(r[k])) for k in (
            "wall_s", "cpu_s", "events", "tasks", "peak_mib", "est_events", "est_memory_bytes",
            "rss_growth_bytes")]  # fmt: skip
        figures.append((name, "fast", "events_ratio", r["events"] / r["est_events"]))
        memory = r["rss_growth_bytes"] / r["est_memory_bytes"]
        figures.append((name, "fast", "memory_ratio", memory))
    if "leasesim_tasks_per_s" in m:  # per CPU second since the comparison's fresh processes
        figures.append((f"mmc-{m['tasks']}", "fast", "tasks_per_s", m["leasesim_tasks_per_s"]))
    if "ratio_leasesim_over_ciw" in m:
        figures.append((f"mmc-{m['tasks']}", "fast", "ratio_over_ciw",
                        m["ratio_leasesim_over_ciw"]))  # fmt: skip
    history.append(history.rows("fast", figures))
    print(f"appended to {history.HISTORY.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
