"""The report's sections, each as HTML: provenance and key figures, the verdict box, run
health, warnings, the summary table by topic, the closed-form estimates, API calls per
operation, and one row per replication."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

import pandas as pd

from simulator.experiments.replicate import Replications
from simulator.report.formatting import human_duration, number, percent, plural, unit_label, value
from simulator.results.health import (
    BACKLOG_FRACTION_LIMIT,
    BACKLOG_GROWTH_LIMIT,
    REASSIGNED_ATTEMPTS_LIMIT,
    Flag,
)
from simulator.results.metrics import METRICS
from simulator.scenario.schema import Scenario
from simulator.units import format_duration
from simulator.versions import leasesim_version

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


def provenance(reps: Replications, source: str | None, overrides: Sequence[str]) -> str:
    scenario = reps.scenario
    n = len(reps)
    bits = [
        f"{plural(n, 'replication')} of {format_duration(scenario.duration)} simulated time, "
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


def facts(reps: Replications, summary: pd.DataFrame, requested: int | None,
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


def verdict(flags: Sequence[Flag], notes: Sequence[str], fallbacks: Mapping[str, str],
             reps: Replications) -> str:  # fmt: skip
    """One box under the key figures: broken, worth a look, or nothing to report."""
    said = []
    if flags:
        names = ", ".join(f"<code>{html.escape(f.name)}</code>" for f in flags)
        said.append(f"<strong>Health flag{'s' if len(flags) > 1 else ''} raised: {names}.</strong> "
                    "The fleet does not work as intended with this setting; see Run health.")
    if reps.failures:
        said.append(f"{plural(len(reps.failures), 'replication')} failed and "
                    f"{'is' if len(reps.failures) == 1 else 'are'} left out.")
    if notes:
        said.append(f"{plural(len(notes), 'scenario warning')}: see Warnings.")
    if fallbacks:
        said.append("Fast mode fell back to exact simulation for "
                    f"{'the whole fleet' if '*' in fallbacks else 'some fleet groups'}.")
    if not said:
        return ('<div class="box ok"><p>No health flag, no scenario warning: the numbers below '
                "can be read as they are.</p></div>")
    kind = "bad" if flags or reps.failures else "warn"
    return f'<div class="box {kind}">' + "".join(f"<p>{s}</p>" for s in said) + "</div>"


def health(flags: Sequence[Flag], summary: pd.DataFrame) -> str:
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


def warnings(notes: Sequence[str], fallbacks: Mapping[str, str], scenario: Scenario) -> str:
    out = []
    if notes:
        items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
        out.append(
            f'<div class="box warn"><p><strong>{plural(len(notes), "scenario warning")}</strong>'
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


def summary_table(summary: pd.DataFrame, confidence: float, flags: Sequence[Flag]) -> str:
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
            label = unit_label(unit)
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


def summary_notes(summary: pd.DataFrame, reps: Replications, scenario: Scenario) -> str:
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


def estimates(scenario: Scenario, summary: pd.DataFrame, confidence: float) -> str:
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


def calls(reps: Replications) -> str:
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


def replications_table(reps: Replications, requested: int | None) -> str:
    run = len(reps)
    asked = requested if requested is not None else run + len(reps.failures)
    lead = (f"<p>{plural(run, 'replication')} ran to the end"
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
