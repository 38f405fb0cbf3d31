"""`leasesim check`: regression runs of scenario files against their expectations and baselines.

Exit status: 0 every scenario passed, 1 some scenario failed (a bound, a baseline tier, a run),
2 invalid input (a scenario, a baseline file, a flag). See docs/regression.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from simulator.cli.arguments import EXIT_FAILED, EXIT_OK, SET_HELP, whole_number
from simulator.cli.experiment_options import (
    add_executor_options,
    executor_of,
    terminate_as_interrupt,
)
from simulator.cli.output import emit
from simulator.errors import USAGE_ERROR, LeasesimError


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "check", help="check scenario files against their expect: bounds and baselines",
        description="Run every scenario file that has an expect: block or a baseline\n"
        "(baselines/NAME.json beside it) and judge it:\n"
        "- each expect: bound on the 95% confidence interval of the replication mean: pass,\n"
        "  fail, or inconclusive (replications are added up to check.max_replications);\n"
        "- exact tier: same leasesim, dependencies and seed as the baseline: identical numbers;\n"
        "- statistical tier: two one-sided Welch tests per metric within check.tolerance.\n"
        "Exit status 0 all passed, 1 a failure, 2 invalid input. See docs/regression.md.",
        epilog="examples:\n"
        "  leasesim check                                   # every scenario in scenarios/\n"
        "  leasesim check scenarios/ --quick                # pre-commit: check.quick settings\n"
        "  leasesim check scenarios/gc-pauses.yaml --update-baseline\n"
        "  leasesim check --json --junit reports/check.xml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="scenario files or folders of them (default: scenarios/)")
    p.add_argument("--quick", action="store_true",
                   help="fewer replications and a shorter duration where the scenario's "
                   "check.quick block says so (for pre-commit use)")
    p.add_argument("--update-baseline", action="store_true",
                   help="record each scenario's baseline (full run, and quick run if it has "
                   "check.quick) to baselines/NAME.json beside it, or check.baseline, then check")
    p.add_argument("--allow-inconclusive", action="store_true",
                   help="do not count verdicts still inconclusive at the replication cap as "
                   "failures")
    p.add_argument("--no-baseline", action="store_true",
                   help="judge the expect: bounds only, without comparing with baselines")
    p.add_argument("--seed", type=whole_number(0, "a whole number >= 0"), metavar="N",
                   help="seed of every scenario (default: each file's); the exact tier needs "
                   "the baseline's seed")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                   help=f"{SET_HELP}; applied to every scenario file (a changed scenario makes "
                   "its baseline stale)")
    add_executor_options(p, "processes")
    p.add_argument("--json", action="store_true",
                   help='print one JSON document: {"success": true, "data": {...}}, or '
                   '{"success": false, "error": {...}, "data": {...}} when a check failed')
    p.add_argument("--junit", metavar="FILE",
                   help="also write the verdicts as JUnit XML (a test case per scenario and "
                   "metric), atomically")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true",
                   help="run even if the estimated events or memory pass the limits "
                   "(LEASESIM_MAX_EVENTS, LEASESIM_MAX_MEMORY; see docs/errors.md)")
    return p


def execute(args: argparse.Namespace) -> int:
    from simulator.check import report  # the simulation: imported to run, not to parse
    from simulator.check.files import DEFAULT_PATHS, find
    from simulator.check.runner import run_checks
    from simulator.experiments.guards import Limits

    if args.update_baseline and args.no_baseline:
        raise LeasesimError(USAGE_ERROR, "--update-baseline records baselines and --no-baseline "
                            "ignores them; give one of the two.")  # fmt: skip
    if args.junit:
        report.check_junit_target(args.junit)  # before a long run, not after it
    targets, skipped = find(args.paths or DEFAULT_PATHS, args.overrides, args.update_baseline)
    if args.junit:
        from simulator.scenario.files import refuse_overwrite

        refuse_overwrite(args.junit, [p for t in targets for p in t.inputs], "--junit")
    executor = executor_of(args, "processes")
    workers = args.workers if executor != "serial" else 1
    with terminate_as_interrupt():  # SIGTERM stops as Ctrl-C does: nothing half-recorded
        run = run_checks(
            targets, "quick" if args.quick else "full", seed=args.seed,
            update=args.update_baseline, use_baselines=not args.no_baseline,
            allow_inconclusive=args.allow_inconclusive, executor=executor, workers=workers,
            scheduler=args.scheduler,
            progress=not args.quiet and not args.json and sys.stderr.isatty(),
            limits=None if args.force else Limits.from_environment(os.environ),
        )  # fmt: skip
    run.skipped = [str(f) for f in skipped]
    if args.junit:
        report.write_junit(run, args.junit)
    if args.json:
        payload: dict[str, Any] = {"success": run.passed, "data": report.data(run)}
        if not run.passed:
            payload["error"] = report.failure_error(run).to_dict()
        emit(payload)
    else:
        print(report.text(run))
    return EXIT_OK if run.passed else EXIT_FAILED
