"""Auto-scaling (issue 16): one controller per fleet group with `scaling`, evaluating its load.

Every `evaluate_every` the controller reads two things, each through a read-only query: the ready
tasks of its worker group (`Service.ready_tasks`, a queue-depth metric) and the busy threads of
its runners in service (`Runner.busy`). It computes the runners it wants, clamps them between the
minimum in force (`min`, or the daily `schedule`) and `max`, and launches or retires the
difference:

- scale-out: `desired > in service + launching`. Each new runner gets a new name (`etl-12`) and
  its own random streams, keyed by that name, so no other component's draws move. It starts
  polling after its `launch_delay` (drawn from the group's own scaling stream).
- scale-in: `desired < in service + launching`, no launch pending, and `scale_in_cooldown` passed
  since the group's last scaling decision. The idlest runners go first (the newest among ties):
  `drain` stops their polling and lets them finish their tasks, `terminate` stops them at once,
  leaving the leases of their tasks to expire.

Runners out of service (draining, stopped, or under an interruption notice) are not counted, so
a policy replaces interrupted runners at its next evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from simpy import Environment, Event

from simulator.distributions import Sampler
from simulator.model.log import Log, RunnerRecord
from simulator.model.runner import GroupState, Runner
from simulator.model.service import Service
from simulator.scenario.schema import FleetGroup, Scaling
from simulator.seeds import Stream

#: Builds and starts the runner of a launch that completed (`Simulation._launched`).
Launch = Callable[[RunnerRecord], Runner]


def desired(policy: Scaling, threads: int, ready: int, busy: int) -> int:
    """Runners a policy wants before the bounds: `backlog` keeps a thread for every busy one and
    one for every `target` ready tasks; `utilization` keeps busy / threads at `target`."""
    if policy.policy == "backlog":
        want = (busy + ready / policy.target) / threads
    else:
        want = busy / (threads * policy.target)
    return max(0, math.ceil(want - 1e-9))


class Controller:
    """The scaling policy of one fleet group, evaluated every `evaluate_every` from t = 0."""

    def __init__(
        self, env: Environment, config: FleetGroup, group: GroupState, service: Service, log: Log,
        stream: Stream, launch: Launch,
    ) -> None:  # fmt: skip
        assert config.scaling is not None
        self.env = env
        self.config = config
        self.policy = config.scaling
        self.group = group
        self.service = service
        self.log = log
        self.delay = Sampler(self.policy.launch_delay, stream)
        self.launch = launch
        self.pending = 0  # launches decided, not yet ready
        # The group's members not retired, in launch order: a retired runner never serves again
        # (`Runner.stop`), and over weeks of scaling the group's members are mostly retired.
        self.members: list[Runner] = []
        self.seen = 0  # of the group's members, those in `members` or retired already
        self.next_index = config.runners  # the next launched runner's number: etl-4, etl-5, ...
        # The fleet's size was just set at the start: the cooldown runs from there.
        self.last_decision = 0.0
        env.timeout(0.0).callbacks.append(self._evaluate)

    def _evaluate(self, _: Event) -> None:
        env, policy, config = self.env, self.policy, self.config
        now = env.now
        members = self.group.members
        self.members = [r for r in self.members if not r.retired]
        self.members += members[self.seen :]
        self.seen = len(members)
        serving = [r for r in self.members if r.in_service()]
        ready = self.service.ready_tasks(config.worker_group)
        busy = 0
        for runner in serving:
            busy += runner.busy()
        want = desired(policy, config.threads, ready, busy)
        want = min(max(want, policy.scheduled_min(now)), policy.max)
        current = len(serving) + self.pending
        if want > current:
            self._scale_out(want - current)
        elif (
            want < current
            and not self.pending
            and now - self.last_decision >= policy.scale_in_cooldown
        ):
            self._scale_in(serving, current - want)
        env.timeout(policy.evaluate_every).callbacks.append(self._evaluate)

    def _scale_out(self, n: int) -> None:
        now = self.env.now
        self.last_decision = now
        for _ in range(n):
            delay = self.delay()
            name = f"{self.config.name}-{self.next_index}"
            self.next_index += 1
            record = RunnerRecord(name, self.config.name, now, now + delay, "scale_out")
            self.log.runners.append(record)
            self.pending += 1
            self.env.timeout(delay, record).callbacks.append(self._ready)

    def _ready(self, event: Event) -> None:
        self.pending -= 1
        self.launch(event.value)

    def _scale_in(self, serving: list[Runner], n: int) -> None:
        now = self.env.now
        order = {id(r): i for i, r in enumerate(self.members)}  # the group's order
        victims = sorted(serving, key=lambda r: (r.busy(), -order[id(r)]))[:n]
        self.last_decision = now
        for runner in victims:
            if self.policy.scale_in == "drain":
                runner.drain("scale_in")
            else:
                runner.stop("scale_in")
