"""How `leasesim` prints: aligned tables of means and intervals, JSON envelopes, progress bars."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import textwrap
from collections.abc import Iterator
from typing import Any, TextIO

from simulator.errors import printable
from simulator.io import json_safe
from simulator.units import format_number as number
from simulator.units import format_seconds as value
from simulator.units import seconds_metric


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def table(frame: Any) -> str:
    """The replication summary as an aligned text table: metric, mean, 95% CI, n, unit."""
    from simulator.results.metrics import METRICS

    rows = []
    for r in frame.itertuples(index=False):
        show = value if seconds_metric(r.metric) else number
        ci = None if math.isnan(r.half_width) else (show(r.ci_low), show(r.ci_high))
        unit = METRICS[r.metric].unit if r.metric in METRICS else ""
        # An interval kept inside the metric's range by the bootstrap is marked "*" (notes).
        mark = "*" if ci and getattr(r, "method", "t") != "t" else ""
        rows.append((r.metric, show(r.mean), ci, str(r.n), unit, mark))
    intervals = [r[2] for r in rows if r[2] is not None]
    low_w = max((len(low) for low, _ in intervals), default=0)
    high_w = max((len(high) for _, high in intervals), default=0)
    cells = [("metric", "mean", "95% CI", "n", "unit")]
    for name, mean, ci, n, unit, mark in rows:
        shown = f"[{ci[0]:>{low_w}}, {ci[1]:>{high_w}}]{mark}" if ci else ""
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


def table_notes(frame: Any, replications: int) -> list[str]:
    """Footnotes for what the table cannot show: intervals from one value, metrics with none."""
    notes = []
    if replications < 2:
        notes.append("one replication: no confidence intervals (use -n 2 or more).")
    elif (frame["n"] < 2).any():
        notes.append("n counts the replications where a metric has a value; an interval needs 2.")
    if frame["mean"].isna().any():
        notes.append("- : no value in any replication (e.g. a mean over no events).")
    if "method" in frame and (frame["method"] != "t").any():
        notes.append("* : the t interval left the metric's range (counts >= 0, fractions in "
                     "[0, 1]): percentile bootstrap instead (counts: widened to the exact Poisson "
                     "interval); the others are Student t.")  # fmt: skip
    # Health flags of the means (simulator.results.health): a broken setting, said in words.
    notes += [f"WARNING {f.name}: {f.message}" for f in frame.attrs.get("flags", [])]
    return [line for note in notes for line in wrap(note)]


def wrap(note: str) -> list[str]:
    """A footnote as lines that fit an 80-column terminal, continuations indented."""
    return textwrap.wrap(note, 80, subsequent_indent="    ", break_on_hyphens=False)


def mode_of(scenario: Any) -> dict[str, Any]:
    """How a scenario's runs are simulated: the mode asked for, the mode they run in (as
    `Result.meta["mode"]`) and why fleet groups ("*": all) run exact although fast was asked for."""
    from simulator.scenario.modes import fast_fallbacks

    asked = scenario.simulation.mode
    why = fast_fallbacks(scenario)
    ran = "fast (some groups exact)" if why else asked
    if "*" in why:
        ran = "exact (fast mode fell back)"
    return {"requested": asked, "ran": ran, "fallbacks": why}


def mode_lines(mode: dict[str, Any], width: int = 80) -> list[str]:
    """The summary's `mode:` line, wrapped, when fast mode was asked for; [] for exact mode."""
    if mode["requested"] != "fast":
        return []
    why = mode["fallbacks"]
    if not why:
        text = "mode: fast (docs/fast-mode.md)"
    elif "*" in why:
        text = f"mode: exact, not fast: {why['*']} (docs/fast-mode.md)"
    else:
        groups = "; ".join(f"fleet group {g!r} runs exact: {r}" for g, r in why.items())
        text = f"mode: fast, except {groups} (docs/fast-mode.md)"
    return textwrap.wrap(text, width, subsequent_indent="  ", break_on_hyphens=False)


def throttled_table(calls: Any) -> list[str]:
    """Lines showing each operation's throttled calls (mean per replication) beside its calls,
    if any call was throttled; [] otherwise (`Replications.calls()` is the input)."""
    if calls.empty or not (calls["throttled"] > 0).any():
        return []
    n = int(calls["n"].iloc[0])
    per = "per replication, mean of " + plural(n, "replication") if n > 1 else "one replication"
    cells = [("operation", "calls", "throttled", "share")]
    for r in calls.itertuples(index=False):
        share = f"{r.throttled / r.calls:.0%}" if r.calls else "-"
        cells.append((str(r.operation), number(r.calls), number(r.throttled), share))
    widths = [max(len(row[i]) for row in cells) for i in range(4)]
    lines = [f"throttled calls by operation ({per}):", ""]
    for k, row in enumerate(cells):
        lines.append("  ".join([row[0].ljust(widths[0]),
                                *(cell.rjust(w) for cell, w in zip(row[1:], widths[1:],
                                                                  strict=True))]))  # fmt: skip
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def emit(payload: dict[str, Any]) -> None:
    """Print one JSON document on stdout (NaN and infinities as null).

    JSON escapes control characters but DEL; it is escaped too, so that no character of the
    document is one a terminal acts on (`safe_terminal` passes the document unchanged)."""
    text = json.dumps(json_safe(payload), indent=2, default=_json_default, allow_nan=False)
    print(text.replace("\x7f", "\\u007f"))


class TerminalText:
    """A text stream that shows control characters escaped (`errors.printable`): what a command
    prints may hold names and text from scenario files, and an escape sequence in a name must
    not clear the screen or colour a fake "all checks passed". Newlines and tabs pass through,
    and a carriage return that starts a write (how a progress bar redraws its line)."""

    KEEP = "\n\t"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        lead = "\r" if text.startswith("\r") else ""
        self.stream.write(lead + printable(text[len(lead):], self.KEEP))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, ...
        return getattr(self.stream, name)


@contextlib.contextmanager
def safe_terminal() -> Iterator[None]:
    """While a command runs, its stdout and stderr show control characters escaped."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = TerminalText(out), TerminalText(err)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def warning_dict(field: str | None, message: str) -> dict[str, Any]:
    return {"field": field, "message": message, "file": None, "line": None}


def progress(total: int, enabled: bool) -> Any:
    if not enabled or total < 2:
        return None
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, unit="rep", desc="replications", file=sys.stderr, leave=False)
