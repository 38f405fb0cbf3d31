"""Figures to files: PNGs written atomically, and the set of figures that describes one run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from simulator.io import atomic_write_bytes
from simulator.plots.capacity import capacity
from simulator.plots.distribution import QUANTITIES, distribution
from simulator.plots.style import DPI, png_bytes
from simulator.plots.timeline import CAPTION as TIMELINE_CAPTION
from simulator.plots.timeline import timeline
from simulator.plots.tradeoff import tradeoff
from simulator.results.result import Result

# How to read each figure of `run_figures`, by file stem.
CAPTIONS = {"timeline": TIMELINE_CAPTION} | {name: q.caption for name, q in QUANTITIES.items()}


def save_png(fig: Figure, path: str | os.PathLike[str], dpi: int = DPI) -> Path:
    """Write `fig` as a PNG at `path`: rendered first, then a temporary sibling renamed in place.

    A reader never sees a half-written file, and a failed render leaves the old file as it was.
    """
    return atomic_write_bytes(path, png_bytes(fig, dpi))


def run_figures(result: Result) -> dict[str, Figure]:
    """The figures worth looking at for one run, by file stem.

    Always the timeline and the latency distribution; the duplicate-overlap and crash-detection
    distributions only when the run has such values (an empty histogram says nothing).
    """
    figures = {"timeline": timeline(result), "latency": distribution(result, "latency")}
    for name in ("overlap", "detection"):
        if len(QUANTITIES[name].values(result)):
            figures[name] = distribution(result, name)
    return figures


def write_run_plots(result: Result, directory: str | os.PathLike[str]) -> list[Path]:
    """Write `run_figures(result)` as DIRECTORY/NAME.png (the folder is created); the paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    return [save_png(fig, folder / f"{name}.png") for name, fig in run_figures(result).items()]


# The trade-off panels of a sweep's figure, when the sweep measured them.
SWEEP_METRICS = (
    "progress_calls_per_s", "false_reassignments_per_1000_tasks", "duplicated_fraction",
    "detection_latency_mean_s", "latency_p95_s",
)  # fmt: skip
MAX_GROUPS = 6  # a second swept parameter with more values than this makes unreadable lines


def sweep_figures(sweep_df: pd.DataFrame) -> dict[str, Figure]:
    """The trade-off and capacity figures of a sweep frame, by file stem ({} if nothing varies).

    x is the first swept parameter (`sweep_df.attrs["parameters"]`) with more than one value; a
    second one with at most six values draws one line per value.
    """
    params = [p for p in sweep_df.attrs.get("parameters", []) if p in sweep_df.columns]
    varying = [p for p in params if sweep_df[p].nunique() > 1]
    if not varying:
        return {}
    x = varying[0]
    by = next((p for p in varying[1:] if sweep_df[p].nunique() <= MAX_GROUPS), None)
    y = [m for m in SWEEP_METRICS if _measured(sweep_df, m)]
    name = sweep_df.attrs.get("scenario", "sweep")
    figures = {}
    if y:
        figures["tradeoff"] = tradeoff(sweep_df, x=x, y=y, by=by,
                                       title=f"{name}: key metrics against {x}")  # fmt: skip
    figures["capacity"] = capacity(sweep_df, x=x, by=by, title=f"{name}: capacity against {x}")
    return figures


def _measured(df: pd.DataFrame, metric: str) -> bool:
    """Whether the frame has finite values of `metric` (a column, or a per-1000 derived one)."""
    column = metric.replace("_per_1000_tasks", "") if metric.endswith("_per_1000_tasks") else metric
    if column not in df.columns:
        return False
    return bool(np.isfinite(pd.to_numeric(df[column], errors="coerce")).any())


def write_sweep_plots(sweep_df: pd.DataFrame, directory: str | os.PathLike[str]) -> list[Path]:
    """Write `sweep_figures(sweep_df)` as DIRECTORY/NAME.png (the folder is created); the paths."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    return [save_png(fig, folder / f"{name}.png") for name, fig in sweep_figures(sweep_df).items()]
