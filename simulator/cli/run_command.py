"""`leasesim run`: a scenario's replications, summarised as means with 95% confidence intervals."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

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
from simulator.cli.output import (
    emit,
    mode_lines,
    mode_of,
    plural,
    table,
    table_notes,
    throttled_table,
    warning_dict,
)
from simulator.errors import INTERRUPTED, RUN_ERROR, LeasesimError, printable
from simulator.units import format_duration
from simulator.versions import leasesim_version

# The simulation (simulator.experiments, .scenario, .results: numpy, pandas, scipy, simpy) is
# imported by `execute`, not here: `leasesim --help` and `--version` only build the parser.


def run(*args: Any, **kwargs: Any) -> Any:
    """One replication: `simulator.experiments.runs.run`, imported when called. `execute` hands
    this function to `replicate`, so tests can replace it here (a seam)."""
    from simulator.experiments.runs import run as run_replication

    return run_replication(*args, **kwargs)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "run", help="run a scenario's replications and print a summary table",
        description="Run a scenario's replications and print each summary metric's mean and "
        "95% confidence interval (Student t over the replications).",
        epilog="examples:\n  leasesim run scenarios/gc-pauses.yaml -n 10 --seed 7 "
        "--set fleet.etl.progress_interval=30s --out results/gc\n"
        "  leasesim run scenarios/aws-defaults.yaml -n 5 --precision reassigned_fraction "
        "--target 10% --executor processes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (YAML)")
    p.add_argument("-n", "--replications", type=whole_number(1, "a whole number >= 1"),
                   metavar="REPS",
                   help="number of independent replications (default: the scenario's "
                   "`replications`)")  # fmt: skip
    p.add_argument("--seed", type=whole_number(0, "a whole number >= 0"), metavar="N",
                   help="seed; replication i uses streams derived from (N, i), so the same seed "
                   "gives the same results (default: the scenario's `seed`)")  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                   help=SET_HELP)
    p.add_argument("--out", metavar="DIR", type=out_folder,
                   help="save each replication's tables, summary.json, scenario.json and "
                   "meta.json under DIR/rep-000/, DIR/rep-001/, ... as soon as it finishes")
    p.add_argument("--resume", action="store_true",
                   help="with --out: keep the replications already saved there for this scenario "
                   "and seed, and run only the missing ones")
    plots_option.add_argument(p)
    add_executor_options(p, "serial")
    add_precision_options(p)
    p.add_argument("--json", action="store_true",
                   help='print one JSON document, {"success": true, "data": {...}}, instead of '
                   "the table (errors too, as {\"success\": false, \"error\": {...}})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true",
                   help="run even if the estimated events or memory pass the limits "
                   "(LEASESIM_MAX_EVENTS, LEASESIM_MAX_MEMORY; see docs/errors.md)")

    return p


def _kept(saved: list[str], out: Path | None) -> str:
    from simulator.experiments.store import runs_folder

    if out is None:
        return "nothing was saved (use --out DIR to keep finished replications)"
    if not saved:
        return f"no replication had finished, so nothing was saved under {out}"
    return (
        f"{plural(len(saved), 'finished replication')} kept under {out} "
        f"({runs_folder([Path(s).name for s in saved])}); run the same command with --resume "
        "to finish"
    )


def warmup_note(warmup: float) -> str | None:
    if warmup <= 0:
        return None
    return (f"warm-up: tasks submitted in the first {format_duration(warmup)} are left out of the "
            "metrics (API call counts cover the whole run).")  # fmt: skip


def execute(args: argparse.Namespace) -> int:
    from simulator.analytic import closed_form_section
    from simulator.experiments.batch import Interrupted
    from simulator.experiments.executors import stop_reason
    from simulator.experiments.guards import guard_runs
    from simulator.experiments.replicate import replicate
    from simulator.experiments.store import runs_folder
    from simulator.results.metrics import METRICS
    from simulator.scenario.load import load_scenario_with_source

    check_resume(args)
    loaded = load_scenario_with_source(args.scenario, overrides=args.overrides)
    scenario = loaded.scenario
    n = scenario.replications if args.replications is None else args.replications
    seed = scenario.seed if args.seed is None else args.seed
    executor = executor_of(args, "serial")
    precision = precision_of(args)
    # Refuse runs estimated past the size limits (experiments/guards.py) unless --force.
    most = max(n, args.max_replications) if precision is not None else n
    workers = 1 if executor == "serial" else args.workers or os.cpu_count() or 1
    guard_runs([(scenario, most)], str(args.scenario), workers=workers, out=args.out,
               force=args.force)  # fmt: skip
    notes = [asdict(w) for w in loaded.warnings()]
    shown = [str(w) for w in loaded.warnings()]
    if scenario.sweep is not None:
        text = ("the scenario has a sweep: block; `leasesim run` runs its base values only (use "
                "`leasesim sweep` to run the grid)")  # fmt: skip
        notes.append(warning_dict("sweep", text))
        shown.append(text)
    if not args.json:
        for text in shown:
            print(f"warning: {text}", file=sys.stderr)
    if args.plots is not None:
        plots_option.prepare(args.plots)
    started = time.perf_counter()
    try:
        with printed_warnings(notes, show=not args.json), terminate_as_interrupt():
            reps = replicate(
                scenario, n, seed, executor=executor, workers=args.workers,
                scheduler=args.scheduler, precision=precision, out=args.out, resume=args.resume,
                progress=not args.quiet and not args.json and sys.stderr.isatty(),
                run_fn=run,  # looked up here, at call time: a seam for tests
            )  # fmt: skip
    except Interrupted as exc:
        saved = list(exc.saved)
        finished = len(exc.finished)
        reason = stop_reason(exc)  # not Ctrl-C: every Dask worker gone
        message = (
            f"{reason + '; stopped' if reason else 'interrupted'} after {finished} of "
            f"{plural(exc.requested, 'replication')}; {_kept(saved, args.out)}."
        )
        details = [{"finished": finished, "requested": exc.requested, "saved": saved}]
        raise LeasesimError(RUN_ERROR if reason else INTERRUPTED, message, details) from None
    wall = time.perf_counter() - started
    total = len(reps) + len(reps.failures)
    failed = None
    if reps.failures:
        failed = failure_error(reps.failures, total,
                               lambda f: f"replication {f.replication} (seed {f.seed})",
                               "replication")  # fmt: skip
        if not len(reps):
            raise failed
    frame = reps.summarize(warn=False)  # health flags: printed under the table
    n = len(reps)
    plotted = [] if args.plots is None else plots_option.write_first(scenario, seed, args.plots)
    if args.json:
        records = frame.to_dict(orient="records")
        for record in records:
            record["unit"] = METRICS[record["metric"]].unit if record["metric"] in METRICS else ""
        data = {
            "scenario": scenario.name, "file": str(args.scenario), "seed": seed,
            "replications": n, "overrides": list(args.overrides),
            "duration_s": scenario.duration, "warmup_s": scenario.warmup, "wall_time_s": wall,
            "version": leasesim_version(), "executor": reps.executor,
            "summary": records, "replication_summaries": reps.summaries,
            "warnings": notes, "saved": reps.saved, "resumed": reps.resumed, "plots": plotted,
            "precision": reps.precision.to_dict() if reps.precision else None,
            "calls": reps.calls().to_dict(orient="records"),  # per operation, mean per rep
            "mode": mode_of(scenario),  # asked for, ran, and why groups fell back to exact
        }  # fmt: skip
        data["estimates"] = closed_form_section(scenario, frame)[1]  # docs/analytic.md
        data["flags"] = [{"name": f.name, "message": f.message} for f in frame.attrs["flags"]]
        if failed is not None:
            emit({"success": False, "error": failed.to_dict(), "data": data})
            return EXIT_FAILED
        emit({"success": True, "data": data})
        return EXIT_OK
    print(f"{printable(scenario.name)}: {plural(n, 'replication')} of "
          f"{format_duration(scenario.duration)} simulated time, seed {seed} "
          f"(wall time {wall:.2f} s)")  # fmt: skip
    if scenario.description:
        print(scenario.description.strip().splitlines()[0])
    if args.overrides:
        print(f"overrides: {' '.join(args.overrides)}")
    if reps.executor != "serial":
        print(f"executor: {reps.executor}")
    for line in (*mode_lines(mode_of(scenario)), warmup_note(scenario.warmup),
                 reps.precision.describe() if reps.precision else None):  # fmt: skip
        if line:
            print(line)
    if reps.resumed:
        print(f"resumed: {plural(reps.resumed, 'replication')} already saved under {args.out}")
    print()
    print(table(frame))
    notes_text = table_notes(frame, n)
    if notes_text:
        print()
        print("\n".join(notes_text))
    throttled = throttled_table(reps.calls())  # which rate limit bound
    if throttled:
        print()
        print("\n".join(throttled))
    estimate_lines = closed_form_section(scenario, frame)[0]  # beside the table: analytic.md
    if estimate_lines:
        print()
        print("\n".join(estimate_lines))
    if reps.saved:
        names = sorted(Path(s).name for s in reps.saved)
        print(f"\nresults saved under {args.out}/ ({runs_folder(names)})")
    if plotted:
        print(f"figures of replication 0 written to {args.plots}/: "
              f"{', '.join(Path(f).name for f in plotted)}")  # fmt: skip
    if failed is not None:
        sys.stdout.flush()
        print(f"error: {failed}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
