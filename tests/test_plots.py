"""Figures: each one rendered with Agg and read back from its artists, checked against the tables.

The plotted numbers are compared with what the tables and summary define (docs/metrics.md) and,
for a handmade scenario, with values worked out by hand from the documented rules.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import yaml
from builders import BASE, make_scenario, merge

import simulator
from simulator import plots
from simulator.errors import LeasesimError
from simulator.plots.style import TimeScale, png_bytes
from simulator.results.stats import mean_ci

PNG = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[1]
GC_PAUSES = str(ROOT / "scenarios" / "gc-pauses.yaml")


def rendered(fig: matplotlib.figure.Figure) -> matplotlib.figure.Figure:
    """Render to PNG with Agg (layout included) and hand the figure back for inspection."""
    assert png_bytes(fig, dpi=40).startswith(PNG)
    return fig


def gids(ax, prefix: str) -> list:
    return [a for a in ax.get_children() if str(a.get_gid() or "").startswith(prefix)]


def spans(patches, scale: float = 1.0) -> list[tuple[float, float]]:
    return sorted((p.get_x() * scale, (p.get_x() + p.get_width()) * scale) for p in patches)


def union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def axis_scale(label: str) -> float:
    """Seconds per displayed unit, read from an axis label such as 'time (min)'."""
    unit = label.rsplit("(", 1)[1].rstrip(")")
    return {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}[unit]


@pytest.fixture(scope="module")
def ack_race() -> simulator.Result:
    """One task, two single-thread runners whose 150 s startup misses the 2-minute ack window.

    By the rules (reassign_same_attempt, stale reports accepted) each holder loses the lease 120 s
    after its assignment, the idle runner takes the task at once, and every holder works its full
    600 s anyway: etl-0 works [150, 750], etl-1 [270, 870]; then etl-0 again from 900 and etl-1
    from 1020 until the run ends at 1200. Duplicate execution: [270, 750] and [1020, 1200].
    """
    scenario = make_scenario(
        duration="20m",
        service={"on_lease_expiry": "reassign_same_attempt", "stale_progress": "accepted"},
        fleet=[{"runners": 2, "threads": 1, "startup": "150s"}],
        workload=[{"arrivals": {"kind": "times", "times": [0]}, "duration": "10m"}],
    )
    return simulator.run(scenario, seed=1)


@pytest.fixture(scope="module")
def gc_run() -> simulator.Result:
    """scenarios/gc-pauses.yaml cut to 2 h: pauses beyond a 3-minute lease, reports accepted."""
    return simulator.run(GC_PAUSES, seed=1, overrides=["duration=2h"])


@pytest.fixture(scope="module")
def faulty() -> simulator.Result:
    """Every fault kind, often, on 3 runners for 3 h."""
    scenario = make_scenario(
        duration="3h",
        fleet=[{"runners": 3, "faults": {
            "crash": {"rate": "1/h", "restart_after": "5m"},
            "pause": {"rate": "2/h", "duration": "4m"},
            "progress_stall": {"rate": "1/h", "duration": "20m"},
            "heartbeat_stall": {"rate": "1/h", "duration": "20m"},
            "partition": {"rate": "1/h", "duration": "18m"},
        }}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "12/h"}}],
    )  # fmt: skip
    return simulator.run(scenario, seed=3)


# --- timeline ------------------------------------------------------------------------------------


def test_timeline_hatches_the_duplicate_worked_out_by_hand(ack_race):
    fig = rendered(plots.timeline(ack_race, tasks=[0]))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "simulated time since start (min)"
    scale = axis_scale(ax.get_xlabel())
    hatched = spans(gids(ax, "duplicate"), scale)
    # [270, 750] on both attempts that overlap there, [1020, 1200] on the two later ones
    assert union_length(hatched) == pytest.approx(480 + 180)
    assert np.allclose([h for h in hatched if h[0] < 800], [(270, 750), (270, 750)])
    assert ack_race.tasks.loc[0, "overlap_s"] == pytest.approx(660)
    # Each holder works its whole 600 s (the last two until the run ends)
    work = spans(gids(ax, "work"), scale)
    assert np.allclose(work, [(150, 750), (270, 870), (900, 1200), (1020, 1200)])
    assert len(gids(ax, "lease_lost")) == 4
    assert len(gids(ax, "reassignment")) == 3  # one arrow into each later assignment
    assert len(gids(ax, "ack")) == 0  # no acknowledgement ever reached the service in time
    assert [t.get_text() for t in ax.get_yticklabels()] == ["etl-0 · t0", "etl-1 · t0"]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "duplicate execution" in legend and "lease lost" in legend


def test_timeline_picks_the_duplicated_tasks_and_draws_them_as_the_tables_say(gc_run):
    fig = rendered(plots.timeline(gc_run))
    ax = fig.axes[0]
    scale = axis_scale(ax.get_xlabel())
    tasks = gc_run.tasks
    duplicated = tasks.loc[tasks["duplicated"], "task_id"].tolist()
    assert 0 < len(duplicated) <= 10
    shown = {int(t.get_text()[1:]) for t in gids(ax, "task_label")}
    assert set(duplicated) <= shown  # the interesting tasks come first
    # Every hatched stretch is duplicate execution: per task, their union is tasks.overlap_s.
    for task_id in duplicated:
        own = [a for a in gids(ax, "duplicate:") if a.get_gid() == f"duplicate:{task_id}"]
        hatched = spans(own, scale)
        overlap = tasks.loc[tasks["task_id"] == task_id, "overlap_s"].item()
        assert union_length(hatched) == pytest.approx(overlap, rel=1e-9)
    attempts = gc_run.attempts[gc_run.attempts["task_id"].isin(shown)]
    rows = {(r, t) for r, t in zip(attempts["runner"], attempts["thread"], strict=True)}
    assert len(ax.get_yticks()) == len(rows)
    # Work bars are net of pauses: their widths add up to the attempts' work_s.
    work = sum(p.get_width() for p in gids(ax, "work")) * scale
    assert work == pytest.approx(attempts["work_s"].sum(), rel=1e-9)
    assert len(gids(ax, "ack")) == attempts["acked_at"].notna().sum()
    assert len(gids(ax, "lease_lost")) == attempts["lease_lost_at"].notna().sum()
    assert len(gids(ax, "fault:pause")) > 0


def test_timeline_shades_each_fault_kind_over_its_runner(faulty):
    runners = sorted(set(faulty.attempts["runner"]))
    fig = rendered(plots.timeline(faulty, runners=runners, window=(0, "3h")))
    ax = fig.axes[0]
    faults = faulty.faults
    for kind in ("pause", "crash", "partition", "progress_stall", "heartbeat_stall"):
        expected = faults[(faults["kind"] == kind) & faults["runner"].isin(runners)
                          & (faults["duration_s"] > 0)]  # fmt: skip
        assert len(expected) > 0
        assert len(gids(ax, f"fault:{kind}")) == len(expected)
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    for word in ("pause", "crash", "partition", "heartbeat stall"):
        assert word in legend
    assert ax.get_xlim() == pytest.approx((0, 180))  # the window, in minutes


def test_timeline_keeps_to_the_row_limit_and_the_window(gc_run):
    runners = sorted(set(gc_run.attempts["runner"]))
    fig = plots.timeline(gc_run, runners=runners, window=("30m", "1h"), max_rows=5)
    ax = fig.axes[0]
    assert len(ax.get_yticks()) == 5
    assert ax.get_xlim() == pytest.approx((30, 60))


def test_a_run_without_attempts_still_gets_its_figures():
    idle = simulator.run(make_scenario(
        duration="1h", workload=[{"arrivals": {"kind": "times", "times": [7200]}}]
    ), seed=1)  # fmt: skip
    fig = rendered(plots.timeline(idle))
    assert "no attempt" in gids(fig.axes[0], "empty")[0].get_text()
    assert gids(fig.axes[0], "work") == []
    assert list(plots.run_figures(idle)) == ["timeline", "latency"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"tasks": [0], "runners": ["jvm-0"]}, "not both"),
        ({"runners": ["nope"]}, "nope"),
        ({"tasks": [10**6]}, "1000000"),
        ({"window": ("2h", "1h")}, "window"),
        ({"window": ("soon", None)}, "window start"),
    ],
)
def test_timeline_explains_bad_arguments(gc_run, kwargs, words):
    with pytest.raises(LeasesimError, match=words):
        plots.timeline(gc_run, **kwargs)


# --- distribution --------------------------------------------------------------------------------


def test_latency_distribution_agrees_with_the_summary(gc_run):
    fig = rendered(plots.distribution(gc_run, "latency"))
    hist, ecdf = fig.axes
    assert hist.get_xlabel() == "task latency, submitted to finished (min)"
    assert hist.get_ylabel() == "number of finished tasks"
    scale = axis_scale(hist.get_xlabel())
    s = gc_run.summary
    beyond = [int(t.get_gid().split(":")[1]) for t in gids(hist, "beyond:")]
    assert sum(p.get_height() for p in gids(hist, "bar")) + sum(beyond) == s["tasks_finished"]
    for p in (50, 95, 99):
        (line,) = gids(ecdf, f"p{p}")
        assert line.get_xdata()[0] * scale == pytest.approx(s[f"latency_p{p}_s"])
    (curve,) = gids(ecdf, "ecdf")
    assert curve.get_ydata()[-1] == pytest.approx(1.0)
    assert np.all(np.diff(curve.get_ydata()) >= 0)


def test_detection_and_overlap_distributions(faulty, gc_run):
    fig = rendered(plots.distribution(faulty, "detection_latency_mean_s"))  # alias of detection
    hist = fig.axes[0]
    (mean,) = gids(hist, "mean")
    assert mean.get_xdata()[0] * axis_scale(hist.get_xlabel()) == pytest.approx(
        faulty.summary["detection_latency_mean_s"]
    )
    fig = plots.distribution(gc_run, "overlap")
    bars = gids(fig.axes[0], "bar")
    beyond = sum(int(t.get_gid().split(":")[1]) for t in gids(fig.axes[0], "beyond:"))
    assert sum(p.get_height() for p in bars) + beyond == gc_run.tasks["duplicated"].sum()
    # No crash in gc-pauses: the figure says so instead of drawing an empty histogram.
    empty = rendered(plots.distribution(gc_run, "detection"))
    assert gids(empty.axes[0], "bar") == []
    assert "no crashed attempts" in gids(empty.axes[0], "empty")[0].get_text()
    assert empty.axes[0].get_xlabel().endswith("(s)")


def test_distribution_pools_replications_and_rejects_unknown_metrics(ack_race, gc_run):
    fig = plots.distribution([gc_run, gc_run], "queue_wait")
    bars = gids(fig.axes[0], "bar")
    beyond = sum(int(t.get_gid().split(":")[1]) for t in gids(fig.axes[0], "beyond:"))
    assigned = gc_run.tasks["first_assigned_at"].notna().sum()
    assert sum(p.get_height() for p in bars) + beyond == 2 * assigned
    assert "2 replications pooled" in fig.get_suptitle()
    with pytest.raises(LeasesimError, match="latency, queue_wait, detection, overlap"):
        plots.distribution(ack_race, "speed")


def test_time_units_follow_the_range():
    assert [TimeScale.for_span(s).unit for s in (0, 90, 180, 600, 5 * 3600, 5 * 86400)] == [
        "s", "s", "s", "min", "h", "d"
    ]  # fmt: skip


# --- sweeps: tradeoff and capacity ---------------------------------------------------------------

INTERVALS = [15.0, 30.0, 60.0, 120.0, 300.0]


def synthetic_sweep(reps: int = 4) -> pd.DataFrame:
    """The tidy shape of simulator.sweep: point, swept paths, replication, seed, metrics."""
    rng = np.random.default_rng(5)
    rows = []
    for point, interval in enumerate(INTERVALS):
        for reading in ("15min", "5min"):
            for rep in range(reps):
                rows.append({
                    "point": point, "fleet.etl.progress_interval": interval,
                    "service.lease_reading": reading, "replication": rep, "seed": 1,
                    "progress_calls_per_s": 20 / interval + rng.normal(0, 0.01),
                    "poll_calls_per_s": 1.0 + rng.normal(0, 0.05),
                    "duplicated_fraction": interval / 3000 + rng.uniform(0, 0.001),
                    "detection_latency_mean_s": 900 - interval / 2 + rng.normal(0, 5),
                    "false_reassignments": float(rng.integers(0, 5)),
                    "tasks_submitted": 1000.0,
                    "latency_p50_s": 600 + interval, "latency_p95_s": 2400 + 2 * interval,
                    "latency_p99_s": 4000 + 3 * interval, "throttled_calls": interval * 2,
                })  # fmt: skip
    return pd.DataFrame(rows)


def test_tradeoff_panels_show_the_means_and_bands_of_each_point():
    df = synthetic_sweep()
    one = df[df["service.lease_reading"] == "15min"]
    metrics = ["progress_calls_per_s", "false_reassignments_per_1000_tasks",
               "duplicated_fraction", "detection_latency_mean_s"]  # fmt: skip
    fig = rendered(plots.tradeoff(one, x="fleet.etl.progress_interval", y=metrics))
    axes = fig.axes
    assert len(axes) == 4
    assert axes[-1].get_xscale() == "log"  # 15 s to 5 min spans more than a decade
    # Ticks at the swept values, in human units (data in minutes, as the unit chosen by range).
    assert axes[-1].get_xlabel() == "fleet.etl.progress_interval  [log scale]"
    assert [t.get_text() for t in axes[-1].get_xticklabels()] == ["15s", "30s", "1m", "2m", "5m"]
    assert [ax.get_ylabel().split("\n")[1] for ax in axes] == [
        "(calls/s)", "(per 1000 tasks)", "(%)", "(min)"
    ]  # fmt: skip
    derived = 1000 * one["false_reassignments"] / one["tasks_submitted"]
    expected = {
        "progress_calls_per_s": (one["progress_calls_per_s"], 1.0),
        "false_reassignments_per_1000_tasks": (derived, 1.0),
        "duplicated_fraction": (one["duplicated_fraction"], 0.01),
        "detection_latency_mean_s": (one["detection_latency_mean_s"], 60.0),
    }
    for ax, metric in zip(axes, metrics, strict=True):
        (line,) = gids(ax, "mean")
        assert list(line.get_xdata()) == pytest.approx([v / 60 for v in INTERVALS])
        values, divisor = expected[metric]
        groups = values.groupby(one["fleet.etl.progress_interval"])
        assert list(line.get_ydata()) == pytest.approx(list(groups.mean() / divisor))
        (band,) = gids(ax, "band")
        ys = band.get_paths()[0].vertices[:, 1]
        cis = [mean_ci(g) for _, g in groups]
        # never-negative metrics keep their band above 0
        assert ys.min() == pytest.approx(max(0.0, min(m - h for m, h, _ in cis)) / divisor)
        assert ys.max() == pytest.approx(max(m + h for m, h, _ in cis) / divisor)


def test_tradeoff_reads_text_values_groups_and_closed_forms():
    df = synthetic_sweep()
    as_text = df.assign(**{"fleet.etl.progress_interval":
                           df["fleet.etl.progress_interval"].map(lambda s: f"{s:g}s")})  # fmt: skip
    fig = plots.tradeoff(
        as_text, x="fleet.etl.progress_interval", y=["detection_latency_mean_s"],
        by="service.lease_reading", expected={"detection_latency_mean_s": lambda i: 900 - i / 2},
    )
    ax = fig.axes[0]
    lines = gids(ax, "mean")
    assert [line.get_label() for line in lines] == [
        "service.lease_reading = 15min", "service.lease_reading = 5min"
    ]  # fmt: skip
    (closed,) = gids(ax, "expected")
    assert list(closed.get_ydata()) == pytest.approx([(900 - i / 2) / 60 for i in INTERVALS])
    assert list(lines[0].get_xdata()) == pytest.approx([i / 60 for i in INTERVALS])
    categorical = plots.tradeoff(df, x="service.lease_reading", y="duplicated_fraction")
    labels = [t.get_text() for t in categorical.axes[0].get_xticklabels()]
    assert labels == ["15min", "5min"]
    with pytest.raises(LeasesimError, match="no column 'fleet.etl.runners'"):
        plots.tradeoff(df, x="fleet.etl.runners", y=["duplicated_fraction"])


def test_capacity_draws_latency_percentiles_and_the_rate_limits():
    df = synthetic_sweep().query("`service.lease_reading` == '15min'")
    fig = rendered(plots.capacity(df, x="fleet.etl.progress_interval", target="45m"))
    latency, calls, throttled = fig.axes
    assert len(gids(latency, "mean")) == 3
    assert latency.get_ylabel() == "task latency\n(min)"
    (target,) = gids(latency, "target")
    assert target.get_ydata()[0] == pytest.approx(45)
    limits = {g.get_gid(): g.get_ydata()[0] for g in gids(calls, "limit:")}
    assert limits == {"limit:ReportTaskProgress": 10.0, "limit:PollForTask": 2.0}
    assert calls.get_ylabel() == "API calls sent\n(calls/s)"
    assert throttled.get_ylabel() == "throttled calls\n(calls per run)"
    no_throttle = make_scenario()  # the test base turns throttling off
    fig = plots.capacity(df, x="fleet.etl.progress_interval", limits=no_throttle)
    assert gids(fig.axes[1], "limit:") == []
    fig = plots.capacity(df, x="fleet.etl.progress_interval", limits={"progress": 5})
    assert [g.get_ydata()[0] for g in gids(fig.axes[1], "limit:")] == [5.0]
    with pytest.raises(LeasesimError, match="unknown key 'polls'"):
        plots.capacity(df, x="fleet.etl.progress_interval", limits={"polls": 5})


def test_tradeoff_of_a_real_sweep_matches_summarize():
    scenario = make_scenario(duration="2h")
    df = simulator.sweep(scenario, {"fleet.etl.progress_interval": ["30s", "5m"]}, 2,
                         executor="serial", progress=False)  # fmt: skip
    fig = rendered(plots.tradeoff(df, x="fleet.etl.progress_interval",
                                  y=["progress_calls_per_s"]))  # fmt: skip
    (line,) = gids(fig.axes[0], "mean")
    summary = simulator.summarize(df)
    means = summary[summary["metric"] == "progress_calls_per_s"].sort_values(
        "fleet.etl.progress_interval"
    )["mean"]
    assert list(line.get_ydata()) == pytest.approx(list(means))
    assert fig.axes[0].get_xlabel() == "fleet.etl.progress_interval  [log scale]"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["30s", "5m"]
    figures = plots.sweep_figures(df)  # what `leasesim sweep --plots` writes
    assert list(figures) == ["tradeoff", "capacity"]
    labels = [ax.get_ylabel() for ax in figures["tradeoff"].axes]
    assert len(labels) == 4 and not any("detection" in t for t in labels)  # no crash: no panel


def test_sweep_figures_pick_the_parameters_from_the_frame():
    df = synthetic_sweep(2)
    df.attrs["parameters"] = ["fleet.etl.progress_interval", "service.lease_reading"]
    figures = plots.sweep_figures(df)
    lines = gids(figures["tradeoff"].axes[0], "mean")
    assert [line.get_label() for line in lines] == [
        "service.lease_reading = 15min", "service.lease_reading = 5min"
    ]  # fmt: skip
    assert figures["tradeoff"].axes[-1].get_xlabel().startswith("fleet.etl.progress_interval")
    assert plots.sweep_figures(df.assign(**{"fleet.etl.progress_interval": 60.0}).iloc[:2]) == {}


# --- files and the report ------------------------------------------------------------------------


def test_figures_leave_matplotlib_settings_alone(gc_run):
    before = dict(matplotlib.rcParams)
    plots.timeline(gc_run)
    plots.distribution(gc_run)
    plots.tradeoff(synthetic_sweep(2), x="fleet.etl.progress_interval", y="duplicated_fraction")
    assert dict(matplotlib.rcParams) == before


def test_run_plots_are_the_relevant_pngs_written_atomically(ack_race, tmp_path):
    written = plots.write_run_plots(ack_race, tmp_path / "figs")
    # a duplicate but no crash: no detection figure
    assert [p.name for p in written] == ["timeline.png", "latency.png", "overlap.png"]
    for path in written:
        assert path.read_bytes().startswith(PNG)
        image = matplotlib.image.imread(path)
        assert image.shape[1] >= 700  # a figure, not a thumbnail
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == sorted(
        p.name for p in written
    )  # no temporary file left behind


def test_report_is_one_self_contained_page(ack_race, tmp_path):
    from simulator.report import write_report

    target = write_report(tmp_path / "report.html", [ack_race, ack_race], source="race.yaml",
                          overrides=["duration=20m"])  # fmt: skip
    page = target.read_text()
    assert page.startswith("<!doctype html>")
    assert '<table class="summary">' in page and "95% CI" in page
    for metric in ("duplicated_fraction", "latency_p95_s", "false_reassignments"):
        assert f"<code>{metric}</code>" in page
    assert page.count('src="data:image/png;base64,') == 3  # timeline, latency, overlap
    assert "on_lease_expiry: reassign_same_attempt" in page  # the resolved scenario
    assert "--set duration=20m" in page
    assert "2 replications of 20m simulated time" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# --- the command line ----------------------------------------------------------------------------


def test_cli_report_and_run_plots(tmp_path, capsys):
    from simulator.cli import main

    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump(merge(BASE, {"duration": "2h"})))
    out = tmp_path / "review" / "small.html"
    args = [str(scenario), "-n", "1", "-q"]
    assert main(["report", *args, "--out", str(out)]) == 0
    page = out.read_text()
    assert '<table class="summary">' in page and "data:image/png;base64," in page
    assert f"report written to {out}" in capsys.readouterr().out
    assert main(["report", *args, "--out", str(tmp_path)]) == 2  # a folder, not a file
    assert "takes the HTML file" in capsys.readouterr().err

    figs = tmp_path / "figs"
    assert main(["run", *args, "--plots", str(figs)]) == 0
    assert sorted(p.name for p in figs.iterdir()) == ["latency.png", "timeline.png"]
    assert (figs / "timeline.png").read_bytes().startswith(PNG)
    assert str(figs) in capsys.readouterr().out
    (tmp_path / "file").write_text("")
    assert main(["run", *args, "--plots", str(tmp_path / "file")]) == 2
    assert "--plots" in capsys.readouterr().err


def test_plots_help_names_the_files(capsys):
    from simulator.cli import main

    assert main(["run", "--help"]) == 0
    assert "timeline.png" in capsys.readouterr().out
    assert (ROOT / "docs" / "figures.md").exists()
