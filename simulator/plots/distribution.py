"""The distribution figure: a histogram and an ECDF of one per-task or per-attempt duration.

The values are exactly those the summary metrics average or take percentiles of (docs/metrics.md),
so the figure's mean and percentile lines agree with the summary table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.plots.style import (
    SERIES_COLORS,
    TimeScale,
    integer_ticks,
    new_figure,
    styled,
    time_ticks,
)
from simulator.results.result import Result
from simulator.units import human_duration


def _latency(r: Result) -> np.ndarray:
    t = r.tasks[r.tasks["status"] == "finished"]
    return (t["ended_at"] - t["submitted_at"]).to_numpy(dtype=float)


def _queue_wait(r: Result) -> np.ndarray:
    t = r.tasks[r.tasks["first_assigned_at"].notna()]
    return (t["first_assigned_at"] - t["submitted_at"]).to_numpy(dtype=float)


def _detection(r: Result) -> np.ndarray:
    a = r.attempts
    pick = (
        (a["runner_outcome"] == "crashed") & a["lease_lost_at"].notna() & ~a["expired_alive"]
    ).to_numpy()
    return (a["lease_lost_at"] - a["crashed_at"]).to_numpy(dtype=float)[pick]


def _overlap(r: Result) -> np.ndarray:
    overlap = r.tasks["overlap_s"].to_numpy(dtype=float)
    return overlap[overlap > 0]


@dataclass(frozen=True)
class Quantity:
    """A duration with one value per task or attempt, as the summary metrics define it."""

    name: str
    title: str
    noun: str  # what one value belongs to, plural
    metric: str  # the summary metric built on these values
    values: Callable[[Result], np.ndarray]
    caption: str  # how to read its figure


QUANTITIES = {
    q.name: q
    for q in (
        Quantity("latency", "task latency, submitted to finished", "finished tasks",
                 "latency_p95_s", _latency,
                 "How long finished tasks took from submission to completion: the histogram "
                 "(left, dashed line at the mean) shows the bulk, the cumulative curve (right) "
                 "the tail, with the 50th, 95th and 99th percentiles of the summary marked."),
        Quantity("queue_wait", "wait for the first assignment", "assigned tasks",
                 "queue_wait_mean_s", _queue_wait,
                 "How long tasks waited for a runner to take them the first time; a long right "
                 "tail means the fleet was saturated at times."),
        Quantity("detection", "crash detection time, crash to lease expiry", "crashed attempts",
                 "detection_latency_mean_s", _detection,
                 "How long the service took to take a task back from a runner that had crashed: "
                 "the lease length less the time since the last report, so with regular reports "
                 "the values lie within one progress interval below the lease length."),
        Quantity("overlap", "duplicate execution per duplicated task", "duplicated tasks",
                 "duplicate_overlap_mean_s", _overlap,
                 "How long two attempts of a duplicated task worked at the same time (net of "
                 "pauses): short when the superseded runner is told to stop at its next report, "
                 "as long as the task itself when its reports are silently accepted."),
    )
}  # fmt: skip
# Summary metric names lead to the values they summarise.
_ALIASES = {
    "latency_p50_s": "latency", "latency_p95_s": "latency", "latency_p99_s": "latency",
    "queue_wait_mean_s": "queue_wait", "detection_latency_mean_s": "detection",
    "duplicate_overlap_mean_s": "overlap",
}  # fmt: skip
PERCENTILES = (50, 95, 99)


def quantity(metric: str) -> Quantity:
    """The Quantity named `metric` (or summarised by the summary metric `metric`)."""
    name = _ALIASES.get(metric, metric)
    if name not in QUANTITIES:
        raise LeasesimError(
            USAGE_ERROR,
            f"distribution: unknown metric {metric!r}; expected one of "
            f"{', '.join(QUANTITIES)} (or the summary metric built on one, e.g. latency_p95_s).",
        )
    return QUANTITIES[name]


def distribution(results: Result | Sequence[Result], metric: str = "latency", *,
                 bins: int = 30,
                 ax: Axes | Sequence[Axes | None] | None = None) -> Figure | Any:  # fmt: skip
    """Histogram and ECDF of `metric` (latency, queue_wait, detection or overlap).

    Several results (replications) are pooled. The ECDF marks the 50th, 95th and 99th
    percentiles (linear interpolation, as the summary metrics); the histogram marks the mean.

    Without `ax`: a new Figure with both panels. `ax=one_axes` draws the histogram there;
    `ax=(hist_ax, ecdf_ax)` both, either may be None to leave that panel out; what was given is
    returned (as pandas' and seaborn's plots do), titled on the histogram's (or ECDF's) axes.
    """
    runs = [results] if isinstance(results, Result) else list(results)
    if not runs:
        raise LeasesimError(USAGE_ERROR, "distribution: no results to plot.")
    q = quantity(metric)
    values = np.concatenate([q.values(r) for r in runs])
    values = values[np.isfinite(values)]
    # The unit suits the bulk of the values, not one outlier.
    scale = TimeScale.for_span(float(np.percentile(values, 99)) if len(values) else 0.0)
    shown = values / scale.seconds
    hist_ax, ecdf_ax = _panels(ax)
    with styled():
        fig = None
        if ax is None:
            fig = new_figure(10.0, 3.8)
            hist_ax, ecdf_ax = fig.subplots(1, 2)
        drawn = [a for a in (hist_ax, ecdf_ax) if a is not None]
        for each in drawn:
            each.set_xlabel(scale.label(q.title))
            time_ticks(each.xaxis, scale.unit)
        if len(values):
            span = _range(shown)
            if hist_ax is not None:
                _histogram(hist_ax, shown, bins, scale.seconds, span)
            if ecdf_ax is not None:
                _ecdf(ecdf_ax, shown, scale.seconds, span)
        else:
            where = "this run" if len(runs) == 1 else "these runs"
            for each in drawn:
                each.text(0.5, 0.5, f"no {q.noun} in {where}",
                          ha="center", va="center", transform=each.transAxes, color="#555555",
                          gid="empty")  # fmt: skip
        if hist_ax is not None:
            hist_ax.set_ylabel(f"number of {q.noun}")
            integer_ticks(hist_ax.yaxis)
        if ecdf_ax is not None:
            ecdf_ax.set_ylabel(f"fraction of {q.noun} ≤ x")
        title = _title(runs, q, shown, scale)
        if fig is not None:
            fig.suptitle(title, x=0.01, ha="left", fontsize=10)
            return fig
        drawn[0].set_title(title.replace(" (n = ", "\n(n = "), loc="left", fontsize=9)
    return ax


def _panels(ax: Axes | Sequence[Axes | None] | None) -> tuple[Axes | None, Axes | None]:
    """(histogram axes, ECDF axes) from the user's `ax`; (None, None) when a figure is made."""
    if ax is None:
        return None, None
    if isinstance(ax, Axes):
        return ax, None
    pair = list(ax)
    if len(pair) != 2 or not any(isinstance(a, Axes) for a in pair) or not all(
            a is None or isinstance(a, Axes) for a in pair):  # fmt: skip
        raise LeasesimError(
            USAGE_ERROR, "distribution: ax must be one Axes (the histogram) or a pair "
            "(histogram Axes or None, ECDF Axes or None) with at least one Axes.",
        )  # fmt: skip
    return pair[0], pair[1]


def _range(shown: np.ndarray) -> tuple[float, float]:
    """The x range: from 0, unless the values sit far from it (e.g. detection times near T)."""
    low, high = float(shown.min()), float(shown.max())
    if high <= 0:
        return 0.0, 1.0
    if low <= 0.3 * high:
        return 0.0, high * 1.02
    spread = max(high - low, 0.02 * high)
    return low - 0.05 * spread, high + 0.05 * spread


def _histogram(ax: Any, shown: np.ndarray, bins: int, unit: float,
               span: tuple[float, float]) -> None:  # fmt: skip
    """Bins over the bulk of the values; a far tail (beyond twice the p99) is counted in a note."""
    start = 0.0 if span[0] == 0 else float(shown.min())
    stop = float(shown.max())
    p99 = float(np.percentile(shown, 99))
    if stop > 2 * p99 > start:
        stop = 2 * p99
        span = (span[0], stop * 1.02)
    stop = max(stop, start + 1e-9)
    inside = shown[shown <= stop]
    _, _, patches = ax.hist(inside, bins=np.linspace(start, stop, bins + 1),
                            color=SERIES_COLORS[0], alpha=0.85, edgecolor="white",
                            linewidth=0.4)  # fmt: skip
    for p in patches:
        p.set_gid("bar")
    beyond = len(shown) - len(inside)
    if beyond:
        ax.text(0.98, 0.5, f"{beyond} beyond {human_duration(stop * unit)}\n"
                f"(up to {human_duration(shown.max() * unit)})",
                transform=ax.transAxes, ha="right", va="center", fontsize=8, color="#555555",
                gid=f"beyond:{beyond}")  # fmt: skip
    mean = float(shown.mean())
    ax.axvline(mean, color="black", linestyle="--", linewidth=1, gid="mean")
    _note(ax, mean, 1.0, f"mean {human_duration(mean * unit)}", "black", span, dy=-10)
    ax.set_xlim(*span)


def _ecdf(ax: Any, shown: np.ndarray, unit: float, span: tuple[float, float]) -> None:
    xs = np.sort(shown)
    ys = np.arange(1, len(xs) + 1) / len(xs)
    ax.step(np.concatenate(([span[0]], xs)), np.concatenate(([0.0], ys)), where="post",
            color=SERIES_COLORS[0], linewidth=1.5, gid="ecdf")  # fmt: skip
    for k, p in enumerate(PERCENTILES):
        x = float(np.percentile(shown, p))
        ax.axvline(x, color=SERIES_COLORS[1], linestyle=":", linewidth=1, gid=f"p{p}")
        _note(ax, x, 0.05 + 0.12 * k, f"p{p} {human_duration(x * unit)}", SERIES_COLORS[1],
              span)  # fmt: skip
    ax.set_ylim(0, 1.02)
    ax.set_xlim(*span)


def _note(ax: Any, x: float, y: float, text: str, color: str, span: tuple[float, float],
          dy: float = 0) -> None:  # fmt: skip
    """A label beside a vertical line: on its right, or its left near the right edge."""
    right = x < span[0] + 0.7 * (span[1] - span[0])
    ax.annotate(text, (x, y), xycoords=("data", "axes fraction"), fontsize=8, color=color,
                xytext=(3 if right else -3, dy), textcoords="offset points",
                ha="left" if right else "right")  # fmt: skip


def _title(runs: list[Result], q: Quantity, shown: np.ndarray, scale: TimeScale) -> str:
    where = runs[0].scenario.name
    where += f", seed {runs[0].seed}" if len(runs) == 1 else f", {len(runs)} replications pooled"
    if not len(shown):
        return f"{where}: {q.title}: no values"
    sec = scale.seconds
    stats = (
        f"n = {len(shown):,}, mean {human_duration(shown.mean() * sec)}, "
        f"p95 {human_duration(np.percentile(shown, 95) * sec)}"
    )
    return f"{where}: {q.title} ({stats})"
