"""From one run's log to answers: tables, summary metrics, replication statistics, saved results."""

from simulator.results import health
from simulator.results.health import Flag, flags
from simulator.results.metrics import METRICS, Metric, metrics_markdown, summary
from simulator.results.result import Result
from simulator.results.stats import mean_ci, summarize_replications
from simulator.results.tables import COLUMNS, columns_markdown, tables

__all__ = [
    "COLUMNS",
    "Flag",
    "METRICS",
    "Metric",
    "Result",
    "columns_markdown",
    "flags",
    "health",
    "mean_ci",
    "metrics_markdown",
    "summarize_replications",
    "summary",
    "tables",
]
