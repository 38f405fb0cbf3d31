"""The runner's thread loop, one rule at a time: a `Runner` (exact mode) against a fake service.

The fake service answers each call the way the test scripts it and records (time, call); the
thread is the model's own. As in `test_service_rules.py`, the test asserts the exact sequence:
poll, acknowledgement (the first ReportTaskProgress), a report every `progress_interval`, then
SetTaskStatus; a `canceled` reply stops the work at once, with no SetTaskStatus; a lost request or
a lost reply leaves the thread to go on as the Task Runner would.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from simpy import Environment, Event

from simulator.distributions import Sampler
from simulator.model.log import HEARTBEAT, POLL, PROGRESS, STATUS, Attempt, Kind, Log, Task
from simulator.model.runner import GroupState, Runner
from simulator.model.service import CANCELED, NOT_FOUND, OK, Poll
from simulator.scenario.schema import Fixed, FleetGroup
from simulator.seeds import Streams

OPS = {POLL: "poll", PROGRESS: "progress", STATUS: "status", HEARTBEAT: "heartbeat"}
KIND = Kind("batch", "wg", 2, 600.0, (120.0, 900.0, 900.0), None, 0.0)


class FakeService:
    """The service as a runner calls it: `handle` each admitted call; no throttling (`buckets`).

    `tasks`: the work of each task the polls bring, in order (a poll with none left is held until
    the hold ends, empty). `replies`: time -> the reply to a report or status at that time
    (default OK). Every call that reaches it is recorded in `calls`.
    """

    def __init__(self, env: Environment, tasks: list[float], replies: dict[float, int]) -> None:
        self.env = env
        self.buckets = [None, None, None, None]
        self.checks = None
        self.long_poll = 90.0
        self.heartbeat_renews = False
        self.tasks = list(tasks)
        self.replies = replies
        self.calls: list[tuple[float, str]] = []
        self.held: list[Poll] = []
        self.attempts: list[Attempt] = []

    def handle(self, op: int, caller: Any, finished: bool = True) -> object:
        now = self.env.now
        if op == POLL:
            self.calls.append((now, "poll"))
            if self.tasks:
                return self._attempt(caller, self.tasks.pop(0))
            poll = Poll(caller, Event(self.env), now, caller.rank)
            self.env.timeout(self.long_poll).callbacks.append(lambda _: self._end(poll))
            self.held.append(poll)
            return poll
        if op == STATUS:
            self.calls.append((now, "status " + ("finished" if finished else "failed")))
        else:
            self.calls.append((now, OPS[op]))
        return self.replies.get(now, OK)

    def hand_over(self, at: float, work: float) -> None:
        """At `at`, hand a task to the poll held then (as `Service._hand_over` does)."""

        def give(_: object) -> None:
            poll = self.held.pop()
            assert poll.open
            poll.open = False
            attempt = self._attempt(poll.client, work)
            self.calls.append((self.env.now, "hand over"))
            poll.deliver(attempt)

        self.env.timeout(at - self.env.now).callbacks.append(give)

    def _attempt(self, client: Any, work: float) -> Attempt:
        task = Task(len(self.calls), KIND, self.env.now, work)
        attempt = Attempt(task, 1, client.name, client.index, self.env.now)
        task.live = attempt
        self.attempts.append(attempt)
        return attempt

    def _end(self, poll: Poll) -> None:
        if poll.open:
            poll.open = False
            poll.end()


class Clock:
    """Stand-in for the runner's uniform draws, which decide message loss: `lost[t]` lists, for
    each draw at time `t` in turn, whether that message is lost (none is, by default)."""

    def __init__(self, env: Environment, lost: dict[float, list[bool]]) -> None:
        self.env = env
        self.lost = {t: list(draws) for t, draws in lost.items()}

    def __call__(self) -> float:
        draws = self.lost.get(self.env.now)
        return 0.0 if draws and draws.pop(0) else 0.999


def make_runner(
    tasks: list[float], replies: dict[float, int] | None = None, *, interval: float = 60.0,
    loss: str | None = None, lost: dict[float, list[bool]] | None = None,
) -> tuple[Environment, Runner, FakeService]:  # fmt: skip
    """One runner, one thread, no start-up time, heartbeats far apart (every 10 days)."""
    env = Environment()
    faults: dict[str, Any] = {}
    if loss is not None:  # messages of that direction lost where `lost` says so
        faults = {"message_loss": 0.5, "loss_direction": loss}
    config = FleetGroup.model_validate({
        "name": "etl", "worker_group": "wg", "threads": 1, "progress_interval": interval,
        "runner_heartbeat_interval": 864000.0, "start_spread": 0,
        "backoff": {"base": 1.0, "cap": 60.0, "jitter": False}, "faults": faults,
    })  # fmt: skip
    service = FakeService(env, tasks, replies or {})
    streams = Streams.from_seed(0)
    fixed0 = Fixed(dist="fixed", value=0.0)
    runner = Runner(
        env, "r-1", config, GroupState(env), service, Log(),  # type: ignore[arg-type]
        Sampler(fixed0, streams.stream("latency")), Sampler(fixed0, streams.stream("startup")),
        Clock(env, lost or {}), heartbeat_phase=864000.0,  # type: ignore[arg-type]
    )  # fmt: skip
    return env, runner, service


def test_poll_acknowledge_report_every_interval_then_set_task_status() -> None:
    env, runner, service = make_runner([250.0])
    env.run(until=300.0)
    assert service.calls == [
        (0.0, "poll"), (0.0, "progress"),  # the task at once; the acknowledgement
        (60.0, "progress"), (120.0, "progress"), (180.0, "progress"), (240.0, "progress"),
        (250.0, "status finished"),  # the work is done: SetTaskStatus, then poll again
        (250.0, "poll"),
    ]  # fmt: skip
    attempt = runner.threads[0].attempt
    assert attempt is None  # the thread holds nothing while its poll is held
    assert runner.log.calls == [2, 5, 1, 0]


def test_a_held_poll_brings_the_task_and_an_empty_one_is_sent_again() -> None:
    env, runner, service = make_runner([])
    service.hand_over(100.0, 30.0)
    env.run(until=200.0)
    assert service.calls == [
        (0.0, "poll"), (90.0, "poll"),  # the hold ends empty: poll again at once
        (100.0, "hand over"), (100.0, "progress"),  # acknowledged in the instant it arrives
        (130.0, "status finished"), (130.0, "poll"),
    ]  # fmt: skip


def test_reports_follow_the_interval_from_the_previous_report() -> None:
    env, runner, service = make_runner([100.0], interval=45.0)
    env.run(until=100.0)
    assert [t for t, call in service.calls if call == "progress"] == [0.0, 45.0, 90.0]


@pytest.mark.parametrize("reply", [CANCELED, NOT_FOUND])
def test_a_canceled_report_stops_the_work_at_once_without_set_task_status(reply: int) -> None:
    env, runner, service = make_runner([250.0], {120.0: reply})
    service.hand_over(150.0, 50.0)
    env.run(until=250.0)
    assert service.calls == [
        (0.0, "poll"), (0.0, "progress"), (60.0, "progress"),
        (120.0, "progress"),  # canceled: the work stops, no SetTaskStatus
        (120.0, "poll"),  # polls again at once
        (150.0, "hand over"), (150.0, "progress"), (200.0, "status finished"), (200.0, "poll"),
    ]  # fmt: skip
    first = service.attempts[0]
    assert (first.runner_outcome, first.work_ended_at) == ("canceled", 120.0)


def test_a_canceled_acknowledgement_means_no_work_at_all() -> None:
    env, runner, service = make_runner([250.0], {0.0: CANCELED})
    env.run(until=10.0)
    assert service.calls == [(0.0, "poll"), (0.0, "progress"), (0.0, "poll")]
    attempt = service.attempts[0]
    assert attempt.runner_outcome == "canceled"
    assert math.isnan(attempt.work_started_at)  # the work never began


def test_a_lost_report_is_not_resent_the_next_one_goes_out_an_interval_later() -> None:
    # A request lost on the way (message loss, direction `request`): no reply, so the thread
    # goes on working and reports again one interval later.
    env, runner, service = make_runner([250.0], loss="request", lost={120.0: [True]})
    env.run(until=300.0)
    assert [t for t, call in service.calls if call == "progress"] == [0.0, 60.0, 180.0, 240.0]
    assert runner.log.lost[PROGRESS] == 1 and runner.log.calls[PROGRESS] == 5


def test_a_report_whose_reply_is_lost_renewed_the_lease_and_the_work_goes_on() -> None:
    # The reply is lost on its way back: the service handled the report; the runner, with no
    # answer (`canceled` would be lost too), goes on as after an OK.
    env, runner, service = make_runner([250.0], {120.0: CANCELED}, loss="reply",
                                       lost={120.0: [True]})  # fmt: skip
    env.run(until=300.0)
    assert service.calls[:7] == [
        (0.0, "poll"), (0.0, "progress"), (60.0, "progress"), (120.0, "progress"),
        (180.0, "progress"), (240.0, "progress"), (250.0, "status finished"),
    ]  # fmt: skip
    assert runner.log.lost_replies[PROGRESS] == 1


def test_set_task_status_is_sent_again_until_a_reply_comes_back() -> None:
    # Both the first SetTaskStatus (its request) and the first resend (its reply) are lost: the
    # runner cannot know either landed, so it resends with back-off (1 s, then 2 s).
    lost = {250.0: [True], 251.0: [False, True]}  # (request), (request, reply)
    env, runner, service = make_runner([250.0], loss="both", lost=lost)
    env.run(until=300.0)
    statuses = [t for t, call in service.calls if call.startswith("status")]
    # 250: the request is lost; 251: it lands, its reply is lost; 253: it lands and is answered.
    assert statuses == [251.0, 253.0]
    assert runner.log.calls[STATUS] == 3 and runner.log.lost[STATUS] == 2
    assert runner.log.lost_replies[STATUS] == 1


def test_a_lost_poll_is_given_up_when_the_long_poll_would_have_ended() -> None:
    env, runner, service = make_runner([], loss="request", lost={0.0: [True]})
    env.run(until=200.0)
    # The request at 0 never arrived: no reply; the client gives up after 90 s and polls again.
    assert service.calls == [(90.0, "poll"), (180.0, "poll")]
    assert runner.log.lost[POLL] == 1


def test_a_task_in_a_lost_poll_reply_is_never_worked_on() -> None:
    env, runner, service = make_runner([250.0], loss="reply", lost={0.0: [True]})
    env.run(until=100.0)
    # The service assigned the task, but the reply carrying it was lost: the thread never hears
    # of it, waits out the long poll, and polls again.
    assert service.calls == [(0.0, "poll"), (90.0, "poll")]
    assert runner.log.lost_replies[POLL] == 1
