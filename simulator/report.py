"""The run report: one self-contained HTML page for a design review.

It holds the summary over replications (mean, confidence interval, n, unit, with each metric's
definition on hover), the figures of the first replication embedded as base64 PNGs with a sentence
on how to read each, that replication's API call counts, and the fully resolved scenario as YAML.
Nothing is linked: the file can be mailed or attached as it is.
"""

from __future__ import annotations

import base64
import html
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml
from matplotlib.figure import Figure

from simulator.plots import CAPTIONS, run_figures
from simulator.plots.style import png_bytes
from simulator.results.metrics import METRICS
from simulator.results.result import Result
from simulator.results.stats import summarize_replications
from simulator.units import format_duration
from simulator.versions import leasesim_version

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1180px; margin: 2em auto; padding: 0 1em; }
h1 { margin-bottom: .2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.meta { color: #555; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.unit { text-align: left; color: #555; }
tr:hover td { background: #f5f8ff; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; max-width: 60em; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 12px; }
"""


def report_html(
    results: Sequence[Result],
    *,
    source: str | None = None,
    overrides: Sequence[str] = (),
    confidence: float = 0.95,
    figures: Mapping[str, Figure] | None = None,
) -> str:
    """The report page for the replications `results` of one scenario, as a string.

    `source` (the scenario file) and `overrides` (--set) are shown for provenance; `figures`
    defaults to `run_figures(results[0])`.
    """
    if not results:
        raise ValueError("a report needs at least one result")
    first = results[0]
    scenario = first.scenario
    figures = run_figures(first) if figures is None else figures
    summary = summarize_replications([r.summary for r in results], confidence)
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>leasesim report: {e(scenario.name)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(scenario.name)}</h1>",
    ]
    if scenario.description:
        parts.append(f"<p>{e(scenario.description.strip())}</p>")
    parts.append(f'<p class="meta">{_provenance(results, source, overrides)}</p>')

    parts.append('<h2 id="summary">Summary</h2>')
    parts.append(_summary_table(summary, confidence))
    parts.append(
        f'<p class="meta">Mean over {len(results)} replication{"s" if len(results) > 1 else ""}'
        f" with its {confidence:.0%} confidence interval (Student t); n counts the replications "
        "where the metric has a value (an interval needs 2); – means no value. Hover over a "
        "metric for its definition.</p>"
    )

    parts.append(f'<h2 id="figures">Figures (replication {first.meta.get("replication", 0)}, '
                 f"seed {first.seed})</h2>")  # fmt: skip
    for name, fig in figures.items():
        data = base64.b64encode(png_bytes(fig)).decode("ascii")
        caption = CAPTIONS.get(name, "")
        parts.append(
            f'<figure id="fig-{e(name)}"><img alt="{e(name)}" '
            f'src="data:image/png;base64,{data}"><figcaption><strong>{e(name)}.</strong> '
            f"{e(caption)}</figcaption></figure>"
        )

    parts.append('<h2 id="calls">API calls (same replication)</h2>')
    parts.append(_calls_table(first))

    parts.append('<h2 id="scenario">Scenario, fully resolved</h2>')
    parts.append(
        '<p class="meta">Defaults included; times are in seconds and rates per second.</p>'
    )
    text = yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
    parts.append(f'<pre class="scenario">{e(text)}</pre>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    path: str | os.PathLike[str],
    results: Sequence[Result],
    *,
    source: str | None = None,
    overrides: Sequence[str] = (),
    confidence: float = 0.95,
    figures: Mapping[str, Figure] | None = None,
) -> Path:
    """Write `report_html(...)` to `path` atomically: a temporary sibling, then a rename."""
    target = Path(path)
    text = report_html(
        results, source=source, overrides=overrides, confidence=confidence, figures=figures
    )
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _provenance(results: Sequence[Result], source: str | None, overrides: Sequence[str]) -> str:
    first = results[0]
    n = len(results)
    bits = [
        f"{n} replication{'s' if n > 1 else ''} of {format_duration(first.duration)} simulated "
        f"time, seed {first.seed}"
    ]
    if source:
        bits.append(f"scenario file <code>{html.escape(source)}</code>")
    if overrides:
        shown = " ".join(f"--set {o}" for o in overrides)
        bits.append(f"overrides <code>{html.escape(shown)}</code>")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    bits.append(f"leasesim {html.escape(leasesim_version())}, {created}")
    return " · ".join(bits)


def number(x: float) -> str:
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
    return f"{x:.4g}"


def _summary_table(summary: pd.DataFrame, confidence: float) -> str:
    rows = []
    for r in summary.itertuples(index=False):
        m = METRICS.get(r.metric)
        unit, definition = (m.unit, m.definition) if m else ("", "")
        ci = "" if math.isnan(r.half_width) else f"[{number(r.ci_low)}, {number(r.ci_high)}]"
        rows.append(
            f'<tr><td title="{html.escape(definition)}"><code>{html.escape(r.metric)}</code></td>'
            f"<td>{number(r.mean)}</td><td>{ci}</td><td>{r.n}</td>"
            f'<td class="unit">{html.escape(unit)}</td></tr>'
        )
    head = (
        f"<tr><th>metric</th><th>mean</th><th>{confidence:.0%} CI</th><th>n</th>"
        "<th>unit</th></tr>"
    )
    return f'<table class="summary"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def _calls_table(result: Result) -> str:
    calls = result.calls
    head = "".join(f"<th>{html.escape(c)}</th>" for c in calls.columns)
    rows = "".join(
        "<tr>" + "".join(
            f"<td>{html.escape(str(v)) if isinstance(v, str) else number(float(v))}</td>"
            for v in row
        ) + "</tr>"
        for row in calls.itertuples(index=False)
    )  # fmt: skip
    return f'<table class="calls"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
