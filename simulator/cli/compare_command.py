"""`leasesim compare`: a scenario's simulated metrics beside a fleet's recorded ones, with a verdict
per metric (docs/calibration.md). Exit 0 all consistent, 1 any differs, 2 bad input."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import plots_option
from simulator.cli.arguments import EXIT_FAILED, EXIT_OK, SET_HELP, plain_number, whole_number
from simulator.cli.output import emit, number, wrap
from simulator.errors import LeasesimError
from simulator.units import human_duration

if TYPE_CHECKING:  # simulator.calibration is imported when the command runs, not to parse it
    from simulator.calibration.compare import Comparison


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "compare",
        help="compare a scenario's simulated attempts with recorded ones",
        description="Run the scenario and set each metric it shares with the record (reassigned "
        "and duplicated fraction, attempts per task, latency p50/p95, queue wait, "
        "acknowledgement timeouts, work per task) beside the recorded value with its bootstrap "
        "interval, and a verdict per metric. Exit status 0 when all are consistent, 1 when any "
        "differs, 2 on bad input.",
        epilog="example:\n  leasesim compare fitted.yaml attempts.csv -n 10 --plots out/compare",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (YAML)")
    p.add_argument("observed", metavar="OBSERVED", help="recorded attempts: CSV or Parquet")
    p.add_argument(
        "-n",
        "--replications",
        type=whole_number(2, "a whole number >= 2"),
        default=10,
        metavar="REPS",
        help="replications to run (default 10)",
    )
    p.add_argument(
        "--seed",
        type=whole_number(0, "a whole number >= 0"),
        metavar="N",
        help="seed (default: the scenario's)",
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides", help=SET_HELP
    )
    p.add_argument(
        "--alpha",
        type=plain_number,
        default=0.05,
        help="family-wise false-alarm rate over the metrics (default 0.05)",
    )
    p.add_argument(
        "--plots",
        metavar="DIR",
        type=Path,
        help="write ECDFs recorded vs simulated: latency.png, work.png, "
        "queue_wait.png, attempts.png",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--force", action="store_true",
                   help="run even if the estimated events or memory pass the limits "
                   "(LEASESIM_MAX_EVENTS, LEASESIM_MAX_MEMORY; see docs/errors.md)")
    return p


def _value(x: float, unit: str) -> str:
    return human_duration(x) if unit == "s" else number(x)


def table(cmp: Comparison) -> list[str]:
    cells = [
        (
            "metric",
            "recorded",
            "95% CI (bootstrap)",
            "simulated",
            "95% PI of a record",
            "p (Holm)",
            "verdict",
        )
    ]
    for r in cmp.rows:
        cells.append(
            (
                r.metric,
                _value(r.observed, r.unit),
                f"[{_value(r.observed_low, r.unit)}, {_value(r.observed_high, r.unit)}]",
                _value(r.simulated, r.unit),
                f"[{_value(max(r.simulated_low, 0.0), r.unit)}, "
                f"{_value(r.simulated_high, r.unit)}]",
                f"{r.p_holm:.2g}",
                r.verdict,
            )
        )
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    out = []
    for k, row in enumerate(cells):
        out.append(
            "  ".join(
                c.rjust(w) if 0 < i < 6 and i != 2 and i != 4 else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def execute(args: argparse.Namespace) -> int:
    from simulator.calibration.compare import TEST, compare_observed
    from simulator.calibration.measures import MEASURES
    from simulator.experiments.guards import guard_runs
    from simulator.scenario.load import load_scenario_with_source

    if args.plots:  # a bad folder fails before any work, as for run and sweep
        plots_option.prepare(args.plots)
    loaded = load_scenario_with_source(args.scenario, overrides=args.overrides)
    if not 0 < args.alpha < 1:
        raise LeasesimError(
            "USAGE_ERROR", f"--alpha {args.alpha:g}: expected a number between 0 and 1, e.g. 0.05."
        )
    # Every replication's tables are kept for the comparison (experiments/guards.py).
    guard_runs([(loaded.scenario, args.replications)], str(args.scenario), tables=True,
               force=args.force)  # fmt: skip
    cmp = compare_observed(
        loaded.scenario, args.observed, n=args.replications, seed=args.seed, alpha=args.alpha
    )
    figures = _plots(cmp, args.plots) if args.plots else []
    status = EXIT_OK if cmp.consistent else EXIT_FAILED
    if args.json:
        emit(
            {
                "success": True,
                "data": {
                    "scenario": str(args.scenario),
                    "observed": cmp.observed.source,
                    "replications": cmp.replications,
                    "test": TEST,
                    "alpha": cmp.alpha,
                    "consistent": cmp.consistent,
                    "differs": cmp.differs,
                    "metrics": [r.as_dict() for r in cmp.rows],
                    "skipped": cmp.skipped,
                    "figures": [str(p) for p in figures],
                },
            }
        )
        return status
    obs = cmp.observed
    print(
        f"{args.scenario} ({cmp.replications} replications of "
        f"{human_duration(cmp.scenario.duration)}) against {obs.source} "
        f"({obs.tasks:,} tasks over {human_duration(obs.span)})\n"
    )
    print("\n".join(table(cmp)))
    print()
    notes = [
        f"test: {TEST}; family-wise false-alarm rate {cmp.alpha:g}. "
        "95% PI: where the metric of a record of the observed size falls if the scenario "
        "is right."
    ]
    if cmp.skipped:
        why = "; ".join(
            f"{m} (needs {', '.join(MEASURES[m].needs) or 'values'})" for m in cmp.skipped
        )
        notes.append(f"not compared: {why}.")
    verdict = (
        "consistent: no metric differs."
        if cmp.consistent
        else f"differs on {', '.join(cmp.differs)}."
    )
    for n in notes:
        print("\n".join(wrap(n)))
    if figures:
        print(f"figures written to {args.plots}/: {', '.join(p.name for p in figures)}")
    print(verdict)
    return status


def _plots(cmp: Comparison, folder: Path) -> list[Path]:
    from simulator.plots.calibration import COMPARE_QUANTITIES, compare_ecdf
    from simulator.plots.files import save_png

    names = [
        q
        for q, (col, _, _) in COMPARE_QUANTITIES.items()
        if not (q == "queue_wait" and not cmp.observed.has("submitted_at"))
    ]
    return [save_png(compare_ecdf(cmp, q), folder / f"{q}.png") for q in names]
