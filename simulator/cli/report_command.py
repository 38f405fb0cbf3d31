"""`leasesim report`: run a scenario and write one self-contained HTML page about it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from simulator.cli.arguments import EXIT_FAILED, EXIT_OK, SET_HELP, whole_number
from simulator.cli.experiment_options import failure_error, printed_warnings
from simulator.cli.output import emit, plural
from simulator.errors import INTERRUPTED, RUN_ERROR, USAGE_ERROR, LeasesimError, printable
from simulator.units import format_duration


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "report", help="run a scenario and write a self-contained HTML report",
        description="Run a scenario's replications and write one HTML page: the summary table "
        "with confidence intervals, the first replication's figures (embedded), its API call "
        "counts and the fully resolved scenario. The page links to nothing, so it can be "
        "attached to a design review as it is.",
        epilog="example:\n  leasesim report scenarios/gc-pauses.yaml -n 10 --out gc-pauses.html",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (YAML)")
    p.add_argument("--out", metavar="FILE", type=Path, required=True,
                   help="the HTML file to write (replaced atomically if it exists)")
    p.add_argument("-n", "--replications", type=whole_number(1, "a whole number >= 1"),
                   metavar="REPS",
                   help="number of independent replications (default: the scenario's "
                   "`replications`)")  # fmt: skip
    p.add_argument("--seed", type=whole_number(0, "a whole number >= 0"), metavar="N",
                   help="seed (default: the scenario's `seed`)")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                   help=SET_HELP)
    p.add_argument("--json", action="store_true",
                   help='print {"success": true, "data": {...}} instead of a line of text')
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true",
                   help="run even if the estimated events or memory pass the limits "
                   "(LEASESIM_MAX_EVENTS, LEASESIM_MAX_MEMORY; see docs/errors.md)")
    return p


def _check_out(out: Path) -> None:
    """Fail before running anything if the report cannot be written where asked."""
    if out.is_dir():
        raise LeasesimError(
            USAGE_ERROR, f"--out {out}: this is a folder; --out takes the HTML file to write."
        )
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeasesimError(
            USAGE_ERROR, f"--out {out}: its folder cannot be created ({exc.strerror or exc})."
        ) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise LeasesimError(USAGE_ERROR, f"--out {out}: the folder {parent} is not writable.")


def execute(args: argparse.Namespace) -> int:
    from simulator.experiments.batch import Interrupted  # the simulation: to run, not to parse
    from simulator.experiments.guards import guard_runs
    from simulator.experiments.replicate import replicate
    from simulator.experiments.runs import run
    from simulator.scenario.files import refuse_overwrite
    from simulator.scenario.load import load_scenario_with_source

    loaded = load_scenario_with_source(args.scenario, overrides=args.overrides)
    refuse_overwrite(args.out, [Path(args.scenario), *loaded.source.inputs], "--out")
    scenario = loaded.scenario
    n = scenario.replications if args.replications is None else args.replications
    seed = scenario.seed if args.seed is None else args.seed
    _check_out(args.out)
    # Every replication's tables are kept for the page (experiments/guards.py).
    guard_runs([(scenario, n)], str(args.scenario), tables=True, force=args.force)
    if not args.json:
        for w in loaded.warnings():
            print(f"warning: {w}", file=sys.stderr)
    notes = [str(w) for w in loaded.warnings()]
    if scenario.sweep is not None:
        notes.append("the scenario has a sweep: block; `leasesim report` runs its base values "
                     "only (use `leasesim sweep` to run the grid)")  # fmt: skip
        if not args.json:
            print(f"warning: {notes[-1]}", file=sys.stderr)
    started = time.perf_counter()
    try:
        with printed_warnings([], show=not args.json):
            reps = replicate(
                scenario, n, seed, tables=True, run_fn=run,
                progress=not args.quiet and not args.json and sys.stderr.isatty(),
            )  # fmt: skip
    except Interrupted as exc:
        raise LeasesimError(
            INTERRUPTED,
            f"interrupted after {len(exc.finished)} of {plural(n, 'replication')}; no report "
            "was written.",
            [{"finished": len(exc.finished), "requested": n}],
        ) from None
    if not len(reps):
        raise failure_error(reps.failures, n,
                            lambda f: f"replication {f.replication} (seed {f.seed})",
                            "replication")  # fmt: skip
    from simulator.plots import run_figures  # matplotlib only when a report is made
    from simulator.report import write_report

    figures = run_figures(reps.results[0])
    try:
        write_report(args.out, reps, source=str(args.scenario), overrides=list(args.overrides),
                     figures=figures, warnings=notes, requested=n)  # fmt: skip
    except OSError as exc:
        raise LeasesimError(
            RUN_ERROR, f"cannot write the report {args.out}: {exc.strerror or exc}."
        ) from None
    wall = time.perf_counter() - started
    failed = None
    if reps.failures:  # the others are in the report, and the failures listed in it
        failed = failure_error(reps.failures, n,
                               lambda f: f"replication {f.replication} (seed {f.seed})",
                               "replication")  # fmt: skip
    flags = reps.flags
    if args.json:
        data = {
            "scenario": scenario.name, "file": str(args.scenario), "seed": seed,
            "replications": len(reps), "requested": n, "overrides": list(args.overrides),
            "report": str(args.out), "figures": list(figures), "wall_time_s": wall,
            "warnings": [asdict(w) for w in loaded.warnings()],
            "flags": [{"name": f.name, "message": f.message} for f in flags],
        }  # fmt: skip
        if failed is not None:
            emit({"success": False, "error": failed.to_dict(), "data": data})
            return EXIT_FAILED
        emit({"success": True, "data": data})
        return EXIT_OK
    print(f"{printable(scenario.name)}: {plural(len(reps), 'replication')} of "
          f"{format_duration(scenario.duration)} simulated time, seed {seed} "
          f"(wall time {wall:.2f} s)")  # fmt: skip
    for f in flags:
        print(f"WARNING {f.name}: {f.message}")
    print(f"report written to {args.out} (summary, health, warnings, closed-form estimates, "
          f"API calls, replications, {plural(len(figures), 'figure')}: {', '.join(figures)}; "
          "resolved scenario)")  # fmt: skip
    if failed is not None:
        sys.stdout.flush()
        print(f"error: {failed}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
