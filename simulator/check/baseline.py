"""Baselines: a scenario's recorded per-replication summaries, and the exact tier of comparison.

`leasesim check --update-baseline FILE` writes `baselines/NAME.json` beside FILE (or
`check.baseline`): for the full run and, when the scenario has `check.quick`, the quick run, the
resolved scenario, the seed, the replications (as many as a check may use: `max_replications`)
and every summary metric of every replication, with the versions of leasesim and the pinned
dependencies. Re-recording an unchanged scenario with the same versions gives the same file.

- **Suggested tolerances**: each run also records, per metric, the margin its spread calls for
  (`suggest`: 2.5 x the standard deviation of one replication, rounded up to two significant
  digits; for a count or fraction that was 0 in every replication, 2.5 x the spread its exact
  upper bound allows). `--update-baseline` prints them, and the statistical tier uses them for
  metrics the scenario gives no tolerance of its own (when larger than the 5 % default), so that
  a check right after recording passes with any seed.
- **Stale**: a baseline whose resolved scenario differs from the scenario being checked is not
  compared. The seed, the replication count, the name, the description and the `expect`,
  `check` and `sweep` blocks do not count (they do not change what a replication computes); the
  baseline's scenario is validated again first, so a field added to leasesim since, left at its
  default, does not make it stale either.
- **Exact tier**: with the same leasesim release, the same dependency versions and the same seed,
  replication i must give the very same summary as recorded; any difference is reported metric by
  metric. It catches accidental behaviour changes; it says nothing across versions, since NumPy
  only promises the same random streams for the same build.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.errors import FILE_ERROR, RUN_ERROR, LeasesimError
from simulator.io import atomic_write_text, json_text
from simulator.scenario.files import FileRefused, parse_json, read_regular
from simulator.scenario.load import load_scenario_dict, scenario_to_dict
from simulator.scenario.schema import Scenario
from simulator.versions import dependency_versions, leasesim_version

FORMAT = 1
# A baseline holds the resolved scenario (empirical samples inline) and a value per metric and
# replication: a few kB to a few MB. Read as untrusted input (it sits beside a stranger's
# scenario): at most MAX_BYTES, nested at most MAX_DEPTH deep (it nests about 10 deep).
MAX_BYTES = 100 * 1024 * 1024
MAX_DEPTH = 64
# Top-level fields that do not change what a replication computes.
IGNORED = ("name", "description", "seed", "replications", "expect", "check", "sweep")
STREAMS = "replication i draws from numpy.random.SeedSequence(seed, spawn_key=(i,))"
IDENTICAL, CHANGED, SKIPPED = "identical", "changed", "skipped"


def baseline_path(file: Path, scenario: Scenario) -> Path:
    """`check.baseline` (relative to the scenario's folder), else `baselines/<stem>.json`."""
    if scenario.check.baseline:
        path = Path(scenario.check.baseline)
        return path if path.is_absolute() else file.parent / path
    return file.parent / "baselines" / f"{file.stem}.json"


def release(version: str) -> str:
    """A version without the "+checkout" mark of a source checkout: the same release."""
    return version.removesuffix("+checkout")


def current_versions() -> dict[str, str]:
    """What the exact tier needs to match: the leasesim release and the key dependencies."""
    return {"leasesim": release(leasesim_version()), **dependency_versions()}


@dataclass
class Recorded:
    """One recorded run of a baseline (full or quick): scenario, seed and per-replication values."""

    scenario: dict[str, Any]
    seed: int
    values: dict[str, list[float]]  # metric -> value of replication 0, 1, ...
    suggested: dict[str, float] = field(default_factory=dict)  # metric -> margin (see `suggest`)

    @property
    def replications(self) -> int:
        return max((len(v) for v in self.values.values()), default=0)

    def column(self, metric: str) -> list[float]:
        return list(self.values.get(metric, []))

    def to_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "replications": self.replications, "streams": STREAMS,
                "scenario": self.scenario, "suggested_tolerance": self.suggested,
                "values": self.values}  # fmt: skip


def recorded(scenario: Scenario, seed: int, summaries: Sequence[Mapping[str, float]]) -> Recorded:
    """A run to record: the resolved scenario, its seed, each replication's summary and the
    tolerances suggested by their spread."""
    names = list(dict.fromkeys(k for s in summaries for k in s))
    values = {m: [float(s.get(m, math.nan)) for s in summaries] for m in names}
    return Recorded(scenario_to_dict(scenario), seed, values, suggest(values))


SPREADS = 2.5  # margins of 2.5 standard deviations of one replication (docs/regression.md)
NO_EVENT = math.log(40)  # exact 97.5 % upper bound of a Poisson mean after 0 events: 3.69
COUNT_UNITS = ("tasks", "attempts", "expiries", "calls")


def _round_up(x: float) -> float:
    """`x` rounded up to two significant digits (0.0123 -> 0.013, 4567 -> 4600)."""
    if x <= 0 or not math.isfinite(x):
        return x
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return float(f"{math.ceil(x / step - 1e-9) * step:.2g}")


def suggest(values: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Per metric, the margin its recorded spread calls for: `SPREADS` x the standard deviation
    of one replication, rounded up. A count that was 0 in every replication gets the spread of a
    Poisson count at the exact upper bound of its mean (NO_EVENT / n), and such a fraction that
    of a binomial fraction over the ended tasks of one replication; other constant metrics get
    none (they must stay the same). Metrics with fewer than two values get none."""
    from simulator.results.metrics import METRICS

    def mean_of(name: str) -> float:
        finite = [v for v in values.get(name, []) if v == v]
        return sum(finite) / len(finite) if finite else math.nan

    ended = mean_of("tasks_finished") + mean_of("tasks_failed")
    out: dict[str, float] = {}
    for metric, column in values.items():
        finite = [v for v in column if v == v]
        n = len(finite)
        if n < 2:
            continue
        mean = sum(finite) / n
        sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
        unit = METRICS[metric].unit if metric in METRICS else ""
        if sd == 0 and mean == 0 and unit in COUNT_UNITS:
            sd = math.sqrt(NO_EVENT / n)
        elif sd == 0 and mean == 0 and unit == "fraction" and ended >= 1:
            sd = math.sqrt(NO_EVENT / n) / ended
        if sd > 0 and math.isfinite(sd):
            out[metric] = _round_up(SPREADS * sd)
    return out


@dataclass
class Baseline:
    """A baseline file: the versions it was recorded with and its runs by mode."""

    path: Path
    file: str
    versions: dict[str, str]
    runs: dict[str, Recorded] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "about": "leasesim check baseline: every summary metric of every replication. "
            f"Re-record with `leasesim check --update-baseline {self.file}`.",
            "file": self.file, "versions": self.versions,
            "runs": {mode: run.to_dict() for mode, run in self.runs.items()},
        }  # fmt: skip

    def save(self) -> None:
        """Write the file atomically (a reader sees the old baseline or the new one)."""
        text = json_text(self.to_dict())
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.path, _flat_lists(text))
        except OSError as exc:
            raise LeasesimError(
                RUN_ERROR, f"cannot write the baseline {self.path}: {exc.strerror or exc}."
            ) from None


_LIST = re.compile(r"\[[^\[\]{}]*\]")


def _flat_lists(text: str) -> str:
    """Lists of plain values on one line each (one metric's replications per line)."""
    return _LIST.sub(lambda m: re.sub(r"\n\s*", "", m.group(0)).replace(",", ", "), text)


def load(path: Path, scenario_file: str = "") -> Baseline:
    """Read a baseline file; FILE_ERROR naming it and how to fix it when it is not one."""
    fix = (f" Re-record it with `leasesim check --update-baseline {scenario_file}`."
           if scenario_file else "")  # fmt: skip
    try:
        data = parse_json(read_regular(path, MAX_BYTES).decode("utf-8"), MAX_DEPTH)
    except FileRefused as exc:
        raise _bad(path, f"{exc.reason}.{fix}") from None
    except UnicodeDecodeError:
        raise _bad(path, f"is not UTF-8 text, so not a baseline.{fix}") from None
    try:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"it is not a leasesim baseline of format {FORMAT}")
        runs = {}
        for mode, run in dict(data["runs"]).items():
            if mode not in ("full", "quick"):
                raise ValueError(f"unknown run {mode!r} (expected full, quick)")
            values = {str(m): [math.nan if v is None else _number(v, f"{mode}.values.{m}")
                               for v in column]
                      for m, column in dict(run["values"]).items()}  # fmt: skip
            if len({len(v) for v in values.values()}) > 1:
                raise ValueError(f"the {mode} run's metrics have different replication counts")
            scenario = run["scenario"]
            if not isinstance(scenario, dict):
                raise ValueError(f"the {mode} run's scenario is not a mapping")
            suggested = {str(m): _number(v, f"{mode}.suggested_tolerance.{m}")
                         for m, v in dict(run.get("suggested_tolerance")
                                                           or {}).items()}  # fmt: skip
            seed = run["seed"]
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise ValueError(f"the {mode} run's seed is {seed!r}, not a whole number")
            runs[mode] = Recorded(scenario, seed, values, suggested)
        versions = {str(k): str(v) for k, v in dict(data["versions"]).items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(path, f"is not a valid baseline: {exc}.{fix}") from None
    return Baseline(path, str(data.get("file", "")), versions, runs)


def _number(value: object, where: str) -> float:
    """A JSON number as a float: a hand-edited "7" or true is not silently read as one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} holds {value!r}, not a number")
    return float(value)


def _bad(path: Path, message: str) -> LeasesimError:
    text = f"the baseline file {str(path)!r} {message}"
    return LeasesimError(FILE_ERROR, text, [{"field": None, "message": text, "file": str(path),
                                              "line": None}])  # fmt: skip


# --- stale ----------------------------------------------------------------------------------------


def identity(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a replication depends on: the resolved scenario without IGNORED fields."""
    return {k: v for k, v in data.items() if k not in IGNORED}


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Where two resolved scenarios differ, as `PATH: OLD in the baseline, NEW now`."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in dict.fromkeys([*old, *new]):
            here = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(f"{here}: in the baseline, no longer in the scenario")
            elif key not in old:
                out.append(f"{here}: not in the baseline")
            else:
                out += differences(old[key], new[key], here)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            name = a.get("name") if isinstance(a, dict) and isinstance(a.get("name"), str) else i
            out += differences(a, b, f"{path}[{name}]")
        return out
    if old == new:
        return []
    return [f"{path or 'the scenario'}: {_short(old)} in the baseline, {_short(new)} now"]


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def stale_reason(run: Recorded, scenario: Scenario) -> str | None:
    """Why the recorded run does not describe `scenario` any more, or None if it does."""
    try:
        then = scenario_to_dict(load_scenario_dict(run.scenario, source="the baseline's scenario"))
    except LeasesimError as err:
        return f"its scenario is not valid in this version of leasesim ({err.message})"
    found = differences(identity(then), identity(scenario_to_dict(scenario)))
    if not found:
        return None
    more = f"; and {len(found) - 3} more" if len(found) > 3 else ""
    return "the scenario changed since it was recorded: " + "; ".join(found[:3]) + more


# --- the exact tier -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricChange:
    """A metric whose value differs from the baseline's in some replications (the first shown)."""

    metric: str
    replications: list[int]
    baseline: float
    current: float


@dataclass
class ExactTier:
    """The exact comparison: identical, changed (with each changed metric) or skipped (why)."""

    status: str
    reason: str
    replications: int = 0
    metrics: int = 0
    changes: list[MetricChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "reason": self.reason, "replications": self.replications,
                "metrics": self.metrics,
                "changes": [vars(c) for c in self.changes]}  # fmt: skip


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def exact_tier(
    run: Recorded, then: Mapping[str, str], seed: int, summaries: Sequence[Mapping[str, float]]
) -> ExactTier:
    """Compare replication by replication, when the versions and the seed allow it."""
    now = current_versions()
    reasons = []
    if seed != run.seed:
        reasons.append(f"seed {seed} here, {run.seed} in the baseline")
    for name in dict.fromkeys([*then, *now]):
        was, is_ = release(then.get(name, "unknown")), now.get(name, "unknown")
        if was != is_:
            reasons.append(f"{name} {is_} here, {was} in the baseline")
    if reasons:
        return ExactTier(SKIPPED, "; ".join(reasons))
    n = min(len(summaries), run.replications)
    # The metrics the baseline recorded: a metric added since (issue 16's fleet metrics, say) is
    # new, not changed; one the baseline has and this run lacks is a change (NaN against a value).
    names = list(run.values) or list(dict.fromkeys(k for s in summaries[:n] for k in s))
    changes = []
    for metric in names:
        recorded_values = run.column(metric)
        differ = [i for i in range(n)
                  if not _same(recorded_values[i] if i < len(recorded_values) else math.nan,
                               float(summaries[i].get(metric, math.nan)))]  # fmt: skip
        if differ:
            i = differ[0]
            was = recorded_values[i] if i < len(recorded_values) else math.nan
            now = float(summaries[i].get(metric, math.nan))
            changes.append(MetricChange(metric, differ, was, now))
    if changes:
        shown = ", ".join(c.metric for c in changes[:5]) + (" ..." if len(changes) > 5 else "")
        reason = (f"{len(changes)} of {len(names)} metrics differ from the baseline in "
                  f"replications 0..{n - 1}: {shown}")  # fmt: skip
        return ExactTier(CHANGED, reason, n, len(names), changes)
    return ExactTier(IDENTICAL, f"all {len(names)} metrics identical in replications 0..{n - 1}",
                     n, len(names))  # fmt: skip
