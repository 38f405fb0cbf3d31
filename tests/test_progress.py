"""Progress bars: a widget in a notebook with ipywidgets, text without it, never a warning."""

from __future__ import annotations

import importlib.util
import warnings

import pytest
import tqdm
import tqdm.std

from simulator.experiments import progress


def test_text_bar_outside_a_notebook() -> None:
    assert not progress.in_notebook()
    assert progress.bar_class() is tqdm.std.tqdm


def test_notebook_without_ipywidgets_falls_back_to_text_silently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setattr(progress, "widgets_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm's "IProgress not found" would be a TqdmWarning
        bar = progress.Progress(total=3, points=1, enabled=True)
        assert type(bar._bar) is tqdm.std.tqdm
        bar.advance(3)
        bar.close()


@pytest.mark.skipif(importlib.util.find_spec("ipywidgets") is None,
                    reason="ipywidgets is in the notebook extra")  # fmt: skip
def test_notebook_with_ipywidgets_draws_a_widget(monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm.notebook import tqdm as notebook_tqdm

    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    assert progress.bar_class() is notebook_tqdm


def test_environment_switches_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    monkeypatch.setenv("LEASESIM_PROGRESS", "0")
    assert not progress.wanted(None)
    assert progress.wanted(True)  # an explicit argument wins
    monkeypatch.setenv("LEASESIM_PROGRESS", "1")
    monkeypatch.setattr(progress, "in_notebook", lambda: False)
    assert progress.wanted(None)
    monkeypatch.delenv("LEASESIM_PROGRESS")
    assert progress.wanted(None) is False or progress.sys.stderr.isatty()
