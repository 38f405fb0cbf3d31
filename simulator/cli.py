"""The `leasesim` command: argument parsing and printing only; every command calls the Python API.

Exit status: 0 success, 1 a run failed, 2 invalid input (scenario, flags), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.experiments.runs import run
from simulator.experiments.scenario import load_scenario_with_source
from simulator.results.metrics import METRICS
from simulator.results.stats import summarize_replications
from simulator.units import format_duration

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as LeasesimError (exit 2, JSON envelope if asked)."""

    def error(self, message: str) -> NoReturn:
        raise LeasesimError(USAGE_ERROR, f"{self.prog}: {message} (see `{self.prog} --help`)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="leasesim",
        description="Simulate AWS Data Pipeline task leases: reassignments, duplicate work and "
        "waiting, for fleets of task runners under faults.",
        epilog="Examples:\n"
        "  leasesim run scenarios/aws-defaults.yaml\n"
        "  leasesim run scenarios/gc-pauses.yaml -n 10 --set fleet.etl.progress_interval=30s\n"
        "  leasesim validate scenarios/\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "run", help="run a scenario and print its summary",
        description="Run a scenario's replications and print each summary metric's mean and "
        "95%% confidence interval (Student t over replications).",
    )  # fmt: skip
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (YAML)")
    p.add_argument("-n", "--replications", type=int, metavar="REPS",
                   help="number of replications (default: the scenario's `replications`)")
    p.add_argument("--seed", type=int, metavar="N", help="seed (default: the scenario's `seed`)")
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                   help="override a scenario field, e.g. fleet.etl.progress_interval=30s "
                   "(list entries by name; repeatable)")
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="save each replication's tables and summary under DIR/rep-NNN/")
    p.add_argument("--json", action="store_true", help='print {"success": ..., "data": ...}')
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    v = sub.add_parser("validate", help="check scenario files without running them",
                       description="Validate scenario files (or every *.yaml in a folder).")
    v.add_argument("paths", nargs="+", metavar="SCENARIO", help="files or folders")
    v.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides")
    v.add_argument("--json", action="store_true")
    return parser


# --- formatting ----------------------------------------------------------------------------------


def _number(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.1f}"
    return f"{x:.4g}"


def _table(frame: Any) -> str:
    """The replication summary as an aligned text table."""
    rows = [("metric", "mean", "95% CI", "n", "unit")]
    for r in frame.itertuples(index=False):
        ci = "" if math.isnan(r.half_width) else f"[{_number(r.ci_low)}, {_number(r.ci_high)}]"
        unit = METRICS[r.metric].unit if r.metric in METRICS else ""
        rows.append((r.metric, _number(r.mean), ci, str(r.n), unit))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2]),
                 row[3].rjust(widths[3]), row[4]]  # fmt: skip
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _emit(payload: dict[str, Any]) -> None:
    print(json.dumps(_json_safe(payload), indent=2))


# --- commands ------------------------------------------------------------------------------------


def _progress(total: int, enabled: bool) -> Any:
    if not enabled or total < 2:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, unit="rep", desc="replications", file=sys.stderr, leave=False)


def _cmd_run(args: argparse.Namespace) -> int:
    loaded = load_scenario_with_source(args.scenario, overrides=args.overrides)
    scenario, notes = loaded.scenario, loaded.warnings()
    if not args.json:
        for w in notes:
            print(f"warning: {w}", file=sys.stderr)
    n = args.replications if args.replications is not None else scenario.replications
    if n < 1:
        raise LeasesimError(USAGE_ERROR, f"-n/--replications must be at least 1, got {n}")
    seed = scenario.seed if args.seed is None else args.seed
    if seed < 0:
        raise LeasesimError(USAGE_ERROR, f"--seed must be a non-negative integer, got {seed}")
    bar = _progress(n, not args.quiet and not args.json and sys.stderr.isatty())
    started = time.perf_counter()
    summaries, saved = [], []
    try:
        for i in range(n):
            result = run(scenario, seed=seed, replication=i)
            summaries.append(result.summary)
            if args.out is not None:
                # Saved as soon as it finishes: an interrupted run keeps every finished replication.
                saved.append(str(result.save(args.out / f"rep-{i:03d}")))
            if bar is not None:
                bar.update()
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
        kept = f"; {len(saved)} finished replication(s) are saved under {args.out}" if saved else ""
        print(f"interrupted after {len(summaries)} of {n} replications{kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - started
    frame = summarize_replications(summaries)
    if args.json:
        _emit({
            "success": True,
            "data": {
                "scenario": scenario.name, "seed": seed, "replications": n,
                "duration_s": scenario.duration, "wall_time_s": wall,
                "summary": frame.to_dict(orient="records"),
                "replication_summaries": summaries,
                "warnings": [asdict(w) for w in notes], "saved": saved,
            },
        })  # fmt: skip
        return EXIT_OK
    print(f"{scenario.name}: {n} replication(s) of {format_duration(scenario.duration)} "
          f"simulated, seed {seed} ({wall:.1f} s)")  # fmt: skip
    if scenario.description:
        print(scenario.description.strip().splitlines()[0])
    print()
    print(_table(frame))
    if saved:
        print(f"\nresults saved under {args.out}/ (one folder per replication)")
    return EXIT_OK


def _scenario_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
            if not found:
                raise LeasesimError(USAGE_ERROR, f"{p}: the folder holds no *.yaml scenario files")
            files.extend(found)
        else:
            files.append(p)
    return files


def _cmd_validate(args: argparse.Namespace) -> int:
    report, failed = [], False
    for path in _scenario_files(args.paths):
        try:
            loaded = load_scenario_with_source(path, overrides=args.overrides)
        except LeasesimError as err:
            failed = True
            report.append({"file": str(path), "valid": False, "error": err.to_dict()})
            if not args.json:
                print(f"{path}: invalid\n{err}\n", file=sys.stderr)
            continue
        scenario, notes = loaded.scenario, loaded.warnings()
        report.append({"file": str(path), "valid": True, "warnings": [asdict(w) for w in notes]})
        if not args.json:
            print(f"{path}: ok ({scenario.name})")
            for w in notes:
                print(f"  warning: {w}")
    if args.json:
        payload: dict[str, Any] = {"success": not failed, "data": report}
        if failed:
            payload["error"] = {"code": "VALIDATION_ERROR",
                                "message": "one or more scenario files are invalid",
                                "details": report}  # fmt: skip
        _emit(payload)
    return EXIT_INVALID if failed else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    want_json = "--json" in argv
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            _parser().print_help()
            return EXIT_INVALID
        if args.command == "run":
            return _cmd_run(args)
        return _cmd_validate(args)
    except LeasesimError as err:
        if want_json:
            _emit({"success": False, "error": err.to_dict()})
        else:
            print(f"error: {err}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
