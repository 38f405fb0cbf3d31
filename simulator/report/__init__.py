"""The run report: one self-contained HTML page for a design review.

In order: what was run (replications actually run, simulated time, mode), the run health flags
(`simulator.results.health`), every scenario warning and fast-mode fallback, the summary over the
replications (mean and confidence interval in human units, each metric's definition beside it,
grouped by topic), the closed-form estimates beside the simulated intervals
(`simulator.analytic`), the API calls and throttled calls per operation, one row per replication,
the figures of the first replication (base64 PNGs) with how to read each, and the fully resolved
scenario. CSS is inline and the page runs no script and links to nothing outside itself, so it
can be mailed or attached as it is.

This module assembles the page; `sections` writes each section's HTML, `formatting` the numbers
in human units (`number`, `human_duration`, `percent`, `value`, importable from here too), and
`style` holds the page's fixed parts (its style sheet, the "how to read" panel).

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

import yaml
from matplotlib.figure import Figure

from simulator.experiments.replicate import Replications
from simulator.experiments.runs import RunRecord, calls_by_operation
from simulator.io import atomic_write_text
from simulator.plots import CAPTIONS, run_figures
from simulator.plots.style import png_bytes
from simulator.plots.sweeps import human_fields
from simulator.report import sections
from simulator.report.formatting import human_duration, number, percent, plural, value
from simulator.report.style import CSS, HOW_TO_READ
from simulator.results.result import Result
from simulator.results.stats import summarize_replications
from simulator.scenario.load import scenario_warnings
from simulator.scenario.modes import fast_fallbacks
from simulator.scenario.schema import Scenario
from simulator.versions import leasesim_version

__all__ = ["Runs", "human_duration", "number", "percent", "report_html", "value", "write_report"]

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
        f"<style>{CSS}</style></head><body>",
        f"<h1>{e(scenario.name)}</h1>",
    ]
    if scenario.description:
        parts.append(f'<p class="lead">{e(scenario.description.strip())}</p>')
    parts.append(f'<p class="meta">{sections.provenance(reps, source, overrides)}</p>')
    parts.append(sections.facts(reps, summary, requested, confidence))
    parts.append(sections.verdict(flags, notes, fallbacks, reps))
    parts.append(
        '<nav><a href="#health">Run health</a><a href="#warnings">Warnings</a>'
        '<a href="#summary">Summary</a><a href="#estimates">Closed-form estimates</a>'
        '<a href="#calls">API calls</a><a href="#replications">Replications</a>'
        '<a href="#figures">Figures</a><a href="#scenario">Scenario</a></nav>'
    )
    parts.append(HOW_TO_READ)

    parts.append('<h2 id="health">Run health</h2>')
    parts.append(sections.health(flags, summary))
    parts.append('<h2 id="warnings">Warnings</h2>')
    parts.append(sections.warnings(notes, fallbacks, scenario))

    parts.append('<h2 id="summary">Summary over the replications</h2>')
    parts.append(
        f'<p>Mean over {plural(len(reps), "replication")} and its {confidence:.0%} confidence '
        "interval. Each metric's definition is beside it. Rows highlighted in amber are the ones "
        "a raised health flag looks at.</p>"
    )
    parts.append(sections.summary_table(summary, confidence, flags))
    parts.append(sections.summary_notes(summary, reps, scenario))

    parts.append('<h2 id="estimates">Closed-form estimates beside the simulation</h2>')
    parts.append(sections.estimates(scenario, summary, confidence))

    parts.append('<h2 id="calls">API calls and throttling, per operation</h2>')
    parts.append(sections.calls(reps))

    parts.append('<h2 id="replications">Replications run</h2>')
    parts.append(sections.replications_table(reps, requested))

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
    ran = (f" This report ran {plural(len(reps), 'replication')}, not the scenario's "
           f"<code>replications: {scenario.replications}</code>."
           if len(reps) != scenario.replications else "")  # fmt: skip
    parts.append(
        '<p class="muted">Every field, defaults included, as the simulation used it; durations '
        f"and rates in human units (90s, 1h30m; 120/h, 1/d).{ran}</p>"
    )
    resolved = human_fields(scenario.model_dump(mode="json"))
    text = yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
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
