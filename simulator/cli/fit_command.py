"""`leasesim fit`: a scenario fitted to a record of attempts (docs/calibration.md)."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli import plots_option
from simulator.cli.arguments import EXIT_OK
from simulator.cli.output import emit, number, wrap
from simulator.errors import FILE_ERROR, LeasesimError
from simulator.units import human_duration

if TYPE_CHECKING:  # simulator.calibration is imported when the command runs, not to parse it
    from simulator.calibration.calibrate import Calibration


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "fit",
        help="fit a scenario to a fleet's recorded attempts",
        description="Fit the task work distribution (lognormal, exponential, empirical), the "
        "arrival rate and what the leases tell (lease losses, acknowledgement timeouts, false "
        "reassignments and the fault rates they imply) to a record of attempts, and write the "
        "fitted scenario: the base scenario with the fitted fields replaced, or a minimal one.",
        epilog="examples:\n  leasesim fit attempts.csv --out fitted.yaml\n"
        "  leasesim fit attempts.csv --scenario scenarios/aws-defaults.yaml --out fitted.yaml "
        "--plots out/fit\n\nthe file's format: docs/calibration.md",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "observed",
        metavar="OBSERVED",
        help="recorded attempts: CSV or Parquet (or a saved run's folder)",
    )
    p.add_argument(
        "--out",
        metavar="FITTED.yaml",
        type=Path,
        required=True,
        help="where to write the fitted scenario (atomically)",
    )
    p.add_argument(
        "--scenario",
        metavar="BASE.yaml",
        help="base scenario whose fields the fit replaces (default: a minimal one)",
    )
    p.add_argument(
        "--no-faults",
        action="store_true",
        help="do not write the implied crash and pause rates into the scenario",
    )
    p.add_argument(
        "--plots",
        metavar="DIR",
        type=Path,
        help="write per workload WORKLOAD-work-ecdf.png and WORKLOAD-work-qq.png",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    return p


def _interval(value: float, low: float, high: float, unit: str) -> str:
    if unit == "s":
        return f"{human_duration(value)} [{human_duration(low)}, {human_duration(high)}]"
    return f"{number(value)} [{number(low)}, {number(high)}]"


def describe(cal: Calibration) -> list[str]:
    """What `leasesim fit` prints."""
    obs = cal.observed
    lines = [
        f"{obs.source}: {len(obs.attempts):,} attempts of {obs.tasks:,} tasks over "
        f"{human_duration(obs.span)}" + (f" from {obs.origin}" if obs.origin else ""),
        "",
    ]
    for wf in cal.workloads:
        lines.append(f"workload {wf.name}: work of {wf.work.n:,} finished attempts")
        for c in wf.work.candidates:
            params = (
                ", ".join(
                    f"{k} {_interval(v.value, v.low, v.high, 's' if k == 'mean' else '')}"
                    for k, v in c.parameters.items()
                )
                if c.name != "empirical"
                else f"{wf.work.n} values"
            )
            lines.append(f"  {c.name:<12} {params}")
            lines.append(
                f"  {'':<12} median {_interval(c.median.value, c.median.low, c.median.high, 's')}, "
                f"p95 {_interval(c.p95.value, c.p95.low, c.p95.high, 's')}"
            )
            lines.append(f"  {'':<12} {c.test_text()}")
        lines += [
            f"  chosen: {line}" if k == 0 else line for k, line in enumerate(wrap(wf.work.reason))
        ]
        a = wf.arrivals
        lines.append(
            f"  arrivals: {a.n:,} tasks, Poisson rate {a.rate.value * 3600:.4g}/h "
            f"[{a.rate.low * 3600:.4g}, {a.rate.high * 3600:.4g}]"
        )
        verdict = "Poisson plausible" if a.poisson_plausible else "Poisson NOT plausible"
        lines.append(
            f"  dispersion: variance/mean of counts in {a.bins} bins of "
            f"{human_duration(a.bin_seconds)} = {a.dispersion:.3g} (p = "
            f"{a.dispersion_pvalue:.2g}): {verdict}"
        )
        lines.append("")
    le = cal.leases
    lines.append(
        f"leases: {le.losses} lease losses in {number(le.attempt_hours)} attempt-hours: "
        f"{_interval(le.rate.value, le.rate.low, le.rate.high, '')} per attempt-hour"
    )
    lines.append(
        f"  acknowledgement timeouts: {le.ack_losses} of {le.attempts:,} attempts "
        f"({_interval(le.ack_share.value, le.ack_share.low, le.ack_share.high, '')})"
    )
    if le.false_known:
        share = le.false_share
        text = (
            f" ({_interval(share.value, share.low, share.high, '')} of those whose holder "
            "had begun work)"
            if share
            else ""
        )
        lines.append(
            f"  false reassignments (holder still working): {le.false_losses}{text}; "
            f"after the work stopped (crash): {le.crash_losses}; before work began: "
            f"{le.before_work}"
        )
    for imp in le.implied:
        v = imp.value
        if imp.fault in ("crash", "pause"):
            unit = 86400.0 if imp.fault == "crash" else 3600.0
            per = "/d" if imp.fault == "crash" else "/h"
            shown = (
                f"{v.value * unit:.3g}{per} [{v.low * unit:.3g}, {v.high * unit:.3g}] per runner"
            )
        else:
            shown = f"{v.value:.3g} [{v.low:.3g}, {v.high:.3g}]"
        lines += wrap(f"  implied {imp.fault} ({imp.group}): {shown}: {imp.how}")
    lines += [f"  note: {n}" for n in le.notes]
    lines.append("")
    lines.append("fitted fields written:")
    lines += [f"  {a}" for a in cal.applied]
    for w in cal.warnings:
        lines += wrap(f"WARNING {w}")
    return lines


def _summary_table(cal: Calibration) -> list[str]:
    cells = [("quantity", "value", "95% CI", "unit")]
    for r in cal.summary_rows():
        cells.append(
            (
                r["quantity"],
                number(r["value"]),
                f"[{number(r['low'])}, {number(r['high'])}]",
                r["unit"],
            )
        )
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    out = []
    for k, row in enumerate(cells):
        out.append(
            "  ".join(
                [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2]), row[3]]
            ).rstrip()
        )
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def write_plots(cal: Calibration, folder: Path) -> list[Path]:
    from simulator.plots.calibration import fit_ecdf, qq
    from simulator.plots.files import save_png

    written = []
    for wf in cal.workloads:
        written.append(
            save_png(
                fit_ecdf(wf.work, title=f"{wf.name} work"), folder / f"{wf.name}-work-ecdf.png"
            )
        )
        written.append(
            save_png(qq(wf.work, title=f"{wf.name} work"), folder / f"{wf.name}-work-qq.png")
        )
    return written


def execute(args: argparse.Namespace) -> int:
    from simulator.calibration.calibrate import fit_observed

    if args.plots:  # a bad folder fails before any work, as for run and sweep
        plots_option.prepare(args.plots)
    out: Path = args.out
    if out.parent and not out.parent.exists():
        raise LeasesimError(
            FILE_ERROR,
            f"{out}: the folder {out.parent} does not exist.",
            [
                {
                    "field": "--out",
                    "message": f"the folder {out.parent} does not exist.",
                    "file": str(out),
                    "line": None,
                }
            ],
        )
    from simulator.scenario.files import refuse_overwrite

    inputs = [Path(args.observed), *([Path(args.scenario)] if args.scenario else [])]
    refuse_overwrite(out, inputs, "--out")
    cal = fit_observed(args.observed, args.scenario, faults=not args.no_faults)
    written = cal.save(out)
    figures = write_plots(cal, args.plots) if args.plots else []
    if args.json:
        emit({"success": True, "data": _json(cal, written, figures)})
        return EXIT_OK
    print("\n".join(describe(cal)))
    print()
    print("\n".join(_summary_table(cal)))
    print(f"\nfitted scenario written to {written}")
    if figures:
        print(f"figures written to {args.plots}/: {', '.join(p.name for p in figures)}")
    sys.stdout.flush()
    return EXIT_OK


def _json(cal: Calibration, written: Path, figures: list[Path]) -> dict[str, Any]:
    def cand(c: Any) -> dict[str, Any]:
        return {
            "name": c.name,
            "parameters": {k: v.__dict__ for k, v in c.parameters.items()},
            "median": c.median.__dict__,
            "p95": c.p95.__dict__,
            "ks": c.ks,
            "anderson_darling": c.ad,
            "ad_pvalue": c.ad_pvalue,
            "rejected": c.rejected,
            "aic": c.aic,
        }

    le = cal.leases
    return {
        "observed": cal.observed.source,
        "attempts": len(cal.observed.attempts),
        "tasks": cal.observed.tasks,
        "span_s": cal.observed.span,
        "workloads": [
            {
                "name": wf.name,
                "candidates": [cand(c) for c in wf.work.candidates],
                "chosen": wf.work.chosen.name,
                "reason": wf.work.reason,
                "arrival_rate_per_s": wf.arrivals.rate.__dict__,
                "dispersion": wf.arrivals.dispersion,
                "dispersion_pvalue": wf.arrivals.dispersion_pvalue,
                "poisson_plausible": wf.arrivals.poisson_plausible,
                "warnings": wf.arrivals.warnings,
            }
            for wf in cal.workloads
        ],
        "leases": {
            "attempt_hours": le.attempt_hours,
            "losses": le.losses,
            "per_attempt_hour": le.rate.__dict__,
            "ack_timeouts": le.ack_losses,
            "ack_share": le.ack_share.__dict__,
            "false_known": le.false_known,
            "false_reassignments": le.false_losses,
            "crash_losses": le.crash_losses,
            "implied": [
                {"group": i.group, "fault": i.fault, **i.value.__dict__, "how": i.how}
                for i in le.implied
            ],
        },
        "applied": cal.applied,
        "warnings": cal.warnings,
        "scenario": str(written),
        "figures": [str(p) for p in figures],
        "rows": [
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in r.items()
            }
            for r in cal.summary_rows()
        ],
    }
