"""`leasesim report`: run a scenario and write one self-contained HTML page about it."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from simulator.cli.arguments import EXIT_OK, SET_HELP, whole_number
from simulator.cli.output import emit, plural, progress
from simulator.errors import INTERRUPTED, RUN_ERROR, USAGE_ERROR, LeasesimError
from simulator.experiments.runs import run
from simulator.experiments.scenario import load_scenario_with_source
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
    loaded = load_scenario_with_source(args.scenario, overrides=args.overrides)
    scenario = loaded.scenario
    n = scenario.replications if args.replications is None else args.replications
    seed = scenario.seed if args.seed is None else args.seed
    _check_out(args.out)
    if not args.json:
        for w in loaded.warnings():
            print(f"warning: {w}", file=sys.stderr)
    bar = progress(n, not args.quiet and not args.json and sys.stderr.isatty())
    started = time.perf_counter()
    results = []
    try:
        for i in range(n):
            results.append(run(scenario, seed=seed, replication=i))
            if bar is not None:
                bar.update()
    except KeyboardInterrupt:
        raise LeasesimError(
            INTERRUPTED,
            f"interrupted after {len(results)} of {plural(n, 'replication')}; no report was "
            "written.",
            [{"finished": len(results), "requested": n}],
        ) from None
    finally:
        if bar is not None:
            bar.close()
    from simulator.plots import run_figures  # matplotlib only when a report is made
    from simulator.report import write_report

    figures = run_figures(results[0])
    try:
        write_report(args.out, results, source=str(args.scenario),
                     overrides=list(args.overrides), figures=figures)  # fmt: skip
    except OSError as exc:
        raise LeasesimError(
            RUN_ERROR, f"cannot write the report {args.out}: {exc.strerror or exc}."
        ) from None
    wall = time.perf_counter() - started
    if args.json:
        emit({
            "success": True,
            "data": {
                "scenario": scenario.name, "file": str(args.scenario), "seed": seed,
                "replications": n, "overrides": list(args.overrides), "report": str(args.out),
                "figures": list(figures), "wall_time_s": wall,
                "warnings": [asdict(w) for w in loaded.warnings()],
            },
        })  # fmt: skip
        return EXIT_OK
    print(f"{scenario.name}: {plural(n, 'replication')} of {format_duration(scenario.duration)} "
          f"simulated time, seed {seed} (wall time {wall:.2f} s)")  # fmt: skip
    print(f"report written to {args.out} (summary, {plural(len(figures), 'figure')}: "
          f"{', '.join(figures)}; resolved scenario)")  # fmt: skip
    return EXIT_OK
