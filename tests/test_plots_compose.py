"""Every figure composes into a user's own subplots (`ax=`, or `fig=` for the multi-panel ones),
and the figures read as a person expects: human time ticks, whole-number count ticks, no claim
about duplicates when there are none, no band drawn for a single replication."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builders import make_scenario
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from test_plots import gids, rendered, synthetic_sweep

import simulator
from simulator import plots
from simulator.errors import LeasesimError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gc_run() -> simulator.Result:
    return simulator.run(str(ROOT / "scenarios" / "gc-pauses.yaml"), seed=1,
                         overrides=["duration=2h"])  # fmt: skip


def _user_figure(rows: int, cols: int) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(6 * cols, 3 * rows), layout="constrained")
    return fig, np.atleast_1d(fig.subplots(rows, cols, squeeze=False))


def test_timeline_draws_into_the_given_axes(gc_run):
    fig, axes = _user_figure(1, 2)
    ax = axes[0, 0]
    assert plots.timeline(gc_run, ax=ax) is ax
    assert gids(ax, "work") and gids(ax, "lease")
    assert ax.get_legend() is not None  # beside the axes, not on the user's figure
    assert fig.legends == [] and len(fig.axes) == 2
    assert gids(axes[0, 1], "work") == []
    rendered(fig)


def test_distribution_draws_into_one_axes_or_a_pair(gc_run):
    fig, axes = _user_figure(1, 3)
    hist_ax, ecdf_ax, other = axes[0]
    assert plots.distribution(gc_run, "latency", ax=hist_ax) is hist_ax
    assert gids(hist_ax, "bar") and gids(hist_ax, "mean")
    pair = (None, ecdf_ax)
    assert plots.distribution(gc_run, "latency", ax=pair) is pair
    assert gids(ecdf_ax, "ecdf") and gids(ecdf_ax, "bar") == []
    assert not other.has_data() and len(fig.axes) == 3 and fig.texts == []
    with pytest.raises(LeasesimError, match="one Axes"):
        plots.distribution(gc_run, "latency", ax=(None, None))
    rendered(fig)


def test_tradeoff_draws_into_given_axes_or_a_subfigure():
    df = synthetic_sweep().query("`service.lease_reading` == '15min'")
    fig, axes = _user_figure(2, 1)
    mine = list(axes[:, 0])
    out = plots.tradeoff(df, x="fleet.etl.progress_interval",
                         y=["progress_calls_per_s", "detection_latency_mean_s"], ax=mine)
    assert out is mine and all(gids(ax, "mean") for ax in mine)
    assert len(fig.axes) == 2
    one = Figure()
    single = one.add_subplot()
    assert plots.tradeoff(df, x="fleet.etl.progress_interval", y="duplicated_fraction",
                          ax=single) is single  # fmt: skip
    with pytest.raises(LeasesimError, match="2 Axes"):
        plots.tradeoff(df, x="fleet.etl.progress_interval",
                       y=["progress_calls_per_s", "duplicated_fraction"], ax=single)
    big = Figure(figsize=(12, 5), layout="constrained")
    left, right = big.subfigures(1, 2)
    assert plots.tradeoff(df, x="fleet.etl.progress_interval", y=["progress_calls_per_s"],
                          fig=left) is left  # fmt: skip
    assert plots.capacity(df, x="fleet.etl.progress_interval", fig=right) is right
    assert len(left.axes) == 1 and len(right.axes) == 3
    rendered(big)


def test_capacity_draws_into_three_given_axes():
    df = synthetic_sweep().query("`service.lease_reading` == '15min'")
    fig, axes = _user_figure(3, 1)
    mine = axes[:, 0]
    assert plots.capacity(df, x="fleet.etl.progress_interval", ax=mine) is mine
    assert len(gids(mine[0], "mean")) == 3 and gids(mine[1], "limit:")
    with pytest.raises(LeasesimError, match="give ax or fig"):
        plots.capacity(df, x="fleet.etl.progress_interval", ax=mine, fig=fig)
    rendered(fig)


def test_count_axes_have_whole_number_ticks_and_times_read_as_times(gc_run):
    fig = rendered(plots.distribution(gc_run, "overlap"))
    hist = fig.axes[0]
    assert all(float(t).is_integer() for t in hist.get_yticks())
    df = synthetic_sweep().query("`service.lease_reading` == '15min'")
    cap = rendered(plots.capacity(df, x="fleet.etl.progress_interval"))
    assert all(float(t).is_integer() for t in cap.axes[2].get_yticks())
    labels = [t.get_text() for t in cap.axes[0].get_yticklabels()]
    assert labels and all("e" not in text and "+" not in text for text in labels)


def test_timeline_without_duplicates_says_so(gc_run):
    quiet = simulator.run(make_scenario(duration="3h",
                                        fleet=[{"faults": {"crash": {"rate": "2/h"}}}]), seed=2)
    assert quiet.tasks["duplicated"].sum() == 0 and quiet.tasks["reassignments"].sum() > 0
    title = plots.timeline(quiet).axes[0].get_title(loc="left")
    assert "duplicate first" not in title and "none duplicated" in title
    assert "longest duplicate first" in plots.timeline(gc_run).axes[0].get_title(loc="left")


def test_one_replication_draws_points_without_an_empty_band():
    df = synthetic_sweep(reps=1).query("`service.lease_reading` == '15min'")
    fig = rendered(plots.tradeoff(df, x="fleet.etl.progress_interval",
                                  y=["progress_calls_per_s"]))  # fmt: skip
    ax = fig.axes[0]
    assert gids(ax, "band") == [] and gids(ax, "mean")
    assert "1 replication per point, no confidence band" in ax.get_title(loc="left")


@pytest.mark.parametrize("which", [{"max_tasks": 10}, {"runners": ["jvm-1", "jvm-2"]}])
def test_timeline_task_labels_do_not_overlap(gc_run, which):
    fig = plots.timeline(gc_run, **which)  # every attempt of a runner: many short ones in a row
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    boxes = [t.get_window_extent(renderer) for t in ax.texts
             if t.get_gid() == "task_label" and t.get_visible()]  # fmt: skip
    assert boxes
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two task labels overlap"
