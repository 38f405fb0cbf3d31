"""Where a fast-mode poll thread is in the protocol (`Phase`), and what its woken process does.

A `fast.thread.FastThread` runs either in its process (the exact code, one call at a time) or on
callbacks while its process sleeps; `Phase` names which, and `Then` is how callbacks hand the
process steps to take in the exact code.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from simulator.model.actor import Wait


class Then:
    """What a woken process does before it polls again: `steps`, a generator function (a lost
    poll's long wait, SetTaskStatus sent again), run in the exact code."""

    __slots__ = ("steps",)

    def __init__(self, steps: Callable[[], Wait]) -> None:
        self.steps = steps


class Phase(enum.Enum):
    """Where a `FastThread` is in the protocol, and who drives it: its process or callbacks.

    Each phase names the data it needs (see `FastThread`); any other field is not read in it.
    """

    STEPPING = "stepping"  # the process runs the exact code, one call at a time
    STANDING = "standing"  # idle, its polls stand at the service (`standing`); on callbacks
    HOLDING = "holding"  # a pause stopped the cycle: its poll (`poll`) is held; on callbacks
    WORKING = "working"  # works on a task it took (`take`), reports in bulk (`schedule`); callbacks
    FROZEN = "frozen"  # a pause froze that work; its next report is `frozen_report`; on callbacks
    REPORTING = "reporting"  # the process sleeps while its reports are counted (`schedule`)
    DORMANT = "dormant"  # the runner died while the thread ran on callbacks; asleep until restart
    STARTING = "starting"  # took a task (`take`), in its fixed start-up (`startup_end`); callbacks


# Module-level names: a phase test on the hot path is one global load and an identity comparison.
STEPPING, STANDING, HOLDING, WORKING, FROZEN, REPORTING, DORMANT, STARTING = Phase
