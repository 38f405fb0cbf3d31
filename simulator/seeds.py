"""Random streams: one `numpy.random.SeedSequence` per run, spawned into one stream per component.

A stream is keyed by the component's name path (e.g. ``("runner", "etl", 3, "crash")``), not by
creation order, so adding a runner, a fault or a workload leaves every other stream unchanged; that
is what makes comparisons between scenarios use common random numbers.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from functools import lru_cache, partial

import numpy as np


@lru_cache(maxsize=1 << 16)  # the same names recur in every stream of a runner, and every run
def _key(part: object) -> int:
    return zlib.crc32(repr(part).encode())


class Streams:
    """Named, independent random generators derived from one seed sequence."""

    def __init__(self, root: np.random.SeedSequence) -> None:
        self.root = root

    @classmethod
    def from_seed(cls, seed: int, replication: int | None = None) -> Streams:
        """The streams of one run: `replication` i uses the i-th child of `SeedSequence(seed)`."""
        root = np.random.SeedSequence(seed)
        if replication is not None:
            root = np.random.SeedSequence(seed, spawn_key=(replication,))
        return cls(root)

    def sequence(self, *path: object) -> np.random.SeedSequence:
        return np.random.SeedSequence(
            self.root.entropy, spawn_key=(*self.root.spawn_key, *(_key(p) for p in path))
        )

    def rng(self, *path: object) -> np.random.Generator:
        """The generator of the component named by `path`."""
        return np.random.Generator(np.random.PCG64(self.sequence(*path)))

    def stream(self, *path: object) -> Stream:
        """The same generator, made only when first asked for (`stream()`).

        Seeding a generator costs about 20 us; a fleet of thousands of runners has several
        streams each, many never drawn from (e.g. the latency of instant calls).
        """
        return partial(self.rng, *path)


#: A generator not made yet: calling it makes it (see `Streams.stream`).
Stream = Callable[[], np.random.Generator]
