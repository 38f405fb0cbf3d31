"""The Pareto figure of a recommendation: the objective against each requirement's metric.

One panel per requirement: every simulated candidate at its means, with its confidence interval
on both axes, coloured by how it stands against all the requirements; the panel's own frontier
(candidates no other beats on both axes) joined by a line; the bound dashed, with the side that
fails it shaded; the recommended setting starred.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator.plots.style import DUPLICATE, metric_scale, new_figure, styled
from simulator.recommendation.pareto import frontier
from simulator.results.metrics import METRICS

COLORS = {"meets": "#1f77b4", "unsure": "#e6b400", "fails": "#9a9a9a"}
LABELS = {"meets": "meets every requirement", "unsure": "not established",
          "fails": "fails a requirement, or flagged as broken"}  # fmt: skip


def _scale(metric: str, values: np.ndarray) -> tuple[str, float]:
    unit = METRICS[metric].unit if metric in METRICS else ""
    finite = np.abs(values[np.isfinite(values)])
    return metric_scale(unit, float(finite.max()) if len(finite) else 0.0)


def _log(values: np.ndarray) -> bool:
    v = values[np.isfinite(values)]
    return bool(len(v)) and bool((v > 0).all()) and v.max() >= 20 * v.min()


def pareto_figure(rec: Any) -> Figure:
    """The figure of a `Recommendation` (see the module docstring)."""
    frame: pd.DataFrame = rec.candidates
    sim = frame[frame["simulated"] & (frame["stage"] != "reading")].reset_index(drop=True)
    objective = rec.objective_spec
    panels = [r for r in rec.requirements if r.metric != objective.metric]
    bounds_x = [r for r in rec.requirements if r.metric == objective.metric]
    with styled():
        fig = new_figure(8.5, 1.1 + 2.8 * max(len(panels), 1))
        axes = fig.subplots(max(len(panels), 1), 1, squeeze=False)[:, 0]
        x = sim[f"{objective.metric}:mean"].to_numpy(dtype=float)
        x_unit, x_div = _scale(objective.metric, x)
        for ax, r in zip(axes, panels or [None], strict=True):
            metric = r.metric if r is not None else objective.metric
            y = sim[f"{metric}:mean"].to_numpy(dtype=float)
            y_unit, y_div = _scale(metric, y)
            _points(ax, sim, objective.metric, metric, x_div, y_div)
            if r is not None:
                front = frontier(np.column_stack([x, y]),
                                 [objective.sense == "maximize", r.op == ">="])  # fmt: skip
                order = np.argsort(x[front])
                (line,) = ax.plot(x[front][order] / x_div, y[front][order] / y_div, color="black",
                                  linewidth=0.9, zorder=1, label="Pareto frontier")  # fmt: skip
                line.set_gid("frontier")
                ax.axhline(r.value / y_div, color=DUPLICATE, linestyle="--", linewidth=1,
                           label="bound" if r is panels[0] else None)  # fmt: skip
                ax.annotate(f"{r.op} {r.value / y_div:.4g} {y_unit}".rstrip(),
                            (1.0, r.value / y_div), xycoords=("axes fraction", "data"),
                            ha="right", va="bottom", color=DUPLICATE, fontsize=8)  # fmt: skip
                low, high = ax.get_ylim()
                fail = (r.value / y_div, max(high, r.value / y_div)) if r.op == "<=" else (
                    min(low, r.value / y_div), r.value / y_div)
                ax.axhspan(*fail, color=DUPLICATE, alpha=0.07, linewidth=0)
                ax.set_ylim(low, high)
            for b in bounds_x:
                ax.axvline(b.value / x_div, color=DUPLICATE, linestyle=":", linewidth=1,
                           label=f"bound: {b}")  # fmt: skip
            ax.set_ylabel(f"{metric}\n({y_unit})" if y_unit else metric)
            ax.set_xlabel(f"{objective.metric} ({x_unit}), {objective.sense}d"
                          if x_unit else f"{objective.metric}, {objective.sense}d")  # fmt: skip
            if _log(x):
                ax.set_xscale("log")
            if _log(y):
                ax.set_yscale("log")
        axes[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        level = f"{rec.confidence:.0%}"
        star = f"★ recommended: {rec.label}" if rec.label else "no recommended setting"
        axes[0].set_title(
            f"{rec.scenario}: {objective} against each requirement\n"
            f"mean and {level} interval over {rec.replications} replications per candidate; "
            f"shaded: outside the bound\n" + "\n".join(textwrap.wrap(star, 95)),
            loc="left",
        )
    return fig


def _points(ax: Any, sim: pd.DataFrame, xm: str, ym: str, x_div: float, y_div: float) -> None:
    for standing, color in COLORS.items():
        rows = sim[sim["standing"] == standing]
        if rows.empty:
            continue
        x, y = rows[f"{xm}:mean"] / x_div, rows[f"{ym}:mean"] / y_div
        xerr = np.abs(np.vstack([x - rows[f"{xm}:ci_low"] / x_div,
                                 rows[f"{xm}:ci_high"] / x_div - x]))  # fmt: skip
        yerr = np.abs(np.vstack([y - rows[f"{ym}:ci_low"] / y_div,
                                 rows[f"{ym}:ci_high"] / y_div - y]))  # fmt: skip
        bars = ax.errorbar(x, y, xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr), fmt="o",
                           markersize=4, color=color, elinewidth=0.8, capsize=0, zorder=2,
                           label=LABELS[standing])  # fmt: skip
        bars[0].set_gid(f"candidates-{standing}")
    best = sim[sim["recommended"]]
    if not best.empty:
        (mark,) = ax.plot(best[f"{xm}:mean"] / x_div, best[f"{ym}:mean"] / y_div, marker="*",
                          markersize=15, color=DUPLICATE, linestyle="none", zorder=3,
                          label="recommended")  # fmt: skip
        mark.set_gid("recommended")
