"""Fast mode's standing cycles in blocks (`fast.standing.StandingCycles`) are the one sorted list
they replace: the same entries in the same order, and the same cycle found first after an instant,
under random mixes of stands, hand-overs and removals, with blocks small enough to split often."""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right, insort

import pytest

from simulator.model.fast import standing as standing_module
from simulator.model.fast.standing import StandingCycles


class Poll:
    """A stand-in for a `StandingPoll`: only its identity matters."""


@pytest.mark.parametrize("seed", range(20))
def test_blocks_behave_as_one_sorted_list(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standing_module, "BLOCK", 4)
    rng = random.Random(seed)
    cycle = 20.0
    plain: list[tuple[float, float, Poll]] = []
    blocks = StandingCycles()
    ranks = rng.sample(range(10_000), 2_000)  # each thread's rank is its own: no ties
    for step in range(2_000):
        move = rng.random()
        if move < 0.5 or not plain:  # an idle thread stands, at a phase that may repeat
            entry = (float(rng.randrange(40)) / 2, float(ranks[step]), Poll())
            insort(plain, entry)
            blocks.add(entry)
        elif move < 0.8:  # a task is handed to the cycle first after now
            key = (rng.uniform(0, 2 * cycle) % cycle, math.inf)
            i = bisect_right(plain, key)
            i = 0 if i == len(plain) else i
            b, j = blocks.first_after(key)
            assert blocks.pop(b, j) is plain.pop(i)
        else:  # a cycle stops (its thread crashed or paused), or one already gone
            entry = rng.choice(plain)
            key = entry[:2]
            i = bisect_left(plain, key)
            if plain[i][2] is entry[2]:
                del plain[i]
            blocks.discard(key, entry[2])
            blocks.discard(key, entry[2])  # a second time: not there, nothing happens
        assert len(blocks) == len(plain) and bool(blocks) == bool(plain)
        assert list(blocks) == plain
        assert all(block for block in blocks.blocks)
        assert blocks.firsts == [block[0] for block in blocks.blocks]
