"""How leasesim's figures look: one rc dictionary applied locally, colours, and human time units.

Nothing here changes matplotlib's global state: every figure is built inside
`matplotlib.rc_context(STYLE)` on a `LeasesimFigure`, which is not registered with pyplot, so it
renders with Agg whatever the backend and never leaks into a user's other figures.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

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
    "interruption": "#17becf",
}
FAULT_LABELS = {
    "pause": "pause (runner frozen)",
    "crash": "crash (runner down)",
    "partition": "partition (calls lost)",
    "progress_stall": "progress stall (no reports)",
    "heartbeat_stall": "heartbeat stall (no runner heartbeats)",
    "interruption": "interruption notice (then gone)",
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


def integer_ticks(axis: Axis) -> None:
    """Ticks of a count axis at whole numbers only (no 2.5 tasks)."""
    axis.set_major_locator(MaxNLocator(integer=True))


# Tick steps that read as times in each unit: 15 s, 30 s, 1 min; 15 min, 30 min; 1 h, 6 h, 12 h.
_TIME_STEPS = {
    "s": [1, 1.5, 2, 3, 5, 10],
    "min": [1, 1.5, 2, 3, 5, 10],
    "h": [1, 2, 3, 6, 10],
    "d": [1, 2, 5, 7, 10],
}


def plain_number(value: float, _pos: object = None) -> str:
    """A tick label without offset or exponent: 0.25, 30, 1,500, 120,000."""
    if abs(value) >= 1e5:
        return f"{value:,.0f}"
    return f"{float(f'{value:.6g}'):,g}"


def time_ticks(axis: Axis, unit: str) -> None:
    """Ticks of an axis of times shown in `unit` (s, min, h, d, as `TimeScale` chose it) at steps
    that read as times (15, 30, 45 min; 6, 12 h), labelled as plain numbers."""
    axis.set_major_locator(MaxNLocator(nbins="auto", steps=_TIME_STEPS.get(unit)))
    axis.set_major_formatter(FuncFormatter(plain_number))


def human_ticks(axis: Axis, unit: str) -> None:
    """Plain-number labels for a metric axis; time steps too when `unit` is a time unit."""
    if unit in _TIME_STEPS:
        time_ticks(axis, unit)
    else:
        axis.set_major_formatter(FuncFormatter(plain_number))


def panels(
    n: int, ax: Any, fig: Any, what: str, size: tuple[float, float]
) -> tuple[Any, list[Any]]:
    """The axes of an n-panel figure, stacked with a shared x axis, and what to return.

    Without `ax` or `fig`: a new LeasesimFigure of `size` inches, returned. `fig` (a Figure or a
    SubFigure of the user's, e.g. from `fig.subfigures`): the panels are added to it, and it is
    returned. `ax`: the user's axes, one per panel (one Axes when n is 1), returned as given.
    """
    from matplotlib.axes import Axes
    from matplotlib.figure import FigureBase

    from simulator.errors import USAGE_ERROR, LeasesimError

    if ax is not None and fig is not None:
        raise LeasesimError(USAGE_ERROR, f"{what}: give ax or fig, not both.")
    if ax is not None:
        given = [ax] if isinstance(ax, Axes) else list(np.ravel(np.asarray(ax, dtype=object))) \
            if isinstance(ax, Iterable) else []  # fmt: skip
        if len(given) != n or not all(isinstance(a, Axes) for a in given):
            raise LeasesimError(
                USAGE_ERROR, f"{what}: ax must be {'one Axes' if n == 1 else f'{n} Axes'} (one "
                f"per panel), got {type(ax).__name__}"
                + (f" of {len(given)}" if given else "") + "; or pass fig= to add the panels.",
            )  # fmt: skip
        return ax, given
    if fig is not None:
        if not isinstance(fig, FigureBase):
            raise LeasesimError(
                USAGE_ERROR,
                f"{what}: fig must be a matplotlib Figure or SubFigure, got {type(fig).__name__}.",
            )
        return fig, list(fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0])
    made = new_figure(*size)
    return made, list(made.subplots(n, 1, sharex=True, squeeze=False)[:, 0])
