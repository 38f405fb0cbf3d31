"""The trade-off figure: several metrics against one swept parameter, on aligned panels.

Each panel is one metric: the mean over replications at each point, joined by a line, inside its
confidence band (Student t, as the summary table). The x axis is logarithmic when the parameter
spans a decade or more.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.plots import sweeps
from simulator.plots.style import (
    SERIES_COLORS,
    human_ticks,
    panels,
    plain_number,
    styled,
    time_ticks,
)
from simulator.units import format_rate, human_duration

Expected = Callable[[np.ndarray], np.ndarray]


def tradeoff(
    sweep_df: pd.DataFrame,
    x: str,
    y: Sequence[str],
    *,
    by: str | None = None,
    expected: Mapping[str, Expected] | None = None,
    confidence: float = 0.95,
    logx: bool | None = None,
    title: str | None = None,
    ax: Any = None,
    fig: Any = None,
) -> Figure | Any:
    """Metrics `y` (summary metric columns, or a derived one such as
    false_reassignments_per_1000_tasks) against the swept parameter `x`, one panel each.

    `by` names another swept column: one line per value. `expected` maps a metric to a function
    of the parameter's raw values (seconds, per second) giving a closed-form value, drawn dashed.
    Log x is chosen when the parameter spans a decade (`logx` forces it either way).

    Returns a new Figure; or draws into `fig` (your Figure or SubFigure, e.g. one of
    `fig.subfigures(1, 2)`) and returns it; or into `ax`, one Axes per metric, returned as given.
    """
    metrics = [y] if isinstance(y, str) else list(y)
    if not metrics:
        raise LeasesimError(USAGE_ERROR, "tradeoff: y names no metric; give at least one.")
    sweeps.require(sweep_df, [x] + ([by] if by else []), "tradeoff")
    for name in (expected or {}):
        if name not in metrics:
            raise LeasesimError(
                USAGE_ERROR, f"tradeoff: expected values for {name!r}, which is not in y."
            )
    df = sweep_df.reset_index(drop=True)
    axis = sweeps.param_axis(df, x, logx)
    with styled():
        out, axes = panels(len(metrics), ax, fig, "tradeoff", (7.5, 1.0 + 1.9 * len(metrics)))
        for panel, metric in zip(axes, metrics, strict=True):
            values, unit = sweeps.metric_column(df, metric, "tradeoff")
            shown_unit, divisor = sweeps.display_scale(unit, values.tolist())
            for k, (label, rows) in enumerate(sweeps.groups(df, by)):
                stats = sweeps.point_stats(axis.values[rows.index], values[rows.index], confidence)
                band(panel, stats, divisor, SERIES_COLORS[k % len(SERIES_COLORS)], label)
            if expected and metric in expected:
                _expected(panel, axis.values, axis.raw, expected[metric], divisor)
            panel.set_ylabel(f"{metric}\n({shown_unit})" if shown_unit else metric)
            human_ticks(panel.yaxis, shown_unit)
        for panel in axes:
            finish_x(panel, axis, label=panel is axes[-1])
        if by is not None or expected:
            axes[0].legend(loc="best")
        n = df.groupby([by, x] if by else [x], sort=False).size()
        axes[0].set_title(
            f"{title or ', '.join(metrics) + ' against ' + x}\n{caption(n, confidence)}",
            loc="left",
        )
    return out


def caption(per_point: pd.Series, confidence: float) -> str:
    """What the lines and bands are, with the replications per point."""
    low, high = int(per_point.min()), int(per_point.max())
    if high <= 1:
        return "1 replication per point, no confidence band (it needs 2)"
    reps = f"{low}" if low == high else f"{low}–{high}"
    return f"mean of {reps} replications per point, {confidence:.0%} confidence band"


def band(ax: Any, stats: pd.DataFrame, divisor: float, color: str, label: str | None,
         linestyle: str = "-") -> None:  # fmt: skip
    """The means joined by a line with markers, inside their confidence band."""
    xs = stats["x"].to_numpy()
    (line,) = ax.plot(xs, stats["mean"] / divisor, marker="o", markersize=3.5, color=color,
                      linestyle=linestyle, label=label, linewidth=1.4)  # fmt: skip
    line.set_gid("mean")
    low, high = stats["low"] / divisor, stats["high"] / divisor
    if np.isfinite(low.to_numpy(dtype=float)).any():
        fill = ax.fill_between(xs, low, high, color=color, alpha=0.18, linewidth=0)
        fill.set_gid("band")


def _expected(ax: Any, shown_x: np.ndarray, raw_x: np.ndarray, fn: Expected,
              divisor: float) -> None:  # fmt: skip
    order = np.unique(raw_x, return_index=True)[1]
    xs_raw, xs = raw_x[order], shown_x[order]
    (line,) = ax.plot(xs, np.asarray(fn(xs_raw), dtype=float) / divisor, color="black",
                      linestyle="--", linewidth=1, label="closed form")  # fmt: skip
    line.set_gid("expected")


def finish_x(ax: Any, axis: sweeps.ParamAxis, label: bool = True) -> None:
    """Label the x axis (if `label`); ticks at the swept values on a log axis or for categories,
    in human units (15s, 2m, 120/h) where the parameter is a duration or a rate."""
    points = np.unique(axis.values[np.isfinite(axis.values)])
    raw = {v: r for v, r in zip(axis.values, axis.raw, strict=True) if np.isfinite(v)}
    text = axis.label
    if axis.categories is not None:
        ax.set_xticks(range(len(axis.categories)), axis.categories)
    elif axis.log:
        ax.set_xscale("log")
        if axis.kind == "duration":
            ax.set_xticks(points, [human_duration(raw[v]) for v in points])
            text = axis.column  # the ticks carry their units
        elif axis.kind == "rate":
            ax.set_xticks(points, [format_rate(raw[v]) for v in points])
            text = axis.column
        else:
            ax.set_xticks(points, [plain_number(v) for v in points])
        ax.minorticks_off()
    elif axis.kind == "duration":
        time_ticks(ax.xaxis, axis.unit)
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(plain_number))
    if label:
        ax.set_xlabel(text + ("  [log scale]" if axis.log else ""))
