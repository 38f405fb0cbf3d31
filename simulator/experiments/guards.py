"""Size and time guards: refuse, before it starts, a run that would take hours or more memory
than the machine has.

A scenario of a few lines can ask for a week of 50,000 runners: hours of simulation and more
memory than the machine has. Every command that simulates (run, sweep, report, check, recommend,
compare) calls `guard_runs` with what it will run: each scenario (a sweep's points) and its
replications. It estimates, from the scenarios alone (`simulator.experiments.run_cost`), the
SimPy events and the peak memory, and refuses (a `LeasesimError` with code LIMIT_EXCEEDED, exit
status 2) when the run would pass the `Limits`, saying which limit, what the estimate is made of
and how to proceed, the flag that overrides it (`--force`) included.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from simulator.errors import LIMIT_EXCEEDED, USAGE_ERROR, LeasesimError
from simulator.experiments.run_cost import (  # noqa: F401  (public here: the guards' estimate)
    BASE_BYTES,
    EVENTS_PER_SECOND,
    RECORD_BYTES,
    REPLICATION_EVENTS,
    Estimate,
    _whole,
    estimate,
)
from simulator.scenario.schema import Scenario, SimulationOptions
from simulator.units import format_duration

DEFAULT_MAX_EVENTS = 300_000_000  # about half an hour at EVENTS_PER_SECOND
FALLBACK_MAX_MEMORY = 4_000_000_000  # when the machine's memory cannot be read
MAX_EVENTS_VARIABLE = "LEASESIM_MAX_EVENTS"
MAX_MEMORY_VARIABLE = "LEASESIM_MAX_MEMORY"


def _half_of_memory() -> float:
    """Half the machine's physical memory (the rest is for the OS and everything else)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        return FALLBACK_MAX_MEMORY


@dataclass(frozen=True)
class Limits:
    """The largest run started without `--force`: total events, and peak memory of the runs
    that execute at once (one replication per worker)."""

    max_events: float = DEFAULT_MAX_EVENTS
    max_memory: float = field(default_factory=_half_of_memory)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Limits:
        """The defaults, overridden by LEASESIM_MAX_EVENTS (e.g. 2e9, 500M) and
        LEASESIM_MAX_MEMORY (e.g. 16GB, 512MB) when set."""
        limits = cls()
        events = environ.get(MAX_EVENTS_VARIABLE, "").strip()
        memory = environ.get(MAX_MEMORY_VARIABLE, "").strip()
        return cls(
            max_events=_parse_amount(MAX_EVENTS_VARIABLE, events, _COUNT_UNITS)
            if events
            else limits.max_events,
            max_memory=_parse_amount(MAX_MEMORY_VARIABLE, memory, _BYTE_UNITS)
            if memory
            else limits.max_memory,
        )


_COUNT_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9}
_BYTE_UNITS = {
    "": 1.0, "b": 1.0, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
    "kib": 2.0**10, "mib": 2.0**20, "gib": 2.0**30, "tib": 2.0**40,
}  # fmt: skip
# ASCII: \d alone matches full-width digits, which float() then reads (issue 19 item 4).
_AMOUNT = re.compile(r"((?:\d+(?:\.\d*)?|\.\d+)(?:e\+?\d+)?)\s*([a-z]*)", re.ASCII)


def _parse_amount(variable: str, text: str, units: Mapping[str, float]) -> float:
    """A positive amount such as 500M, 2e9 or 16GB; a USAGE_ERROR naming `variable` otherwise."""
    match = _AMOUNT.fullmatch(text.lower())
    value = 0.0
    if match and match.group(2) in units:
        value = float(match.group(1)) * units[match.group(2)]
    if not value > 0 or not math.isfinite(value):
        example = "500M or 2e9" if units is _COUNT_UNITS else "16GB or 512MB"
        suffixes = "k, M, G" if units is _COUNT_UNITS else "kB, MB, GB, TB, KiB, MiB, GiB, TiB"
        message = (
            f"the environment variable {variable}={text!r} is not a positive amount; write a "
            f"number with an optional unit ({suffixes}), such as {example}."
        )
        detail = {"field": variable, "message": message, "file": None, "line": None}
        raise LeasesimError(USAGE_ERROR, message, [detail])
    return value


# --- the guard ------------------------------------------------------------------------------------


def guard(
    scenario: Scenario,
    replications: int = 1,
    limits: Limits | None = None,
    source: str | None = None,
    workers: int = 1,
    tables: bool = False,
    out: str | os.PathLike[str] | None = None,
) -> Estimate:
    """The estimate of running `replications` of `scenario`; LIMIT_EXCEEDED past `limits`.

    `workers` replications run at once (each holds its own memory); `source` names the scenario
    (its file) in the message; `tables`: every replication's tables are kept to the end; `out`:
    each replication is saved under this folder.
    """
    found = estimate(scenario, replications, tables)
    check([found], limits or Limits(), source, workers, scenario, out=out)
    return found


def guard_runs(
    parts: Sequence[tuple[Scenario, int]],
    source: str | None,
    *,
    workers: int = 1,
    tables: bool = False,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
    points: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[Estimate]:
    """The one guard of every command that simulates: each part is a scenario (a sweep point, a
    candidate, a checked file) and its replications; LIMIT_EXCEEDED when all of them together
    pass the limits (LEASESIM_MAX_EVENTS, LEASESIM_MAX_MEMORY from `environ`, default the
    process's), unless `force`. `points`: how many parts they stand for (a sample of a grid)."""
    found = [estimate(scenario, n, tables) for scenario, n in parts]
    if not force:
        limits = Limits.from_environment(os.environ if environ is None else environ)
        check(found, limits, source, workers, parts[0][0] if len(parts) == 1 else None,
              points=points, out=out)  # fmt: skip
    return found


#: A sweep of more points than this is estimated from this many, evenly spread over its grid.
SWEEP_SAMPLE = 200


def sweep_parts(base: Scenario, replications: int) -> tuple[list[tuple[Scenario, int]], int]:
    """(scenario, replications) of the points of `base`'s sweep grid, and the number of points;
    past SWEEP_SAMPLE points, a sample of them each standing for its share of the grid."""
    from simulator.scenario.load import load_scenario_dict, scenario_to_dict
    from simulator.scenario.sweep import grid as expand

    if base.sweep is None:
        return [(base, replications)], 1
    grid = expand(base, base.sweep)
    count = len(grid.points)
    step = max(1, math.ceil(count / SWEEP_SAMPLE))
    data = scenario_to_dict(base)
    data["sweep"] = None
    parts = []
    for index in range(0, count, step):
        values = grid.points[index]
        sets = [f"{path}={json.dumps(value)}" for path, value in values.items()]
        # A bad point is named as the sweep names it: "sweep point 3 (fleet.etl.runners=0)".
        label = ", ".join(f"{path}={value}" for path, value in values.items())
        scenario = load_scenario_dict(data, source=f"sweep point {index} ({label})",
                                      overrides=sets)  # fmt: skip
        parts.append((scenario, replications * step))
    return parts, count


def check(
    estimates: Sequence[Estimate],
    limits: Limits,
    source: str | None = None,
    workers: int = 1,
    scenario: Scenario | None = None,
    points: int | None = None,
    out: str | os.PathLike[str] | None = None,
) -> None:
    """Refuse a run of several parts (e.g. sweep points) past `limits`; events add up over the
    parts; memory is the largest part's times the replications running at once, plus what every
    replication keeps to the end; with `out`, what is saved must fit in the disk's free space."""
    if not estimates:
        return
    total = sum(e.total_events for e in estimates)
    at_once = max(1, min(workers, sum(e.replications for e in estimates)))
    kept = sum(e.kept * e.replications for e in estimates)
    peak = max(e.memory for e in estimates) * at_once + kept
    written = sum(e.output * e.replications for e in estimates) if out is not None else 0.0
    free = _free_space(Path(out)) if out is not None else math.inf
    over_events, over_memory = total > limits.max_events, peak > limits.max_memory
    over_disk = written > free
    if not (over_events or over_memory or over_disk):
        return
    largest = max(estimates, key=lambda e: e.total_events)
    several = points if points is not None else len(estimates)
    parts = [f"{source}: not started" if source else "not started"]
    reasons = []
    if over_events:
        reasons.append(
            f"it would schedule {_about(total)} SimPy events"
            f"{_events_breakdown(estimates, several)}, more than the limit of "
            f"{_count(limits.max_events)} ({MAX_EVENTS_VARIABLE}); {_computing(total)}"
        )
    if over_memory:
        biggest = max(estimates, key=lambda e: e.memory)
        each = f"{_bytes(biggest.memory)} per replication x {at_once} running at once: "
        runs = sum(e.replications for e in estimates)
        held = (f", and {_bytes(kept)} that its {_count(runs)} replications keep to the end"
                if kept >= 0.1 * peak else "")  # fmt: skip
        reasons.append(
            f"it would hold {_about(peak, _bytes)} of memory at its peak ("
            f"{each if at_once > 1 else ''}{_sources(biggest.memory_by_source, _bytes)}{held}), "
            f"more than the limit of {_bytes(limits.max_memory)} ({MAX_MEMORY_VARIABLE})"
        )
    if over_disk:
        reasons.append(
            f"it would write {_about(written, _bytes)} under {out} (each replication's "
            f"scenario.json and tables), more than the {_bytes(free)} free there"
        )
    parts[0] += ": " + "; and ".join(reasons) + "."
    parts.append(_how_to_proceed(largest, total, (peak, at_once, kept), limits, scenario,
                                 several > 1, over_disk))  # fmt: skip
    message = " ".join(parts)
    detail = {
        "field": None, "message": message, "file": source, "line": None,
        "estimate": [e.to_dict() for e in estimates] if len(estimates) > 1
        else estimates[0].to_dict(),
        "limits": {"max_events": limits.max_events, "max_memory_bytes": limits.max_memory},
        "exceeded": [name for name, over in (("events", over_events), ("memory", over_memory),
                                             ("disk", over_disk)) if over],
        "total_events": _whole(total), "peak_memory_bytes": _whole(peak),
    }  # fmt: skip
    if out is not None:
        detail.update({"output_bytes": _whole(written), "free_bytes": _whole(free)})
    raise LeasesimError(LIMIT_EXCEEDED, message, [detail])


def _free_space(folder: Path) -> float:
    """Free bytes on the disk that holds `folder` (or its nearest existing parent)."""
    for candidate in (folder, *folder.resolve().parents):
        if candidate.exists():
            try:
                return float(shutil.disk_usage(candidate).free)
            except OSError:
                return math.inf
    return math.inf


def _events_breakdown(estimates: Sequence[Estimate], points: int) -> str:
    if points > 1:
        return f" over {points:,} points"
    e = estimates[0]
    if not math.isfinite(e.events):
        return ""
    each = e.events + e.overhead
    per = f"{e.replications:,} replications x {_count(each)}: " if e.replications > 1 else ""
    # The fixed cost of each replication counts as events: it is what a million tiny ones cost.
    table = {**e.events_by_source, "for each one's set-up, tables and summary": e.overhead}
    return f" ({per}{_sources(dict(sorted(table.items(), key=lambda kv: -kv[1])), _count)})"


def _sources(table: Mapping[str, float], show: Any) -> str:
    """The two or three largest sources of a table: '250 million progress reports, ...'."""
    total = sum(table.values())
    if not math.isfinite(total):
        return "too large to count"
    big = [(k, v) for k, v in table.items() if v >= 0.1 * total][:3]
    return ", ".join(f"{show(v)} {k}" for k, v in big)


def _how_to_proceed(
    e: Estimate, total: float, memory: tuple[float, int, float], limits: Limits,
    scenario: Scenario | None, several: bool, over_disk: bool,
) -> str:  # fmt: skip
    """Concrete ways to get under the limits, with the numbers they would give; `memory` is the
    peak, the replications running at once and the bytes all replications keep to the end."""
    ways = []
    peak, at_once, kept = memory
    if scenario is not None and e.overhead < e.events:  # a shorter run cuts the events
        share = min(limits.max_events / total, 1.0)
        if peak > limits.max_memory:
            # Records grow with the simulated time; the runners' own state does not.
            growing = sum(e.memory_by_source.get(k, 0.0) for k in _GROWING)
            room = (limits.max_memory - kept) / at_once - (e.memory - growing)
            share = min(share, room / growing if growing > 0 else 0.0)
        fits = _round_down(scenario.duration * share * 0.9) if share > 0 else None
        if fits is not None:
            ways.append(f"a shorter simulated time (--set duration={fits} fits)")
    if not several and (total > limits.max_events or kept > 0.1 * peak or over_disk):
        reps = float(e.replications)
        if e.events + e.overhead > 0:
            reps = min(reps, limits.max_events / (e.events + e.overhead))
        if e.kept > 0:
            reps = min(reps, (limits.max_memory - e.memory * at_once) / e.kept)
        reps = math.floor(reps) if math.isfinite(reps) else 0  # NaN, -inf: none fits
        if 1 <= reps < e.replications:
            ways.append(f"fewer replications (-n {reps} fits)")
    if several and total > limits.max_events:
        ways.append("fewer points or replications")
    if peak > limits.max_memory and max(e.memory_by_source, key=e.memory_by_source.get,
                                        default="") == "closed-form report schedule":
        ways.append("a longer progress_interval (the closed-form estimates hold a point per "
                    "report of the longest task)")  # fmt: skip
    elif peak > limits.max_memory:
        ways.append("fewer runners or tasks (memory grows with both)")
    if peak > limits.max_memory and at_once > 1:
        ways.append("fewer replications running at once")
    if scenario is not None and total > limits.max_events:
        fast = _fast_estimate(scenario, e.replications)
        if fast is not None and fast < 0.8 * e.total_events:
            ways.append(
                f"fast mode (--set simulation.mode=fast, about {_count(fast)} events: healthy "
                "runners' progress reports are counted in bulk, results keep their distribution)"
            )
    raised = []
    if total > limits.max_events and math.isfinite(total):
        raised.append(f"{MAX_EVENTS_VARIABLE}={_exponent(_round_up(total))}")
    if peak > limits.max_memory and math.isfinite(peak):
        raised.append(f"{MAX_MEMORY_VARIABLE}={math.ceil(_round_up(peak) / 1e9)}GB")
    if raised:
        ways.append(f"a higher limit ({' and '.join(raised)})")
    ways.append("or --force to run it anyway")
    return "To proceed, choose " + ", ".join(ways) + "."


_GROWING = ("task and attempt records", "fault records")  # memory that grows with the duration


def _fast_estimate(scenario: Scenario, replications: int) -> float | None:
    """Total events in fast mode, if the schema has it and the scenario is not in it already."""
    modes = get_args(SimulationOptions.model_fields["mode"].annotation)
    if "fast" not in modes or scenario.simulation.mode == "fast":
        return None
    fast = scenario.model_copy(
        update={"simulation": scenario.simulation.model_copy(update={"mode": "fast"})}
    )
    return estimate(fast, replications).total_events


def _round_down(seconds: float) -> str | None:
    """A readable duration no longer than `seconds`: whole days, hours, minutes or seconds."""
    for unit in (86400.0, 3600.0, 60.0, 1.0):
        if seconds >= unit:
            return format_duration(math.floor(seconds / unit) * unit)
    return None


def _round_up(n: float) -> float:
    """The next number of one significant digit at or above `n`: 1.6e9 -> 2e9, 8.7e9 -> 9e9."""
    scale = 10.0 ** math.floor(math.log10(n)) if n > 0 else 1.0
    return math.ceil(n / scale) * scale


def _about(n: float, show: Any = None) -> str:
    """'about 1.6 billion' or, past any float, 'an astronomical number of'."""
    if not math.isfinite(n):
        return "an astronomical amount" if show is _bytes else "an astronomical number of"
    return f"about {(show or _count)(n)}"


def _exponent(n: float) -> str:
    """2e9, 3e15: a count as LEASESIM_MAX_EVENTS reads it."""
    mantissa, exponent = f"{n:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _count(n: float) -> str:
    """300 million, 2.6 billion, 45,000; 7.9e15 beyond a thousand billion."""
    if n >= 1e12:
        mantissa, exponent = f"{n:.2g}".split("e")
        return f"{mantissa}e{int(exponent)}"
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if n >= size:
            return f"{n / size:.3g} {word}"
    return f"{n:,.0f}"


def _bytes(n: float) -> str:
    if n >= 1e15:
        return f"{n / 1e12:,.0f} TB"
    for size, unit in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} bytes"


def _computing(events: float) -> str:
    """How long `events` take at a typical speed, as a clause."""
    if not math.isfinite(events):
        return "it would never finish"
    speed = f"at a typical {_count(EVENTS_PER_SECOND)} events per second"
    return f"{speed} that is {_hours(events / EVENTS_PER_SECOND)} of computing"


def _hours(seconds: float) -> str:
    if seconds >= 3600:
        hours = seconds / 3600
        return f"about {hours:,.0f} hours" if hours >= 100 else f"about {hours:.2g} hours"
    if seconds >= 90:
        return f"about {seconds / 60:.2g} minutes"
    return "about a minute" if seconds >= 45 else "under a minute"
