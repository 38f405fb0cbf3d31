"""Executors: the same runs give the same numbers, bit for bit, in this process, in two local worker
processes and on a Dask LocalCluster; asking for Dask without it installed says how to get it."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from builders import make_scenario

import simulator
from simulator.errors import LeasesimError
from simulator.experiments.executors import SerialExecutor, make_executor
from simulator.experiments.runs import Job, RunRecord, run_job
from simulator.scenario.load import scenario_to_dict

AWS = str(Path(__file__).resolve().parents[1] / "scenarios" / "aws-defaults.yaml")
GRID = {"fleet.etl.progress_interval": ["30s", "5m"], "service.lease_reading": ["15min", "5min"]}


def _scenario() -> simulator.Scenario:
    # Pauses long enough to lose leases, so the summaries have non-trivial, run-dependent values.
    return make_scenario(duration="8h", fleet=[{
        "runners": 3, "faults": {"pause": {"rate": "6/d", "duration": "8m"}}}])  # fmt: skip


@pytest.fixture(scope="module")
def serial() -> pd.DataFrame:
    return simulator.sweep(_scenario(), GRID, replications=2, executor="serial")


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Identical summaries and identical rows, wall time aside (exact float comparison)."""
    pd.testing.assert_frame_equal(simulator.summarize(a), simulator.summarize(b), check_exact=True)
    pd.testing.assert_frame_equal(a.drop(columns="wall_time_s"), b.drop(columns="wall_time_s"),
                                  check_exact=True)  # fmt: skip


def _equal(a: dict[str, float], b: dict[str, float]) -> bool:
    """Exactly equal summaries, NaN (a metric with no value) equal to NaN."""
    return list(a) == list(b) and pd.Series(a).equals(pd.Series(b))


def test_serial_results_have_substance(serial: pd.DataFrame) -> None:
    assert len(serial) == 8 and serial["error"].isna().all()
    assert serial["reassignments"].sum() > 0  # the comparison below is not of zeros


def test_two_local_processes_give_identical_summaries(serial: pd.DataFrame) -> None:
    frame = simulator.sweep(_scenario(), GRID, replications=2, executor="processes", workers=2)
    assert frame.attrs["executor"] == "processes (2 workers)"
    _same(serial, frame)


def test_a_dask_local_cluster_gives_identical_summaries(serial: pd.DataFrame) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                                 dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        frame = simulator.sweep(_scenario(), GRID, replications=2, executor=client)
        assert frame.attrs["executor"].startswith("dask (2 workers")
        _same(serial, frame)
        # The caller's client stays usable: leasesim only closes what it opened.
        assert client.submit(sum, [1, 2]).result() == 3


def test_replicate_is_the_same_serially_and_in_processes() -> None:
    scenario = _scenario()
    serial = simulator.replicate(scenario, 3)
    parallel = simulator.replicate(scenario, 3, executor="processes", workers=2)
    assert all(_equal(a, b) for a, b in zip(serial.summaries, parallel.summaries, strict=True))
    pd.testing.assert_frame_equal(serial.summarize(), parallel.summarize(), check_exact=True)
    assert _equal(serial.summaries[1], simulator.run(scenario, replication=1).summary)


def test_a_job_is_plain_data_and_returns_a_small_record() -> None:
    scenario = _scenario()
    job = Job(point=0, replication=1, seed=4, scenario=scenario_to_dict(scenario))
    record = run_job(job)
    assert isinstance(record, RunRecord) and record.result is None
    assert _equal(record.summary, simulator.run(scenario, seed=4, replication=1).summary)
    assert _equal(list(SerialExecutor().map(run_job, [job]))[0][1].summary, record.summary)


def test_dask_without_distributed_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_distributed(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "distributed" or name.startswith("distributed."):
            raise ImportError("No module named 'distributed'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(LeasesimError) as caught:
        make_executor("dask")
    assert caught.value.code == "USAGE_ERROR"
    assert "pip install 'leasesim[dask]'" in str(caught.value)


@pytest.mark.parametrize(
    ("executor", "workers", "message"),
    [("threads", None, "unknown executor 'threads'"), ("processes", 0, "workers must be"),
     (42, None, "executor must be one of")],
)
def test_bad_executor_choices_are_usage_errors(executor: Any, workers: Any, message: str) -> None:
    with pytest.raises(LeasesimError, match=message) as caught:
        make_executor(executor, workers)
    assert caught.value.code == "USAGE_ERROR"


def test_a_scheduler_address_dask_cannot_read_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pytest.importorskip("distributed")
    with pytest.raises(LeasesimError, match=r"--scheduler garbage://x: not a Dask scheduler "
                       r"address .*tcp://HOST:8786") as caught:  # fmt: skip
        make_executor(scheduler="garbage://x")
    assert caught.value.code == "USAGE_ERROR"
    from simulator.cli import main

    status = main(["run", AWS, "-n", "1", "--set", "duration=1h",
                   "--scheduler", "garbage://x"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and "internal error" not in err and "garbage://x" in err


def test_a_dask_cluster_without_workers_is_said_and_given_up_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    """Every worker gone: leasesim says so, waits LEASESIM_DASK_WAIT seconds, then stops as an
    interrupt stops (what finished is kept; --resume finishes), not waiting for ever."""
    distributed = pytest.importorskip("distributed")
    from simulator.experiments.batch import Interrupted

    monkeypatch.setenv("LEASESIM_DASK_WAIT", "1")
    expected = (r"no Dask worker was connected to the scheduler at .* for 1 s .*; interrupted "
                r"after 0 of 2 runs; 0 saved under")  # fmt: skip
    with (
        distributed.LocalCluster(processes=False, n_workers=0, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
        pytest.raises(Interrupted, match=expected),
    ):
        simulator.replicate(make_scenario(duration="1h"), 2, executor=client, out=tmp_path)
    assert "no Dask worker is connected" in capsys.readouterr().err
    from simulator.cli import main

    with distributed.LocalCluster(processes=False, n_workers=0, dashboard_address=None) as bare:
        status = main(["sweep", AWS, "-n", "1", "--set", "duration=1h",
                       "--set", "sweep={fleet.etl.runners: [1, 2]}", "--scheduler",
                       bare.scheduler_address, "--out", str(tmp_path / "sweep")])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1 and "no Dask worker is connected" in err  # said at once
    assert "for 1 s" in err and "stopped after 0 of 2 runs; 0 finished runs kept" in err
