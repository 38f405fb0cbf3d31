"""Fast mode's own random draws: which of a thread's requests message loss drops.

Exact mode draws, for every request a runner sends, whether message loss drops it (`Actor._departs`:
one uniform each). Requests are lost independently with the same probability, so a thread's
requests in the order it sends them are a Bernoulli sequence, and the gaps between lost ones are
geometric. `RequestLosses` draws that sequence lazily, one geometric variable per lost request, and
every request the thread sends takes the next element: those counted in bulk (reports of a
schedule, polls of a standing cycle) and those sent one at a time alike. Knowing which future
requests are lost only decides *how* fast mode simulates them (an event or a count), never what
happens to them, so peeking ahead keeps exact mode's distribution.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from simulator.model.runner import Runner
from simulator.seeds import Stream


class FastRunner(Runner):
    """A runner whose threads and heartbeat count their calls in bulk where nothing can happen.

    `fast_stream` draws the losses among calls counted in bulk (each thread's `RequestLosses`,
    the heartbeat's binomial counts).
    """

    __slots__ = ("_fast_stream", "_fast_rng")  # as `Runner`'s: one instance per runner

    def __init__(self, *args: object, fast_stream: Stream, **kwargs: object) -> None:
        self._fast_stream = fast_stream
        self._fast_rng: np.random.Generator | None = None
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def busy(self) -> int:
        """Threads holding a task now, as exact mode's scaling controller sees them: a task handed
        to a waiting poll in this instant is not counted yet, since in exact mode the thread's
        process takes it in an event after those already due now (the controller's among them)."""
        now = self.env.now
        busy = 0
        for thread in self.threads:  # a loop, not sum(): a few threads, every evaluation
            if thread.attempt is not None and thread.handed_at != now:  # type: ignore[attr-defined]
                busy += 1
        return busy

    def fast_rng(self) -> np.random.Generator:
        if self._fast_rng is None:
            self._fast_rng = self._fast_stream()
        return self._fast_rng


class RequestLosses:
    """Which of one thread's requests message loss drops, drawn lazily (see the module); the same
    for the replies a thread counts in bulk (`BulkReporter.reply_losses`).

    Requests are numbered in the order the thread sends them; `sent` of them have been sent.
    `lost` holds the numbers of the lost requests drawn so far and not yet sent, ascending; the
    last one drawn is always at or beyond `sent`.
    """

    __slots__ = ("p", "runner", "sent", "lost", "last")

    def __init__(self, p: float, runner: FastRunner) -> None:
        self.p = p
        self.runner = runner
        self.sent = 0
        self.lost: deque[int] = deque()
        self.last = -1  # the number of the last lost request drawn

    def _draw_past(self, n: int) -> None:
        """Draw lost requests until one is numbered `n` or later."""
        rng = self.runner.fast_rng()
        lost, last, p = self.lost, self.last, self.p
        while last < n:
            last += int(rng.geometric(p))
            lost.append(last)
        self.last = last

    def ahead(self) -> int:
        """Requests still to be sent that arrive before the next lost one (0: the next is lost)."""
        if self.last < self.sent:
            self._draw_past(self.sent)
        return self.lost[0] - self.sent

    def next_lost(self) -> bool:
        """Whether the next request the thread sends is lost."""
        return self.ahead() == 0

    def send(self) -> bool:
        """The thread sends its next request: whether it is lost."""
        lost = self.ahead() == 0
        self.sent += 1
        if lost:
            self.lost.popleft()
        return lost

    def within(self, n: int) -> list[int]:
        """Which of the next `n` requests are lost, as offsets 0..n-1 (none sent yet)."""
        end = self.sent + n
        if self.last < end:
            self._draw_past(end)
        sent = self.sent
        return [k - sent for k in self.lost if k < end]

    def skip(self, n: int) -> int:
        """`n` requests were sent (counted in bulk): how many of them were lost."""
        end = self.sent + n
        if self.last < end:
            self._draw_past(end)
        lost = self.lost
        k = 0
        while lost[0] < end:
            lost.popleft()
            k += 1
        self.sent = end
        return k
