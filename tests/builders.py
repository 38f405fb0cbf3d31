"""Scenarios built in code for tests: a small base scenario and deep-merged changes.

Imported as `builders` (pytest puts tests/ on sys.path); not `tests.builders`, since some
packages (Ciw) install a top-level `tests` package of their own.
"""

from __future__ import annotations

import copy
from typing import Any

from simulator.scenario.schema import Scenario


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `extra` into a copy of `base` (lists of named entries merge by position).

    A tagged mapping (a distribution's `dist`, arrivals' `kind`) replaces the old one whole.
    """
    out = copy.deepcopy(base)
    for key, value in extra.items():
        tagged = isinstance(value, dict) and ("kind" in value or "dist" in value)
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not tagged:
            out[key] = merge(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = [
                merge(a, b) if isinstance(a, dict) and isinstance(b, dict) else b
                for a, b in zip(out[key], value, strict=False)
            ] + value[len(out[key]):]
        else:
            out[key] = value
    return out


BASE: dict[str, Any] = {
    "name": "test",
    "duration": "1d",
    "seed": 11,
    "service": {"throttle": None},
    "simulation": {"check_invariants": True},
    # Every runner starts at t=0 (not the default spread over one long poll), so that the
    # hand-traced tests can count from there.
    "fleet": [{"name": "etl", "worker_group": "wg", "runners": 2, "threads": 2, "start_spread": 0}],
    "workload": [
        {
            "name": "batch",
            "worker_group": "wg",
            "arrivals": {"kind": "poisson", "rate": "6/h"},
            "duration": {"dist": "exponential", "mean": "10m"},
        }
    ],
}


def make_scenario(**extra: Any) -> Scenario:
    """The base test scenario (2 runners x 2 threads, no throttling, no faults) with changes."""
    return Scenario.model_validate(merge(BASE, extra))

