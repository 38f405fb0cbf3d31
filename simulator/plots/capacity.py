"""The capacity figure: latency percentiles and API load against fleet size or load.

Three aligned panels over the swept parameter: task latency percentiles (with an optional target);
PollForTask and ReportTaskProgress calls per second with the account's rate limits drawn as lines
of the same colour; and throttled calls per run. Where a call rate meets its limit, throttling
starts and the fleet stops scaling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.plots import sweeps
from simulator.plots.style import SERIES_COLORS, human_ticks, integer_ticks, panels, styled
from simulator.plots.tradeoff import band, caption, finish_x
from simulator.scenario.schema import Scenario, Throttle
from simulator.units import UnitError, format_duration, parse_duration

LATENCY = ("latency_p50_s", "latency_p95_s", "latency_p99_s")
# Call-rate metric -> (operation, field of the scenario's service.throttle)
CALL_RATES = {
    "progress_calls_per_s": ("ReportTaskProgress", "progress"),
    "poll_calls_per_s": ("PollForTask", "poll"),
}
_STYLES = ("-", "--", ":", "-.")


def capacity(
    sweep_df: pd.DataFrame,
    x: str,
    *,
    latency: Sequence[str] = LATENCY,
    by: str | None = None,
    target: float | str | None = None,
    limits: Scenario | Mapping[str, float] | None = None,
    confidence: float = 0.95,
    logx: bool | None = None,
    title: str | None = None,
    ax: Any = None,
    fig: Any = None,
) -> Figure | Any:
    """Latency percentiles, API call rates against their limits, and throttled calls, against `x`.

    `x` is a swept column (e.g. fleet.etl.runners or workload.batch.arrivals.rate); `by` another,
    drawn as line styles. `target` (seconds or "45m") draws a latency target. `limits` gives the
    rate limits: a Scenario (its service.throttle; none drawn if throttling is off), a mapping
    {"progress": 10, "poll": 2} in calls per second, or None for the documented account limits.

    Returns a new Figure; or draws into `fig` (your Figure or SubFigure) and returns it; or into
    `ax`, three Axes (latency, calls, throttled), returned as given.
    """
    needed = [x, *latency, *CALL_RATES, "throttled_calls"] + ([by] if by else [])
    sweeps.require(sweep_df, needed, "capacity")
    df = sweep_df.reset_index(drop=True)
    axis = sweeps.param_axis(df, x, logx)
    target_s = _target(target)
    lines = _limits(limits)
    groups = sweeps.groups(df, by)
    with styled():
        out, (lat_ax, calls_ax, thr_ax) = panels(3, ax, fig, "capacity", (7.5, 7.8))

        values = {m: sweeps.metric_column(df, m, "capacity")[0] for m in latency}
        top = max([float(v.max()) for v in values.values()] + [target_s or 0.0])
        unit, divisor = sweeps.display_scale("s", [top])
        for k, metric in enumerate(latency):
            for g, (label, rows) in enumerate(groups):
                stats = sweeps.point_stats(axis.values[rows.index], values[metric][rows.index],
                                           confidence)  # fmt: skip
                name = metric.removeprefix("latency_").removesuffix("_s")
                band(lat_ax, stats, divisor, SERIES_COLORS[k % len(SERIES_COLORS)],
                     f"{name}{', ' + label if label else ''}", _STYLES[g % len(_STYLES)])
        if target_s is not None:
            lat_ax.axhline(target_s / divisor, color="black", linewidth=1, linestyle="--",
                           gid="target", label=f"target {format_duration(target_s)}")
        lat_ax.set_ylabel(f"task latency\n({unit})")
        human_ticks(lat_ax.yaxis, unit)
        lat_ax.legend(loc="best", ncols=2)

        for k, (metric, (operation, _)) in enumerate(CALL_RATES.items()):
            color = SERIES_COLORS[(k + 3) % len(SERIES_COLORS)]
            rates = sweeps.metric_column(df, metric, "capacity")[0]
            for g, (label, rows) in enumerate(groups):
                stats = sweeps.point_stats(axis.values[rows.index], rates[rows.index], confidence)
                band(calls_ax, stats, 1.0, color,
                     f"{operation}{', ' + label if label else ''}", _STYLES[g % len(_STYLES)])
            if operation in lines:
                calls_ax.axhline(lines[operation], color=color, linewidth=1.2, linestyle="--",
                                 gid=f"limit:{operation}",
                                 label=f"{operation} limit {lines[operation]:g}/s")  # fmt: skip
        calls_ax.set_ylabel("API calls sent\n(calls/s)")
        calls_ax.set_ylim(bottom=0)
        human_ticks(calls_ax.yaxis, "calls/s")
        calls_ax.legend(loc="best", fontsize=7)

        throttled = sweeps.metric_column(df, "throttled_calls", "capacity")[0]
        for g, (label, rows) in enumerate(groups):
            stats = sweeps.point_stats(axis.values[rows.index], throttled[rows.index], confidence)
            band(thr_ax, stats, 1.0, SERIES_COLORS[1], label, _STYLES[g % len(_STYLES)])
        thr_ax.set_ylabel("throttled calls\n(calls per run)")
        thr_ax.set_ylim(0, max(1.0, thr_ax.get_ylim()[1]))  # none throttled: 0 and 1, not 0.054
        integer_ticks(thr_ax.yaxis)
        if by is not None:
            thr_ax.legend(loc="best")
        for panel in (lat_ax, calls_ax, thr_ax):
            finish_x(panel, axis, label=panel is thr_ax)
        n = df.groupby([by, x] if by else [x], sort=False).size()
        note = "" if lines else "; throttling off: no limits drawn"
        lat_ax.set_title(f"{title or 'capacity against ' + x}\n{caption(n, confidence)}{note}",
                         loc="left")  # fmt: skip
    return out


def _target(target: float | str | None) -> float | None:
    if target is None:
        return None
    try:
        return parse_duration(target)
    except UnitError as exc:
        raise LeasesimError(USAGE_ERROR, f"capacity: target: {exc}.") from None


def _limits(limits: Scenario | Mapping[str, float] | None) -> dict[str, float]:
    """Operation -> calls per second allowed, from a scenario, a mapping or the documented ones."""
    if isinstance(limits, Scenario):
        throttle: Any = limits.service.throttle
        if throttle is None:
            return {}
    elif limits is None:
        throttle = Throttle()
    else:
        fields = {field for _, field in CALL_RATES.values()}
        unknown = [k for k in limits if k not in fields]
        if unknown:
            raise LeasesimError(
                USAGE_ERROR,
                f"capacity: limits has unknown key {', '.join(map(repr, unknown))}; "
                f"expected {', '.join(sorted(fields))} (calls per second).",
            )
        return {op: float(limits[f]) for op, f in CALL_RATES.values() if f in limits}
    return {op: float(getattr(throttle, f)) for op, f in CALL_RATES.values()}
