"""What `leasesim run` and `leasesim sweep` share: executor and precision options, warnings
printed as they arise, and how failed runs are reported."""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.cli.arguments import whole_number
from simulator.cli.output import plural, warning_dict
from simulator.errors import RUN_ERROR, USAGE_ERROR, LeasesimError
from simulator.experiments.executors import EXECUTORS  # light: names only
from simulator.units import parse_number

if TYPE_CHECKING:  # the rest of simulator.experiments is imported when a command runs
    from simulator.experiments.precision import Precision
    from simulator.experiments.runs import Failure


def add_executor_options(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--executor", choices=EXECUTORS, default=None,
                   help=f"where runs execute: serial (this process), processes (local worker "
                   f"processes, --workers of them) or dask (a cluster: --scheduler; without one, "
                   f"a local cluster). Default: {default}; results are the same with any")
    p.add_argument("--workers", type=whole_number(1, "a whole number >= 1"), metavar="N",
                   help="local worker processes (default: one per core); implies "
                   "--executor processes unless another is named")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler, e.g. tcp://HOST:8786 (implies --executor dask; needs "
                   "`pip install 'leasesim[dask]'`, and leasesim on every worker)")


def executor_of(args: argparse.Namespace, default: str) -> str:
    """The executor named by --executor, else implied by --scheduler / --workers, else default."""
    if args.executor is not None:
        if args.scheduler and args.executor != "dask":
            raise LeasesimError(USAGE_ERROR, f"--scheduler needs --executor dask, not "
                                f"--executor {args.executor}")  # fmt: skip
        return str(args.executor)
    if args.scheduler:
        return "dask"
    if args.workers is not None:
        return "processes"
    return default


def add_precision_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", action="append", default=[], metavar="METRIC",
                   help="add replications (in batches of -n) until this metric's 95%% CI "
                   "half-width meets --target, or --max-replications is reached (repeatable, or "
                   "comma-separated)")
    p.add_argument("--target", metavar="TARGET", default="5%",
                   help="half-width target for --precision: relative to the mean with %% "
                   "(default 5%%), or an absolute value in the metric's unit, e.g. 0.002")
    p.add_argument("--max-replications", type=whole_number(2, "a whole number >= 2"),
                   default=100, metavar="N",
                   help="replication cap for --precision (default 100)")


def precision_of(args: argparse.Namespace) -> Precision | None:
    from simulator.experiments.precision import Precision

    metrics = [m.strip() for text in args.precision for m in text.split(",") if m.strip()]
    if not metrics:
        return None
    text = str(args.target).strip()
    try:
        value = parse_number(text.rstrip("%"))  # not float(): it reads full-width digits
    except ValueError:
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise LeasesimError(USAGE_ERROR, f"--target: expected a positive number, relative with %"
                            f" (5%) or absolute (0.002), got {text!r}")  # fmt: skip
    relative = value / 100 if text.endswith("%") else None
    absolute = None if text.endswith("%") else value
    return Precision.of({"metrics": metrics, "relative": relative, "absolute": absolute,
                         "max_replications": args.max_replications})  # fmt: skip


def out_folder(text: str) -> Path:
    """--out DIR: a folder path; an empty one would silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty path (use . for the "
                                         "current folder)")  # fmt: skip
    return Path(text)


def _stop(signum: int, frame: Any) -> None:
    # The command ends now: what the stopped run built (millions of objects, in cycles that an
    # interrupted SimPy run leaves) is never collected but dropped with the process. Without
    # this the collector walked it, twice, after Ctrl-C: 10 s and more for 100,000 runners.
    gc.freeze()
    raise KeyboardInterrupt  # SIGTERM too (a CI job cancelled, `kill`): stop as Ctrl-C stops


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While writing results, SIGTERM stops like Ctrl-C: workers ended, finished work kept and
    counted, the --resume hint printed, exit status 130; and either stops at once, without
    collecting the stopped run's objects (the process ends)."""
    try:
        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)
                    if signal.getsignal(sig) in (signal.default_int_handler, signal.SIG_DFL)}
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def check_resume(args: argparse.Namespace) -> None:
    if args.resume and args.out is None:
        raise LeasesimError(USAGE_ERROR, "--resume continues the experiment saved in --out DIR; "
                            "give the same --out as the interrupted command")  # fmt: skip


@contextlib.contextmanager
def printed_warnings(notes: list[dict[str, Any]], show: bool) -> Iterator[None]:
    """Print warnings about --out folders as they arise (and list them in `notes`); failed runs
    are reported by the command itself, not as warnings."""
    from simulator.experiments.replicate import RunFailures
    from simulator.experiments.store import OutputFolderWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunFailures)

        def emit(message: Any, category: type[Warning], *rest: Any, **kw: Any) -> None:
            notes.append(warning_dict("--out", str(message)))
            if show:
                print(f"warning: {message}", file=sys.stderr)

        warnings.simplefilter("always", OutputFolderWarning)
        original = warnings.showwarning
        warnings.showwarning = emit
        try:
            yield
        finally:
            warnings.showwarning = original


def failure_error(
    failures: Sequence[Failure], total: int, where: Callable[[Failure], str], what: str = "run",
) -> LeasesimError:  # fmt: skip
    """The RUN_ERROR that reports failed runs (the others were kept), tracebacks if debugging."""
    shown = "; ".join(f"{where(f)}: internal error: {f.describe()}" for f in failures[:3])
    more = f"; and {len(failures) - 3} more" if len(failures) > 3 else ""
    if os.environ.get("LEASESIM_DEBUG"):
        for f in failures:
            print(f.traceback, file=sys.stderr)
    message = (
        f"{len(failures)} of {plural(total, what)} failed ({shown}{more}). The other runs are "
        "complete. This is a bug in leasesim; please report it with the scenario file (set "
        "LEASESIM_DEBUG=1 to see the traceback)."
    )
    return LeasesimError(RUN_ERROR, message, [f.to_dict() for f in failures])
