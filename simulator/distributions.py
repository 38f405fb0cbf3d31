"""Samplers built from the scenario's distribution specs, each drawing from its own stream.

Draws are taken from NumPy in batches: a scalar draw from a `Generator` costs about a microsecond,
which matters for per-call latencies and per-call loss on the simulation's hot path.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from simulator.arithmetic import lognormal_sigma
from simulator.scenario.schema import DistSpec, Empirical, Exponential, Fixed, Lognormal, Uniform
from simulator.seeds import Stream

# Draws per batch: enough to amortise NumPy's per-call cost, few enough that thousands of runners'
# buffers (one per runner and purpose) stay small.
_BATCH = 64


def batch_function(spec: DistSpec) -> Callable[[np.random.Generator, int], np.ndarray] | None:
    """A function drawing `n` values of `spec` from a generator, or None for a fixed value."""
    if isinstance(spec, Fixed):
        return None
    if isinstance(spec, Exponential):
        mean = spec.mean
        return lambda rng, n: rng.exponential(mean, n)
    if isinstance(spec, Lognormal):
        mu, sigma = math.log(spec.median), lognormal_sigma(spec)
        return lambda rng, n: rng.lognormal(mu, sigma, n)
    if isinstance(spec, Uniform):
        low, high = spec.low, spec.high
        return lambda rng, n: rng.uniform(low, high, n)
    if isinstance(spec, Empirical):
        if not spec.values:
            raise ValueError(f"empirical distribution from {spec.file}:{spec.column} has no values")
        values = np.asarray(spec.values, dtype=float)
        return lambda rng, n: rng.choice(values, n)
    raise TypeError(f"unknown distribution {spec!r}")


class Sampler:
    """Draws one value at a time from a distribution spec and a dedicated stream.

    The stream's generator is made at the first draw: a fixed value never needs one.
    """

    __slots__ = ("_fn", "_stream", "_rng", "_buf", "_i", "fixed")

    def __init__(self, spec: DistSpec, stream: Stream) -> None:
        self._fn = batch_function(spec)
        self._stream = stream
        self._rng: np.random.Generator | None = None
        self.fixed: float | None = spec.value if isinstance(spec, Fixed) else None
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self.fixed is not None:
            return self.fixed
        if self._i >= len(self._buf):
            if self._rng is None:
                self._rng = self._stream()
            self._buf = self._fn(self._rng, _BATCH).tolist()  # type: ignore[misc]
            self._i = 0
        self._i += 1
        return self._buf[self._i - 1]


class Uniforms:
    """Uniform(0, 1) draws in batches from a dedicated stream (per-call loss, jitter)."""

    __slots__ = ("_stream", "_rng", "_buf", "_i")

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._rng: np.random.Generator | None = None
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self._i >= len(self._buf):
            if self._rng is None:
                self._rng = self._stream()
            self._buf = self._rng.random(_BATCH).tolist()
            self._i = 0
        self._i += 1
        return self._buf[self._i - 1]
