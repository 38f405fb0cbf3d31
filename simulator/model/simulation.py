"""One simulation: the service, the fleet, its faults and the workloads, wired from a scenario."""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

from simulator.collector import paused
from simulator.distributions import Sampler, Uniforms
from simulator.model import faults
from simulator.model.clock import Clock
from simulator.model.fast.counting import CountedRunner, CountedService, counts_calls
from simulator.model.fast.runner import FastRunner
from simulator.model.fast.service import FastService
from simulator.model.fast.throttle import BoundedRunner, MayThrottle, ThrottledService
from simulator.model.invariants import Invariants
from simulator.model.log import Log, RunnerRecord
from simulator.model.runner import GroupState, Runner
from simulator.model.scaling import Controller
from simulator.model.service import Service
from simulator.model.workload import Source
from simulator.scenario.modes import fallbacks
from simulator.scenario.schema import FleetGroup, Scenario
from simulator.seeds import Stream, Streams


class Simulation:
    """A scenario built into a SimPy environment, ready to run once with one set of streams.

    Every random component draws from its own named stream (see `seeds`), so two scenarios that
    differ in one setting share all other draws.
    """

    def __init__(self, scenario: Scenario, streams: Streams, exact: str | None = None) -> None:
        """`exact`: run exact although fast mode is asked for, for this reason (a replication that
        fast mode could not prove equal to exact mode, run again: `simulate`)."""
        self.scenario = scenario
        self.env = env = Clock()
        self.log = log = Log()
        groups = sorted({g.worker_group for g in scenario.fleet})
        self.checks = (
            Invariants(log, scenario.service.heartbeat_renews_leases)
            if scenario.simulation.check_invariants
            else None
        )
        fast = scenario.simulation.mode == "fast"
        #: Why fleet groups ("*": all) run exact although fast mode was asked for.
        self.fallbacks = (fallbacks(scenario) if exact is None else {"*": exact}) if fast else {}
        #: Events of a fast run given up for this exact one (`simulate`), counted in `events`.
        self.abandoned_events = 0
        # Fast mode is a layer of subclasses, chosen here: the service's if any group runs fast
        # (it answers the others as the exact service does), the runners' per fleet group.
        fast_groups = {
            g.name for g in scenario.fleet if fast and "*" not in self.fallbacks
            and g.name not in self.fallbacks
        }  # fmt: skip
        # Under the account's rate limits, the fast layer proves as it goes that no call is
        # throttled (`fast.throttle`), and stops where it cannot.
        throttled = scenario.service.throttle is not None
        service_class: type[Service] = FastService
        self.fast_runner: type[Runner] = FastRunner
        if throttled:
            # A fleet that can count many calls in bulk at once needs the bound that counts them
            # on their grids (`fast.counting`); a smaller one, the cheaper fluid bound.
            counted = counts_calls(scenario)
            service_class = CountedService if counted else ThrottledService
            self.fast_runner = CountedRunner if counted else BoundedRunner
        if not fast_groups:
            service_class = Service
        self.service = service = service_class(
            env, scenario.service, log, groups, streams.stream("service", "dispatch"), self.checks
        )
        ids = count()
        for w in scenario.workload:
            source = Source(
                env, w, scenario.service, service, ids,
                streams.stream("workload", w.name, "arrivals"),
                Sampler(w.duration, streams.stream("workload", w.name, "work")),
            )  # fmt: skip
            source.start()
        self.runners: list[Runner] = []
        self.streams = streams
        self.fast_groups = fast_groups
        self.groups: dict[str, GroupState] = {}
        for g in scenario.fleet:
            self.groups[g.name] = state = GroupState(env)
            spread = scenario.service.long_poll if g.start_spread is None else g.start_spread
            for i in range(g.runners):
                self._runner(g, state, f"{g.name}-{i}", spread=spread)
            if g.faults.partition is not None and g.faults.partition.scope == "group":
                faults.Spells(
                    env, "partition", g.faults.partition,
                    streams.stream("group", g.name, "partition"), log, state.names,
                    state.begin_partition,
                )  # fmt: skip
            if g.scaling is not None:
                # Launched runners join the group, the fleet and the log as they become ready.
                Controller(
                    env, g, state, self.service, log, streams.stream("group", g.name, "scaling"),
                    lambda record, _g=g, _state=state: self._runner(_g, _state, record.name,
                                                                    record=record),
                )  # fmt: skip

    def _runner(
        self, g: FleetGroup, state: GroupState, name: str, spread: float = 0.0,
        record: RunnerRecord | None = None,
    ) -> Runner:  # fmt: skip
        """Build one runner of group `g` and its faults; `record`: launched by scaling (it starts
        now), else one of the fleet at the start (it starts within `spread`)."""
        streams, scenario = self.streams, self.scenario

        def stream(*what: str, _name: str = name) -> Stream:
            return streams.stream("runner", _name, *what)

        # The runner's start draws share one generator (one fewer to seed per runner): the
        # heartbeat's phase, the start offset, and its threads' ranks among polls of one
        # instant (`service.Poll`). Keyed by the runner's name, not its place in the file.
        start = stream("heartbeat")()
        heartbeat_phase = start.uniform(0, g.runner_heartbeat_interval)
        offset = start.uniform(0, spread) if spread > 0 else 0.0
        ranks = start.random(g.threads).tolist()
        skips = g.name in self.fast_groups
        runner_class = self.fast_runner if skips else Runner
        extra = {"fast_stream": stream("fast")} if skips else {}
        runner = runner_class(
            self.env, name, g, state, self.service, self.log,
            latency=Sampler(scenario.service.call_latency, stream("latency")),
            startup=Sampler(g.startup, stream("startup")),
            uniforms=Uniforms(stream("calls")),
            heartbeat_phase=heartbeat_phase,
            start_offset=offset,
            ranks=ranks,
            **extra,  # type: ignore[arg-type]
        )  # fmt: skip
        if record is None:
            record = RunnerRecord(name, g.name, 0.0, offset)
            self.log.runners.append(record)
        runner.record = record
        state.members.append(runner)
        state.names.append(name)
        self.runners.append(runner)
        self._faults(runner, g.faults, stream)
        return runner

    def _faults(self, runner: Runner, spec: object, stream: Callable[..., Stream]) -> None:
        env, log = self.env, self.log

        def gone() -> bool:  # left the fleet (a runner that crashed for good keeps its spells)
            return runner.retired and runner.stop_reason != "crash"

        if spec.crash is not None:
            faults.Crashes(env, runner, spec.crash, stream("crash"), log)
        if spec.interruption is not None:
            faults.Interruptions(env, runner, spec.interruption, stream("interruption"), log)
        if spec.pause is not None:
            faults.Spells(
                env, "pause", spec.pause, stream("pause"), log, [runner.name],
                runner.begin_pause, runner.end_pause, gone,
            )  # fmt: skip
        if spec.progress_stall is not None:
            # The "stall" stream: what `heartbeat_stall` meant before the two were told apart.
            faults.Spells(
                env, "progress_stall", spec.progress_stall, stream("stall"), log, [runner.name],
                runner.begin_progress_stall, None, gone,
            )  # fmt: skip
        if spec.heartbeat_stall is not None:
            faults.Spells(
                env, "heartbeat_stall", spec.heartbeat_stall, stream("heartbeat_stall"), log,
                [runner.name], runner.begin_heartbeat_stall, None, gone,
            )  # fmt: skip
        if spec.partition is not None and spec.partition.scope == "runner":
            faults.Spells(
                env, "partition", spec.partition, stream("partition"), log, [runner.name],
                runner.begin_partition, None, gone,
            )  # fmt: skip

    def run(self) -> Log:
        """Run to the scenario's duration; records of unfinished work stay as they are."""
        env, until, checks = self.env, self.scenario.duration, self.checks
        with paused():
            if checks is None:
                env.run(until=until)
            else:
                while env.peek() < until:
                    env.step()
                    checks.time_moves_on(env.now)
        # Calls still counted in bulk (fast mode): those sent before the end happened.
        self.service.finish(until)
        for runner in self.runners:
            runner.finish(until)
        if checks is not None:
            checks.at_end()
        # The log outlives the model: frozen into its columns, it refers to none of the model's
        # objects, which would keep the whole simulation alive as long as a result is kept.
        self.log.close()
        return self.log

    @property
    def mode(self) -> str:
        """How the run was simulated: exact, fast, or fast with the groups that fell back."""
        if self.scenario.simulation.mode == "exact":
            return "exact"
        if "*" in self.fallbacks:
            return "exact (fast mode fell back)"
        return "fast (some groups exact)" if self.fallbacks else "fast"

    @property
    def events(self) -> int:
        """Events scheduled so far (SimPy numbers every scheduled event)."""
        return next(self.env._eid) - 1 + self.abandoned_events  # type: ignore[attr-defined]


def simulate(scenario: Scenario, streams: Streams) -> Simulation:
    """Build and run one simulation; the returned object holds the log and the event count.

    A fast run under the account's rate limits stops where it cannot prove that no call would be
    throttled (`fast.throttle.MayThrottle`); the replication is then run again, exact, from the
    same streams, and says so in its `fallbacks` (docs/fast-mode.md).
    """
    with paused():  # building thousands of runners while earlier results are alive, too
        simulation = Simulation(scenario, streams)
        try:
            simulation.run()
            if isinstance(simulation.service, ThrottledService):
                simulation.service.audit()
        except MayThrottle as why:
            spent = simulation.events
            simulation = Simulation(
                scenario, streams, exact=f"fast mode ran this replication again exact: {why}"
            )
            simulation.abandoned_events = spent
            simulation.run()
    return simulation
