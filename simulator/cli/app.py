"""The `leasesim` command: argument parsing and printing only; every command calls the Python API.

Exit status: 0 success, 1 a run failed, 2 invalid input (scenario, flags), 130 interrupted.
With --json, stdout holds exactly one JSON document, {"success": true, "data": {...}} or
{"success": false, "error": {"code": ..., "message": ..., "details": [...]}}; no traceback is
ever printed (set LEASESIM_DEBUG=1 to see one for an internal error).

Each command is a module with `add_parser(subparsers)` and `execute(args) -> exit status`.
Building the parser imports argparse and light modules only, so `--version` and `--help` start
at once; the simulation (numpy, pandas, scipy, simpy, matplotlib) is imported inside `execute`
(tests/test_cli_startup.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

from simulator.cli import (
    check_command,
    compare_command,
    fit_command,
    recommend_command,
    report_command,
    run_command,
    sweep_command,
    validate_command,
)
from simulator.cli.arguments import (
    EXIT_FAILED,
    EXIT_FOR_CODE,
    EXIT_INVALID,
    EXIT_OK,
    Parser,
    UsageError,
    add_allow_outside,
)
from simulator.cli.output import emit, safe_terminal
from simulator.errors import (
    INTERRUPTED,
    RUN_ERROR,
    LeasesimError,
    ScenarioWarning,
    closest,
    interrupted,
)
from simulator.versions import leasesim_version

COMMANDS: dict[str, ModuleType] = {
    "run": run_command, "sweep": sweep_command, "validate": validate_command,
    "report": report_command, "check": check_command, "recommend": recommend_command,
    "fit": fit_command, "compare": compare_command,
}

_EPILOG = """\
examples:
  leasesim run scenarios/aws-defaults.yaml
  leasesim run scenarios/gc-pauses.yaml -n 10 --set fleet.etl.progress_interval=30s
  leasesim run scenarios/aws-defaults.yaml --set service.lease_reading=5min --out results/5min
  leasesim sweep my-sweep.yaml -n 10 --out results/sweep   (a scenario with a sweep: block)
  leasesim validate scenarios/
  leasesim report scenarios/gc-pauses.yaml --out gc-pauses.html

exit status: 0 success, 1 a run failed, 2 invalid input (scenario file or flags), 130 interrupted.
Run `leasesim COMMAND --help` for a command's options.
"""



def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and its subcommands' parsers by name."""
    parser = Parser(
        prog="leasesim",
        description="Simulate AWS Data Pipeline task leases: reassignments, duplicate work and "
        "waiting, for fleets of task runners under faults.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {leasesim_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    parsers = {name: module.add_parser(sub) for name, module in COMMANDS.items()}
    for command in parsers.values():  # every command loads scenario files
        add_allow_outside(command)
    return parser, parsers


def _unrecognized(extra: Sequence[str], parser: argparse.ArgumentParser) -> str:
    """argparse's "unrecognized arguments" message, with a suggestion for a mistyped option."""
    message = f"unrecognized arguments: {' '.join(extra)}"
    options = [s[2:] for a in parser._actions for s in a.option_strings if s.startswith("--")]
    for word in extra:
        if word.startswith("-"):
            name = word.lstrip("-").split("=", 1)[0]
            close = closest(name, options, cutoff=0.7)
            if close is not None:
                return f"{message} (did you mean --{close}?)"
    return message


def _report(err: LeasesimError, as_json: bool) -> int:
    """Print an error (as the JSON envelope, or as text on stderr); its exit status."""
    if as_json:
        emit({"success": False, "error": err.to_dict()})
    elif err.code == INTERRUPTED:
        print(err.message, file=sys.stderr)
    else:
        if isinstance(err, UsageError):
            print(err.usage, file=sys.stderr)
        print(f"error: {err}", file=sys.stderr)
    return EXIT_FOR_CODE.get(err.code, EXIT_INVALID)


def _silence_stdout() -> None:
    """After a broken pipe (e.g. `leasesim run ... | head`): no second error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout replaced, e.g. under a test harness
        pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `leasesim` command with `argv` (default: sys.argv[1:]); its exit status."""
    try:
        with warnings.catch_warnings(), safe_terminal():  # names from files, control chars shown
            # Commands print a scenario's warnings their own way (stderr, or --json's document).
            warnings.simplefilter("ignore", ScenarioWarning)
            return _main(argv)
    except BrokenPipeError:  # even while reporting an error (e.g. `... --json | head`)
        _silence_stdout()
        return EXIT_FAILED


def _main(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in argv  # until parsing succeeds, so that usage errors can honour it
    try:
        parser, commands = build_parser()
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
        from simulator.cli.experiment_options import terminate_as_interrupt
        from simulator.scenario.files import outside_allowed

        # SIGTERM (a CI job cancelled, `kill`) stops any command as Ctrl-C does, exit status 130,
        # from the first line to the last: also while a scenario loads or the last lines print.
        with outside_allowed(args.allow_outside), terminate_as_interrupt():
            return COMMANDS[args.command].execute(args)
    except LeasesimError as err:
        return _report(err, as_json)
    except KeyboardInterrupt:
        return _report(LeasesimError(INTERRUPTED, "interrupted"), as_json)
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_FAILED
    except Exception as exc:
        if interrupted(exc):  # Ctrl-C or SIGTERM, reported by what it cut short (an import)
            return _report(LeasesimError(INTERRUPTED, "interrupted"), as_json)
        if os.environ.get("LEASESIM_DEBUG"):
            raise
        message = (
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in leasesim; please "
            "report it with the scenario file (set LEASESIM_DEBUG=1 to see the traceback)."
        )
        return _report(LeasesimError(RUN_ERROR, message), as_json)
