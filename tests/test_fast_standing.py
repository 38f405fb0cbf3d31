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


class _Thread:
    """What `FastWorkerGroup.stand` reads of a thread."""

    def __init__(self, rank: float) -> None:
        self.rank = rank


@pytest.mark.parametrize("now", [6166.604585640669, 1234.5678, 86399.99, 3 * 91.7321])
def test_a_cycle_begun_in_this_instant_waits_behind_an_older_held_poll(now: float) -> None:
    """First come, first served: a task offered in the instant a thread stands (its cycle's first
    poll arrives now) goes to a poll held since earlier. At 6166.604585640669 s with a 91.7321-s
    long poll, `now - phase` rounds to a whole cycle, which once made the new cycle look a cycle
    old and jump the queue (found by a differential hunt: exact mode gave the task to the held
    poll, fast mode to the thread that had just stood)."""
    from simulator.model.fast.service import FastWorkerGroup
    from simulator.model.service import Poll as HeldPoll

    group = FastWorkerGroup("wg", None, 91.7321)
    held = HeldPoll(_Thread(0.9), None, now - 72.83, 0.9)  # type: ignore[arg-type]
    group.polls.append(held)
    group.stand(_Thread(0.1), now, None)  # type: ignore[arg-type]
    assert group.pop_poll(now) is held
    # And the cycle is next: its latest poll is now's.
    assert group.pop_poll(now).__class__.__name__ == "StandingPoll"
