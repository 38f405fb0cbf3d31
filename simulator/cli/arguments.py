"""What every `leasesim` command shares: exit statuses and argument types that fail cleanly."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from simulator.errors import INTERRUPTED, RUN_ERROR, USAGE_ERROR, LeasesimError
from simulator.units import UnitError, parse_number

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_FOR_CODE = {RUN_ERROR: EXIT_FAILED, INTERRUPTED: EXIT_INTERRUPTED}  # others: invalid input


class UsageError(LeasesimError):
    """A command-line mistake found by argparse, with the usage line of the command it concerns."""

    def __init__(self, prog: str, message: str, usage: str) -> None:
        super().__init__(USAGE_ERROR, f"{prog}: {message} (see `{prog} --help`)")
        self.usage = usage


class Parser(argparse.ArgumentParser):
    """argparse that raises its usage errors (exit 2, JSON envelope if asked) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(self.prog, message, self.format_usage().strip())


def whole_number(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer >= minimum, with a message naming what it counts."""

    def parse(text: str) -> int:
        try:
            value = int(text)
            parse_number(text)  # int() reads full-width digits ('１０') too; parse_number does not
        except UnitError as exc:
            raise argparse.ArgumentTypeError(f"expected {what}: {exc}") from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


def plain_number(text: str) -> float:
    """An argparse type: a plain number, without the look-alike digits float() also reads."""
    try:
        return parse_number(text)
    except UnitError as exc:
        raise argparse.ArgumentTypeError(f"expected a number: {exc}") from None


SET_HELP = (
    "override one scenario field by its path, e.g. duration=2h, "
    "fleet.etl.progress_interval=30s or service.lease_reading=5min; list entries (fleet, "
    "workload) are selected by name; VALUE is YAML, so '{dist: fixed, value: 3s}' works; "
    "repeatable"
)


ALLOW_OUTSIDE_HELP = (
    "let the scenario files read and write files outside their own folder (check.baseline, "
    "empirical/profile/trace file: paths, also when set by --set); without it a path that "
    "leaves a scenario's folder, even through a symbolic link, is an error. Give it only for "
    "scenarios you trust"
)


def add_allow_outside(p: argparse.ArgumentParser) -> None:
    """--allow-outside, on every command that loads scenario files (docs/scenarios.md)."""
    p.add_argument("--allow-outside", action="store_true", help=ALLOW_OUTSIDE_HELP)
