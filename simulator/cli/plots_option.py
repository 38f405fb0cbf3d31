"""`--plots DIR`: the figures of a command's first replication, written as PNGs into a folder.

Shared by the commands that run a scenario. matplotlib is imported only when figures are asked
for, so a plain `leasesim run` starts as fast as before.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from simulator.errors import RUN_ERROR, USAGE_ERROR, LeasesimError

HELP = (
    "write the first replication's figures into DIR as PNG files: timeline.png and latency.png, "
    "plus overlap.png and detection.png when the run has duplicates or detected crashes "
    "(each file written atomically; see docs/figures.md)"
)


SWEEP_HELP = (
    "write the sweep's figures into DIR as PNG files: tradeoff.png (key metrics against the first "
    "swept parameter) and capacity.png (latency and API load against it); see docs/figures.md"
)


def add_argument(parser: argparse.ArgumentParser, help_text: str = HELP) -> None:
    parser.add_argument("--plots", metavar="DIR", type=Path, help=help_text)


def prepare(directory: Path) -> None:
    """Create the folder before any run, so that a bad path fails at once (exit 2)."""
    if directory.exists() and not directory.is_dir():
        raise LeasesimError(
            USAGE_ERROR, f"--plots {directory}: this is a file; --plots takes a folder."
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LeasesimError(
            USAGE_ERROR,
            f"--plots {directory}: the folder cannot be created ({exc.strerror or exc}).",
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise LeasesimError(USAGE_ERROR, f"--plots {directory}: the folder is not writable.")


def write(result: Any, directory: Path) -> list[str]:
    """Write the run's figures; the files written."""
    from simulator.plots import write_run_plots

    try:
        return [str(p) for p in write_run_plots(result, directory)]
    except OSError as exc:
        raise LeasesimError(
            RUN_ERROR, f"cannot write the figures under {directory}: {exc.strerror or exc}."
        ) from None


def write_first(scenario: Any, seed: int, directory: Path) -> list[str]:
    """Run replication 0 again (same seed, so the same numbers) and write its figures.

    Replications may run in other processes and keep only their summaries; running the first
    one here costs one replication and keeps its tables out of every worker's way.
    """
    from simulator.experiments.runs import run

    return write(run(scenario, seed=seed, replication=0), directory)


def write_sweep(frame: Any, directory: Path) -> list[str]:
    """Write a sweep's trade-off and capacity figures (for `leasesim sweep --plots DIR`)."""
    from simulator.plots import write_sweep_plots

    try:
        return [str(p) for p in write_sweep_plots(frame, directory)]
    except OSError as exc:
        raise LeasesimError(
            RUN_ERROR, f"cannot write the figures under {directory}: {exc.strerror or exc}."
        ) from None
