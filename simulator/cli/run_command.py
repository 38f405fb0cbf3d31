"""`leasesim run`: a scenario's replications, summarised as means with 95% confidence intervals."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from simulator.cli.arguments import EXIT_OK, SET_HELP, whole_number
from simulator.cli.output import emit, plural, progress, table, table_notes, warning_dict
from simulator.errors import INTERRUPTED, RUN_ERROR, USAGE_ERROR, LeasesimError
from simulator.experiments.runs import run
from simulator.experiments.scenario import load_scenario_with_source
from simulator.results.metrics import METRICS
from simulator.results.stats import summarize_replications
from simulator.units import format_duration
from simulator.versions import leasesim_version


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "run", help="run a scenario's replications and print a summary table",
        description="Run a scenario's replications and print each summary metric's mean and "
        "95% confidence interval (Student t over the replications).",
        epilog="example:\n  leasesim run scenarios/gc-pauses.yaml -n 10 --seed 7 "
        "--set fleet.etl.progress_interval=30s --out results/gc",
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
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="save each replication's tables, summary.json, scenario.json and "
                   "meta.json under DIR/rep-000/, DIR/rep-001/, ... as soon as it finishes")
    p.add_argument("--json", action="store_true",
                   help='print one JSON document, {"success": true, "data": {...}}, instead of '
                   "the table (errors too, as {\"success\": false, \"error\": {...}})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    return p


def _prepare_out(out: Path, n: int) -> list[str]:
    """Create the --out folder before any run; warnings about what it already holds."""
    if out.exists() and not out.is_dir():
        raise LeasesimError(USAGE_ERROR, f"--out {out}: this is a file; --out takes a folder.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeasesimError(
            USAGE_ERROR, f"--out {out}: the folder cannot be created ({exc.strerror or exc})."
        ) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise LeasesimError(USAGE_ERROR, f"--out {out}: the folder is not writable.")
    # Folders this run reaches are replaced whole; any beyond it would mix two runs' results.
    stale = sorted(
        p.name for p in out.glob("rep-[0-9][0-9][0-9]") if p.is_dir() and int(p.name[4:]) >= n
    )
    if not stale:
        return []
    return [
        f"--out {out} already holds {_reps(stale)} from an earlier run, which this run of "
        f"{plural(n, 'replication')} does not replace; remove them to keep runs apart."
    ]


def _reps(names: Sequence[str]) -> str:
    """A list of folder names, shortened: rep-000, or rep-000 .. rep-004."""
    return names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"


def _kept(saved: list[str], out: Path | None) -> str:
    if out is None:
        return "nothing was saved (use --out DIR to keep finished replications)"
    if not saved:
        return f"no replication had finished, so nothing was saved under {out}"
    return (
        f"{plural(len(saved), 'finished replication')} kept under {out} "
        f"({_reps([Path(s).name for s in saved])})"
    )


def execute(args: argparse.Namespace) -> int:
    loaded = load_scenario_with_source(args.scenario, overrides=args.overrides)
    scenario = loaded.scenario
    n = scenario.replications if args.replications is None else args.replications
    seed = scenario.seed if args.seed is None else args.seed
    notes = [asdict(w) for w in loaded.warnings()]
    shown = [str(w) for w in loaded.warnings()]
    if args.out is not None:
        for text in _prepare_out(args.out, n):
            notes.append(warning_dict("--out", text))
            shown.append(text)
    if not args.json:
        for text in shown:
            print(f"warning: {text}", file=sys.stderr)
    bar = progress(n, not args.quiet and not args.json and sys.stderr.isatty())
    started = time.perf_counter()
    summaries: list[dict[str, float]] = []
    saved: list[str] = []
    try:
        for i in range(n):
            result = run(scenario, seed=seed, replication=i)
            summaries.append(result.summary)
            if args.out is not None:
                # Saved as soon as it finishes: an interrupted run keeps every finished replication.
                target = args.out / f"rep-{i:03d}"
                try:
                    saved.append(str(result.save(target)))
                except OSError as exc:
                    raise LeasesimError(
                        RUN_ERROR,
                        f"cannot save replication {i} under {target}: {exc.strerror or exc}; "
                        f"{_kept(saved, args.out)}.",
                        [{"saved": saved}],
                    ) from None
            if bar is not None:
                bar.update()
    except KeyboardInterrupt:
        message = (
            f"interrupted after {len(summaries)} of {plural(n, 'replication')}; "
            f"{_kept(saved, args.out)}."
        )
        details = [{"finished": len(summaries), "requested": n, "saved": saved}]
        raise LeasesimError(INTERRUPTED, message, details) from None
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - started
    frame = summarize_replications(summaries)
    if args.json:
        records = frame.to_dict(orient="records")
        for record in records:
            record["unit"] = METRICS[record["metric"]].unit if record["metric"] in METRICS else ""
        emit({
            "success": True,
            "data": {
                "scenario": scenario.name, "file": str(args.scenario), "seed": seed,
                "replications": n, "overrides": list(args.overrides),
                "duration_s": scenario.duration, "wall_time_s": wall, "version": leasesim_version(),
                "summary": records, "replication_summaries": summaries,
                "warnings": notes, "saved": saved,
            },
        })  # fmt: skip
        return EXIT_OK
    print(f"{scenario.name}: {plural(n, 'replication')} of {format_duration(scenario.duration)} "
          f"simulated time, seed {seed} (wall time {wall:.2f} s)")  # fmt: skip
    if scenario.description:
        print(scenario.description.strip().splitlines()[0])
    if args.overrides:
        print(f"overrides: {' '.join(args.overrides)}")
    print()
    print(table(frame))
    notes_text = table_notes(frame, n)
    if notes_text:
        print()
        print("\n".join(notes_text))
    if saved:
        print(f"\nresults saved under {args.out}/ ({_reps([Path(s).name for s in saved])})")
    return EXIT_OK
