"""Estimates beside simulated intervals: which agree, which do not, as a table and as text lines.

An estimate disagrees with the simulation when it lies outside the replications' confidence
interval. When every replication gave the same value the Student-t interval has zero width and
says nothing about the mean, so counts get the exact Poisson interval of their mean (Garwood)
and fractions the exact binomial interval over the ended tasks (Clopper-Pearson); other metrics
with such an interval, or with none (fewer than two replications), are not judged.

Exact estimates are the model's own expectation, so they are judged by the interval alone (a
correct one falls outside a 95 % interval 5 % of the time). Approximate estimates are off by a
little even where every assumption holds, and with many long replications the interval becomes
narrower than that error: an approximate estimate agrees when it lies inside the interval OR
within `APPROXIMATE_TOLERANCE` (5 %) of the simulated mean, relative; only beyond both is it
marked as disagreeing.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping

import pandas as pd

from simulator.analytic.estimate import Estimate
from simulator.results.metrics import METRICS
from simulator.results.stats import binomial_interval, poisson_interval
from simulator.units import format_number, format_seconds, seconds_metric

COUNT_UNITS = ("tasks", "attempts", "expiries", "calls")
APPROXIMATE_TOLERANCE = 0.05  # an approximate estimate this close to the mean (relative) agrees
COLUMNS = [
    "metric", "estimate", "exact", "method", "mean", "ci_low", "ci_high", "n", "interval",
    "tolerance", "within_tolerance", "disagrees",
]  # fmt: skip


def _interval(row: pd.Series, rows: Mapping[str, pd.Series], confidence: float
              ) -> tuple[float, float, str]:  # fmt: skip
    """(low, high, kind): the interval to judge an estimate by; kind "t", "poisson",
    "binomial", or "" with NaN bounds when it cannot be judged."""
    low, high, n = float(row["ci_low"]), float(row["ci_high"]), int(row["n"])
    if math.isfinite(low) and math.isfinite(high) and high > low:
        return low, high, "t"
    mean = float(row["mean"])
    if n < 1 or not math.isfinite(mean):
        return math.nan, math.nan, ""
    unit = METRICS[row["metric"]].unit if row["metric"] in METRICS else ""
    if unit in COUNT_UNITS and mean >= 0:
        return (*poisson_interval(mean, n, confidence), "poisson")
    if unit == "fraction" and "tasks_finished" in rows and "tasks_failed" in rows:
        ended = (float(rows["tasks_finished"]["mean"]) + float(rows["tasks_failed"]["mean"])) * n
        if ended >= 1 and 0 <= mean <= 1:
            return (*binomial_interval(mean, ended, confidence), "binomial")
    return math.nan, math.nan, ""


def compare(estimates: Mapping[str, Estimate], summary: pd.DataFrame,
            confidence: float = 0.95,
            tolerance: float = APPROXIMATE_TOLERANCE) -> pd.DataFrame:  # fmt: skip
    """Per metric with an applicable estimate: the estimate, the simulated mean and interval, and
    `disagrees`: the estimate lies outside the interval and, if approximate, also more than
    `tolerance` (relative) from the simulated mean.

    `summary` is `summarize_replications(...)` (columns metric, mean, ci_low, ci_high, n) at
    `confidence`; zero-width intervals of counts and fractions are replaced as the module says.
    `tolerance` is NaN for exact estimates; `within_tolerance` says an approximate estimate
    outside the interval was judged to agree by the tolerance.
    """
    rows = {str(r["metric"]): r for _, r in summary.iterrows()}
    out = []
    for name, est in estimates.items():
        if not est.applies or name not in rows or not math.isfinite(est.value):
            continue
        row = rows[name]
        mean = float(row["mean"])
        low, high, kind = _interval(row, rows, confidence)
        slack = 1e-9 * max(1.0, abs(est.value))
        outside = bool(kind) and not (low - slack <= est.value <= high + slack)
        tol = math.nan if est.exact else tolerance
        close = (not est.exact and math.isfinite(mean)
                 and abs(est.value - mean) <= tolerance * abs(mean) + slack)  # fmt: skip
        out.append((name, est.value, est.exact, est.method, mean, low, high, int(row["n"]),
                    kind, tol, outside and close, outside and not close))  # fmt: skip
    return pd.DataFrame(out, columns=COLUMNS)


def comparison_lines(frame: pd.DataFrame) -> list[str]:
    """`compare`'s table as text lines for `leasesim run`, to print after the summary table."""
    if frame.empty:
        return []
    cells = [("metric", "estimate", "simulated 95% CI", "")]
    for r in frame.itertuples(index=False):
        number = format_seconds if seconds_metric(r.metric) else format_number
        shown = number(r.estimate) + ("" if r.exact else " ~")
        ci = f"[{number(r.ci_low)}, {number(r.ci_high)}]" if math.isfinite(r.ci_low) else "-"
        flag = "!" if r.disagrees else (f"within {r.tolerance:.0%}" if r.within_tolerance else "")
        cells.append((r.metric, shown, ci, flag))
    widths = [max(len(c[i]) for c in cells) for i in range(3)]
    lines = ["closed-form estimates (docs/analytic.md):", ""]
    for k, (name, value, ci, flag) in enumerate(cells):
        lines.append(f"{name.ljust(widths[0])}  {value.rjust(widths[1])}  "
                     f"{ci.ljust(widths[2])}  {flag}".rstrip())  # fmt: skip
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append("")
    if not frame["exact"].all():
        tol = float(frame.loc[~frame["exact"], "tolerance"].max())
        lines.append(
            f"~ : approximate even where its assumptions hold: agrees inside the interval or "
            f"within {tol:.0%} of the simulated mean (relative)."
        )
    if frame["interval"].isin(["poisson", "binomial"]).any():
        lines.append(
            "A count or fraction equal in every replication is judged by its exact Poisson or "
            "binomial interval."
        )
    if frame["disagrees"].any():
        lines.append(
            "! : the estimate lies outside the simulated interval (and, if approximate, beyond "
            "its tolerance): one of its assumptions does not hold here, or something is wrong "
            "(see docs/analytic.md)."
        )
    return [part for line in lines for part in (textwrap.wrap(
        line, 80, subsequent_indent="    ", break_on_hyphens=False) or [line])]


def comparison_records(frame: pd.DataFrame, estimates: Mapping[str, Estimate]
                       ) -> list[dict[str, object]]:  # fmt: skip
    """`compare`'s rows as JSON-safe dicts (NaN as None), each with its estimate's assumptions."""
    records = []
    for row in frame.to_dict(orient="records"):
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in row.items()}  # fmt: skip
        clean["assumptions"] = list(estimates[row["metric"]].assumptions)
        records.append(clean)
    return records


def closed_form_section(scenario: object, summary: pd.DataFrame
                        ) -> tuple[list[str], list[dict[str, object]]]:  # fmt: skip
    """(text lines, JSON records) comparing `scenario`'s estimates with a run's summary.

    For `leasesim run`. An estimate that cannot be computed must not cost the user the run's
    results, so any failure here becomes one explanatory line and no records.
    """
    from simulator.analytic.estimates import estimates as build

    try:
        found = build(scenario)  # type: ignore[arg-type]
        frame = compare(found, summary)
        return comparison_lines(frame), comparison_records(frame, found)
    except Exception as exc:  # noqa: BLE001 - reported, never fatal to the run
        return [f"closed-form estimates unavailable: {type(exc).__name__}: {exc}"], []
