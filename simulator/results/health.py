"""Run-level health flags: settings whose numbers would mislead if read as a normal answer.

A run can score well on a fraction while it is broken: when most tasks never end, a fraction over
the tasks that ended says little. `flags(summary)` looks at a summary (one run's, or the means over
replications) and names what is wrong, so that every summary, `recommend` and `check` can say so
beside the numbers.

Flags (each `Flag.name`):

- `backlog_grows`: the fleet does not keep up. Three conditions, all needed: the number of
  unfinished tasks rose over the second half of the measured window by at least
  `BACKLOG_GROWTH_LIMIT` of the tasks submitted meanwhile (`backlog_growth`); at least
  `BACKLOG_FRACTION_LIMIT` of the submitted tasks were still pending or running at the end
  (`backlog_fraction`); and that rise (`backlog_growth` x `tasks_submitted` / 2, the second half's
  share) is at least `BACKLOG_NOISE_SIGMAS` x sqrt(unfinished at the end + 1), beyond the random
  ups and downs of a stable queue. Such a backlog grows without bound: a longer run would leave
  more undone, and fractions describe only the tasks that got through. Clear overload is always
  flagged; a fleet within ~10 % of saturation may or may not be, by chance.
- `most_attempts_reassigned`: more than `REASSIGNED_ATTEMPTS_LIMIT` of the attempts lost their
  lease (`reassignments / attempts`): most work is done more than once or never finished.

A metric missing from the summary or NaN raises no flag.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from simulator.scenario.outputs import FLAG_NAMES as FLAG_NAMES  # named with the metrics

BACKLOG_GROWTH_LIMIT = 0.1
"""`backlog_growth` at or above which (with `BACKLOG_FRACTION_LIMIT`) the backlog grows."""

BACKLOG_FRACTION_LIMIT = 0.1
"""`backlog_fraction` at or above which (with `BACKLOG_GROWTH_LIMIT`) the backlog grows."""

BACKLOG_NOISE_SIGMAS = 3.0
"""How many sqrt(unfinished + 1) the backlog's rise must reach to count as growth, not noise."""

REASSIGNED_ATTEMPTS_LIMIT = 0.5
"""Share of attempts ended by a lease expiry above which `most_attempts_reassigned` is raised."""

@dataclass(frozen=True)
class Flag:
    """A run-level warning: a stable `name` (for code) and a `message` (for people)."""

    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


def _value(summary: Mapping[str, float], name: str) -> float:
    try:
        value = float(summary.get(name, math.nan))
    except (TypeError, ValueError):
        return math.nan
    return value


#: The metrics `flags` reads.
INPUTS = (
    "backlog_growth", "backlog_fraction", "tasks_pending", "tasks_running", "tasks_submitted",
    "reassignments", "attempts",
)  # fmt: skip


def flags(summary: Mapping[str, float]) -> list[Flag]:
    """The health flags a summary raises (empty when nothing is wrong), in `FLAG_NAMES` order.

    `summary` maps metric names to values: `Result.summary`, a record of a sweep, or the means over
    replications (`dict(zip(frame.metric, frame["mean"]))`). Missing or NaN metrics raise nothing.
    """
    out: list[Flag] = []
    growth = _value(summary, "backlog_growth")
    backlog = _value(summary, "backlog_fraction")
    pending = _value(summary, "tasks_pending")
    running = _value(summary, "tasks_running")
    submitted = _value(summary, "tasks_submitted")
    rise = growth * submitted / 2
    noise = BACKLOG_NOISE_SIGMAS * math.sqrt(max(pending + running, 0.0) + 1.0)
    if growth >= BACKLOG_GROWTH_LIMIT and backlog >= BACKLOG_FRACTION_LIMIT and rise >= noise:
        counts = f" ({pending:.4g} pending + {running:.4g} running of {submitted:.4g})"
        out.append(
            Flag(
                "backlog_grows",
                f"the backlog grows without bound: {backlog:.0%} of tasks unfinished at the "
                f"end{counts}, and {growth:.0%} of the tasks submitted in the second half "
                "added to it; the fleet does not keep up, and fractions over started or ended "
                "tasks describe only the few that got through",
            )
        )
    reassigned = _value(summary, "reassignments")
    attempts = _value(summary, "attempts")
    if attempts > 0 and reassigned / attempts > REASSIGNED_ATTEMPTS_LIMIT:
        out.append(
            Flag(
                "most_attempts_reassigned",
                f"most attempts lost their lease: {reassigned:.4g} lease expiries in "
                f"{attempts:.4g} attempts ({reassigned / attempts:.0%}); work is repeated or "
                "never finishes",
            )
        )
    return out


def flag_lines(summary: Mapping[str, float]) -> list[str]:
    """The flags of `summary` as warning lines for printed output ("WARNING <name>: <message>")."""
    return [f"WARNING {f.name}: {f.message}" for f in flags(summary)]
