"""`leasesim validate`: check scenario files (or folders of them) without running anything."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from simulator.cli.arguments import EXIT_INVALID, EXIT_OK
from simulator.cli.output import emit, plural
from simulator.errors import USAGE_ERROR, VALIDATION_ERROR, LeasesimError, printable


def add_parser(sub: Any) -> argparse.ArgumentParser:
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
    return v


def _scenario_files(paths: Sequence[str]) -> list[tuple[Path, LeasesimError | None]]:
    """Each file to check once (folders expanded), or the error that stops it being checked."""
    from simulator.scenario.files import listed_scenarios  # when run, not when parsing flags

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
        files = listed_scenarios(p)  # entries leaving the folder come with their error
        if not files:
            message = f"{p}: the folder holds no *.yaml or *.yml scenario files."
            detail = {"field": None, "message": message, "file": str(p), "line": None}
            add(p, LeasesimError(USAGE_ERROR, message, [detail]))
        for file, refused in files:
            add(file, refused)
    return found


def execute(args: argparse.Namespace) -> int:
    from simulator.scenario.load import load_scenario_with_source  # to check, not to parse

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
                shown = printable(path)  # a name found by listing a folder is a stranger's
                print(f"{shown}: invalid\n{textwrap.indent(str(error), '  ')}", file=sys.stderr)
            continue
        notes = loaded.warnings()
        report.append({
            "file": str(path), "valid": True, "scenario": loaded.scenario.name,
            "warnings": [asdict(w) for w in notes],
        })  # fmt: skip
        if not args.json:
            print(f"{printable(path)}: ok ({printable(loaded.scenario.name)})")  # one line
            for w in notes:
                print(f"  warning: {w}")
    total, bad = len(report), len(failures)
    if args.json:
        if not failures:
            emit({"success": True, "data": {"files": report, "valid": total, "invalid": 0}})
            return EXIT_OK
        raise _validation_failure(report, failures)
    if failures:
        sys.stdout.flush()
        print(f"\n{bad} of {plural(total, 'file')} invalid", file=sys.stderr)
        return EXIT_INVALID
    print(f"\n{plural(total, 'file')} valid")
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
        f"{len(bad_files)} of {plural(len(report), 'scenario file')} "
        f"{'is' if len(bad_files) == 1 else 'are'} invalid: {', '.join(bad_files)}."
    )
    return LeasesimError(code, message, details)
