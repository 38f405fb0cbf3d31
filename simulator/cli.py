"""The `leasesim` command: argument parsing and printing only; every command calls the Python API.

Exit status: 0 success, 1 a run failed, 2 invalid input (scenario, flags), 130 interrupted.
With --json, stdout holds exactly one JSON document, {"success": true, "data": {...}} or
{"success": false, "error": {"code": ..., "message": ..., "details": [...]}}; no traceback is
ever printed (set LEASESIM_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NoReturn

from simulator.errors import (
    INTERRUPTED,
    RUN_ERROR,
    USAGE_ERROR,
    VALIDATION_ERROR,
    LeasesimError,
)
from simulator.experiments.runs import run
from simulator.experiments.scenario import load_scenario_with_source
from simulator.results.metrics import METRICS
from simulator.results.stats import summarize_replications
from simulator.units import format_duration
from simulator.versions import leasesim_version

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130
_EXIT_FOR_CODE = {RUN_ERROR: EXIT_FAILED, INTERRUPTED: EXIT_INTERRUPTED}  # others: invalid input


# --- arguments -----------------------------------------------------------------------------------


class _UsageError(LeasesimError):
    """A command-line mistake found by argparse, with the usage line of the command it concerns."""

    def __init__(self, prog: str, message: str, usage: str) -> None:
        super().__init__(USAGE_ERROR, f"{prog}: {message} (see `{prog} --help`)")
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """argparse that raises its usage errors (exit 2, JSON envelope if asked) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(self.prog, message, self.format_usage().strip())


def _whole_number(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer >= minimum, with a message naming what it counts."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


_EPILOG = """\
examples:
  leasesim run scenarios/aws-defaults.yaml
  leasesim run scenarios/gc-pauses.yaml -n 10 --set fleet.etl.progress_interval=30s
  leasesim run scenarios/aws-defaults.yaml --set service.lease_reading=5min --out results/5min
  leasesim validate scenarios/

exit status: 0 success, 1 a run failed, 2 invalid input (scenario file or flags), 130 interrupted.
Run `leasesim COMMAND --help` for a command's options.
"""

_SET_HELP = (
    "override one scenario field by its path, e.g. duration=2h, "
    "fleet.etl.progress_interval=30s or service.lease_reading=5min; list entries (fleet, "
    "workload) are selected by name; VALUE is YAML, so '{dist: fixed, value: 3s}' works; "
    "repeatable"
)


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and its subcommands' parsers by name."""
    parser = _Parser(
        prog="leasesim",
        description="Simulate AWS Data Pipeline task leases: reassignments, duplicate work and "
        "waiting, for fleets of task runners under faults.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {leasesim_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser(
        "run", help="run a scenario's replications and print a summary table",
        description="Run a scenario's replications and print each summary metric's mean and "
        "95% confidence interval (Student t over the replications).",
        epilog="example:\n  leasesim run scenarios/gc-pauses.yaml -n 10 --seed 7 "
        "--set fleet.etl.progress_interval=30s --out results/gc",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("scenario", metavar="SCENARIO", help="scenario file (YAML)")
    p.add_argument("-n", "--replications", type=_whole_number(1, "a whole number >= 1"),
                   metavar="REPS",
                   help="number of independent replications (default: the scenario's "
                   "`replications`)")  # fmt: skip
    p.add_argument("--seed", type=_whole_number(0, "a whole number >= 0"), metavar="N",
                   help="seed; replication i uses streams derived from (N, i), so the same seed "
                   "gives the same results (default: the scenario's `seed`)")  # fmt: skip
    p.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                   help=_SET_HELP)
    p.add_argument("--out", metavar="DIR", type=Path,
                   help="save each replication's tables, summary.json, scenario.json and "
                   "meta.json under DIR/rep-000/, DIR/rep-001/, ... as soon as it finishes")
    p.add_argument("--json", action="store_true",
                   help='print one JSON document, {"success": true, "data": {...}}, instead of '
                   "the table (errors too, as {\"success\": false, \"error\": {...}})")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    v = sub.add_parser(
        "validate", help="check scenario files without running them",
        description="Check scenario files (or every *.yaml / *.yml in a folder) and print their "
        "warnings, without running anything. Exit status 2 if any file is invalid.",
    )  # fmt: skip
    v.add_argument("paths", nargs="+", metavar="SCENARIO", help="scenario files or folders")
    v.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", dest="overrides",
                   help="apply this override to every file before checking it (repeatable)")
    v.add_argument("--json", action="store_true",
                   help="print one JSON document with every file's result")
    return parser, {"run": p, "validate": v}


def _unrecognized(extra: Sequence[str], parser: argparse.ArgumentParser) -> str:
    """argparse's "unrecognized arguments" message, with a suggestion for a mistyped option."""
    message = f"unrecognized arguments: {' '.join(extra)}"
    options = [s[2:] for a in parser._actions for s in a.option_strings if s.startswith("--")]
    for word in extra:
        if word.startswith("-"):
            name = word.lstrip("-").split("=", 1)[0]
            close = difflib.get_close_matches(name, options, n=1, cutoff=0.7)
            if close:
                return f"{message} (did you mean --{close[0]}?)"
    return message


# --- formatting ----------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _number(x: float | None) -> str:
    """About four significant digits, thousands separated; "-" for no value."""
    if x is None or math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"  # also for -0.0
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.4g}"


def _table(frame: Any) -> str:
    """The replication summary as an aligned text table: metric, mean, 95% CI, n, unit."""
    rows = []
    for r in frame.itertuples(index=False):
        ci = None if math.isnan(r.half_width) else (_number(r.ci_low), _number(r.ci_high))
        unit = METRICS[r.metric].unit if r.metric in METRICS else ""
        rows.append((r.metric, _number(r.mean), ci, str(r.n), unit))
    intervals = [r[2] for r in rows if r[2] is not None]
    low_w = max((len(low) for low, _ in intervals), default=0)
    high_w = max((len(high) for _, high in intervals), default=0)
    cells = [("metric", "mean", "95% CI", "n", "unit")]
    for name, mean, ci, n, unit in rows:
        shown = f"[{ci[0]:>{low_w}}, {ci[1]:>{high_w}}]" if ci else ""
        cells.append((name, mean, shown, n, unit))
    widths = [max(len(row[i]) for row in cells) for i in range(5)]
    lines = []
    for k, row in enumerate(cells):
        line = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), row[2].ljust(widths[2]),
                row[3].rjust(widths[3]), row[4]]  # fmt: skip
        lines.append("  ".join(line).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _table_notes(frame: Any, replications: int) -> list[str]:
    """Footnotes for what the table cannot show: intervals from one value, metrics with none."""
    notes = []
    if replications < 2:
        notes.append("one replication: no confidence intervals (use -n 2 or more).")
    elif (frame["n"] < 2).any():
        notes.append("n counts the replications where a metric has a value; an interval needs 2.")
    if frame["mean"].isna().any():
        notes.append("- : no value in any replication (e.g. a mean over no events).")
    return notes


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _emit(payload: dict[str, Any]) -> None:
    """Print one JSON document on stdout (NaN and infinities as null)."""
    print(json.dumps(_json_safe(payload), indent=2, default=_json_default, allow_nan=False))


def _warning_dict(field: str | None, message: str) -> dict[str, Any]:
    return {"field": field, "message": message, "file": None, "line": None}


# --- run -----------------------------------------------------------------------------------------


def _progress(total: int, enabled: bool) -> Any:
    if not enabled or total < 2:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, unit="rep", desc="replications", file=sys.stderr, leave=False)


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
        f"{_plural(n, 'replication')} does not replace; remove them to keep runs apart."
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
        f"{_plural(len(saved), 'finished replication')} kept under {out} "
        f"({_reps([Path(s).name for s in saved])})"
    )


def _cmd_run(args: argparse.Namespace) -> int:
    loaded = load_scenario_with_source(args.scenario, overrides=args.overrides)
    scenario = loaded.scenario
    n = scenario.replications if args.replications is None else args.replications
    seed = scenario.seed if args.seed is None else args.seed
    notes = [asdict(w) for w in loaded.warnings()]
    shown = [str(w) for w in loaded.warnings()]
    if args.out is not None:
        for text in _prepare_out(args.out, n):
            notes.append(_warning_dict("--out", text))
            shown.append(text)
    if not args.json:
        for text in shown:
            print(f"warning: {text}", file=sys.stderr)
    bar = _progress(n, not args.quiet and not args.json and sys.stderr.isatty())
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
            f"interrupted after {len(summaries)} of {_plural(n, 'replication')}; "
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
        _emit({
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
    print(f"{scenario.name}: {_plural(n, 'replication')} of {format_duration(scenario.duration)} "
          f"simulated time, seed {seed} (wall time {wall:.2f} s)")  # fmt: skip
    if scenario.description:
        print(scenario.description.strip().splitlines()[0])
    if args.overrides:
        print(f"overrides: {' '.join(args.overrides)}")
    print()
    print(_table(frame))
    notes_text = _table_notes(frame, n)
    if notes_text:
        print()
        print("\n".join(notes_text))
    if saved:
        print(f"\nresults saved under {args.out}/ ({_reps([Path(s).name for s in saved])})")
    return EXIT_OK


# --- validate ------------------------------------------------------------------------------------


def _scenario_files(paths: Sequence[str]) -> list[tuple[Path, LeasesimError | None]]:
    """Each file to check once (folders expanded), or the error that stops it being checked."""
    found: list[tuple[Path, LeasesimError | None]] = []
    seen: set[Path] = set()

    def add(path: Path, error: LeasesimError | None = None) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            found.append((path, error))

    for p in map(Path, paths):
        if not p.is_dir():
            add(p)
            continue
        files = sorted([*p.glob("*.yaml"), *p.glob("*.yml")])
        if not files:
            message = f"{p}: the folder holds no *.yaml or *.yml scenario files."
            detail = {"field": None, "message": message, "file": str(p), "line": None}
            add(p, LeasesimError(USAGE_ERROR, message, [detail]))
        for file in files:
            add(file)
    return found


def _cmd_validate(args: argparse.Namespace) -> int:
    report: list[dict[str, Any]] = []
    failures: list[LeasesimError] = []
    for path, error in _scenario_files(args.paths):
        if error is None:
            try:
                loaded = load_scenario_with_source(path, overrides=args.overrides)
            except LeasesimError as err:
                error = err
        if error is not None:
            failures.append(error)
            report.append({"file": str(path), "valid": False, "error": error.to_dict()})
            if not args.json:
                sys.stdout.flush()  # keep stdout and stderr lines in order
                print(f"{path}: invalid\n{textwrap.indent(str(error), '  ')}", file=sys.stderr)
            continue
        notes = loaded.warnings()
        report.append({
            "file": str(path), "valid": True, "scenario": loaded.scenario.name,
            "warnings": [asdict(w) for w in notes],
        })  # fmt: skip
        if not args.json:
            print(f"{path}: ok ({loaded.scenario.name})")
            for w in notes:
                print(f"  warning: {w}")
    total, bad = len(report), len(failures)
    if args.json:
        if not failures:
            _emit({"success": True, "data": {"files": report, "valid": total, "invalid": 0}})
            return EXIT_OK
        raise _validation_failure(report, failures)
    if failures:
        sys.stdout.flush()
        print(f"\n{bad} of {_plural(total, 'file')} invalid", file=sys.stderr)
        return EXIT_INVALID
    print(f"\n{_plural(total, 'file')} valid")
    return EXIT_OK


def _validation_failure(
    report: list[dict[str, Any]], failures: list[LeasesimError]
) -> LeasesimError:
    """The error `validate --json` reports: every problem of every invalid file, with its file."""
    bad_files = [entry["file"] for entry in report if not entry["valid"]]
    details: list[dict[str, Any]] = []
    for file, err in zip(bad_files, failures, strict=True):
        entries = err.details or [{"field": None, "message": err.message, "line": None}]
        details += [{"code": err.code, **e, "file": e.get("file") or file} for e in entries]
    codes = {err.code for err in failures}
    code = codes.pop() if len(codes) == 1 else VALIDATION_ERROR
    message = (
        f"{len(bad_files)} of {_plural(len(report), 'scenario file')} "
        f"{'is' if len(bad_files) == 1 else 'are'} invalid: {', '.join(bad_files)}."
    )
    return LeasesimError(code, message, details)


# --- entry point ---------------------------------------------------------------------------------

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _cmd_run,
    "validate": _cmd_validate,
}


def _report(err: LeasesimError, as_json: bool) -> int:
    """Print an error (as the JSON envelope, or as text on stderr); its exit status."""
    if as_json:
        _emit({"success": False, "error": err.to_dict()})
    elif err.code == INTERRUPTED:
        print(err.message, file=sys.stderr)
    else:
        if isinstance(err, _UsageError):
            print(err.usage, file=sys.stderr)
        print(f"error: {err}", file=sys.stderr)
    return _EXIT_FOR_CODE.get(err.code, EXIT_INVALID)


def _silence_stdout() -> None:
    """After a broken pipe (e.g. `leasesim run ... | head`): no second error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced, e.g. under a test harness
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `leasesim` command with `argv` (default: sys.argv[1:]); its exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv  # until parsing succeeds, so that usage errors can honour it
    try:
        parser, commands = _parser()
        try:
            args, extra = parser.parse_known_args(argv)
        except SystemExit as exc:  # --help or --version: printed already
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        command = commands.get(args.command, parser)
        if extra:
            command.error(_unrecognized(extra, command))
        as_json = bool(getattr(args, "json", as_json))
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_INVALID
        return _COMMANDS[args.command](args)
    except LeasesimError as err:
        return _report(err, as_json)
    except KeyboardInterrupt:
        return _report(LeasesimError(INTERRUPTED, "interrupted"), as_json)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILED
    except Exception as exc:
        if os.environ.get("LEASESIM_DEBUG"):
            raise
        message = (
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in leasesim; please "
            "report it with the scenario file (set LEASESIM_DEBUG=1 to see the traceback)."
        )
        return _report(LeasesimError(RUN_ERROR, message), as_json)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
