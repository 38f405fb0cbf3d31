"""`leasesim recommend`: the setting of the varied fields that meets every requirement, and why."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from simulator.cli import plots_option
from simulator.cli.arguments import EXIT_FAILED, EXIT_OK, SET_HELP, whole_number
from simulator.cli.experiment_options import add_executor_options, executor_of, printed_warnings
from simulator.cli.output import emit
from simulator.errors import RUN_ERROR, USAGE_ERROR, LeasesimError
from simulator.versions import leasesim_version

FIGURE = "pareto.png"
#: simulator.recommendation.requirements.DEFAULT_OBJECTIVE, for --help without importing the
#: simulation (tests/test_cli_startup.py checks that the two agree).
DEFAULT_OBJECTIVE = "progress_calls_per_s"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "recommend", help="find the heartbeat interval and timeouts that meet your requirements",
        description="Vary fields of a scenario (--vary), screen every combination with the "
        "closed-form estimates, confirm the best by simulation with common random numbers, refine "
        "around the best, and print the recommended setting with each requirement's confidence "
        "interval, the runners-up, the Pareto frontier and whether the answer depends on the "
        "5-or-15-minute lease reading. See docs/recommend.md.",
        epilog="examples:\n"
        "  leasesim recommend scenarios/gc-pauses.yaml \\\n"
        "      --vary 'fleet.jvm.progress_interval={from: 10s, to: 5m, steps: 8, scale: log}' \\\n"
        "      --vary 'service.report_progress_timeout=[5m, 10m, 15m, 30m]' \\\n"
        "      --require 'duplicated_fraction<=1e-3' --require 'detection_latency_mean_s<=10m' \\\n"
        "      --minimize progress_calls_per_s --plots out/recommend\n"
        "  leasesim recommend my.yaml --vary 'fleet.etl.progress_interval=[30s, 1m, 2m]' \\\n"
        "      --require 'reassigned_fraction<=0.01' -n 20 --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (YAML)")
    p.add_argument("--vary", action="append", default=[], metavar="PATH=RANGE",
                   help="a field to choose and the values to try, as in a sweep: block: a list "
                   "'[30s, 1m, 2m]' or a range '{from: 10s, to: 5m, steps: 8, scale: log}' "
                   "(repeatable; every combination is a candidate)")
    p.add_argument("--require", action="append", default=[], metavar="METRIC<=VALUE",
                   help="a bound on a summary metric's mean, METRIC<=VALUE or METRIC>=VALUE, in "
                   "the metric's unit (durations such as 10m, fractions such as 0.01%%); "
                   "repeatable")
    goal = p.add_mutually_exclusive_group()
    goal.add_argument("--minimize", metavar="METRIC",
                      help=f"the metric to make smallest (default: {DEFAULT_OBJECTIVE})")
    goal.add_argument("--maximize", metavar="METRIC", help="the metric to make largest")
    p.add_argument("-n", "--replications", type=whole_number(2, "a whole number >= 2"),
                   default=10, metavar="REPS",
                   help="replications per candidate, the same for all (default 10)")
    p.add_argument("--seed", type=whole_number(0, "a whole number >= 0"), metavar="N",
                   help="seed of every candidate (default: the scenario's `seed`)")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                   help=SET_HELP)
    p.add_argument("--confirm", type=whole_number(1, "a whole number >= 1"), default=4,
                   metavar="K", help="candidates simulated per batch, and rechecked under the "
                   "other lease readings (default 4)")
    p.add_argument("--max-candidates", type=whole_number(1, "a whole number >= 1"), default=24,
                   metavar="N", help="simulate at most N candidates before refining (default 24)")
    p.add_argument("--refine", type=whole_number(0, "a whole number >= 0"), default=1,
                   metavar="ROUNDS",
                   help="rounds of refinement around the best (default 1; 0 for none)")
    p.add_argument("--no-readings", action="store_true",
                   help="do not recheck the answer under the other lease readings")
    add_executor_options(p, "processes")
    figure = p.add_mutually_exclusive_group()
    figure.add_argument("--plots", metavar="DIR", type=Path,
                        help=f"write the Pareto figure as DIR/{FIGURE} (atomically)")
    figure.add_argument("--figure", metavar="FILE", type=Path,
                        help="write the Pareto figure to FILE, a .png (atomically)")
    p.add_argument("--json", action="store_true",
                   help='print one JSON document, {"success": true, "data": {...}}, with the '
                   "answer, the evidence and every candidate")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true",
                   help="run even if one candidate's replications are estimated past the "
                   "size limits (see docs/errors.md)")
    return p


def _figure_path(args: argparse.Namespace) -> Path | None:
    """Where the figure goes; checked before any run, so a bad path fails at once (exit 2)."""
    if args.plots is not None:
        plots_option.prepare(args.plots)
        return args.plots / FIGURE
    if args.figure is None:
        return None
    path: Path = args.figure
    if path.suffix.lower() != ".png":
        raise LeasesimError(USAGE_ERROR, f"--figure {path}: the figure is a PNG; name the file "
                            "with .png.")  # fmt: skip
    if path.is_dir():
        raise LeasesimError(USAGE_ERROR, f"--figure {path}: this is a folder; use --plots DIR "
                            "for a folder, or give a file name.")  # fmt: skip
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise LeasesimError(USAGE_ERROR, f"--figure {path}: the folder {folder} does not exist or "
                            "is not writable.")  # fmt: skip
    return path


def execute(args: argparse.Namespace) -> int:
    from simulator.experiments.guards import guard_runs  # the simulation: to run, not to parse
    from simulator.recommendation import recommend
    from simulator.scenario.load import load_scenario_with_source

    if not args.vary:
        raise LeasesimError(USAGE_ERROR, "recommend: give at least one --vary PATH=RANGE, e.g. "
                            "--vary 'fleet.etl.progress_interval=[30s, 1m, 2m]'.")  # fmt: skip
    if not args.require:
        raise LeasesimError(USAGE_ERROR, "recommend: give at least one --require METRIC<=VALUE, "
                            "e.g. --require 'duplicated_fraction<=1e-3'.")  # fmt: skip
    loaded = load_scenario_with_source(args.scenario, overrides=args.overrides)
    scenario = loaded.scenario
    executor = executor_of(args, "processes")
    # The base setting stands for every candidate: at most max_candidates a round, the rounds
    # of refinement, and the rechecks under other readings (experiments/guards.py).
    workers = 1 if executor == "serial" else args.workers or os.cpu_count() or 1
    runs = args.max_candidates * (1 + args.refine) + (0 if args.no_readings else args.confirm)
    guard_runs([(scenario, args.replications)] * runs, str(args.scenario), workers=workers,
               force=args.force)  # fmt: skip
    target = _figure_path(args)
    notes: list[dict[str, Any]] = [asdict(w) for w in loaded.warnings()]
    if not args.json:
        for w in loaded.warnings():
            print(f"warning: {w}", file=sys.stderr)
    with printed_warnings(notes, show=not args.json):
        rec = recommend(
            scenario, args.vary, args.require, args.minimize, maximize=args.maximize,
            replications=args.replications, confirm=args.confirm,
            max_candidates=args.max_candidates, refine=args.refine,
            readings=not args.no_readings, seed=args.seed, executor=executor,
            workers=args.workers, scheduler=args.scheduler,
            progress=not args.quiet and not args.json and sys.stderr.isatty(),
        )  # fmt: skip
    written = None
    if target is not None:
        try:
            written = rec.save_figure(target)
        except OSError as exc:
            raise LeasesimError(RUN_ERROR, f"cannot write the figure {target}: "
                                f"{exc.strerror or exc}.") from None  # fmt: skip
    failed = bool(rec.failures)
    if args.json:
        data = {"file": str(args.scenario), "overrides": list(args.overrides),
                "version": leasesim_version(), "warnings": notes, "figure": written,
                **rec.to_dict()}  # fmt: skip
        emit({"success": not failed, "data": data} if not failed else {
            "success": False, "data": data,
            "error": {"code": RUN_ERROR, "message": _failed_message(rec), "details": []}})
        return EXIT_FAILED if failed else EXIT_OK
    print(rec.describe())
    if written:
        print(f"\nPareto figure written to {written}")
    if failed:
        sys.stdout.flush()
        print(f"error: {_failed_message(rec)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _failed_message(rec: Any) -> str:
    first = rec.failures[0]
    return (f"{len(rec.failures)} runs failed and were left out of the intervals (first: "
            f"replication {first['replication']} of {first.get('parameters')}: "
            f"{first['error_type']}: {first['message']}). This is a bug in leasesim; please report "
            "it with the scenario file (set LEASESIM_DEBUG=1 to see the traceback).")
