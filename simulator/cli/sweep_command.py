"""`leasesim sweep`: a scenario's `sweep:` grid, replicated; the mean and 95% CI per point."""

from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import plots_option
from simulator.cli.arguments import EXIT_FAILED, EXIT_OK, SET_HELP, whole_number
from simulator.cli.experiment_options import (
    add_executor_options,
    add_precision_options,
    check_resume,
    executor_of,
    failure_error,
    out_folder,
    precision_of,
    printed_warnings,
    terminate_as_interrupt,
)
from simulator.cli.output import emit, number, plural, wrap
from simulator.cli.run_command import warmup_note
from simulator.errors import INTERRUPTED, RUN_ERROR, USAGE_ERROR, LeasesimError, printable
from simulator.units import format_duration, format_rate, human_duration
from simulator.versions import leasesim_version

if TYPE_CHECKING:
    import pandas as pd

# The simulation (simulator.experiments, .scenario, .results, .plots: numpy, pandas, scipy, simpy,
# matplotlib) is imported where it is used, not here: `leasesim --help` only builds the parser.

DEFAULT_METRICS = (
    "reassigned_fraction", "duplicated_fraction", "backlog_fraction", "latency_p95_s",
)  # fmt: skip


def sweep(*args: Any, **kwargs: Any) -> pd.DataFrame:
    """`simulator.experiments.sweep.sweep`, imported when called; tests replace it here (a seam)."""
    from simulator.experiments.sweep import sweep as run_sweep

    return run_sweep(*args, **kwargs)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "sweep", help="run a scenario's sweep: grid and print the mean and CI per point",
        description="Run every point of the scenario's `sweep:` block (field path -> values; "
        "see docs/scenarios.md) with the same replications (common random numbers), and print "
        "each point's mean and 95% confidence interval of the chosen metrics. --set applies "
        "first, and can replace the grid: --set 'sweep={fleet.etl.progress_interval: [30s, 2m]}'.",
        epilog="examples:\n"
        "  leasesim sweep my-sweep.yaml -n 10 --out results/sweep\n"
        "  leasesim sweep my-sweep.yaml -n 10 --out results/sweep --resume   # after Ctrl-C\n"
        "  leasesim sweep scenarios/aws-defaults.yaml -n 5 \\\n"
        "      --set 'sweep={fleet.etl.progress_interval: {from: 15s, to: 5m, steps: 6, "
        "scale: log}}'\n"
        "  leasesim sweep my-sweep.yaml --executor dask --scheduler tcp://HOST:8786\n"
        "  leasesim sweep my-sweep.yaml -n 5 --plots figures   # tradeoff.png, capacity.png",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (YAML) with a sweep: block")
    p.add_argument("-n", "--replications", type=whole_number(1, "a whole number >= 1"),
                   metavar="REPS",
                   help="replications per point (default: the scenario's `replications`)")
    p.add_argument("--seed", type=whole_number(0, "a whole number >= 0"), metavar="N",
                   help="seed of every point (default: the scenario's `seed`); replication i of "
                   "each point uses streams derived from (N, i)")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                   help=SET_HELP)
    p.add_argument("--out", metavar="DIR", type=out_folder,
                   help="write each finished run to DIR/runs/ as it completes, a manifest.json, "
                   "and at the end DIR/results.csv (one row per run) and DIR/summary.csv")
    p.add_argument("--resume", action="store_true",
                   help="with --out: run only the runs missing from DIR (after an interruption)")
    add_executor_options(p, "processes")
    add_precision_options(p)
    plots_option.add_argument(p, plots_option.SWEEP_HELP)
    p.add_argument("--force", action="store_true",
                   help="run even if the estimated events or memory pass the limits "
                   "(LEASESIM_MAX_EVENTS, LEASESIM_MAX_MEMORY; see docs/errors.md)")
    p.add_argument("--metrics", metavar="LIST",
                   help="comma-separated metrics to print (default: "
                   f"{','.join(DEFAULT_METRICS)}); `all` for every one")
    p.add_argument("--json", action="store_true",
                   help='print one JSON document, {"success": true, "data": {...}}, with the '
                   "summary per point and every run's row")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


def _metrics(text: str | None, extra: list[str]) -> list[str]:
    from simulator.results.metrics import METRICS

    if text is None:
        chosen = list(DEFAULT_METRICS)
    elif text.strip() == "all":
        chosen = list(METRICS)
    else:
        chosen = [m.strip() for m in text.split(",") if m.strip()]
        bad = [m for m in chosen if m not in METRICS]
        if bad or not chosen:
            raise LeasesimError(USAGE_ERROR, f"--metrics: unknown metric "
                                f"{', '.join(map(repr, bad)) or '(none given)'}; the metrics are "
                                f"{', '.join(METRICS)}")  # fmt: skip
    return chosen + [m for m in extra if m not in chosen]


def _cell(value: Any, parameter: str = "") -> str:
    """A parameter value: durations and rates in human units (30s, 2m; 120/h), else a number."""
    from simulator.plots.sweeps import FIELD_KINDS

    kind = FIELD_KINDS.get(parameter.rsplit(".", 1)[-1])
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if kind == "duration":
            return human_duration(float(value))
        if kind == "rate":
            return format_rate(float(value))
    if isinstance(value, float):
        return number(value)
    return "-" if value is None else str(value)


def _value(metric: str, x: float) -> str:
    """A metric's value: seconds as durations (47m12s), everything else as a number."""
    if metric.endswith("_s") and not metric.endswith("_per_s") and math.isfinite(x):
        return human_duration(x)
    return number(x)


def point_table(summary: pd.DataFrame, parameters: list[str], metrics: list[str]) -> str:
    """One line per point: its parameters, then each metric as `mean [low, high]`, and n."""
    wide: dict[tuple[Any, ...], dict[str, str]] = {}
    counts: dict[tuple[Any, ...], int] = {}
    for values in summary.to_dict(orient="records"):
        key = tuple(values[p] for p in parameters)
        if values["metric"] not in metrics:
            continue
        cells = wide.setdefault(key, {})
        mean, low, high = values["mean"], values["ci_low"], values["ci_high"]
        if isinstance(mean, float) and math.isnan(mean):
            cells[values["metric"]] = "-"
        elif isinstance(low, float) and math.isnan(low):
            cells[values["metric"]] = _value(values["metric"], mean)
        else:
            m = values["metric"]
            cells[m] = f"{_value(m, mean)} [{_value(m, low)}, {_value(m, high)}]"
        counts[key] = max(counts.get(key, 0), int(values["n"]))
    header = [*parameters, *metrics, "n"]
    lines = [header]
    for key, cells in wide.items():
        lines.append([*(_cell(v, p) for v, p in zip(key, parameters, strict=True)),
                      *(cells.get(m, "-") for m in metrics),
                      str(counts[key])])  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for k, line in enumerate(lines):
        out.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def execute(args: argparse.Namespace) -> int:
    from simulator.experiments.batch import Interrupted
    from simulator.experiments.executors import stop_reason
    from simulator.experiments.guards import guard_runs, sweep_parts
    from simulator.experiments.runs import Failure
    from simulator.experiments.sweep import summarize
    from simulator.scenario.load import load_scenario_with_source

    check_resume(args)
    loaded = load_scenario_with_source(args.scenario, overrides=args.overrides)
    scenario = loaded.scenario
    executor = executor_of(args, "processes")
    precision = precision_of(args)
    metrics = _metrics(args.metrics, list(precision.metrics) if precision else [])
    notes: list[dict[str, Any]] = [asdict(w) for w in loaded.warnings()]
    if not args.json:
        for w in loaded.warnings():
            print(f"warning: {w}", file=sys.stderr)
    n = scenario.replications if args.replications is None else args.replications
    # Refuse sweeps estimated past the size limits, every point counted (experiments/guards.py).
    parts, points = sweep_parts(scenario, max(n, args.max_replications) if precision else n)
    workers = 1 if executor == "serial" else args.workers or os.cpu_count() or 1
    guard_runs(parts, str(args.scenario), workers=workers, out=args.out, force=args.force,
               points=points)  # fmt: skip
    if args.plots is not None:  # a bad folder fails before any run
        plots_option.prepare(args.plots)
    try:
        with printed_warnings(notes, show=not args.json), terminate_as_interrupt():
            frame = sweep(
                scenario, replications=n, seed=args.seed, executor=executor,
                workers=args.workers, scheduler=args.scheduler, precision=precision,
                out=args.out, resume=args.resume,
                progress=not args.quiet and not args.json and sys.stderr.isatty(),
            )  # fmt: skip
    except Interrupted as exc:
        kept = (f"{plural(len(exc.saved), 'finished run')} kept under {args.out}; run the same "
                "command with --resume to finish the sweep" if args.out is not None
                else "nothing was saved (use --out DIR to keep finished runs)")  # fmt: skip
        done = len(exc.finished)
        reason = stop_reason(exc)  # not Ctrl-C: every Dask worker gone
        stopped = f"{reason}; stopped" if reason else "interrupted"
        message = f"{stopped} after {done} of {plural(exc.requested, 'run')}; {kept}."
        details = [{"finished": len(exc.finished), "requested": exc.requested,
                    "kept": len(exc.saved),
                    "out": None if args.out is None else str(args.out)}]  # fmt: skip
        raise LeasesimError(RUN_ERROR if reason else INTERRUPTED, message, details) from None
    attrs = frame.attrs
    parameters = list(attrs["parameters"])
    summary = summarize(frame)
    failures = attrs["failures"]
    failed = None
    if failures:
        items = [Failure(f["point"], f["replication"], f["seed"], f["error_type"], f["message"])
                 for f in failures]  # fmt: skip
        labels = {f["point"]: ", ".join(f"{k}={v}" for k, v in f["parameters"].items())
                  for f in failures}  # fmt: skip
        failed = failure_error(
            items, len(frame),
            lambda f: f"point {f.point} ({labels[f.point]}), replication {f.replication}, "
            f"seed {f.seed}",
        )  # fmt: skip
        if frame["error"].notna().all():
            raise failed
    plotted = [] if args.plots is None else plots_option.write_sweep(frame, args.plots)
    runs = len(frame)
    seeds = attrs["seeds"]
    seed_text = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}..{seeds[-1]}"
    if args.json:
        data = {
            "scenario": scenario.name, "file": str(args.scenario), "seeds": seeds,
            "replications": attrs["replications"], "points": attrs["points"], "runs": runs,
            "parameters": parameters, "overrides": list(args.overrides),
            "duration_s": scenario.duration, "warmup_s": scenario.warmup,
            "wall_time_s": attrs["wall_time_s"], "version": leasesim_version(),
            "executor": attrs["executor"], "precision": attrs["precision"],
            "resumed": attrs["resumed"], "warnings": notes, "failures": failures,
            "summary": summary.to_dict(orient="records"),
            "flags": [{"point": dict(zip(parameters, key, strict=False)), "name": f.name,
                       "message": f.message} for key, found in summary.attrs["flags"]
                      for f in found],  # fmt: skip
            "rows": frame.to_dict(orient="records"), "saved": attrs["written"], "plots": plotted,
        }  # fmt: skip
        if failed is not None:
            emit({"success": False, "error": failed.to_dict(), "data": data})
            return EXIT_FAILED
        emit({"success": True, "data": data})
        return EXIT_OK
    per_point = (plural(attrs['replications'], 'replication') if attrs["precision"] is None
                 else "replications by precision")  # fmt: skip
    print(f"{printable(scenario.name)}: {plural(attrs['points'], 'point')} x {per_point} = "
          f"{plural(runs, 'run')} of {format_duration(scenario.duration)} simulated time, "
          f"{seed_text} (wall time {attrs['wall_time_s']:.2f} s, {attrs['executor']})")  # fmt: skip
    if args.overrides:
        print(f"overrides: {' '.join(args.overrides)}")
    print(f"varied: {', '.join(parameters)}")
    for line in (warmup_note(scenario.warmup),
                 attrs["precision"]["description"] if attrs["precision"] else None):  # fmt: skip
        if line:
            print(line)
    if attrs["resumed"]:
        print(f"resumed: {plural(attrs['resumed'], 'run')} already saved under {args.out}")
    print()
    print(point_table(summary, parameters, metrics))
    print("\nmean [95% CI] over the replications of each point; n: replications in which the "
          "metric had a value; -: no value.")  # fmt: skip
    for key, found in summary.attrs.get("flags", []):
        point = ", ".join(f"{p}={_cell(v, p)}" for p, v in zip(parameters, key, strict=False))
        for flag in found:  # a broken point, said in words (results.health)
            for line in wrap(f"WARNING {point}: {flag.name}: {flag.message}"):
                print(line)
    if attrs["written"]:
        print(f"results saved under {args.out}/: results.csv (one row per run), summary.csv "
              "(mean and CI per point and metric), manifest.json, runs/")  # fmt: skip
    if args.plots is not None:
        print(f"figures written to {args.plots}/: {', '.join(Path(f).name for f in plotted)}"
              if plotted else f"no figures written to {args.plots}/: no swept parameter takes "
              "more than one value")  # fmt: skip
    if failed is not None:
        sys.stdout.flush()
        print(f"error: {failed}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
