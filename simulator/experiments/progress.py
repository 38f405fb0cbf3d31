"""A progress bar over an experiment's runs: runs done, points done and an ETA (tqdm).

In a notebook the bar is a widget (`tqdm.notebook`) when ipywidgets is installed (`make notebook`
installs it) and a text bar otherwise, without tqdm's "IProgress not found" warning; in a terminal
it is text on stderr; anywhere else (a pipe, a log file, a test) there is none unless asked for.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any


def in_notebook() -> bool:
    """Whether we run inside a Jupyter kernel."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return bool(get and get() is not None and "IPKernelApp" in get().config)


def widgets_available() -> bool:
    """Whether ipywidgets can be imported, which `tqdm.notebook` needs to draw a widget."""
    try:
        return importlib.util.find_spec("ipywidgets") is not None
    except (ImportError, ValueError):
        return False


def bar_class() -> type:
    """The tqdm class to draw with: a widget in a notebook that can show one, else text."""
    if in_notebook() and widgets_available():
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm
    from tqdm import tqdm as text_tqdm

    return text_tqdm


def wanted(progress: bool | None) -> bool:
    """`progress` if given; else `LEASESIM_PROGRESS` (0 or 1) if set; else on in notebooks and
    when stderr is a terminal. `make notebooks` sets LEASESIM_PROGRESS=0: no bars in saved outputs.
    """
    if progress is not None:
        return bool(progress)
    env = os.environ.get("LEASESIM_PROGRESS", "").strip().lower()
    if env in ("0", "1", "false", "true", "no", "yes", "off", "on"):
        return env in ("1", "true", "yes", "on")
    return in_notebook() or sys.stderr.isatty()


class Progress:
    """Counts finished runs against a total that may grow (precision adds replications)."""

    def __init__(self, total: int, points: int, enabled: bool, unit: str = "run") -> None:
        self.points_total = points
        self.points_done = 0
        self._bar: Any = None
        if enabled:
            bar = bar_class()
            self._bar = bar(total=total, unit=unit, desc="runs", file=sys.stderr, leave=False,
                            dynamic_ncols=True)  # fmt: skip
            self._postfix()

    def _postfix(self) -> None:
        if self._bar is not None and self.points_total > 1:
            self._bar.set_postfix_str(f"points {self.points_done}/{self.points_total}")

    def grow(self, total: int) -> None:
        if self._bar is not None and total != self._bar.total:
            self._bar.total = total
            self._bar.refresh()

    def advance(self, runs: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(runs)

    def points(self, done: int) -> None:
        if done != self.points_done:
            self.points_done = done
            self._postfix()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
