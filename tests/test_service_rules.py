"""The lease rules, one at a time: `Service` driven by fake clients on a bare SimPy environment.

As SimPy tests its own resources: a script of calls at fixed times, and the exact sequence of
(time, event) that comes out. No runner, no fleet, no randomness: a client (`service.Client`) is a
stub whose calls the test makes itself, and the service's decisions are recorded through its
checks (`Invariants`, which go on asserting the model's invariants meanwhile).

Events, with `1#2@B` for task 1's attempt 2 held by client B: `assign 1#2@B`, `<outcome> 1#2@B`
(the attempt ended on the service's side: ack_timeout, progress_timeout, attempt_timeout,
finished, failed, superseded), `task 1 <status>` (the task ended), and each call of a client with
its reply (`B progress 1#2@B: ok`, `B poll: held`, `B held poll: 1#2@B`, `B held poll: empty`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from simpy import Environment

from simulator.model.invariants import Invariants
from simulator.model.log import POLL, PROGRESS, STATUS, Attempt, Kind, Log, Task
from simulator.model.service import CANCELED, NOT_FOUND, OK, Poll, Service
from simulator.scenario.leases import timeouts
from simulator.scenario.schema import Service as ServiceConfig
from simulator.scenario.schema import Workload
from simulator.seeds import Streams

REPLIES = {OK: "ok", CANCELED: "canceled", NOT_FOUND: "not_found"}


def name(attempt: Attempt) -> str:
    """`1#2@B`: task 1's attempt 2, held by client B."""
    return f"{attempt.task.id}#{attempt.number}@{attempt.runner}"


class Trace:
    """(time, event) in the order they happened. An event may be a function, rendered once the
    call that recorded it has returned (an attempt's outcome is written after the check)."""

    def __init__(self) -> None:
        self.events: list[tuple[float, Any]] = []
        self.pending: list[int] = []

    def note(self, t: float, what: str | Callable[[], str]) -> None:
        self.settle()
        if callable(what):
            self.pending.append(len(self.events))
        self.events.append((t, what))

    def settle(self) -> list[tuple[float, str]]:
        for i in self.pending:
            t, what = self.events[i]
            self.events[i] = (t, what())
        self.pending.clear()
        return list(self.events)


class Recorder(Invariants):
    """The service's checks, recording each decision as it is taken (and still asserting)."""

    def __init__(self, env: Environment, log: Log, trace: Trace) -> None:
        super().__init__(log)
        self.env = env
        self.trace = trace

    def assigned(self, task: Task) -> None:
        super().assigned(task)
        i = len(self.log.attempts)  # the attempt about to be made
        self.trace.note(self.env.now, lambda: f"assign {name(self.log.attempts[i])}")

    def attempt_ends(self, attempt: Attempt) -> None:
        super().attempt_ends(attempt)
        self.trace.note(self.env.now, lambda: f"{attempt.outcome} {name(attempt)}")

    def task_ends(self, task: Task) -> None:
        super().task_ends(task)
        self.trace.note(self.env.now, lambda: f"task {task.id} {task.status}")


class FakeClient:
    """A poll thread as the service knows it (`service.Client`): its runner's name, its index
    and rank, the worker group it polls. Its replies are lost only when the test says so."""

    def __init__(self, name: str = "A", index: int = 0, rank: float = 0.0) -> None:
        self.name = name
        self.index = index
        self.worker_group = "wg"
        self.rank = rank
        self.lose = False  # replies are lost on the way back
        self.held: Attempt | None = None  # the last task a poll brought

    def reply_lost(self, op: int) -> bool:
        return self.lose


class FakeHolder:
    """A runner as ReportTaskRunnerHeartbeat knows it (`service.Holder`)."""

    def __init__(self, *clients: FakeClient) -> None:
        self.clients = clients

    def leases(self) -> list[Attempt | None]:
        return [c.held for c in self.clients]


class Rig:
    """A service on a bare environment, one workload kind, and a script of calls at set times."""

    def __init__(
        self, *, max_retries: int = 2, retry_delay: float = 600.0,
        report_progress_timeout: float | None = None, attempt_timeout: float | None = None,
        **service: Any,
    ) -> None:  # fmt: skip
        self.env = Environment()
        self.config = ServiceConfig.model_validate({"throttle": None, **service})
        self.log = Log()
        self.trace = Trace()
        self.service = Service(
            self.env, self.config, self.log, ["wg"], Streams.from_seed(0).stream("dispatch"),
            Recorder(self.env, self.log, self.trace),
        )  # fmt: skip
        workload = Workload.model_validate({
            "name": "batch", "worker_group": "wg", "arrivals": {"kind": "poisson", "rate": "1/h"},
            "duration": {"dist": "fixed", "value": 60}, "max_retries": max_retries,
            "retry_delay": retry_delay, "report_progress_timeout": report_progress_timeout,
            "attempt_timeout": attempt_timeout,
        })  # fmt: skip
        self.kind = Kind(
            "batch", "wg", max_retries, max(retry_delay, self.config.retry_delay_floor),
            timeouts(self.config, workload), attempt_timeout, 0.0,
        )  # fmt: skip
        self.tasks: list[Task] = []

    # --- the script ------------------------------------------------------------------------------

    def at(self, t: float, call: Callable[[], object]) -> None:
        """Make `call` at time `t` (a NORMAL event: before a lease timer of the same instant)."""

        def make(_: object) -> None:
            self.trace.settle()  # what happened before, as it was before the call
            call()

        self.env.timeout(t - self.env.now).callbacks.append(make)

    def submit(self, t: float = 0.0) -> Task:
        task = Task(len(self.tasks) + 1, self.kind, t, 3600.0)
        self.tasks.append(task)
        self.at(t, lambda: self.service.submit(task))
        return task

    def poll(self, client: FakeClient) -> None:
        """PollForTask: a task at once, or a poll held until a task comes or the hold ends."""
        now = self.env.now
        reply = self.service.handle(POLL, client)
        if isinstance(reply, Attempt):
            client.held = reply
            self.trace.note(now, f"{client.name} poll: {name(reply)}")
            return
        assert isinstance(reply, Poll)
        self.trace.note(now, f"{client.name} poll: held")

        def answered(event: Any) -> None:
            if event.value is not None:
                client.held = event.value
            what = "empty" if event.value is None else name(event.value)
            self.trace.note(self.env.now, f"{client.name} held poll: {what}")

        reply.event.callbacks.append(answered)

    def report(self, client: FakeClient) -> None:
        """ReportTaskProgress for the task the client holds."""
        attempt = client.held
        assert attempt is not None
        reply = REPLIES[self.service.handle(PROGRESS, attempt)]  # type: ignore[index]
        self.trace.note(self.env.now, f"{client.name} progress {name(attempt)}: {reply}")

    def status(self, client: FakeClient, finished: bool = True) -> None:
        """SetTaskStatus FINISHED (or FAILED) for the task the client holds."""
        attempt = client.held
        assert attempt is not None
        reply = REPLIES[self.service.handle(STATUS, attempt, finished)]  # type: ignore[index]
        word = "finished" if finished else "failed"
        self.trace.note(self.env.now, f"{client.name} status {word} {name(attempt)}: {reply}")

    def run(self, until: float) -> list[tuple[float, str]]:
        self.env.run(until=until)
        return self.trace.settle()


def assignments(rig: Rig) -> list[tuple[float, str]]:
    return [(a.assigned_at, name(a)) for a in rig.log.attempts]


# --- polls ---------------------------------------------------------------------------------------


def test_a_poll_takes_a_ready_task_at_once_or_is_held_for_the_long_poll() -> None:
    rig = Rig()
    a = FakeClient()
    rig.submit(10.0)
    rig.at(20.0, lambda: rig.poll(a))  # a task is ready: handed over at once
    rig.at(30.0, lambda: rig.poll(a))  # none: held for 90 s, ends empty
    rig.at(150.0, lambda: rig.poll(a))  # held; the task that becomes ready goes to it
    rig.submit(200.0)
    assert rig.run(400.0) == [
        (20.0, "assign 1#1@A"), (20.0, "A poll: 1#1@A"),
        (30.0, "A poll: held"), (120.0, "A held poll: empty"),
        (140.0, "ack_timeout 1#1@A"),
        (150.0, "A poll: held"), (200.0, "assign 2#1@A"), (200.0, "A held poll: 2#1@A"),
        (320.0, "ack_timeout 2#1@A"),
    ]  # fmt: skip


def test_held_polls_are_served_in_arrival_order_and_polls_of_one_instant_by_rank() -> None:
    rig = Rig()
    late, high, low = FakeClient("L", rank=0.1), FakeClient("H", rank=0.9), FakeClient("W", 0, 0.2)
    rig.at(0.0, lambda: rig.poll(high))
    rig.at(0.0, lambda: rig.poll(low))  # the same instant, a lower rank: served first
    rig.at(5.0, lambda: rig.poll(late))  # arrived later: served last, whatever its rank
    for t in (10.0, 11.0, 12.0):
        rig.submit(t)
    rig.run(13.0)
    assert assignments(rig) == [(10.0, "1#1@W"), (11.0, "2#1@H"), (12.0, "3#1@L")]


def test_a_task_in_a_lost_reply_stays_assigned_until_its_acknowledgement_window_runs_out() -> None:
    rig = Rig()
    a = FakeClient()
    a.lose = True  # the reply that carries the task is lost on its way back
    rig.at(0.0, lambda: rig.poll(a))
    rig.submit(30.0)
    assert rig.run(300.0) == [
        (0.0, "A poll: held"), (30.0, "assign 1#1@A"),
        (90.0, "A held poll: empty"),  # the client gives up when the hold ends
        (150.0, "ack_timeout 1#1@A"),
    ]  # fmt: skip
    assert rig.log.attempts[0].runner_outcome == "unheard" and a.held is None


# --- the acknowledgement window, renewal and expiry -----------------------------------------------


def test_the_acknowledgement_window_is_two_minutes_from_the_assignment() -> None:
    rig = Rig(on_lease_expiry="new_attempt_no_delay")
    a = FakeClient()
    rig.submit(0.0)
    rig.at(10.0, lambda: rig.poll(a))
    assert rig.run(1000.0) == [
        (10.0, "assign 1#1@A"), (10.0, "A poll: 1#1@A"),
        (130.0, "ack_timeout 1#1@A"),  # never acknowledged: the lease ends 120 s after assignment
    ]  # fmt: skip
    attempt = rig.log.attempts[0]
    assert attempt.lease_lost_at == 130.0 and math.isnan(attempt.acked_at)
    assert attempt.task.reassignments == 1


def test_each_report_renews_the_lease_and_it_expires_at_the_last_deadline() -> None:
    rig = Rig(max_retries=0)
    a = FakeClient()
    rig.submit(0.0)
    rig.at(0.0, lambda: rig.poll(a))
    for t in (60.0, 500.0, 1300.0):  # the acknowledgement, then renewals: 900-s leases (15min)
        rig.at(t, lambda: rig.report(a))
    assert rig.run(5000.0) == [
        (0.0, "assign 1#1@A"), (0.0, "A poll: 1#1@A"),
        (60.0, "A progress 1#1@A: ok"), (500.0, "A progress 1#1@A: ok"),
        (1300.0, "A progress 1#1@A: ok"),
        (2200.0, "progress_timeout 1#1@A"),  # 1300 + 900; no retry left:
        (2200.0, "task 1 failed"),
    ]  # fmt: skip
    attempt = rig.log.attempts[0]
    assert (attempt.acked_at, attempt.reports, attempt.lease_lost_at) == (60.0, 3, 2200.0)


@pytest.mark.parametrize("late", [0.0, 1e-6, 1.0])
def test_a_report_at_the_deadline_keeps_the_lease_and_a_later_one_finds_it_gone(
    late: float,
) -> None:
    rig = Rig(on_lease_expiry="reassign_same_attempt")
    a = FakeClient()
    rig.submit(0.0)
    rig.at(0.0, lambda: rig.poll(a))
    rig.at(120.0, lambda: rig.report(a))  # exactly at the acknowledgement deadline: in time
    rig.at(1020.0 + late, lambda: rig.report(a))  # the first report's lease ends at 1020
    trace = rig.run(2000.0)
    head = [(0.0, "assign 1#1@A"), (0.0, "A poll: 1#1@A"), (120.0, "A progress 1#1@A: ok")]
    if late == 0.0:
        assert trace == [*head, (1020.0, "A progress 1#1@A: ok"),
                         (1920.0, "progress_timeout 1#1@A")]  # fmt: skip
    else:
        assert trace == [*head, (1020.0, "progress_timeout 1#1@A"),
                         (1020.0 + late, "A progress 1#1@A: canceled")]  # fmt: skip


def test_a_shorter_lease_after_the_acknowledgement_replaces_the_longer_window() -> None:
    """The activity's reportProgressTimeout (30 min) as the acknowledgement window, then the
    5-minute reading: the first report's lease ends long before the window would have."""
    rig = Rig(max_retries=0, lease_reading="5min", ack_uses_report_timeout=True,
              report_progress_timeout=1800.0)  # fmt: skip
    a = FakeClient()
    rig.submit(0.0)
    rig.at(0.0, lambda: rig.poll(a))
    rig.at(10.0, lambda: rig.report(a))
    assert rig.run(4000.0)[-2:] == [(310.0, "progress_timeout 1#1@A"), (310.0, "task 1 failed")]


# --- the lease readings (reference section 3, contradiction 1) -----------------------------------


@pytest.mark.parametrize(
    ("reading", "rpt", "first", "renew"),
    [
        ("15min", None, 900.0, 900.0),
        ("5min", None, 300.0, 300.0),
        ("min", None, 300.0, 300.0),
        ("min", 240.0, 240.0, 240.0),
        ("two_stage", None, 300.0, 900.0),
    ],
)
@pytest.mark.parametrize("reports", [1, 2])
def test_each_lease_reading_gives_its_lease_after_the_first_report_and_after_later_ones(
    reading: str, rpt: float | None, first: float, renew: float, reports: int
) -> None:
    rig = Rig(lease_reading=reading, report_progress_timeout=rpt, max_retries=0)
    a = FakeClient()
    rig.submit(0.0)
    rig.at(0.0, lambda: rig.poll(a))
    for t in (10.0, 20.0)[:reports]:
        rig.at(t, lambda: rig.report(a))
    end = 10.0 + first if reports == 1 else 20.0 + renew
    assert rig.run(5000.0)[-2:] == [(end, "progress_timeout 1#1@A"), (end, "task 1 failed")]


# --- what an expiry does (on_lease_expiry) --------------------------------------------------------


def expire_with_a_poll_waiting(**fields: Any) -> Rig:
    """Task 1 is handed to A at 0 and never acknowledged; B polls from 100 and again each time
    its hold ends (every 90 s), never acknowledging either."""
    rig = Rig(**fields)
    a, b = FakeClient("A"), FakeClient("B")
    rig.submit(0.0)
    rig.at(0.0, lambda: rig.poll(a))
    for t in range(100, 3000, 90):
        rig.at(float(t), lambda: rig.poll(b))
    return rig


def test_fail_and_retry_makes_the_task_pollable_after_the_retry_delay_as_a_new_attempt() -> None:
    rig = expire_with_a_poll_waiting(on_lease_expiry="fail_and_retry", retry_delay=600.0)
    trace = rig.run(800.0)
    assert assignments(rig) == [(0.0, "1#1@A"), (720.0, "1#2@B")]  # 120 + 600
    assert (120.0, "ack_timeout 1#1@A") in trace
    task = rig.tasks[0]
    assert (task.retries_used, task.reassignments, task.attempt_number) == (1, 1, 2)


def test_the_retry_delay_has_a_floor() -> None:
    rig = expire_with_a_poll_waiting(on_lease_expiry="fail_and_retry", retry_delay=0.0)
    rig.run(300.0)
    assert assignments(rig) == [(0.0, "1#1@A"), (240.0, "1#2@B")]  # 120 + the 2-minute floor


def test_reassign_same_attempt_hands_the_task_over_at_once_with_the_same_attempt_number() -> None:
    rig = expire_with_a_poll_waiting(on_lease_expiry="reassign_same_attempt")
    trace = rig.run(200.0)
    assert [e for e in trace if e[0] == 120.0] == [
        (120.0, "ack_timeout 1#1@A"), (120.0, "assign 1#1@B"), (120.0, "B held poll: 1#1@B"),
    ]  # fmt: skip
    task = rig.tasks[0]
    assert (task.retries_used, task.reassignments, task.attempt_number) == (0, 1, 1)


def test_new_attempt_no_delay_hands_a_new_attempt_over_at_once_using_a_retry() -> None:
    rig = expire_with_a_poll_waiting(on_lease_expiry="new_attempt_no_delay")
    trace = rig.run(200.0)
    assert [e for e in trace if e[0] == 120.0] == [
        (120.0, "ack_timeout 1#1@A"), (120.0, "assign 1#2@B"), (120.0, "B held poll: 1#2@B"),
    ]  # fmt: skip
    task = rig.tasks[0]
    assert (task.retries_used, task.reassignments, task.attempt_number) == (1, 1, 2)


@pytest.mark.parametrize("on_lease_expiry", ["fail_and_retry", "new_attempt_no_delay"])
def test_the_task_fails_when_its_retries_run_out(on_lease_expiry: str) -> None:
    rig = expire_with_a_poll_waiting(on_lease_expiry=on_lease_expiry, max_retries=1,
                                     retry_delay=300.0)  # fmt: skip
    trace = rig.run(3000.0)
    retry = 420.0 if on_lease_expiry == "fail_and_retry" else 120.0
    assert [e for e in trace if " poll" not in e[1]] == [
        (0.0, "assign 1#1@A"), (120.0, "ack_timeout 1#1@A"),
        (retry, "assign 1#2@B"), (retry + 120.0, "ack_timeout 1#2@B"),  # no retry left:
        (retry + 120.0, "task 1 failed"),
    ]  # fmt: skip
    task = rig.tasks[0]
    assert (task.retries_used, task.status, task.ended_at) == (1, "failed", retry + 120.0)


def test_reassign_same_attempt_uses_no_retry_however_often_the_lease_expires() -> None:
    rig = expire_with_a_poll_waiting(on_lease_expiry="reassign_same_attempt", max_retries=0)
    rig.run(3000.0)
    task = rig.tasks[0]
    assert task.status == "running" and task.retries_used == 0
    assert task.reassignments >= 10 and {a.number for a in rig.log.attempts} == {1}


def test_an_attempt_timeout_fails_the_attempt_however_often_it_reports() -> None:
    rig = Rig(attempt_timeout=1000.0, max_retries=0)
    a = FakeClient()
    rig.submit(0.0)
    rig.at(0.0, lambda: rig.poll(a))
    for t in range(60, 1030, 60):
        rig.at(float(t), lambda: rig.report(a))
    trace = rig.run(1100.0)
    assert trace[-4:] == [
        (960.0, "A progress 1#1@A: ok"),
        (1000.0, "attempt_timeout 1#1@A"), (1000.0, "task 1 failed"),
        (1020.0, "A progress 1#1@A: canceled"),
    ]  # fmt: skip


# --- a superseded holder's calls (stale_progress, stale_status) ----------------------------------


def superseded(**fields: Any) -> tuple[Rig, FakeClient, FakeClient]:
    """A holds task 1 from 0, acknowledges at 10, then goes silent; its lease ends at 910, and B,
    polling since 900, is handed the task at once and reports every 60 s from 920 to 1940."""
    rig = Rig(on_lease_expiry="reassign_same_attempt", **fields)
    a, b = FakeClient("A"), FakeClient("B")
    rig.submit(0.0)
    rig.at(0.0, lambda: rig.poll(a))
    rig.at(10.0, lambda: rig.report(a))
    rig.at(900.0, lambda: rig.poll(b))
    for t in range(920, 1990, 60):
        rig.at(float(t), lambda: rig.report(b))
    return rig, a, b


@pytest.mark.parametrize(
    ("reading", "reply"), [("canceled", "canceled"), ("not_found", "not_found"), ("accepted", "ok")]
)
def test_a_superseded_holders_report_gets_the_stale_progress_reply_and_renews_nothing(
    reading: str, reply: str
) -> None:
    rig, a, b = superseded(stale_progress=reading)
    rig.at(2000.0, lambda: rig.report(a))
    trace = rig.run(2100.0)
    assert trace[4:7] == [
        (910.0, "progress_timeout 1#1@A"), (910.0, "assign 1#1@B"), (910.0, "B held poll: 1#1@B"),
    ]  # fmt: skip
    assert trace[-1] == (2000.0, f"A progress 1#1@A: {reply}")
    first, second = rig.log.attempts
    assert first.reports == 1 and first.outcome == "progress_timeout"
    assert second.deadline == 1940.0 + 900.0  # B's last report's lease, whatever A sent


def test_stale_status_rejected_leaves_the_holder_alone() -> None:
    rig, a, b = superseded(stale_status="rejected")
    rig.at(2000.0, lambda: rig.status(a, finished=True))
    rig.at(2030.0, lambda: rig.status(b, finished=True))
    assert rig.run(2100.0)[-4:] == [
        (2000.0, "A status finished 1#1@A: not_found"),
        (2030.0, "finished 1#1@B"), (2030.0, "task 1 finished"),
        (2030.0, "B status finished 1#1@B: ok"),
    ]  # fmt: skip
    assert rig.tasks[0].finished_by is rig.log.attempts[1]
    assert rig.log.stale_status_accepted == 0


def test_stale_status_first_writer_wins_ends_the_task_and_supersedes_the_holder() -> None:
    rig, a, b = superseded(stale_status="first_writer_wins")
    rig.at(2000.0, lambda: rig.status(a, finished=True))
    rig.at(2030.0, lambda: rig.report(b))
    rig.at(2040.0, lambda: rig.status(b, finished=True))
    assert rig.run(2100.0)[-5:] == [
        (2000.0, "superseded 1#1@B"), (2000.0, "task 1 finished"),
        (2000.0, "A status finished 1#1@A: ok"),
        (2030.0, "B progress 1#1@B: canceled"),  # the holder hears it at its next report
        (2040.0, "B status finished 1#1@B: not_found"),  # the task has ended: a later write loses
    ]  # fmt: skip
    task = rig.tasks[0]
    assert task.finished_by is rig.log.attempts[0] and task.ended_at == 2000.0
    assert rig.log.stale_status_accepted == 1


def test_stale_status_first_writer_wins_takes_a_stale_failed_as_said_already() -> None:
    rig, a, b = superseded(stale_status="first_writer_wins")
    rig.at(2000.0, lambda: rig.status(a, finished=False))
    assert rig.run(2100.0)[-1] == (2000.0, "A status failed 1#1@A: ok")
    assert rig.tasks[0].status == "running" and rig.log.attempts[1].outcome == "running"
    assert rig.log.stale_status_accepted == 0


def test_stale_status_last_writer_wins_flips_a_finished_task_when_a_late_failed_lands() -> None:
    rig, a, b = superseded(stale_status="last_writer_wins")
    rig.at(2000.0, lambda: rig.status(b, finished=True))  # B finishes the task...
    rig.at(2050.0, lambda: rig.status(a, finished=False))  # ...and A's late FAILED is the last
    assert rig.run(2100.0)[-4:] == [
        (2000.0, "finished 1#1@B"), (2000.0, "task 1 finished"),
        (2000.0, "B status finished 1#1@B: ok"), (2050.0, "A status failed 1#1@A: ok"),
    ]  # fmt: skip
    task = rig.tasks[0]
    assert (task.status, task.ended_at, task.finished_by) == ("failed", 2050.0, None)
    assert rig.log.stale_status_accepted == 1


def test_stale_status_last_writer_wins_finishes_a_failed_task_when_a_late_finished_lands() -> None:
    rig = Rig(stale_status="last_writer_wins", max_retries=0)
    a = FakeClient()
    rig.submit(0.0)
    rig.at(0.0, lambda: rig.poll(a))
    rig.at(10.0, lambda: rig.report(a))  # lease until 910, then silent: the task FAILS
    rig.at(1500.0, lambda: rig.status(a, finished=True))
    assert rig.run(2000.0)[-3:] == [
        (910.0, "progress_timeout 1#1@A"), (910.0, "task 1 failed"),
        (1500.0, "A status finished 1#1@A: ok"),
    ]  # fmt: skip
    task = rig.tasks[0]
    assert (task.status, task.ended_at) == ("finished", 1500.0)
    assert task.finished_by is rig.log.attempts[0]
    assert rig.log.stale_status_accepted == 1


# --- runner heartbeats ---------------------------------------------------------------------------


@pytest.mark.parametrize("renews", [False, True])
def test_a_runner_heartbeat_renews_an_acknowledged_lease_only_under_that_reading(
    renews: bool,
) -> None:
    rig = Rig(heartbeat_renews_leases=renews, max_retries=0)
    a, idle = FakeClient("A"), FakeClient("A", index=1)
    rig.submit(0.0)
    rig.at(0.0, lambda: rig.poll(a))
    rig.at(10.0, lambda: rig.report(a))
    rig.at(600.0, lambda: rig.service.runner_heartbeat(FakeHolder(a, idle)))
    end = 1500.0 if renews else 910.0  # 600 + 900, or the report's 10 + 900
    assert rig.run(3000.0)[-2:] == [(end, "progress_timeout 1#1@A"), (end, "task 1 failed")]
