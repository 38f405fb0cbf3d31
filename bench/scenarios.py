"""Every shipped scenario in exact and fast mode (`make bench`): speed, and the size guard's
estimates against measurement.

Each scenario of scenarios/ (and the benchmark fleets of bench/) runs one replication in each mode
with the same seed and the same simulated time (--duration, default 1 day: the shipped scenarios'
own, long enough for start-up to be a small share, short enough for the whole of `make bench` to
take about a quarter of an hour on 2 cores: throttled-fleet alone is a minute a mode), each
in a fresh process so that its peak memory is its own. For each run: the wall time (the run, its
log and its tables and metrics), the SimPy events, the tasks submitted, events per task, the
speed-up of fast over exact mode, and which fleet groups fast mode left exact and why
(`simulator.scenario.modes.fast_fallbacks`). Beside them, the size guard's estimate
(`simulator.experiments.guards.estimate`) of the events and the memory, against the events counted
and the growth of the process's peak resident memory over its size before the run.

Prints two tables, writes bench/results/scenarios-STAMP.json, appends the figures to
bench/results/history.csv and redraws bench/results/history.png (bench/history.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import history  # noqa: E402  (bench/history.py, beside this file)

from simulator.io import atomic_write_text  # noqa: E402

SCENARIOS = sorted((HERE.parent / "scenarios").glob("*.yaml")) + [
    HERE / "fleet-500.yaml", HERE / "faults-mix.yaml"]  # fmt: skip
MODES = ("exact", "fast")


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def one(path: str, mode: str, duration: str, seed: int) -> dict:
    """One replication, measured in this (fresh) process."""
    from simulator.experiments.guards import estimate
    from simulator.experiments.runs import run
    from simulator.scenario.load import load_scenario
    from simulator.scenario.modes import fast_fallbacks

    scenario = load_scenario(path, [f"duration={duration}", f"simulation.mode={mode}",
                                    f"seed={seed}"])  # fmt: skip
    found = estimate(scenario)
    before = _rss_kib("VmRSS")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        result = run(scenario, replication=0)
        summary = result.summary  # tables and metrics included in the timing
        wall = time.perf_counter() - started
    growth = max(_rss_kib("VmHWM") - before, 0) * 1024
    tasks = summary["tasks_submitted"]
    events = result.meta["events"]
    return {
        "scenario": Path(path).stem, "mode": mode, "ran": result.meta.get("mode", mode),
        "wall_s": wall, "events": events, "tasks": tasks,
        "events_per_task": events / tasks if tasks else float("nan"),
        "est_events": found.events, "est_memory_bytes": found.memory,
        "peak_rss_growth_bytes": growth,
        "events_ratio": events / found.events if found.events else float("nan"),
        "memory_ratio": growth / found.memory if found.memory else float("nan"),
        "fallbacks": fast_fallbacks(scenario), "groups": [g.name for g in scenario.fleet],
        "events_per_s": events / wall if wall > 0 else float("nan"),
    }  # fmt: skip


def measure(paths: list[Path], duration: str, seed: int) -> list[dict]:
    rows = []
    for path in paths:
        for mode in MODES:
            done = subprocess.run(
                [sys.executable, __file__, "--one", str(path), mode, duration, str(seed)],
                capture_output=True, text=True,
            )  # fmt: skip
            if done.returncode != 0:
                print(f"{path.stem} {mode}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"  {r['scenario']} {mode}: {r['wall_s']:.2f} s, {r['events']:,} events",
                  file=sys.stderr, flush=True)  # fmt: skip
    return rows


def _fallback_cell(row: dict) -> tuple[str, list[str]]:
    """('all', reasons), ('1 of 2', reasons) or ('none', []): the groups fast mode left exact."""
    why = row["fallbacks"]
    if not why:
        return "none", []
    if "*" in why:
        return "all", [f"all groups: {why['*']}"]
    return f"{len(why)} of {len(row['groups'])}", [f"{g}: {r}" for g, r in why.items()]


def speed_table(rows: list[dict]) -> list[str]:
    """One line per scenario: tasks, wall time and events per task of each mode, the speed-up
    and the groups left exact; the reasons as numbered notes under it. At most 80 columns."""
    by = {(r["scenario"], r["mode"]): r for r in rows}
    names = list(dict.fromkeys(r["scenario"] for r in rows))
    top = f"{'':<20} {'':>6} {'wall s':>15} {'':>8} {'events per task':>15}  {'fast mode':<10}"
    head = (f"{'scenario':<20} {'tasks':>6} {'exact':>7} {'fast':>7} {'speed-up':>8} "
            f"{'exact':>7} {'fast':>7}  {'left exact':<10}")  # fmt: skip
    lines = [top.rstrip(), head, "-" * len(head)]
    notes: list[str] = []
    for name in names:
        e, f = by.get((name, "exact")), by.get((name, "fast"))
        if e is None or f is None:
            continue
        cell, reasons = _fallback_cell(f)
        for reason in reasons:
            if reason not in notes:
                notes.append(reason)
        marks = "".join(f"[{notes.index(r) + 1}]" for r in reasons)
        lines.append(
            f"{name[:20]:<20} {e['tasks']:>6,.0f} {e['wall_s']:>7.2f} {f['wall_s']:>7.2f} "
            f"{e['wall_s'] / f['wall_s']:>7.1f}x {e['events_per_task']:>7.1f} "
            f"{f['events_per_task']:>7.1f}  {cell} {marks}".rstrip()
        )  # fmt: skip
    for k, note in enumerate(notes, 1):
        lines.extend(textwrap.wrap(note, 79, initial_indent=f"[{k}] ", subsequent_indent="    "))
    return lines


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def guard_table(rows: list[dict]) -> list[str]:
    """One line per run: the guard's estimates against the events and memory measured."""
    head = (f"{'scenario':<20} {'mode':<5} {'est. events':>11} {'events':>10} {'ratio':>5} "
            f"{'est. MB':>8} {'RSS MB':>7} {'ratio':>5}")  # fmt: skip
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['scenario'][:20]:<20} {r['mode']:<5} {r['est_events']:>11,.0f} "
            f"{r['events']:>10,} {r['events_ratio']:>5.2f} {_mb(r['est_memory_bytes']):>8} "
            f"{_mb(r['peak_rss_growth_bytes']):>7} {r['memory_ratio']:>5.2f}"
        )  # fmt: skip
    return lines


FIGURES = ("wall_s", "events", "tasks", "events_per_task", "events_per_s", "est_events",
           "events_ratio", "est_memory_bytes", "peak_rss_growth_bytes", "memory_ratio")  # fmt: skip


def history_figures(rows: list[dict]) -> list[tuple[str, str, str, float]]:
    out = [(r["scenario"], r["mode"], k, float(r[k])) for r in rows for k in FIGURES]
    by = {(r["scenario"], r["mode"]): r for r in rows}
    for (name, mode), f in by.items():
        e = by.get((name, "exact"))
        if mode == "fast" and e is not None:
            out.append((name, "fast", "speedup", e["wall_s"] / f["wall_s"]))
            out.append((name, "fast", "groups_exact", float(len(f["fallbacks"]) and (
                len(f["groups"]) if "*" in f["fallbacks"] else len(f["fallbacks"])))))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="1d",
                        help="simulated time of every run (default 1d; the history compares "
                        "runs of the same duration: it is part of the benchmark's name)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--no-history", action="store_true",
                        help="do not append to bench/results/history.csv")
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        path, mode, duration, seed = args.one
        print(json.dumps(one(path, mode, duration, int(seed)), default=float))
        return 0
    wanted = {n for n in args.only.split(",") if n}
    paths = [p for p in SCENARIOS if not wanted or p.stem in wanted]
    created = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    rows = measure(paths, args.duration, args.seed)
    print(f"\nscenarios, one replication of {args.duration} each, seed {args.seed}, exact and "
          "fast mode:")  # fmt: skip
    print("\n".join(speed_table(rows)))
    print("\nsize guard (simulator/experiments/guards.py) against measurement, one replication:")
    print("\n".join(guard_table(rows)))
    print("RSS MB: growth of the process's peak resident memory over its size before the run.")
    record = {"created": created, "duration": args.duration, "seed": args.seed,
              "commit": history.commit(), "machine": history.machine(), "runs": rows}  # fmt: skip
    target = HERE / "results" / f"scenarios-{created}.json"
    target.parent.mkdir(exist_ok=True)
    atomic_write_text(target, json.dumps(record, indent=2, default=float))
    print(f"\nwritten to {target.relative_to(HERE.parent)}")
    if not args.no_history:
        history.append(history.rows(f"scenarios-{args.duration}", history_figures(rows)))
        drawn = history.draw()
        print(f"appended to {history.HISTORY.relative_to(HERE.parent)}"
              + (f"; figure {drawn.relative_to(HERE.parent)}" if drawn else ""))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
