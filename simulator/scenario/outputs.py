"""The names a scenario file may use for what a run yields: summary metrics and health flags.

`expect:` bounds, `check.tolerance` entries and `recommend --require` name metrics and flags and
write values in a metric's unit. This is that vocabulary, at the bottom, so that reading a
scenario needs nothing of the code that computes the metrics: `simulator.results.metrics` defines
each metric (with this name and unit; a test holds them in step) and `simulator.results.health`
raises these flags.
"""

from __future__ import annotations

from simulator.units import UnitError, parse_duration, parse_number, parse_rate

METRIC_UNITS: dict[str, str] = {
    "tasks_submitted": "tasks",
    "tasks_finished": "tasks",
    "tasks_failed": "tasks",
    "tasks_pending": "tasks",
    "tasks_running": "tasks",
    "attempts": "attempts",
    "reassignments": "expiries",
    "reassignments_ack": "expiries",
    "reassignments_progress": "expiries",
    "false_reassignments": "expiries",
    "attempt_timeouts": "attempts",
    "backlog_fraction": "fraction",
    "backlog_growth_per_h": "tasks/h",
    "backlog_growth": "fraction",
    "reassigned_fraction": "fraction",
    "duplicated_fraction": "fraction",
    "duplicate_completions": "tasks",
    "duplicate_overlap_mean_s": "s",
    "wasted_work_h": "h",
    "detection_latency_mean_s": "s",
    "latency_p50_s": "s",
    "latency_p95_s": "s",
    "latency_p99_s": "s",
    "queue_wait_mean_s": "s",
    "poll_calls_per_s": "1/s",
    "progress_calls_per_s": "1/s",
    "throttled_calls": "calls",
    "lost_calls": "calls",
    "stale_status_accepted": "calls",
    "utilization": "fraction",
    "runner_hours": "h",
    "runners_mean": "runners",
    "runners_max": "runners",
    "scale_out_events": "events",
    "scale_in_events": "events",
    "interruptions": "events",
    "tasks_lost_to_interruptions": "tasks",
}
"""Every summary metric, in `simulator.results.metrics.METRICS` order, and its unit."""

FLAG_NAMES = ("backlog_grows", "most_attempts_reassigned")
"""Every run health flag `simulator.results.health.flags` can raise, in the order it raises them."""


def allowed_values(metric: str) -> str:
    """How a value of `metric` may be written, for error messages."""
    unit = METRIC_UNITS[metric]
    return {
        "s": "a number of seconds or a duration such as 90s or 10m",
        "1/s": "a number per second or a rate such as 2/s or 120/h",
        "fraction": "a number such as 0.0001, or a percentage such as 0.01%",
    }.get(unit, f"a number (in {unit})")


def metric_value(metric: str, text: str | float) -> float:
    """A value of `metric` in its unit (seconds, a fraction, per second) from text with human
    units: `10m` for seconds, `0.01%` for fractions, `120/h` for rates; a plain number is in the
    metric's unit. Used by `--require` and by `expect:` bounds. ValueError (naming what is
    allowed: `allowed_values`) when the text is not such a value; the result may be infinite or
    NaN when the text says so ("inf"): callers check."""
    unit = METRIC_UNITS[metric]
    raw = text.strip() if isinstance(text, str) else text
    try:
        if unit == "s":
            return parse_duration(raw)
        if unit == "1/s":
            return parse_rate(raw)
        if unit == "fraction" and isinstance(raw, str) and raw.endswith("%"):
            return parse_number(raw[:-1]) / 100
        return parse_number(raw) if isinstance(raw, str) else float(raw)  # not 1e-4 in full width
    except (UnitError, ValueError, TypeError):
        raise ValueError(f"{raw!r} is not a valid value of {metric}; write "
                         f"{allowed_values(metric)}") from None
