"""A check's verdicts as a text table, as JSON data and as JUnit XML.

The table has a row per verdict: scenario, kind (`expect`, `health`, `exact`, `baseline`, `run`),
metric (for `health`, the flag),
what was expected, what was observed (mean and interval, or the difference from the baseline and
its interval) and the verdict. JUnit XML has a test suite per scenario and a test case per
verdict, so that CI systems list each scenario/metric; it is written atomically.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from simulator.check.baseline import CHANGED, SKIPPED
from simulator.check.equivalence import DIFFERENT
from simulator.check.expect import FAIL, INCONCLUSIVE, percent
from simulator.check.runner import CheckRun
from simulator.check.verdict import NO_BASELINE, NOT_USED, STALE, ScenarioCheck
from simulator.errors import RUN_ERROR, USAGE_ERROR, LeasesimError, printable
from simulator.io import atomic_write_text
from simulator.units import format_duration, format_number

CHECK_FAILED = "CHECK_FAILED"  # the error code of a check that ran and found failures
HEADER = ("scenario", "kind", "metric", "expected", "observed", "verdict")
NOT_COUNTED = "inconclusive*"


def number(x: float) -> str:
    """About four significant digits, thousands separated from 10,000 on; "-" for no value."""
    return format_number(x, grouped_from=10_000)


def signed(x: float) -> str:
    return "-" if math.isnan(x) else ("+" if x >= 0 else "") + number(x)


def _cut(text: str, width: int = 60) -> str:
    """`text` shortened to `width` characters (the full text is in the lines below the table)."""
    return text if len(text) <= width else text[: width - 3] + "..."


def rows(check: ScenarioCheck, allow_inconclusive: bool = False) -> list[tuple[str, ...]]:
    """The table rows of one scenario's verdicts."""
    name = check.name
    out: list[tuple[str, ...]] = []
    for v in check.expectations:
        o = v.observed
        interval = f" [{number(o.low)}, {number(o.high)}]" if o.defined else ""
        out.append((name, "expect", v.metric, v.bound, f"{number(o.mean)}{interval} n={o.n}",
                    v.verdict))  # fmt: skip
    for flag in check.flags:
        allowed = flag.name in check.allowed_flags
        out.append((name, "health", flag.name, "allowed" if allowed else "no flag",
                    _cut(flag.message), "allowed" if allowed else "flagged"))  # fmt: skip
    for f in check.failures:
        out.append((name, "run", "-", "a finished run",
                    _cut(f"replication {f.replication}: {f.describe()}"), "error"))  # fmt: skip
    base = check.baseline
    if base.status == STALE:
        out.append((name, "baseline", "-", "a current baseline", _cut(base.reason), "stale"))
    exact = check.exact
    if exact is not None:
        what = exact.reason if exact.status == SKIPPED else (
            f"{exact.metrics} metrics x {exact.replications} replications")
        out.append((name, "exact", "all metrics", "identical to the baseline", _cut(what),
                    exact.status))  # fmt: skip
        for c in exact.changes:
            out.append((name, "exact", c.metric, f"{number(c.baseline)} (replication "
                        f"{c.replications[0]})", f"{number(c.current)}; differs in "
                        f"{len(c.replications)} of {exact.replications}", CHANGED))  # fmt: skip
    for e in check.equivalence:
        expected = f"{number(e.baseline_mean)} +/- {number(e.margin)}"
        interval = f" [{signed(e.low)}, {signed(e.high)}]" if not math.isnan(e.low) else ""
        observed = f"{number(e.current_mean)}: diff {signed(e.difference)}{interval}"
        verdict = e.verdict
        if verdict == INCONCLUSIVE and not check.statistical_counts:
            verdict = NOT_COUNTED
        out.append((name, "baseline", e.metric, expected, observed, verdict))
    return out


def _grid(cells: list[tuple[str, ...]]) -> str:
    # Names and reasons come from scenario files: control characters shown escaped.
    cells = [tuple(printable(c) for c in row) for row in cells]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER))]
    lines = []
    for k, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def describe(check: ScenarioCheck, allow_inconclusive: bool = False) -> str:
    """One line: the verdict, how the scenario ran, and its baseline."""
    plan = check.plan
    verdict = "FAIL" if check.problems(allow_inconclusive) else "pass"
    looks = ", ".join(map(str, plan.looks))
    runs = (f"{check.replications} replications of {format_duration(plan.scenario.duration)} "
            f"(looks {looks}; intervals {percent(plan.confidence)}), seed {plan.seed}")  # fmt: skip
    base = check.baseline
    if base.status == NO_BASELINE:
        where = "no baseline"
    elif base.status == NOT_USED:
        where = f"baseline {base.reason}"
    else:
        where = f"baseline {base.file} ({base.status})"
    if check.exact is not None and check.exact.status == SKIPPED:
        where += f"; exact tier skipped: {check.exact.reason}"
    return f"{check.name} ({check.file}): {verdict}: {plan.mode}, {runs}; {where}"


def text(run: CheckRun) -> str:
    """The whole report: table, a line per scenario, and what failed."""
    cells = [HEADER]
    for check in run.checks:
        cells += rows(check, run.allow_inconclusive)
    parts = [_grid(cells) if len(cells) > 1 else "(no verdicts)", ""]
    parts += [printable(describe(c, run.allow_inconclusive)) for c in run.checks]
    if any(NOT_COUNTED in row for c in run.checks for row in rows(c)):
        parts.append(f"{NOT_COUNTED}: not counted: every replication is identical to the "
                     "baseline's (exact tier), so the samples cannot differ.")  # fmt: skip
    if run.recorded:
        parts.append(printable(f"baselines written: {', '.join(run.recorded)}"))
    parts += [printable(line) for line in suggestion_lines(run)]
    if run.skipped:
        parts.append(printable(f"left out (no expect: block, no baseline): "
                               f"{', '.join(run.skipped)}"))  # fmt: skip
    failed = run.failed
    parts.append("")
    total = len(run.checks)
    if failed:
        parts.append(f"{total} scenario{'s' if total != 1 else ''} checked: "
                     f"{total - len(failed)} passed, {len(failed)} failed")  # fmt: skip
        for check in failed:
            for problem in check.problems(run.allow_inconclusive):
                parts.append(printable(f"  {check.name}: {problem}"))
    else:
        parts.append(f"{total} scenario{'s' if total != 1 else ''} checked: all passed")
    return "\n".join(parts)


def suggestion_lines(run: CheckRun) -> list[str]:
    """The tolerances suggested by the recorded spread, as a `check:` block to paste."""
    out: list[str] = []
    for file, found in run.suggestions.items():
        if not found:
            continue
        counts = ", ".join(f"{n} {mode}" for mode, n in found[0].replications.items())
        out += ["", f"{file}: recorded {counts} replications (as many as a check uses). Suggested "
                "tolerances, 2.5 x the spread of one replication (docs/regression.md#choosing-"
                "tolerances); until the file sets its own, the check uses them where larger than "
                "the 5% default:", "  check:", "    tolerance:"]  # fmt: skip
        for s in found:
            note = f"  # the file has {s.written}" if s.written else ""
            out.append(f"      {s.metric}: {{absolute: {s.margin:.6g}}}{note}")
    return out


def data(run: CheckRun) -> dict[str, Any]:
    """The report as JSON-safe data (the `data` of the `--json` envelope)."""
    failed = run.failed
    return {
        "mode": run.mode, "passed": not failed, "executor": run.executor,
        "allow_inconclusive": run.allow_inconclusive,
        "counts": {"scenarios": len(run.checks), "passed": len(run.checks) - len(failed),
                   "failed": len(failed)},
        "scenarios": [c.to_dict(run.allow_inconclusive) for c in run.checks],
        "recorded": run.recorded, "skipped": run.skipped,
        "suggested_tolerances": {file: [x.to_dict() for x in found]
                                 for file, found in run.suggestions.items()},
    }  # fmt: skip


def failure_error(run: CheckRun) -> LeasesimError:
    """The error of a check with failures: one detail per problem."""
    details = [{"scenario": c.name, "file": c.file, "message": problem}
               for c in run.failed for problem in c.problems(run.allow_inconclusive)]  # fmt: skip
    names = ", ".join(c.name for c in run.failed)
    return LeasesimError(CHECK_FAILED, f"{len(run.failed)} of {len(run.checks)} scenarios "
                         f"failed their check: {names}.", details)  # fmt: skip


# --- JUnit XML ------------------------------------------------------------------------------------


def _case(suite: ET.Element, scenario: ScenarioCheck, name: str, output: str) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=f"leasesim.check.{scenario.name}",
                         name=name, file=scenario.file)  # fmt: skip
    ET.SubElement(case, "system-out").text = output
    return case


def _outcome(case: ET.Element, verdict: str, message: str, counts: bool) -> str:
    """Mark a test case by verdict; return "failures", "skipped" or "" (passed)."""
    if verdict in (FAIL, DIFFERENT, CHANGED, "stale", "flagged"):
        ET.SubElement(case, "failure", message=message, type=verdict)
        return "failures"
    if verdict == INCONCLUSIVE and counts:
        ET.SubElement(case, "failure", message=message, type=verdict)
        return "failures"
    if verdict in (INCONCLUSIVE, SKIPPED):
        ET.SubElement(case, "skipped", message=message)
        return "skipped"
    return ""


def _suite(root: ET.Element, check: ScenarioCheck, allow: bool) -> dict[str, int]:
    """One scenario's test suite; its counts of tests, failures, errors and skipped."""
    suite = ET.SubElement(root, "testsuite", name=check.name, file=check.file)
    props = ET.SubElement(suite, "properties")
    for key, value in (("mode", check.plan.mode), ("seed", check.plan.seed),
                       ("replications", check.replications),
                       ("baseline", check.baseline.file or check.baseline.status)):  # fmt: skip
        ET.SubElement(props, "property", name=key, value=str(value))
    outcomes: list[str] = []
    for v in check.expectations:
        case = _case(suite, check, f"expect {v.metric} {v.bound}", v.reason)
        outcomes.append(_outcome(case, v.verdict, v.reason, not allow))
    for flag in check.flags:
        case = _case(suite, check, f"health {flag.name}", flag.message)
        allowed = flag.name in check.allowed_flags
        outcomes.append(_outcome(case, "pass" if allowed else "flagged", flag.message, True))
    for f in check.failures:
        case = _case(suite, check, f"run replication {f.replication}", f.traceback)
        ET.SubElement(case, "error", message=f.describe(), type=f.error_type)
        outcomes.append("errors")
    if check.baseline.status == STALE:
        reason = f"baseline is stale: {check.baseline.reason}"
        case = _case(suite, check, "baseline", reason)
        outcomes.append(_outcome(case, "stale", reason, True))
    if check.exact is not None:
        case = _case(suite, check, "baseline exact tier", check.exact.reason)
        outcomes.append(_outcome(case, check.exact.status, check.exact.reason, True))
    for e in check.equivalence:
        case = _case(suite, check, f"baseline {e.metric}", e.reason)
        outcomes.append(_outcome(case, e.verdict, e.reason, check.statistical_counts and not allow))
    counts = {"tests": len(outcomes)}
    for kind in ("failures", "errors", "skipped"):
        counts[kind] = outcomes.count(kind)
    for key, value in counts.items():
        suite.set(key, str(value))
    return counts


def junit(run: CheckRun) -> str:
    """The check as JUnit XML: a suite per scenario, a case per verdict."""
    root = ET.Element("testsuites", name="leasesim check")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for check in run.checks:
        for key, value in _suite(root, check, run.allow_inconclusive).items():
            totals[key] += value
    for key, value in totals.items():
        root.set(key, str(value))
    for element in root.iter():  # XML 1.0 cannot hold control characters; names may
        element.text = printable(element.text, keep="\n\t") if element.text else element.text
        for key, value in element.attrib.items():
            element.set(key, printable(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def check_junit_target(path: str | os.PathLike[str]) -> Path:
    """The --junit file, or USAGE_ERROR if it names a folder."""
    target = Path(path)
    if target.is_dir():
        raise LeasesimError(USAGE_ERROR, f"--junit {target}: this is a folder; --junit takes the "
                            "name of the XML file to write.")  # fmt: skip
    return target


def write_junit(run: CheckRun, path: str | os.PathLike[str]) -> Path:
    """Write the JUnit XML to `path` atomically (its folder is created if need be)."""
    target = check_junit_target(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, junit(run))
    except OSError as exc:
        raise LeasesimError(RUN_ERROR, f"cannot write --junit {target}: "
                            f"{exc.strerror or exc}.") from None  # fmt: skip
    return target

