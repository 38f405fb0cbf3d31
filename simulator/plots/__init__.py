"""Figures from results: each function takes results and returns a matplotlib Figure.

- `timeline(result, tasks=... | runners=..., window=...)`: attempts per runner thread.
- `distribution(result, metric)`: histogram and ECDF of latencies, detection times, overlaps.
- `tradeoff(sweep_df, x=..., y=[...])`: metrics against a swept parameter, with 95% bands.
- `capacity(sweep_df, x=...)`: latency percentiles and API load against fleet size or load.
- `fleet(result)`: runners over time against the backlog and the arrival rate (scaling fleets).
- `fit_ecdf(work_fit)`, `qq(work_fit)`, `compare_ecdf(comparison, quantity)`: calibration
  (docs/calibration.md).
- `Figure`: a matplotlib Figure that shows itself as a PNG in Jupyter, for composing your own
  panels: pass its axes (or subfigures) to the functions above as `ax=` (or `fig=`).
- `save_png`, `run_figures` / `write_run_plots`, `sweep_figures` / `write_sweep_plots`: the
  figures of a run or a sweep, written to files atomically.

No function changes matplotlib's global state, and none needs pyplot or a display: the figures
render with Agg, and show themselves as PNGs in Jupyter.
"""

from simulator.plots.calibration import compare_ecdf, fit_ecdf, qq
from simulator.plots.capacity import capacity
from simulator.plots.distribution import QUANTITIES, distribution
from simulator.plots.files import (
    CAPTIONS,
    run_figures,
    save_png,
    sweep_figures,
    write_run_plots,
    write_sweep_plots,
)
from simulator.plots.fleet import fleet
from simulator.plots.style import LeasesimFigure as Figure
from simulator.plots.timeline import timeline
from simulator.plots.tradeoff import tradeoff

__all__ = [
    "CAPTIONS",
    "Figure",
    "QUANTITIES",
    "capacity",
    "compare_ecdf",
    "fit_ecdf",
    "qq",
    "distribution",
    "fleet",
    "run_figures",
    "save_png",
    "sweep_figures",
    "timeline",
    "tradeoff",
    "write_run_plots",
    "write_sweep_plots",
]
