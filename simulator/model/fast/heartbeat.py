"""Fast mode's runner heartbeat: beats that renew no lease, counted at the end of a stretch.

A heartbeat that only counts (`heartbeat_renews_leases: false`) changes nothing at the service, so
while its runner is connected and its heartbeat thread not stalled, `FastHeartbeat` sleeps through
its beats and counts them when something ends the stretch (a fault, the end of the run); message
loss drops each request, then each reply of those that arrived, independently (binomial counts).
"""

from __future__ import annotations

from simpy import Interrupt

from simulator.model.actor import CRASH, PAUSE, WAKE, Crashed, Wait
from simulator.model.clock import due, ticks_before
from simulator.model.fast.draws import FastRunner
from simulator.model.log import HEARTBEAT
from simulator.model.runner import Heartbeat, Runner


class FastHeartbeat(Heartbeat):
    """A heartbeat that, while beats only count, counts them at the end of a stretch
    (`beating`: the first beat of it) instead of one event each."""

    runner: FastRunner

    def __init__(self, runner: Runner) -> None:
        super().__init__(runner)
        self.beating: float | None = None  # heartbeats counted in bulk from here
        self.due: float | None = None  # the beat a pause holds up (see `freeze`)
        self.dormant = False  # its runner died while it beat in bulk (`die`)

    # --- hooks -----------------------------------------------------------------------------------

    def start(self, delay: float) -> None:
        if self.dormant:  # its process slept through the crash (`die`)
            self.restart()
        else:
            super().start(delay)

    def crash(self) -> None:
        if self.beating is not None:
            self.die()
        else:
            super().crash()

    def pause(self) -> None:
        if self.beating is not None:
            self.freeze()
        else:
            super().pause()

    def resume(self) -> None:
        if self.due is not None:
            self.thaw()

    def disturb(self, polls: bool = False) -> None:
        # A heartbeat stall or a partition: beats counted in bulk stop here and go on one by one
        # (`_beat`). A paused runner's heartbeat checks at the resume (`thaw`).
        process = self.process
        if self.beating is not None and process is not None and process.is_alive:
            process.interrupt(WAKE)

    def finish(self, until: float) -> None:
        self.settle(until)

    def _beat(self) -> Wait:
        if self._can_skip():
            yield from self._fast()
        else:
            yield from super()._beat()

    def _can_skip(self) -> bool:
        """Heartbeats that only count (they renew no lease) need no event each (fast mode)."""
        runner = self.runner
        now = runner.env.now
        return (
            not runner.service.heartbeat_renews
            and due(runner.heartbeat_stall_until, now)
            and runner.connected(now)
        )

    def _fast(self) -> Wait:
        """Beat every interval from now, uncounted until a fault or the end of the run."""
        env = self.runner.env
        self.beating = env.now
        cause = None
        try:
            yield env.event()  # never triggered: only an interrupt ends this
        except Interrupt as interrupt:
            cause = interrupt.cause
        start = self.beating
        self.settle()
        if cause == CRASH:
            raise Crashed
        if cause == PAUSE:
            yield from self._frozen()
        # The beat that came due meanwhile goes out now, or when it is due (`start` may be ahead).
        sent = ticks_before(env.now, start, self.interval)
        yield from self._sleep(start + sent * self.interval - env.now)

    def freeze(self) -> None:
        """The runner pauses while beats are counted in bulk: they stop, and the process sleeps on.

        As in exact mode, the beat that falls due during the pause goes out when it ends (`thaw`).
        """
        start = self.beating
        assert start is not None
        now = self.runner.env.now
        self.settle(now)
        sent = ticks_before(now, start, self.interval)
        self.due = start + sent * self.interval

    def die(self) -> None:
        """The runner dies while beats are counted in bulk: they stop; the process sleeps on."""
        self.settle()
        self.dormant = True

    def restart(self) -> None:
        """The runner restarts: beats start again after the phase, as from a new process."""
        runner = self.runner
        self.dormant = False
        self.beating = runner.env.now + runner.heartbeat_phase
        if not self._can_skip():  # partitioned: beat one by one
            self.process.interrupt(WAKE)  # type: ignore[union-attr]

    def thaw(self) -> None:
        """The pause ends: the held-up beat goes out now (or when due), then one every interval."""
        now = self.runner.env.now
        held, self.due = self.due, None
        assert held is not None
        self.beating = now if due(held, now) else held
        # A partition began during the pause: beat one by one again (unless a crash ends it).
        if not self._can_skip() and self.runner.alive:
            self.process.interrupt(WAKE)  # type: ignore[union-attr]

    def settle(self, now: float | None = None) -> None:
        """Count the heartbeats sent in bulk before now; message loss drops each independently."""
        if self.beating is None:
            return
        runner = self.runner
        now = runner.env.now if now is None else now
        sent = ticks_before(now, self.beating, self.interval)
        self.beating = None
        lost = int(runner.fast_rng().binomial(sent, runner.loss)) if runner.loss and sent else 0
        handled = sent - lost
        if runner.reply_loss and handled:  # replies of the beats that arrived, lost independently
            unanswered = int(runner.fast_rng().binomial(handled, runner.reply_loss))
            lost += unanswered
            runner.log.lost_replies[HEARTBEAT] += unanswered
        runner.log.calls[HEARTBEAT] += sent
        runner.log.lost[HEARTBEAT] += lost
        if runner.service.checks is not None:
            runner.service.checks.handled[HEARTBEAT] += handled
