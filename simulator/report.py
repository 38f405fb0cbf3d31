"""The run report: one self-contained HTML page for a design review.

In order: what was run (replications actually run, simulated time, mode), the run health flags
(`simulator.results.health`), every scenario warning and fast-mode fallback, the summary over the
replications (mean and confidence interval in human units, each metric's definition beside it,
grouped by topic), the closed-form estimates beside the simulated intervals
(`simulator.analytic`), the API calls and throttled calls per operation, one row per replication,
the figures of the first replication (base64 PNGs) with how to read each, and the fully resolved
scenario. CSS is inline and the page runs no script and links to nothing outside itself, so it
can be mailed or attached as it is.

    from simulator.report import write_report
    write_report("report.html", simulator.replicate(scenario, 5, tables=True))
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml
from matplotlib.figure import Figure

from simulator import units
from simulator.experiments.replicate import Replications
from simulator.experiments.runs import RunRecord, calls_by_operation
from simulator.io import atomic_write_text
from simulator.plots import CAPTIONS, run_figures
from simulator.plots.style import png_bytes
from simulator.results.health import (
    BACKLOG_FRACTION_LIMIT,
    BACKLOG_GROWTH_LIMIT,
    REASSIGNED_ATTEMPTS_LIMIT,
    Flag,
)
from simulator.results.metrics import METRICS
from simulator.results.result import Result
from simulator.results.stats import summarize_replications
from simulator.scenario.load import scenario_warnings
from simulator.scenario.modes import fast_fallbacks
from simulator.scenario.schema import Scenario
from simulator.units import format_duration
from simulator.versions import leasesim_version

_CSS = """
:root { --ink: #1d2430; --muted: #5b6573; --line: #e3e6eb; --soft: #f6f7f9;
        --ok: #1f7a3f; --ok-bg: #eaf6ee; --warn: #8a5a00; --warn-bg: #fff6e0;
        --bad: #a4161a; --bad-bg: #fdecec; --accent: #2451a6; }
* { box-sizing: border-box; }
body { font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); max-width: 1120px; margin: 0 auto; padding: 28px 28px 60px;
       background: #fff; }
h1 { font-size: 28px; line-height: 1.2; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 40px 0 10px; padding-bottom: 4px;
     border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 6px; }
p { margin: 8px 0; max-width: 78ch; }
code { font: 13px/1.4 ui-monospace, "SFMono-Regular", Menlo, "DejaVu Sans Mono", monospace; }
.lead { font-size: 16px; color: #333c49; }
.nowrap { white-space: nowrap; }
.muted, .meta { color: var(--muted); font-size: 13.5px; }
nav { margin: 14px 0 0; font-size: 13.5px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; white-space: nowrap; }
.facts { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 10px;
         margin: 18px 0 6px; }
.fact { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
        padding: 8px 12px; }
.fact b { display: block; font-size: 19px; font-variant-numeric: tabular-nums; }
.fact span { color: var(--muted); font-size: 12.5px; }
.box { border-radius: 6px; padding: 10px 14px; margin: 12px 0; border: 1px solid; max-width: 90ch; }
.box.ok { background: var(--ok-bg); border-color: #b9e0c6; }
.box.warn { background: var(--warn-bg); border-color: #f0d58c; }
.box.bad { background: var(--bad-bg); border-color: #f1b8b8; }
.box p { margin: 4px 0; }
.box ul { margin: 4px 0; padding-left: 20px; }
.box li { margin: 4px 0; }
.howto { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
         padding: 10px 16px; margin: 16px 0; font-size: 14px; max-width: 90ch; }
.howto dt { font-weight: 600; margin-top: 6px; }
.howto dd { margin: 0 0 0 18px; }
ol.assumptions { font-size: 13px; color: #3c4552; max-width: 100ch; padding-left: 24px; }
ol.assumptions li { margin: 4px 0; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 14px;
        margin: 6px 0; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { text-align: left; font-size: 12.5px; color: var(--muted); font-weight: 600;
     border-bottom: 2px solid var(--line); white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.name { white-space: nowrap; }
td.def { color: #3c4552; font-size: 13px; min-width: 26ch; max-width: 62ch; }
tr.group td { background: var(--soft); font-weight: 600; font-size: 13px; color: #39424e;
              border-bottom: 1px solid var(--line); padding-top: 8px; }
tr.flagged td { background: var(--warn-bg); }
.tag { display: inline-block; font-size: 12px; font-weight: 600; border-radius: 4px;
       padding: 0 6px; }
.tag.ok { color: var(--ok); background: var(--ok-bg); }
.tag.warn { color: var(--warn); background: var(--warn-bg); }
.tag.bad { color: var(--bad); background: var(--bad-bg); }
.tag.none { color: var(--muted); background: var(--soft); }
figure { margin: 18px 0 26px; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line);
             border-radius: 4px; }
figcaption { color: #3c4552; font-size: 14px; max-width: 90ch; margin-top: 6px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 12px;
      overflow-x: auto; font-size: 12.5px; line-height: 1.45; max-height: 60em; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; }
"""

# Summary metrics by topic, in this order; a metric in none of them goes to "Other".
_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Tasks and backlog: did the fleet keep up?", (
        "tasks_submitted", "tasks_finished", "tasks_failed", "tasks_pending", "tasks_running",
        "backlog_fraction", "backlog_growth", "backlog_growth_per_h", "utilization",
    )),
    ("Lease losses: attempts that lost their lease", (
        "attempts", "reassignments", "reassignments_ack", "reassignments_progress",
        "false_reassignments", "attempt_timeouts", "reassigned_fraction",
        "detection_latency_mean_s",
    )),
    ("Duplicated work", (
        "duplicated_fraction", "duplicate_completions", "duplicate_overlap_mean_s",
        "wasted_work_h",
    )),
    ("Waiting: from submission to completion", (
        "latency_p50_s", "latency_p95_s", "latency_p99_s", "queue_wait_mean_s",
    )),
    ("API calls", (
        "poll_calls_per_s", "progress_calls_per_s", "throttled_calls", "lost_calls",
        "stale_status_accepted",
    )),
)  # fmt: skip

# Metrics that each health flag looks at: highlighted in the summary when the flag is raised.
_FLAG_METRICS = {
    "backlog_grows": ("backlog_fraction", "backlog_growth", "backlog_growth_per_h",
                      "tasks_pending", "tasks_running"),
    "most_attempts_reassigned": ("reassignments", "attempts", "reassigned_fraction"),
}  # fmt: skip

# The per-replication table: (metric, column heading).
_REPLICATION_COLUMNS = (
    ("tasks_submitted", "submitted"), ("tasks_finished", "finished"),
    ("backlog_fraction", "unfinished at end"), ("reassignments", "lease expiries"),
    ("duplicated_fraction", "duplicated"), ("latency_p95_s", "latency p95"),
    ("utilization", "utilization"),
)  # fmt: skip

_HOW_TO_READ = """
<dl class="howto">
<dt>What is simulated</dt>
<dd>A fleet of task runners polls AWS Data Pipeline for tasks. A runner holds a task under a
<em>lease</em>: it must acknowledge the task in time (2 minutes in AWS's documents) and keep
reporting progress before the lease runs out, or the service takes the task back and hands it
to another runner (a <em>reassignment</em>). If the first runner was in fact still working, the
task is now done twice (<em>duplicated</em>).</dd>
<dt>Replications and intervals</dt>
<dd>The scenario is run several times with independent random draws (<em>replications</em>).
Each number below is the mean over the replications, with a confidence interval (CI): the range
that covers the true mean with the stated probability (Student t). A wide interval means more
replications are needed before comparing settings; <em>n</em> is how many replications had a
value for the metric (an interval needs 2).</dd>
<dt>Health flags</dt>
<dd>Checks that tell a broken setting from a good one: a backlog that grows without bound, or
most attempts losing their lease. When a flag is raised, fractions and latencies describe only
the few tasks that got through; do not read them as the answer.</dd>
<dt>Units</dt>
<dd>Durations as 42s, 3m30s, 2h05m, 1d04h; fractions as percentages; call rates per second.</dd>
</dl>
"""

Runs = Replications | Sequence[Result]


def report_html(
    runs: Runs,
    *,
    source: str | None = None,
    overrides: Sequence[str] = (),
    confidence: float = 0.95,
    figures: Mapping[str, Figure] | None = None,
    warnings: Sequence[str] | None = None,
    requested: int | None = None,
) -> str:
    """The report page for the replications `runs` of one scenario, as a string.

    `runs` is `replicate(..., tables=True)` (failed replications are listed too) or a list of
    `Result`s of one scenario. `source` (the scenario file) and `overrides` (--set) are shown for
    provenance; `warnings` defaults to `scenario_warnings(scenario)` as text; `requested` is the
    number of replications asked for, if it differs from those run; `figures` defaults to
    `run_figures(...)` of the first replication.
    """
    reps = _replications(runs)
    if not len(reps):
        raise ValueError("a report needs at least one finished replication")
    scenario = reps.scenario
    first = reps.records[0].result
    if figures is None:
        figures = run_figures(first) if first is not None else {}
    summary = summarize_replications(reps.summaries, confidence)
    flags = reps.flags
    notes = [str(w) for w in scenario_warnings(scenario)] if warnings is None else list(warnings)
    fallbacks = _fallbacks(scenario, first)
    e = html.escape

    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>leasesim report: {e(scenario.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(scenario.name)}</h1>",
    ]
    if scenario.description:
        parts.append(f'<p class="lead">{e(scenario.description.strip())}</p>')
    parts.append(f'<p class="meta">{_provenance(reps, source, overrides)}</p>')
    parts.append(_facts(reps, summary, requested, confidence))
    parts.append(_verdict(flags, notes, fallbacks, reps))
    parts.append(
        '<nav><a href="#health">Run health</a><a href="#warnings">Warnings</a>'
        '<a href="#summary">Summary</a><a href="#estimates">Closed-form estimates</a>'
        '<a href="#calls">API calls</a><a href="#replications">Replications</a>'
        '<a href="#figures">Figures</a><a href="#scenario">Scenario</a></nav>'
    )
    parts.append(_HOW_TO_READ)

    parts.append('<h2 id="health">Run health</h2>')
    parts.append(_health(flags, summary))
    parts.append('<h2 id="warnings">Warnings</h2>')
    parts.append(_warnings(notes, fallbacks, scenario))

    parts.append('<h2 id="summary">Summary over the replications</h2>')
    parts.append(
        f'<p>Mean over {_plural(len(reps), "replication")} and its {confidence:.0%} confidence '
        "interval. Each metric's definition is beside it. Rows highlighted in amber are the ones "
        "a raised health flag looks at.</p>"
    )
    parts.append(_summary_table(summary, confidence, flags))
    parts.append(_summary_notes(summary, reps, scenario))

    parts.append('<h2 id="estimates">Closed-form estimates beside the simulation</h2>')
    parts.append(_estimates(scenario, summary, confidence))

    parts.append('<h2 id="calls">API calls and throttling, per operation</h2>')
    parts.append(_calls(reps))

    parts.append('<h2 id="replications">Replications run</h2>')
    parts.append(_replications_table(reps, requested))

    rep0 = reps.records[0]
    parts.append(f'<h2 id="figures">Figures of replication {rep0.replication} '
                 f"(seed {rep0.seed})</h2>")  # fmt: skip
    if not figures:
        parts.append('<p class="muted">No figures: the first replication kept no tables.</p>')
    for name, fig in figures.items():
        data = base64.b64encode(png_bytes(fig)).decode("ascii")
        caption = CAPTIONS.get(name, "")
        parts.append(
            f'<figure id="fig-{e(name)}"><img alt="figure {e(name)} of replication '
            f'{rep0.replication}" src="data:image/png;base64,{data}"><figcaption>'
            f"<strong>{e(name.capitalize())}.</strong> {e(caption)}</figcaption></figure>"
        )

    parts.append('<h2 id="scenario">Scenario, fully resolved</h2>')
    ran = (f" This report ran {_plural(len(reps), 'replication')}, not the scenario's "
           f"<code>replications: {scenario.replications}</code>."
           if len(reps) != scenario.replications else "")  # fmt: skip
    parts.append(
        '<p class="muted">Every field, defaults included, as the simulation used it; times are '
        f"in seconds and rates per second.{ran}</p>"
    )
    text = yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    parts.append(f'<pre class="scenario">{e(text)}</pre>')
    parts.append(
        f"<footer>Made by leasesim {e(leasesim_version())} on "
        f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}. Definitions of every metric and "
        "table column: docs/metrics.md in the leasesim repository.</footer>"
    )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    path: str | os.PathLike[str],
    runs: Runs,
    *,
    source: str | None = None,
    overrides: Sequence[str] = (),
    confidence: float = 0.95,
    figures: Mapping[str, Figure] | None = None,
    warnings: Sequence[str] | None = None,
    requested: int | None = None,
) -> Path:
    """Write `report_html(...)` to `path` atomically: a temporary sibling, then a rename."""
    target = Path(path)
    text = report_html(
        runs, source=source, overrides=overrides, confidence=confidence, figures=figures,
        warnings=warnings, requested=requested,
    )  # fmt: skip
    return atomic_write_text(target, text)


# --- inputs --------------------------------------------------------------------------------------


def _replications(runs: Runs) -> Replications:
    """`runs` as Replications: a list of Results becomes one record per result."""
    if isinstance(runs, Replications):
        return runs
    results = list(runs)
    if not results:
        raise ValueError("a report needs at least one result")
    records = [
        RunRecord(
            0, int(r.meta.get("replication", i)), int(r.seed or 0), r.summary,
            float(r.meta.get("wall_time_s", math.nan)), r.meta.get("events"), r,
            calls_by_operation(r),
        )  # fmt: skip
        for i, r in enumerate(results)
    ]
    return Replications(results[0].scenario, int(results[0].seed or 0), records, [])


def _fallbacks(scenario: Scenario, first: Result | None) -> dict[str, str]:
    """Why fleet groups ("*": all) ran exact although fast mode was asked for."""
    if first is not None and isinstance(first.meta.get("fallbacks"), Mapping):
        return {str(k): str(v) for k, v in first.meta["fallbacks"].items()}
    return fast_fallbacks(scenario)


# --- formatting ----------------------------------------------------------------------------------


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def number(x: float | None) -> str:
    """About four significant digits, thousands separated; an en dash for no value."""
    if x is None or math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if float(x).is_integer():
        return str(int(x))
    if abs(x) < 1e-3:  # 2.131e-05 -> "2.13 × 10⁻⁵"
        mantissa, exponent = f"{x:.2e}".split("e")
        return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    return f"{x:.4g}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def human_duration(seconds: float | None) -> str:
    """`simulator.units.human_duration` (42s, 3m30s, 2h05m, 1d04h), with an en dash for no value
    and typographic minus and infinity signs."""
    if seconds is None or math.isnan(seconds):
        return "–"
    if math.isinf(seconds):
        return "∞" if seconds > 0 else "−∞"
    if seconds < 0:
        return "−" + units.human_duration(-seconds)
    return units.human_duration(seconds)


def percent(x: float | None) -> str:
    """A fraction as a percentage with about three significant digits: 0.01073 -> "1.07%"."""
    if x is None or math.isnan(x):
        return "–"
    if x == 0:
        return "0%"
    p = x * 100
    if abs(p) >= 10:
        text = f"{p:.1f}"
    elif abs(p) >= 1:
        text = f"{p:.2f}"
    else:
        text = f"{p:.2g}"
    return text.replace("-", "−") + "%"


def value(x: float | None, unit: str) -> str:
    """`x` in the human form of its metric's unit."""
    if x is None or math.isnan(x):
        return "–"
    if unit == "s":
        return human_duration(x)
    if unit == "h":
        return human_duration(x * 3600)
    if unit == "fraction":
        return percent(x)
    suffix = "/s" if unit == "1/s" else "/h" if unit.endswith("/h") else ""
    return number(x).replace("-", "−") + suffix


def _unit_label(unit: str) -> str:
    """The unit word shown after counts (the other units are in the value itself)."""
    return unit if unit in ("tasks", "attempts", "expiries", "calls") else ""


# --- sections ------------------------------------------------------------------------------------


def _provenance(reps: Replications, source: str | None, overrides: Sequence[str]) -> str:
    scenario = reps.scenario
    n = len(reps)
    bits = [
        f"{_plural(n, 'replication')} of {format_duration(scenario.duration)} simulated time, "
        f"seed {reps.seed}"
    ]
    if source:
        bits.append(f"scenario file <code>{html.escape(source)}</code>")
    if overrides:
        shown = " ".join(f'<code class="nowrap">--set {html.escape(o)}</code>' for o in overrides)
        bits.append(f"overrides {shown}")
    bits.append(f"mode {html.escape(scenario.simulation.mode)}")
    bits.append(f"leasesim {html.escape(leasesim_version())}")
    return " · ".join(bits)


def _mean(summary: pd.DataFrame, metric: str) -> float:
    rows = summary.loc[summary["metric"] == metric, "mean"]
    return float(rows.iloc[0]) if len(rows) else math.nan


def _facts(reps: Replications, summary: pd.DataFrame, requested: int | None,
           confidence: float) -> str:  # fmt: skip
    scenario = reps.scenario
    run = len(reps)
    asked = requested if requested is not None else run + len(reps.failures)
    ran = f"{run} of {asked}" if asked != run else str(run)
    items = [
        (ran, "replications run" if run != 1 else "replication run"),
        (human_duration(scenario.duration), "simulated time each"
         + (f" ({human_duration(scenario.warmup)} warm-up)" if scenario.warmup > 0 else "")),
        (number(_mean(summary, "tasks_submitted")), "tasks submitted (mean)"),
        (percent(_mean(summary, "backlog_fraction")), "unfinished at the end"),
        (percent(_mean(summary, "reassigned_fraction")), "tasks reassigned"),
        (percent(_mean(summary, "duplicated_fraction")), "tasks duplicated"),
        (human_duration(_mean(summary, "latency_p95_s")), "latency p95"),
        (percent(_mean(summary, "utilization")), "fleet utilization"),
    ]  # fmt: skip
    cells = "".join(
        f'<div class="fact"><b>{html.escape(v)}</b><span>{html.escape(k)}</span></div>'
        for v, k in items
    )
    return f'<div class="facts">{cells}</div>'


def _verdict(flags: Sequence[Flag], notes: Sequence[str], fallbacks: Mapping[str, str],
             reps: Replications) -> str:  # fmt: skip
    """One box under the key figures: broken, worth a look, or nothing to report."""
    said = []
    if flags:
        names = ", ".join(f"<code>{html.escape(f.name)}</code>" for f in flags)
        said.append(f"<strong>Health flag{'s' if len(flags) > 1 else ''} raised: {names}.</strong> "
                    "The fleet does not work as intended with this setting; see Run health.")
    if reps.failures:
        said.append(f"{_plural(len(reps.failures), 'replication')} failed and "
                    f"{'is' if len(reps.failures) == 1 else 'are'} left out.")
    if notes:
        said.append(f"{_plural(len(notes), 'scenario warning')}: see Warnings.")
    if fallbacks:
        said.append("Fast mode fell back to exact simulation for "
                    f"{'the whole fleet' if '*' in fallbacks else 'some fleet groups'}.")
    if not said:
        return ('<div class="box ok"><p>No health flag, no scenario warning: the numbers below '
                "can be read as they are.</p></div>")
    kind = "bad" if flags or reps.failures else "warn"
    return f'<div class="box {kind}">' + "".join(f"<p>{s}</p>" for s in said) + "</div>"


def _health(flags: Sequence[Flag], summary: pd.DataFrame) -> str:
    backlog = _mean(summary, "backlog_fraction")
    growth = _mean(summary, "backlog_growth")
    attempts = _mean(summary, "attempts")
    reassigned = _mean(summary, "reassignments")
    share = reassigned / attempts if attempts > 0 else math.nan
    checks = (
        "<p>Two checks on the means over the replications "
        "(<code>simulator.results.health</code>):</p><ul>"
        f"<li><code>backlog_grows</code>: raised when at least {BACKLOG_FRACTION_LIMIT:.0%} of the "
        f"tasks are unfinished at the end <em>and</em> the backlog absorbed at least "
        f"{BACKLOG_GROWTH_LIMIT:.0%} of the tasks submitted in the second half of the run, beyond "
        f"chance. Here: {percent(backlog)} unfinished, growth {percent(growth)}.</li>"
        f"<li><code>most_attempts_reassigned</code>: raised when more than "
        f"{REASSIGNED_ATTEMPTS_LIMIT:.0%} of attempts lost their lease. Here: {percent(share)} "
        "of attempts.</li></ul>"
    )
    if not flags:
        return f'<div class="box ok"><p><strong>No flag raised.</strong></p>{checks}</div>'
    raised = "".join(
        f"<li><code>{html.escape(f.name)}</code>: {html.escape(f.message)}.</li>" for f in flags
    )
    return (f'<div class="box bad"><p><strong>Raised:</strong></p><ul>{raised}</ul></div>'
            f'<div class="box warn">{checks}</div>')  # fmt: skip


def _warnings(notes: Sequence[str], fallbacks: Mapping[str, str], scenario: Scenario) -> str:
    out = []
    if notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        out.append(
            f'<div class="box warn"><p><strong>{_plural(len(notes), "scenario warning")}</strong>'
            f" (valid settings that are probably unintended; <code>leasesim validate</code> "
            f"prints the same):</p><ul>{items}</ul></div>"
        )
    else:
        out.append('<div class="box ok"><p>No scenario warning.</p></div>')
    mode = scenario.simulation.mode
    if mode == "fast":
        if fallbacks:
            items = "".join(
                f"<li>{_who(g)} ran exact: {html.escape(r)}</li>" for g, r in fallbacks.items()
            )
            out.append(
                '<div class="box warn"><p><strong>Fast mode fell back to exact simulation'
                f"</strong> (same rules, slower):</p><ul>{items}</ul></div>"
            )
        else:
            out.append('<p class="muted">Simulation mode: fast, for the whole fleet.</p>')
    else:
        out.append('<p class="muted">Simulation mode: exact (every call and report is an '
                   "event).</p>")  # fmt: skip
    return "\n".join(out)


def _who(group: str) -> str:
    return "the whole fleet" if group == "*" else f"fleet group <code>{html.escape(group)}</code>"


def _summary_table(summary: pd.DataFrame, confidence: float, flags: Sequence[Flag]) -> str:
    hot = {m for f in flags for m in _FLAG_METRICS.get(f.name, ())}
    rows = {str(r.metric): r for r in summary.itertuples(index=False)}
    placed: set[str] = set()
    body = []
    groups = [*_GROUPS, ("Other", tuple(m for m in rows if not any(m in g for _, g in _GROUPS)))]
    for title, names in groups:
        present = [m for m in names if m in rows]
        if not present:
            continue
        body.append(f'<tr class="group"><td colspan="5">{html.escape(title)}</td></tr>')
        for name in present:
            placed.add(name)
            r = rows[name]
            m = METRICS.get(name)
            unit, definition = (m.unit, m.definition) if m else ("", "")
            ci = ("" if math.isnan(r.half_width)
                  else f"{value(r.ci_low, unit)} – {value(r.ci_high, unit)}")  # fmt: skip
            label = _unit_label(unit)
            shown = value(r.mean, unit) + (f' <span class="muted">{label}</span>' if label else "")
            raw = "" if math.isnan(r.mean) else f' title="{r.mean!r} {html.escape(unit)}"'
            css = ' class="flagged"' if name in hot else ""
            body.append(
                f'<tr{css}><td class="name"><code>{html.escape(name)}</code></td>'
                f'<td class="num"{raw}>{shown}</td><td class="num">{ci}</td>'
                f'<td class="num">{r.n}</td><td class="def">{html.escape(definition)}</td></tr>'
            )
    head = (f'<tr><th>metric</th><th class="num">mean</th><th class="num">{confidence:.0%} '
            'CI</th><th class="num">n</th><th>definition</th></tr>')  # fmt: skip
    return (f'<div class="scroll"><table class="summary"><thead>{head}</thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')  # fmt: skip


def _summary_notes(summary: pd.DataFrame, reps: Replications, scenario: Scenario) -> str:
    notes = []
    if len(reps) < 2:
        notes.append("One replication: no confidence intervals (run 2 or more).")
    if summary["mean"].isna().any():
        notes.append("– : no value in any replication (e.g. a mean over no events).")
    if "method" in summary and (summary["method"] != "t").any():
        notes.append("Where the Student t interval would leave a metric's range (counts below 0, "
                     "fractions outside 0–100%), a percentile bootstrap interval is shown "
                     "instead.")  # fmt: skip
    if scenario.warmup > 0:
        notes.append(f"Warm-up: tasks submitted in the first {format_duration(scenario.warmup)}"
                     " are left out of the metrics; API call counts cover the whole run.")
    return "".join(f'<p class="muted">{html.escape(n)}</p>' for n in notes)


def _estimates(scenario: Scenario, summary: pd.DataFrame, confidence: float) -> str:
    from simulator.analytic import compare, estimates

    try:
        found = estimates(scenario)
        frame = compare(found, summary, confidence)
    except Exception as exc:  # noqa: BLE001 - an estimate must never cost the report
        return (f'<p class="muted">Closed-form estimates unavailable: '
                f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</p>")  # fmt: skip
    intro = (
        "<p>Formulas (queueing theory, the lease rules) give some metrics without simulating, "
        "when the scenario meets their assumptions. Each is set beside the simulated interval: "
        "agreement is a check on both; disagreement means an assumption does not hold here, or "
        "something is wrong. <em>Exact</em> estimates are the model's own expectation and are "
        "judged by the interval; <em>approximate</em> ones agree inside the interval or within "
        "their stated tolerance of the simulated mean.</p>"
    )
    if frame.empty:
        body = '<p class="muted">No closed-form estimate applies to this scenario.</p>'
    else:
        rows = []
        methods: dict[str, tuple[str, ...]] = {}  # method -> its assumptions, numbered in order
        for r in frame.itertuples(index=False):
            unit = METRICS[r.metric].unit if r.metric in METRICS else ""
            ci = (f"{value(r.ci_low, unit)} – {value(r.ci_high, unit)}"
                  if math.isfinite(r.ci_low) else "–")  # fmt: skip
            if r.interval in ("poisson", "binomial"):
                ci += f' <span class="muted">({r.interval})</span>'
            if r.disagrees:
                verdict = '<span class="tag bad">disagrees</span>'
            elif not r.interval:
                verdict = '<span class="tag none">not judged</span>'
            elif r.within_tolerance:
                verdict = f'<span class="tag ok">agrees (within {r.tolerance:.0%})</span>'
            else:
                verdict = '<span class="tag ok">agrees</span>'
            method = str(r.method)
            if method not in methods:
                methods[method] = tuple(found[r.metric].assumptions)
            how = f"{html.escape(method)} <sup>[{list(methods).index(method) + 1}]</sup>"
            rows.append(
                f'<tr><td class="name"><code>{html.escape(r.metric)}</code></td>'
                f'<td class="num">{value(r.estimate, unit)}</td>'
                f"<td>{'exact' if r.exact else 'approximate'}</td>"
                f'<td class="num">{value(r.mean, unit)}</td><td class="num">{ci}</td>'
                f'<td>{verdict}</td><td class="def">{how}</td></tr>'
            )
        head = ('<tr><th>metric</th><th class="num">estimate</th><th>kind</th>'
                f'<th class="num">simulated mean</th><th class="num">{confidence:.0%} interval'
                "</th><th>verdict</th><th>method</th></tr>")  # fmt: skip
        body = (f'<div class="scroll"><table class="estimates"><thead>{head}</thead><tbody>'
                f'{"".join(rows)}</tbody></table></div>')  # fmt: skip
        items = "".join(
            f"<li><strong>{html.escape(m)}</strong>: {html.escape('; '.join(a)) or 'none stated'}"
            "</li>" for m, a in methods.items()
        )  # fmt: skip
        body += (f'<p class="muted">What each method assumes (an estimate is shown only when the '
                 f'scenario meets these):</p><ol class="assumptions">{items}</ol>')  # fmt: skip
        if frame["interval"].isin(["poisson", "binomial"]).any():
            body += ('<p class="muted">A count or fraction equal in every replication has no '
                     "Student t interval; it is judged by its exact Poisson (counts) or binomial "
                     "(fractions) interval.</p>")  # fmt: skip
    skipped = [e for e in found.values() if not e.applies]
    if skipped:
        items = "".join(
            f"<li><code>{html.escape(e.metric)}</code>: {html.escape(e.why_not)}</li>"
            for e in skipped
        )
        body += (f'<p class="muted">Not estimated here (an assumption does not hold):</p>'
                 f'<ul class="muted">{items}</ul>')  # fmt: skip
    return intro + body


def _calls(reps: Replications) -> str:
    calls = reps.calls()
    if calls.empty:
        return '<p class="muted">No call counts: the replications were loaded from disk.</p>'
    n = int(calls["n"].iloc[0])
    per = f"mean per replication over {n} replications" if n > 1 else "one replication"
    any_throttled = bool((calls["throttled"] > 0).any())
    lead = (
        "<p>Every call the runners made to the service, by operation "
        f"({per}). <em>Throttled</em>: rejected by the account's rate limit (the runner retries "
        "later); <em>lost</em>: dropped by the network (faults). "
        + ("<strong>Calls were throttled</strong>: the operation with the largest share shows "
           "which limit bound.</p>" if any_throttled else "No call was throttled.</p>")
    )  # fmt: skip
    rows = []
    for r in calls.itertuples(index=False):
        share = percent(r.throttled / r.calls) if r.calls else "–"
        css = ' class="flagged"' if r.throttled > 0 else ""
        rows.append(
            f'<tr{css}><td class="name"><code>{html.escape(str(r.operation))}</code></td>'
            f'<td class="num">{number(float(r.calls))}</td>'
            f'<td class="num">{number(float(r.throttled))}</td><td class="num">{share}</td>'
            f'<td class="num">{number(float(r.lost))}</td></tr>'
        )
    head = ('<tr><th>operation</th><th class="num">calls</th><th class="num">throttled</th>'
            '<th class="num">throttled share</th><th class="num">lost</th></tr>')  # fmt: skip
    return (f'{lead}<div class="scroll"><table class="calls"><thead>{head}</thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')  # fmt: skip


def _replications_table(reps: Replications, requested: int | None) -> str:
    run = len(reps)
    asked = requested if requested is not None else run + len(reps.failures)
    lead = (f"<p>{_plural(run, 'replication')} ran to the end"
            + (f" of {asked} requested" if asked != run else "")
            + ". Each uses its own random streams, derived from the seed and its number, so the "
            "same seed gives the same results. A replication far from the others is worth a "
            "look.</p>")  # fmt: skip
    rows = []
    for rec in sorted(reps.records, key=lambda r: r.replication):
        cells = "".join(
            f'<td class="num">{value(rec.summary.get(m, math.nan), METRICS[m].unit)}</td>'
            if m in METRICS else '<td class="num">–</td>'
            for m, _ in _REPLICATION_COLUMNS
        )  # fmt: skip
        wall = "–" if math.isnan(rec.wall_time_s) else f"{rec.wall_time_s:.2f}s"
        events = "–" if rec.events is None else f"{rec.events:,}"
        rows.append(f'<tr><td class="num">{rec.replication}</td><td class="num">{rec.seed}'
                    f'</td>{cells}<td class="num">{wall}</td><td class="num">{events}</td></tr>')
    for f in reps.failures:
        rows.append(
            f'<tr class="flagged"><td class="num">{f.replication}</td><td class="num">{f.seed}'
            f'</td><td colspan="{len(_REPLICATION_COLUMNS) + 2}">failed: '
            f"{html.escape(f.describe())}</td></tr>"
        )
    head = ('<tr><th class="num">replication</th><th class="num">seed</th>'
            + "".join(f'<th class="num">{html.escape(h)}</th>' for _, h in _REPLICATION_COLUMNS)
            + '<th class="num">wall time</th><th class="num">events</th></tr>')  # fmt: skip
    return (f'{lead}<div class="scroll"><table class="replications"><thead>{head}</thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')  # fmt: skip
