"""The timeline figure: a Gantt chart of attempts per runner thread; duplicates show at a glance.

Each row is one poll thread of one runner. Per attempt: a thin strip while the service holds the
lease for it, solid bars while the runner works on it (net of pauses), a tick at the
acknowledgement, a red cross at the lease loss, a diamond when the work completes (filled if its
SetTaskStatus ended the task). Faults shade their runner's rows; stretches where two attempts of a
task worked at once are hatched red; arrows lead from an attempt's end to the next assignment of
the same task. Runners that scaling launched or that left the fleet (issue 16) show when they
became ready (a green triangle; grey before it) and when they stopped (a black square; grey
after it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle

from simulator.errors import USAGE_ERROR, LeasesimError
from simulator.plots import intervals as iv
from simulator.plots.style import (
    DUPLICATE,
    FAULT_COLORS,
    FAULT_LABELS,
    LEASE_LOST,
    OTHER_TASK,
    TASK_COLORS,
    TimeScale,
    new_figure,
    styled,
    time_ticks,
)
from simulator.results.result import Result
from simulator.units import UnitError, format_duration, parse_duration

Row = tuple[str, int]  # (runner, thread)

CAPTION = (
    "Each row is one poll thread of a runner. Solid bars are work (net of pauses), labelled with "
    "the task id; the thin strip under a bar is the lease as the service sees it, from the "
    "assignment to the lease loss (red cross) or the end of the attempt. A black tick marks the "
    "acknowledgement, a diamond the end of the work (filled if its SetTaskStatus ended the task). "
    "Shaded columns are faults of that runner; red hatching marks two attempts of one task "
    "working at the same time, and arrows lead to the task's next assignment. A green triangle "
    "marks a launched runner's first poll, a black square a runner leaving the fleet (scale-in "
    "or interruption); grey shows where it was not running."
)

BAR = 0.56  # height of a work bar, in rows
LEASE_Y, LEASE_H = 0.31, 0.12  # the lease strip, under the bar
ROW_INCHES = 0.26


def timeline(
    result: Result,
    tasks: Iterable[int] | None = None,
    runners: Iterable[str] | None = None,
    window: tuple[float | str | None, float | str | None] | None = None,
    *,
    max_tasks: int = 10,
    max_rows: int = 50,
    ax: Axes | None = None,
) -> Figure | Axes:
    """A Gantt chart of attempts per runner thread: a new Figure, or `ax` drawn on and returned.

    Give `tasks` (task ids) to follow those tasks, or `runners` (runner names) to show everything
    those runners' threads did; by default the most interesting tasks are picked: duplicated ones
    (longest overlap first), then reassigned or retried ones, up to `max_tasks` tasks and
    `max_rows` thread rows. `window` = (start, end) limits the time axis (seconds or durations
    such as "2h"; None for either end keeps the default). Other tasks' attempts on the same rows
    are drawn in grey for context. Given `ax` (one of your subplots), the chart and its legend
    (right of the axes) go there and the axes are returned, as pandas' and seaborn's plots do.
    """
    if tasks is not None and runners is not None:
        raise LeasesimError(USAGE_ERROR, "timeline: give tasks or runners, not both.")
    duration = result.duration
    attempts = result.attempts
    limits = _window(window, duration)
    if tasks is not None:
        chosen, note = _by_tasks(attempts, tasks, max_rows)
    elif runners is not None:
        chosen, note = _by_runners(attempts, runners, limits, max_rows, duration)
    else:
        chosen, note = _interesting(result, limits, max_tasks, max_rows)

    rows = sorted(set(_row_list(chosen)), key=_row_key)
    y_of = {row: i for i, row in enumerate(rows)}
    lo, hi = _extent(chosen, duration) if len(chosen) else (0.0, duration)
    if limits is not None:
        lo = lo if limits[0] is None else limits[0]
        hi = hi if limits[1] is None else limits[1]
    if limits is None:  # a little air around the attempts
        pad = 0.02 * (hi - lo)
        lo, hi = max(0.0, lo - pad), min(duration, hi + pad)
    scale = TimeScale.for_span(hi - lo)

    task_ids = list(dict.fromkeys(int(t) for t in chosen["task_id"]))
    colors = {t: TASK_COLORS[k % len(TASK_COLORS)] for k, t in enumerate(task_ids)}
    in_rows = attempts[_mask([row in y_of for row in _row_list(attempts)])]
    context = in_rows[~in_rows["task_id"].isin(task_ids) & _intersects(in_rows, lo, hi, duration)]
    pauses = iv.pauses_by_runner(result.faults, duration)

    with styled():
        given = ax is not None
        if ax is None:
            fig = new_figure(11.0, max(3.2, ROW_INCHES * len(rows) + 2.2))
            ax = fig.add_subplot()
            axes_inches = 11.0 - 1.6  # figure width less the row labels and margins
        else:
            root = ax.get_figure(root=True)
            axes_inches = ax.get_position().width * root.get_figwidth()
        drawer = _Drawer(ax, scale, duration, pauses, y_of,
                         pts_per_s=_points_per_second(lo, hi, axes_inches))  # fmt: skip
        faults = _draw_faults(drawer, result.faults, rows, lo, hi)
        faults |= _draw_lives(drawer, result.tables.get("runners"), rows, lo, hi)
        for _, a in context.iterrows():
            drawer.attempt(a, OTHER_TASK, label=None)
        for _, a in chosen.iterrows():
            drawer.attempt(a, colors[int(a["task_id"])], label=f"#{int(a['task_id'])}")
        duplicates = 0  # hatched stretches drawn
        for task_id in task_ids:
            own = chosen[chosen["task_id"] == task_id].sort_values("seq")
            duplicates += drawer.duplicates(own)
            drawer.arrows(own, colors[task_id])
        _finish_axes(ax, rows, scale, lo, hi)
        if not rows:
            ax.text(0.5, 0.5, "no attempt in this run" + (" and window" if limits else ""),
                    transform=ax.transAxes, ha="center", va="center", color="#555555",
                    gid="empty")  # fmt: skip
        title = (
            f"{result.scenario.name}, seed {result.seed}: {len(task_ids)} "
            f"{'task' if len(task_ids) == 1 else 'tasks'} on {len(rows)} runner threads"
        )
        ax.set_title(f"{title}\n{note}", loc="left")
        _legend(ax if given else fig, drawer, faults, duplicates, has_context=len(context) > 0)
    return ax if given else fig


# --- choosing what to show -----------------------------------------------------------------------


def _window(
    window: tuple[float | str | None, float | str | None] | None, duration: float
) -> tuple[float | None, float | None] | None:
    """(start, end) in seconds from the user's window, checked."""
    if window is None:
        return None
    try:
        start, end = window
    except (TypeError, ValueError):
        raise LeasesimError(
            USAGE_ERROR, f"timeline: window must be a pair (start, end), got {window!r}."
        ) from None
    bounds = []
    for name, value in (("start", start), ("end", end)):
        if value is None:
            bounds.append(None)
            continue
        try:
            bounds.append(parse_duration(value))
        except UnitError as exc:
            raise LeasesimError(USAGE_ERROR, f"timeline: window {name}: {exc}.") from None
    lo = 0.0 if bounds[0] is None else bounds[0]
    hi = duration if bounds[1] is None else bounds[1]
    if not 0 <= lo < hi:
        raise LeasesimError(
            USAGE_ERROR,
            f"timeline: window ({format_duration(lo)}, {format_duration(hi)}) is empty or "
            "negative; it needs 0 <= start < end.",
        )
    return bounds[0], bounds[1]


def _attempt_end(frame: pd.DataFrame, duration: float) -> np.ndarray:
    """When each attempt stops mattering on the chart: its last service or runner event."""
    ends = frame[["ended_at", "work_ended_at", "lease_lost_at"]].to_numpy(dtype=float)
    with np.errstate(all="ignore"):
        last = np.nanmax(np.where(np.isnan(ends), -np.inf, ends), axis=1)
    still = frame["live"].to_numpy() | (frame["runner_outcome"].to_numpy() == "running")
    return np.minimum(np.where(still | ~np.isfinite(last), duration, last), duration)


def _intersects(frame: pd.DataFrame, lo: float | None, hi: float | None, duration: float) -> Any:
    start = frame["assigned_at"].to_numpy(dtype=float)
    end = _attempt_end(frame, duration)
    keep = np.ones(len(frame), dtype=bool)
    if lo is not None:
        keep &= end >= lo
    if hi is not None:
        keep &= start <= hi
    return keep


def _extent(frame: pd.DataFrame, duration: float) -> tuple[float, float]:
    lo = float(frame["assigned_at"].min())
    hi = float(_attempt_end(frame, duration).max())
    return lo, max(hi, lo + 1.0)


def _row_key(row: Row) -> tuple[Any, ...]:
    """Natural order: jvm-2 before jvm-10."""
    parts = re.split(r"(\d+)", row[0])
    return (*[(0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts], row[1])


def _row_list(frame: pd.DataFrame) -> list[Row]:
    """The (runner, thread) row of each attempt."""
    return [(str(r), int(t)) for r, t in zip(frame["runner"], frame["thread"], strict=True)]


def _mask(flags: list[bool]) -> np.ndarray:
    """Row flags as a boolean array (an empty list would select columns, not rows)."""
    return np.array(flags, dtype=bool)


def _rows_of(frame: pd.DataFrame) -> set[Row]:
    return set(_row_list(frame))


def _take(
    attempts: pd.DataFrame, order: Sequence[int], max_tasks: int | None, max_rows: int
) -> tuple[pd.DataFrame, int]:
    """Tasks from `order` while they fit in `max_rows` rows and `max_tasks` tasks; (rows, taken)."""
    by_task = {t: g for t, g in attempts.groupby("task_id", sort=False)}
    rows: set[Row] = set()
    taken: list[int] = []
    for task_id in order:
        if max_tasks is not None and len(taken) >= max_tasks:
            break
        more = rows | _rows_of(by_task[task_id])
        if len(more) > max_rows:
            continue
        rows = more
        taken.append(task_id)
    return attempts[attempts["task_id"].isin(taken)], len(taken)


def _by_tasks(
    attempts: pd.DataFrame, tasks: Iterable[int], max_rows: int
) -> tuple[pd.DataFrame, str]:
    wanted = [int(t) for t in tasks]
    known = set(attempts["task_id"].tolist())
    missing = [t for t in wanted if t not in known]
    if missing:
        raise LeasesimError(
            USAGE_ERROR,
            f"timeline: no attempt of task {', '.join(map(str, missing[:10]))} in this run "
            f"(task ids with attempts run from {min(known, default=0)} to "
            f"{max(known, default=0)}; a task never assigned has none).",
        )
    chosen, taken = _take(attempts, list(dict.fromkeys(wanted)), None, max_rows)
    shown = ", ".join(map(str, wanted[:12])) + (" ..." if len(wanted) > 12 else "")
    note = f"{'task' if len(wanted) == 1 else 'tasks'} {shown}"
    if taken < len(set(wanted)):
        note += f" (only {taken} fit in {max_rows} rows)"
    return chosen, note


def _by_runners(
    attempts: pd.DataFrame, runners: Iterable[str], limits: Any, max_rows: int, duration: float
) -> tuple[pd.DataFrame, str]:
    wanted = [str(r) for r in runners]
    known = sorted(set(attempts["runner"].tolist()), key=lambda r: _row_key((r, 0)))
    missing = [r for r in wanted if r not in known]
    if missing:
        shown = ", ".join(known[:8]) + (" ..." if len(known) > 8 else "")
        raise LeasesimError(
            USAGE_ERROR,
            f"timeline: runner {', '.join(missing)} held no attempt in this run; runners that "
            f"did: {shown or 'none'}.",
        )
    chosen = attempts[attempts["runner"].isin(wanted)]
    if limits is not None:
        chosen = chosen[_intersects(chosen, limits[0], limits[1], duration)]
    rows = set(sorted(_rows_of(chosen), key=_row_key)[:max_rows])
    chosen = chosen[_mask([row in rows for row in _row_list(chosen)])]
    if len(wanted) <= 4:
        return chosen, f"every attempt on runner {', '.join(wanted)}"
    return chosen, f"every attempt on {len(wanted)} runners ({wanted[0]} … {wanted[-1]})"


def _interesting(
    result: Result, limits: Any, max_tasks: int, max_rows: int
) -> tuple[pd.DataFrame, str]:
    """Duplicated tasks (longest overlap first), then reassigned, then retried ones."""
    attempts = result.attempts
    if limits is not None:
        attempts = attempts[_intersects(attempts, limits[0], limits[1], result.duration)]
    tasks = result.tasks[result.tasks["task_id"].isin(attempts["task_id"])]
    hot = tasks[
        tasks["duplicated"].to_numpy() | (tasks["reassignments"] > 0).to_numpy()
        | (tasks["attempts"] > 1).to_numpy()
    ]  # fmt: skip
    if len(hot):
        ranked = hot.sort_values(
            ["duplicated", "overlap_s", "reassignments", "attempts", "task_id"],
            ascending=[False, False, False, False, True],
        )
        chosen, taken = _take(attempts, ranked["task_id"].tolist(), max_tasks, max_rows)
        dup = int(hot["duplicated"].sum())
        if dup:
            note = (
                f"the {taken} most eventful of {len(hot)} duplicated or reassigned tasks "
                f"({dup} duplicated), longest duplicate first"
            )
        else:
            note = (
                f"the {taken} most eventful of {len(hot)} reassigned or retried tasks "
                "(none duplicated), most reassignments first"
            )
        return chosen, note
    first = tasks.sort_values(["first_assigned_at", "task_id"])["task_id"].tolist()
    chosen, taken = _take(attempts, first, max_tasks, max_rows)
    return chosen, f"no task was reassigned or duplicated: the first {taken} tasks"


def _points_per_second(lo: float, hi: float, axes_inches: float) -> float:
    return axes_inches * 72.0 / max(hi - lo, 1e-9)


# --- drawing -------------------------------------------------------------------------------------


class _Drawer:
    """Draws attempts onto one axes in scaled time units; counts what it drew for the legend."""

    def __init__(
        self, ax: Any, scale: TimeScale, duration: float, pauses: dict[str, list[iv.Interval]],
        y_of: dict[Row, int], pts_per_s: float,
    ) -> None:  # fmt: skip
        self.ax, self.scale, self.duration = ax, scale, duration
        self.pauses, self.y_of, self.pts_per_s = pauses, y_of, pts_per_s
        self.drawn: set[str] = set()
        self.labels: dict[int, list[tuple[float, float]]] = {}  # row -> label spans, in points

    def x(self, seconds: float) -> float:
        return seconds / self.scale.seconds

    def row(self, a: pd.Series) -> int:
        return self.y_of[(str(a["runner"]), int(a["thread"]))]

    def rect(
        self, start: float, end: float, y: float, height: float, gid: str, **style: Any
    ) -> None:
        patch = Rectangle((self.x(start), y), self.x(end) - self.x(start), height, **style)
        patch.set_gid(gid)
        self.ax.add_patch(patch)
        self.drawn.add(gid)

    def mark(self, t: float, y: float, gid: str, **style: Any) -> None:
        (line,) = self.ax.plot([self.x(t)], [y], linestyle="none", **style)
        line.set_gid(gid)
        self.drawn.add(gid)

    def attempt(self, a: pd.Series, color: str, label: str | None) -> None:
        y = self.row(a)
        other = label is None
        lease_end = next(
            (float(a[c]) for c in ("lease_lost_at", "ended_at") if not math.isnan(a[c])),
            self.duration,
        )
        self.rect(float(a["assigned_at"]), lease_end, y + LEASE_Y - LEASE_H / 2, LEASE_H,
                  "other_lease" if other else "lease", color=color, alpha=0.55, linewidth=0,
                  zorder=2)  # fmt: skip
        pieces = iv.work_pieces(a, self.duration, self.pauses.get(str(a["runner"]), []))
        for start, end in pieces:
            self.rect(start, end, y - BAR / 2, BAR, "other_work" if other else "work",
                      facecolor=color, edgecolor="white", linewidth=0.4, zorder=3)  # fmt: skip
        if other:
            return
        if not math.isnan(a["acked_at"]):
            self.mark(float(a["acked_at"]), y, "ack", marker="|", color="black",
                      markersize=11, markeredgewidth=1.6, zorder=5)  # fmt: skip
        if not math.isnan(a["lease_lost_at"]):
            self.mark(float(a["lease_lost_at"]), y + LEASE_Y, "lease_lost", marker="X",
                      color=LEASE_LOST, markersize=7, markeredgecolor="white",
                      markeredgewidth=0.6, zorder=6)  # fmt: skip
        if a["runner_outcome"] == "completed" and not math.isnan(a["work_ended_at"]):
            accepted = bool(a["finished_task"])
            self.mark(float(a["work_ended_at"]), y, "finished" if accepted else "completed_unused",
                      marker="D", markersize=5.5, markeredgecolor="black", markeredgewidth=0.8,
                      color="black" if accepted else "white", zorder=6)  # fmt: skip
        self.label(a, pieces, label, color)

    def label(self, a: pd.Series, pieces: list[iv.Interval], text: str, color: str) -> None:
        """The task id inside the first work bar if it fits, else just after the attempt; left
        out where it would overlap another label of the row (the bar's colour still tells)."""
        y = self.row(a)
        width_pts = 0.62 * 6.5 * len(text) + 4
        if pieces and (pieces[0][1] - pieces[0][0]) * self.pts_per_s >= width_pts:
            x, ha, fg, weight = pieces[0][0], "left", "white", "bold"
            offset = 2.0 / self.pts_per_s
        else:
            end = max([float(a["assigned_at"])] + [b for _, b in pieces])
            x, ha, fg, weight, offset = end, "left", color, "bold", 3.0 / self.pts_per_s
        start_pts = (x + offset) * self.pts_per_s
        span = (start_pts - 2.0, start_pts + width_pts + 2.0)
        placed = self.labels.setdefault(y, [])
        if any(span[0] < b and a_ < span[1] for a_, b in placed):
            return
        placed.append(span)
        self.ax.text(self.x(x + offset), y, text, ha=ha, va="center", fontsize=6.5, color=fg,
                     fontweight=weight, zorder=7, clip_on=True, gid="task_label")  # fmt: skip

    def duplicates(self, own: pd.DataFrame) -> int:
        """Hatch where two attempts of one task worked at once; the number of stretches drawn."""
        pieces = [
            iv.work_pieces(a, self.duration, self.pauses.get(str(a["runner"]), []))
            for _, a in own.iterrows()
        ]
        twice = iv.covered_twice(pieces)
        count = 0
        for (_, a), mine in zip(own.iterrows(), pieces, strict=True):
            y = self.row(a)
            for start, end in iv.intersect(mine, twice):
                self.rect(start, end, y - BAR / 2, BAR, f"duplicate:{int(a['task_id'])}",
                          facecolor="none",
                          edgecolor=DUPLICATE, hatch="///", linewidth=1.2, zorder=4)  # fmt: skip
                count += 1
        return count

    def arrows(self, own: pd.DataFrame, color: str) -> None:
        """From each attempt's end on the service side to the next assignment of the task."""
        previous = None
        for _, a in own.iterrows():
            if previous is not None:
                start = next(
                    (float(previous[c]) for c in ("lease_lost_at", "ended_at")
                     if not math.isnan(previous[c])), math.nan,
                )  # fmt: skip
                if not math.isnan(start):
                    y0, y1 = self.row(previous) + LEASE_Y, self.row(a)
                    bend = 0.0 if y0 == y1 else (0.25 if y1 > y0 else -0.25)
                    arrow = FancyArrowPatch(
                        (self.x(start), y0), (self.x(float(a["assigned_at"])), y1),
                        arrowstyle="-|>", mutation_scale=9, color=color, linewidth=1.1,
                        connectionstyle=f"arc3,rad={bend}", zorder=5,
                        shrinkA=2, shrinkB=1,
                    )  # fmt: skip
                    arrow.set_gid("reassignment")
                    self.ax.add_patch(arrow)
                    self.drawn.add("reassignment")
            previous = a


def _draw_faults(
    drawer: _Drawer, faults: pd.DataFrame, rows: list[Row], lo: float, hi: float
) -> set[str]:
    """Shade each fault over its runner's rows; the kinds drawn."""
    block: dict[str, tuple[int, int]] = {}
    for i, (runner, _) in enumerate(rows):
        first, last = block.get(runner, (i, i))
        block[runner] = (min(first, i), max(last, i))
    kinds: set[str] = set()
    for runner, kind, start, end in faults[["runner", "kind", "start", "end"]].itertuples(
        index=False
    ):
        if str(runner) not in block:
            continue
        stop = iv.fault_end(float(end), drawer.duration)
        if stop <= start or stop < lo or start > hi:
            continue
        first, last = block[str(runner)]
        alpha = 0.32 if kind == "crash" else 0.22
        drawer.rect(float(start), stop, first - 0.5, last - first + 1, f"fault:{kind}",
                    color=FAULT_COLORS.get(kind, "#7f7f7f"), alpha=alpha, linewidth=0,
                    zorder=1)  # fmt: skip
        kinds.add(str(kind))
    return kinds


def _draw_lives(
    drawer: _Drawer, runners: pd.DataFrame | None, rows: list[Row], lo: float, hi: float
) -> set[str]:
    """Mark launched runners' first polls and runners leaving the fleet; the marks drawn."""
    if runners is None or not len(runners):
        return set()
    block: dict[str, tuple[int, int]] = {}
    for i, (runner, _) in enumerate(rows):
        first, last = block.get(runner, (i, i))
        block[runner] = (min(first, i), max(last, i))
    drawn: set[str] = set()
    for name, launch, launched, ready, stopped, reason in runners[
        ["name", "launch", "launched_at", "ready_at", "stopped_at", "reason"]
    ].itertuples(index=False):
        if str(name) not in block:
            continue
        first, last = block[str(name)]
        middle = (first + last) / 2
        if launch == "scale_out" and lo <= ready <= hi:
            drawer.rect(max(float(launched), lo), float(ready), first - 0.5, last - first + 1,
                        "runner:launching", color="#bbbbbb", alpha=0.35, linewidth=0,
                        zorder=1)  # fmt: skip
            drawer.mark(float(ready), middle, "runner:ready", marker=">", color="#2ca02c",
                        markersize=8, zorder=6)  # fmt: skip
            drawn.add("launched")
        if reason in ("scale_in", "interruption") and stopped == stopped and stopped <= hi:
            drawer.rect(max(float(stopped), lo), hi, first - 0.5, last - first + 1,
                        "runner:stopped", color="#bbbbbb", alpha=0.35, linewidth=0,
                        zorder=1)  # fmt: skip
            if stopped >= lo:
                drawer.mark(float(stopped), middle, "runner:stopped", marker="s",
                            color="black", markersize=6, zorder=6)  # fmt: skip
            drawn.add("stopped")
    return drawn


def _finish_axes(ax: Any, rows: list[Row], scale: TimeScale, lo: float, hi: float) -> None:
    ax.set_xlim(lo / scale.seconds, hi / scale.seconds)
    ax.set_ylim(max(len(rows), 1) - 0.5, -0.5)  # first row at the top
    ax.set_yticks(range(len(rows)), [f"{r} · t{t}" for r, t in rows])
    ax.tick_params(axis="y", length=0)
    ax.grid(False, axis="y")
    ax.set_xlabel(scale.label("simulated time since start"))
    time_ticks(ax.xaxis, scale.unit)
    ax.set_ylabel("runner · poll thread")
    for i in range(1, len(rows)):
        if rows[i][0] != rows[i - 1][0]:  # a line between runners
            ax.axhline(i - 0.5, color="#dddddd", linewidth=0.6, zorder=0)


def _legend(where: Figure | Axes, drawer: _Drawer, faults: set[str], duplicates: int,
            has_context: bool) -> None:  # fmt: skip
    drawn = drawer.drawn
    handles: list[Any] = [Patch(facecolor=TASK_COLORS[0], label="work, net of pauses (#task)")]
    handles.append(Patch(facecolor=TASK_COLORS[0], alpha=0.55, label="lease held (service)"))
    if "ack" in drawn:
        handles.append(Line2D([], [], marker="|", color="black", linestyle="none",
                              markersize=9, markeredgewidth=1.6, label="acknowledged"))  # fmt: skip
    if "lease_lost" in drawn:
        handles.append(Line2D([], [], marker="X", color=LEASE_LOST, linestyle="none",
                              markersize=7, label="lease lost"))  # fmt: skip
    if "reassignment" in drawn:
        handles.append(Line2D([], [], color="#555555", marker=">", markersize=4,
                              label="next assignment of the task"))  # fmt: skip
    if "finished" in drawn:
        handles.append(Line2D([], [], marker="D", color="black", linestyle="none",
                              markersize=5, label="work done, status accepted"))  # fmt: skip
    if "completed_unused" in drawn:
        handles.append(Line2D([], [], marker="D", markerfacecolor="white", color="black",
                              linestyle="none", markersize=5,
                              label="work done, status not accepted"))  # fmt: skip
    if duplicates:
        handles.append(Patch(facecolor="none", edgecolor=DUPLICATE, hatch="///",
                             label="duplicate execution"))  # fmt: skip
    if has_context:
        handles.append(Patch(facecolor=OTHER_TASK, label="other tasks"))
    for kind in ("pause", "crash", "partition", "progress_stall", "heartbeat_stall",
                 "interruption"):  # fmt: skip
        if kind in faults:
            handles.append(Patch(facecolor=FAULT_COLORS[kind], alpha=0.3,
                                 label=FAULT_LABELS[kind]))  # fmt: skip
    if "launched" in faults:
        handles.append(Line2D([], [], marker=">", color="#2ca02c", linestyle="none",
                              markersize=7, label="launched runner's first poll"))  # fmt: skip
    if "stopped" in faults:
        handles.append(Line2D([], [], marker="s", color="black", linestyle="none",
                              markersize=6, label="runner left the fleet"))  # fmt: skip
    if isinstance(where, Axes):  # a user's subplot: beside it, never over its data
        where.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    else:
        where.legend(handles=handles, loc="outside lower center", ncols=min(5, len(handles)))
