"""How leasesim's figures look: one rc dictionary applied locally, colours, and human time units.

Nothing here changes matplotlib's global state: every figure is built inside
`matplotlib.rc_context(STYLE)` on a `LeasesimFigure`, which is not registered with pyplot, so it
renders with Agg whatever the backend and never leaks into a user's other figures.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure

STYLE: dict[str, object] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}

DPI = 100

# Task colours avoid red (duplicates, lease loss) and the fault colours below.
TASK_COLORS = (
    "#1f77b4", "#2ca02c", "#17becf", "#e377c2", "#bcbd22",
    "#393b79", "#637939", "#6baed6", "#8c6d31", "#74c476",
)  # fmt: skip
DUPLICATE = "#d62728"
LEASE_LOST = "#d62728"
OTHER_TASK = "#d0d0d0"
FAULT_COLORS = {
    "pause": "#e6b400",
    "crash": "#000000",
    "partition": "#ff7f0e",
    "progress_stall": "#9467bd",
    "heartbeat_stall": "#8c564b",
}
FAULT_LABELS = {
    "pause": "pause (runner frozen)",
    "crash": "crash (runner down)",
    "partition": "partition (calls lost)",
    "progress_stall": "progress stall (no reports)",
    "heartbeat_stall": "heartbeat stall (no runner heartbeats)",
}
SERIES_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#17becf")


class LeasesimFigure(Figure):
    """A matplotlib Figure that shows itself as a PNG in Jupyter without pyplot."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self)


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure rendered to PNG (Agg), as bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


@contextmanager
def styled() -> Iterator[None]:
    """The leasesim look, for the artists created inside the block only."""
    with matplotlib.rc_context(STYLE):
        yield


def new_figure(width: float, height: float) -> LeasesimFigure:
    """An empty figure of `width` x `height` inches with constrained layout (call inside styled)."""
    return LeasesimFigure(figsize=(width, height), dpi=DPI, layout="constrained")


@dataclass(frozen=True)
class TimeScale:
    """A human unit for an axis of seconds: values are divided by `seconds` and labelled `unit`."""

    unit: str
    seconds: float

    @classmethod
    def for_span(cls, largest: float) -> TimeScale:
        """s up to 3 minutes, min up to 3 hours, h up to 3 days, d beyond (by the largest value)."""
        if not math.isfinite(largest) or largest <= 180:
            return cls("s", 1.0)
        if largest <= 3 * 3600:
            return cls("min", 60.0)
        if largest <= 3 * 86400:
            return cls("h", 3600.0)
        return cls("d", 86400.0)

    def label(self, what: str) -> str:
        return f"{what} ({self.unit})"


def metric_scale(unit: str, largest: float) -> tuple[str, float]:
    """(axis unit, divisor) for a metric of unit `unit` whose largest value is `largest`.

    Seconds get a human unit by range, fractions are shown as percentages; every other unit is
    shown as it is defined.
    """
    if unit == "s":
        scale = TimeScale.for_span(largest)
        return scale.unit, scale.seconds
    if unit == "1/s":
        return "calls/s", 1.0
    if unit == "fraction":
        return "%", 0.01
    return unit, 1.0
