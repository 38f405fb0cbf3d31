"""`leasesim sweep --plots DIR`: the sweep's trade-off and capacity figures, written as PNGs.

The figures are captured as they are saved and read back from their artists: the plotted means are
the sweep's own per-point means, and the crash detection times obey the lease rules of each reading
(docs/model.md: a crashed holder's lease runs out at most one lease length after its last report).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import pytest
import yaml
from builders import BASE, merge

import simulator.cli as cli
import simulator.plots.files as plot_files

PNG = b"\x89PNG\r\n\x1a\n"
INTERVALS = (30.0, 300.0)
GRID = "sweep={fleet.etl.progress_interval: [30s, 5m], service.lease_reading: [15min, 5min]}"


@pytest.fixture
def crashing(tmp_path: Path) -> Path:
    """The test base with frequent crashes and enough load that crashes meet running tasks."""
    data = merge(BASE, {
        "duration": "3h",
        "fleet": [{"faults": {"crash": {"rate": "3/h", "restart_after": "1m"}}}],
        "workload": [{"arrivals": {"kind": "poisson", "rate": "12/h"}}],
    })  # fmt: skip
    path = tmp_path / "crashing.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> dict[str, matplotlib.figure.Figure]:
    """Every figure written through `save_png`, by file stem (written as usual)."""
    figures: dict[str, matplotlib.figure.Figure] = {}
    real = plot_files.save_png

    def spy(fig: matplotlib.figure.Figure, path: Any, *args: Any, **kwargs: Any) -> Path:
        figures[Path(path).stem] = fig
        return real(fig, path, *args, **kwargs)

    monkeypatch.setattr(plot_files, "save_png", spy)
    return figures


def _main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def _means(ax: Any) -> dict[str, list[float]]:
    return {line.get_label(): list(line.get_ydata())
            for line in ax.get_lines() if line.get_gid() == "mean"}  # fmt: skip


def _seconds_per_unit(label: str) -> float:
    unit = label.rsplit("(", 1)[1].rstrip(")")
    return {"s": 1.0, "min": 60.0, "h": 3600.0}[unit]


def test_sweep_plots_writes_the_tradeoff_and_capacity_of_the_sweep(
    crashing: Path, tmp_path: Path, saved: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "figs"
    status, out, err = _main(capsys, "sweep", str(crashing), "-n", "2", "--set", GRID,
                             "--executor", "serial", "--plots", str(folder), "--json")  # fmt: skip
    assert status == 0, err
    data = json.loads(out)["data"]
    assert sorted(Path(p).name for p in data["plots"]) == ["capacity.png", "tradeoff.png"]
    # Only the two PNGs: no temporary file left behind.
    assert sorted(p.name for p in folder.iterdir()) == ["capacity.png", "tradeoff.png"]
    for name in ("capacity.png", "tradeoff.png"):
        assert (folder / name).read_bytes().startswith(PNG)
    assert sorted(saved) == ["capacity", "tradeoff"]

    rows = pd.DataFrame(data["rows"])
    tradeoff = saved["tradeoff"]
    panels = {ax.get_ylabel().split("\n")[0]: ax for ax in tradeoff.axes}
    assert "progress_calls_per_s" in panels and "detection_latency_mean_s" in panels
    assert tradeoff.axes[-1].get_xlabel() == "fleet.etl.progress_interval  [log scale]"
    assert tradeoff.axes[-1].get_xscale() == "log"  # 30 s to 5 min: a decade
    assert [t.get_text() for t in tradeoff.axes[-1].get_xticklabels()] == ["30s", "5m"]
    # One line per lease reading, each point the mean of that point's replications.
    calls = _means(panels["progress_calls_per_s"])
    assert sorted(calls) == ["service.lease_reading = 15min", "service.lease_reading = 5min"]
    for reading in ("15min", "5min"):
        mine = rows[rows["service.lease_reading"] == reading]
        expected = mine.groupby("fleet.etl.progress_interval")["progress_calls_per_s"].mean()
        assert list(expected.index) == list(INTERVALS)
        assert calls[f"service.lease_reading = {reading}"] == pytest.approx(list(expected))
        # Reporting every 30 s costs more calls than every 5 minutes.
        assert expected[30.0] > expected[300.0]
    # The lease rules bound crash detection: at most one lease after the last report (15 or 5
    # min), and 2 minutes before the acknowledgement.
    ax = panels["detection_latency_mean_s"]
    detection = {label: [v * _seconds_per_unit(ax.get_ylabel()) for v in values]
                 for label, values in _means(ax).items()}  # fmt: skip
    assert all(0 < v <= 300 for v in detection["service.lease_reading = 5min"])
    assert all(300 < v <= 900 for v in detection["service.lease_reading = 15min"])

    capacity = saved["capacity"]
    latency, calls_ax, throttled = capacity.axes
    limits = {line.get_gid(): line.get_ydata()[0] for line in calls_ax.get_lines()
              if str(line.get_gid()).startswith("limit:")}  # fmt: skip
    assert limits == {"limit:ReportTaskProgress": 10.0, "limit:PollForTask": 2.0}
    assert latency.get_ylabel().startswith("task latency")
    assert throttled.get_xlabel().startswith("fleet.etl.progress_interval")


def test_sweep_plots_text_output_names_the_files(
    crashing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "new" / "figs"  # created
    status, out, err = _main(capsys, "sweep", str(crashing), "-n", "1", "--set", GRID,
                             "--executor", "serial", "--plots", str(folder))  # fmt: skip
    assert status == 0, err
    assert f"figures written to {folder}/: tradeoff.png, capacity.png" in out


def test_a_single_point_sweep_has_no_figures(
    crashing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "figs"
    status, out, err = _main(capsys, "sweep", str(crashing), "-n", "1", "--set",
                             "sweep={fleet.etl.runners: [3]}", "--executor", "serial",
                             "--plots", str(folder))  # fmt: skip
    assert status == 0, err
    assert "no figures written" in out and "more than one value" in out
    assert list(folder.iterdir()) == []


def test_a_bad_plots_folder_is_refused_before_any_run(
    crashing: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    import simulator.cli.sweep_command as sweep_command

    def no_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the sweep ran before --plots was checked")

    monkeypatch.setattr(sweep_command, "sweep", no_run)
    afile = tmp_path / "file"
    afile.write_text("")
    status, out, err = _main(capsys, "sweep", str(crashing), "--set", GRID,
                             "--executor", "serial", "--plots", str(afile))  # fmt: skip
    assert status == 2 and out == ""
    assert "--plots" in err and "folder" in err


def test_sweep_help_names_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["sweep", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--plots DIR" in text and "tradeoff.png" in text and "capacity.png" in text
