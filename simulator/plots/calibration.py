"""Figures of a calibration: how well a fitted distribution matches the recorded work (ECDF against
the fitted CDFs, QQ plot), and a recorded distribution against the simulated one.

Each function takes what `fit_observed` / `compare_observed` return (duck-typed: a `WorkFit` has
`.data`, `.candidates`, `.chosen`; a `Comparison` has `.observed_tasks` and `.simulated_tasks`)
and returns a new Figure, or draws into `ax=` and returns it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from simulator.plots.style import TimeScale, new_figure, styled, time_ticks

_COLOURS = {"lognormal": "#1f77b4", "exponential": "#ff7f0e", "empirical": "#555555"}
OBSERVED, SIMULATED = "#222222", "#2ca02c"

#: What `compare_ecdf` can draw: quantity -> (task column, axis title, is a time)
COMPARE_QUANTITIES = {
    "latency": ("latency", "latency: finish - submission", True),
    "work": ("work", "work per task", True),
    "queue_wait": ("wait", "queue wait", True),
    "attempts": ("attempts", "attempts per task", False),
}


def _finish(ax: Any, fig: Any, title: str) -> Any:
    if fig is not None:
        fig.suptitle(title, x=0.01, ha="left", fontsize=10)
        return fig
    ax.set_title(title, loc="left", fontsize=9)
    return ax


def fit_ecdf(work_fit: Any, *, title: str = "task work", ax: Any = None) -> Any:
    """The ECDF of the recorded work with the CDF of each parametric candidate over it."""
    data = np.sort(np.asarray(work_fit.data, dtype=float))
    scale = TimeScale.for_span(float(np.percentile(data, 99)) if len(data) else 0.0)
    with styled():
        fig = None
        if ax is None:
            fig = new_figure(6.0, 3.8)
            ax = fig.subplots()
        y = np.arange(1, len(data) + 1) / len(data)
        ax.step(
            data / scale.seconds,
            y,
            where="post",
            color=OBSERVED,
            lw=1.6,
            label=f"recorded (n = {len(data)})",
        )
        grid = np.linspace(0.0, data[-1] * 1.05, 400)
        for c in work_fit.candidates:
            if c.frozen is None:
                continue
            mark = " (chosen)" if c is work_fit.chosen else ""
            ax.plot(
                grid / scale.seconds,
                c.frozen.cdf(grid),
                color=_COLOURS[c.name],
                lw=1.2,
                ls="-" if mark else "--",
                label=f"{c.name}{mark}: KS D = {c.ks:.3f}",
            )
        ax.set_xlabel(scale.label("work"))
        ax.set_ylabel("fraction of attempts ≤ x")
        time_ticks(ax.xaxis, scale.unit)
        ax.legend(loc="lower right")
        return _finish(ax, fig, f"{title}: recorded ECDF against the fitted distributions")


def qq(work_fit: Any, *, title: str = "task work", ax: Any = None) -> Any:
    """Quantiles of the recorded work against those of each parametric candidate (log axes: the
    tail shows). Points on the diagonal: the fit matches."""
    data = np.sort(np.asarray(work_fit.data, dtype=float))
    n = len(data)
    probs = (np.arange(1, n + 1) - 0.5) / n
    scale = TimeScale.for_span(float(np.percentile(data, 99)) if n else 0.0)
    with styled():
        fig = None
        if ax is None:
            fig = new_figure(4.8, 4.4)
            ax = fig.subplots()
        shown = data / scale.seconds
        lo, hi = shown[0], shown[-1]
        for c in work_fit.candidates:
            if c.frozen is None:
                continue
            q = c.frozen.ppf(probs) / scale.seconds
            mark = " (chosen)" if c is work_fit.chosen else ""
            ax.plot(q, shown, ".", ms=3, color=_COLOURS[c.name], alpha=0.7, label=f"{c.name}{mark}")
            lo, hi = min(lo, q[0]), max(hi, q[-1])
        lo = max(lo, shown[0] / 5)
        ax.plot([lo, hi], [lo, hi], color="#999999", lw=0.8, label="y = x")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(scale.label("fitted quantile"))
        ax.set_ylabel(scale.label("recorded quantile"))
        ax.legend(loc="upper left")
        return _finish(ax, fig, f"{title}: QQ plot")


def compare_ecdf(comparison: Any, quantity: str = "latency", *, ax: Any = None) -> Any:
    """ECDF of a per-task quantity (latency, work, queue_wait, attempts) in the record against the
    simulated replications pooled, with the KS two-sample distance (a description: tasks of one
    record are not independent, the verdicts use `compare_observed`'s test)."""
    column, what, timed = COMPARE_QUANTITIES[quantity]
    obs = comparison.observed_tasks[column].to_numpy(dtype=float)
    sim = comparison.simulated_tasks[column].to_numpy(dtype=float)
    obs, sim = np.sort(obs[np.isfinite(obs)]), np.sort(sim[np.isfinite(sim)])
    both = np.concatenate([obs, sim])
    scale = TimeScale.for_span(float(np.percentile(both, 99)) if timed and len(both) else 0.0)
    div = scale.seconds if timed else 1.0
    with styled():
        fig = None
        if ax is None:
            fig = new_figure(6.0, 3.8)
            ax = fig.subplots()
        for values, colour, label in (
            (obs, OBSERVED, "recorded"),
            (sim, SIMULATED, f"simulated ({comparison.replications} replications)"),
        ):
            if len(values):
                y = np.arange(1, len(values) + 1) / len(values)
                ax.step(
                    values / div,
                    y,
                    where="post",
                    color=colour,
                    lw=1.5,
                    label=f"{label}, n = {len(values)}",
                )
        if len(both) and timed:  # the bulk of both, not one simulated outlier
            ax.set_xlim(0.0, float(np.percentile(both, 99.5)) / div * 1.05)
        ax.set_xlabel(scale.label(what) if timed else what)
        ax.set_ylabel("fraction of tasks ≤ x")
        if timed:
            time_ticks(ax.xaxis, scale.unit)
        ax.legend(loc="lower right")
        note = ""
        if len(obs) and len(sim):
            note = f" (KS D = {stats.ks_2samp(obs, sim).statistic:.3f})"
        return _finish(ax, fig, f"{what}: recorded against simulated{note}")
