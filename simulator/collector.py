"""Pausing Python's cyclic garbage collector while a run builds its records.

A run allocates millions of small objects and keeps most of them (the log), so the collector's
generational scans repeatedly walk a growing heap: 15-30% of a run's time, more when earlier
results are still alive in the session. The model creates no reference cycles that outlive an
event (tests/test_collector.py checks it), so reference counting alone frees everything a run
discards and pausing the collector costs no memory.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """Disable the cyclic collector inside the block; restore its previous state after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
