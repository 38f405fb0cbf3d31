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

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.plots import sweeps
from simulator.plots.style import SERIES_COLORS, new_figure, styled

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
) -> Figure:
    """Metrics `y` (summary metric columns, or a derived one such as
    false_reassignments_per_1000_tasks) against the swept parameter `x`, one panel each.

    `by` names another swept column: one line per value. `expected` maps a metric to a function
    of the parameter's raw values (seconds, per second) giving a closed-form value, drawn dashed.
    Log x is chosen when the parameter spans a decade (`logx` forces it either way).
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
        fig = new_figure(7.5, 1.0 + 1.9 * len(metrics))
        axes = fig.subplots(len(metrics), 1, sharex=True, squeeze=False)[:, 0]
        for ax, metric in zip(axes, metrics, strict=True):
            values, unit = sweeps.metric_column(df, metric, "tradeoff")
            shown_unit, divisor = sweeps.display_scale(unit, values.tolist())
            for k, (label, rows) in enumerate(sweeps.groups(df, by)):
                stats = sweeps.point_stats(axis.values[rows.index], values[rows.index], confidence)
                band(ax, stats, divisor, SERIES_COLORS[k % len(SERIES_COLORS)], label)
            if expected and metric in expected:
                _expected(ax, axis.values, axis.raw, expected[metric], divisor)
            ax.set_ylabel(f"{metric}\n({shown_unit})" if shown_unit else metric)
        finish_x(axes[-1], axis)
        if by is not None or expected:
            axes[0].legend(loc="best")
        n = df.groupby([by, x] if by else [x], sort=False).size()
        axes[0].set_title(
            f"{title or ', '.join(metrics) + ' against ' + x}\n{caption(n, confidence)}",
            loc="left",
        )
    return fig


def caption(per_point: pd.Series, confidence: float) -> str:
    """What the lines and bands are, with the replications per point."""
    low, high = int(per_point.min()), int(per_point.max())
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


def finish_x(ax: Any, axis: sweeps.ParamAxis) -> None:
    """Label the shared x axis; ticks at the swept values on a log axis or for categories."""
    ax.set_xlabel(axis.label + ("  [log scale]" if axis.log else ""))
    points = np.unique(axis.values[np.isfinite(axis.values)])
    if axis.categories is not None:
        ax.set_xticks(range(len(axis.categories)), axis.categories)
    elif axis.log:
        ax.set_xscale("log")
        ax.set_xticks(points, [f"{v:g}" for v in points])
        ax.minorticks_off()
