"""The fleet figure (issue 16): runners over time against the backlog and the arrival rate.

Two panels sharing the time axis. Top: tasks submitted per hour (bars, one per bin) and the
backlog, the tasks submitted and not yet finished or failed (a line, right axis). Bottom: runners
in the fleet (launched, not yet stopped; a step line per fleet group), with each scale-out
(green triangle up) and scale-in or interruption (down) marked. Everything comes from the
tables, so a saved result draws it too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from simulator.plots.style import (
    SERIES_COLORS,
    TimeScale,
    integer_ticks,
    new_figure,
    panels,
    plain_number,
    styled,
    time_ticks,
)
from simulator.results.result import Result
from simulator.results.tables import runners_over_time

CAPTION = (
    "Top: tasks submitted per hour (bars) and the backlog, tasks submitted and not yet finished "
    "or failed (line, right axis). Bottom: runners in the fleet, from launch (booting included) "
    "to stop, per fleet group; triangles mark scale-out decisions (up) and runners told to leave "
    "(down: scale-in or interruption notice)."
)


def fleet(
    result: Result,
    *,
    bin: float | None = None,
    ax: Any = None,
    fig: Figure | SubFigure | None = None,
) -> Any:
    """Runners over time against backlog and arrival rate: a new Figure, or the `ax` pair
    (top: load, bottom: runners) or `fig` it was given, drawn on and returned.

    `bin`: width of the arrival-rate bars in seconds (default: the run in about 48 bins, at least
    one minute).
    """
    duration = result.duration
    scale = TimeScale.for_span(duration)
    tasks, runners = result.tasks, result.tables.get("runners")
    width = bin if bin is not None else max(60.0, duration / 48)
    edges = np.arange(0.0, duration + width, width)
    submitted = tasks["submitted_at"].to_numpy(dtype=float)
    counts, _ = np.histogram(submitted, bins=edges)
    per_hour = counts * 3600.0 / width
    ended = tasks["ended_at"].to_numpy(dtype=float)
    t = np.linspace(0.0, duration, 600)
    backlog = np.searchsorted(np.sort(submitted), t, side="right") - np.searchsorted(
        np.sort(ended[np.isfinite(ended)]), t, side="right"
    )
    with styled():
        returned, axes = panels(2, ax, fig, "fleet", (11.0, 6.0)) if (
            ax is not None or fig is not None
        ) else _new()  # fmt: skip
        top, bottom = axes
        x = scale.seconds
        top.bar(edges[:-1] / x, per_hour, width=width / x, align="edge", color="#c6dbef",
                edgecolor="white", linewidth=0.4, label="tasks submitted per hour", gid="arrivals")
        top.set_ylabel("submitted per hour")
        top.yaxis.set_major_formatter(plain_number_formatter())
        right = top.twinx()
        right.plot(t / x, backlog, color=SERIES_COLORS[1], linewidth=1.4,
                   label="backlog (unfinished tasks)", gid="backlog")  # fmt: skip
        right.set_ylabel("backlog (tasks)")
        right.set_ylim(bottom=0)
        integer_ticks(right.yaxis)
        right.grid(False)
        handles = top.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        top.legend(handles=handles, loc="upper left", fontsize=8)
        top.set_title(f"{result.scenario.name}, seed {result.seed}: load and fleet", loc="left")
        if runners is not None and len(runners):
            for k, group in enumerate(dict.fromkeys(runners["group"])):
                color = SERIES_COLORS[k % len(SERIES_COLORS)]
                times, count = runners_over_time(runners, duration, group)
                bottom.step(np.append(times, duration) / x, np.append(count, count[-1]),
                            where="post", color=color, linewidth=1.6,
                            label=f"{group}: runners", gid=f"runners:{group}")  # fmt: skip
                mine = runners[runners["group"] == group]
                outs = np.unique(
                    mine.loc[mine["launch"] == "scale_out", "launched_at"].to_numpy(dtype=float)
                )
                gone = mine["notice_at"].to_numpy(dtype=float)
                gone = np.unique(gone[np.isfinite(gone)])
                level = np.interp(outs, times, count) if len(outs) else outs
                bottom.plot(outs / x, level, "^", color="#2ca02c", markersize=4,
                            linestyle="none", gid=f"scale_out:{group}",
                            label="scale-out" if k == 0 else None)  # fmt: skip
                level = np.interp(gone, times, count) if len(gone) else gone
                bottom.plot(gone / x, level, "v", color="black", markersize=4,
                            linestyle="none", gid=f"leave:{group}",
                            label="told to leave" if k == 0 else None)  # fmt: skip
            bottom.legend(loc="upper left", fontsize=8)
        else:
            bottom.text(0.5, 0.5, "no runners table in this result", transform=bottom.transAxes,
                        ha="center", va="center", color="#555555")  # fmt: skip
        bottom.set_ylabel("runners")
        bottom.set_ylim(bottom=0)
        integer_ticks(bottom.yaxis)
        bottom.set_xlim(0, duration / x)
        bottom.set_xlabel(scale.label("simulated time since start"))
        time_ticks(bottom.xaxis, scale.unit)
    return returned


def _new() -> tuple[Figure, list[Axes]]:
    fig = new_figure(11.0, 6.0)
    axes = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1])
    return fig, list(axes)


def plain_number_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(plain_number)
