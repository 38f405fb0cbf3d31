"""The report page's fixed parts: its inline style sheet and the "how to read" panel."""

CSS = """
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


HOW_TO_READ = """
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
