"""How a check runs one scenario: the mode (full or quick), the seed, and the looks.

A check starts with `first` replications and, while some verdict is undecided, adds more at
fixed counts, doubling each time up to the cap: `first, 2 first, 4 first, ..., cap`. Each of
these counts is a *look*. Looking several times at growing data and stopping when a verdict is
reached would let an unlucky early interval decide, so every look uses a share of the error
allowance (Bonferroni): with L planned looks, each look's intervals have level 1 - alpha/L, and the
chance that any look errs is at most alpha. With one look this is the plain 95 % interval.

The looks depend only on the scenario and the mode, and a look at n replications uses
replications 0..n-1, so a check decides the same whatever the executor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from simulator.errors import VALIDATION_ERROR, LeasesimError
from simulator.scenario.schema import Scenario

Mode = Literal["full", "quick"]
ALPHA = 0.05  # overall error allowance of each verdict (expectation sides, equivalence tests)


def looks(first: int, cap: int) -> tuple[int, ...]:
    """The replication counts at which verdicts are looked at: first, doubled, ..., cap."""
    counts = [first]
    while counts[-1] < cap:
        counts.append(min(cap, 2 * counts[-1]))
    return tuple(counts)


@dataclass(frozen=True)
class Plan:
    """One scenario in one mode: the scenario to run (quick settings applied), seed and looks."""

    mode: Mode
    scenario: Scenario
    seed: int
    looks: tuple[int, ...]

    @property
    def first(self) -> int:
        return self.looks[0]

    @property
    def cap(self) -> int:
        return self.looks[-1]

    @property
    def alpha(self) -> float:
        """The error allowance of one look (Bonferroni over the planned looks)."""
        return ALPHA / len(self.looks)

    @property
    def confidence(self) -> float:
        """The level of the expectation intervals at each look: 95 % shared over the looks."""
        return 1 - self.alpha

    def next_look(self, n: int) -> int | None:
        """The look after `n` replications, or None at the cap."""
        later = [k for k in self.looks if k > n]
        return later[0] if later else None


def has_quick(scenario: Scenario) -> bool:
    return scenario.check.quick is not None


def plan(scenario: Scenario, mode: Mode, seed: int | None = None, source: str = "") -> Plan:
    """The plan of `scenario` in `mode`; `seed` defaults to the scenario's.

    Full: the scenario's replications (at least 2: an interval needs two) up to
    `check.max_replications`. Quick: `check.quick` replaces the replications, the duration and
    the cap where it sets them; a scenario without `check.quick` runs in full.
    """
    options = scenario.check
    first = max(2, scenario.replications)
    cap = options.max_replications
    quick = options.quick if mode == "quick" else None
    if mode == "quick" and quick is None:
        mode = "full"  # nothing to shorten: a quick check of this scenario is a full one
    if quick is not None:
        first = quick.replications or first
        cap = quick.max_replications or cap
        if quick.duration is not None:
            if quick.duration <= scenario.warmup:
                where = f"{source}: " if source else ""
                raise LeasesimError(
                    VALIDATION_ERROR,
                    f"{where}check.quick.duration ({quick.duration:g}s) must be longer than the "
                    f"scenario's warmup ({scenario.warmup:g}s), or no task would be measured.",
                    [{"field": "check.quick.duration", "message": "must exceed warmup",
                      "file": source or None, "line": None}],
                )  # fmt: skip
            scenario = scenario.model_copy(update={"duration": quick.duration})
    scenario = scenario.model_copy(update={"replications": first})
    seed = scenario.seed if seed is None else seed
    return Plan(mode, scenario, seed, looks(first, max(first, cap)))
