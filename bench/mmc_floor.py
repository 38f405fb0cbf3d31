"""Floors under leasesim's M/M/c figure (`bench/fast.py`'s peer comparison): what an M/M/c queue
costs on SimPy with no rule of the service at all.

1. `bare`: SimPy timeouts with callbacks, a deque of waiting task numbers, no records.
2. `records`: the same, with leasesim's own records: a `Task` and an `Attempt` per task, logged
   (`Log`), work and gaps drawn by `Sampler`s, the log closed into its columns at the end.

No poll, lease, acknowledgement or status call: every rule leasesim models comes on top of (2).
Tasks per CPU second, best of `--repeats`; compare them with Ciw's in `make bench`'s output.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from itertools import count
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.collector import paused  # noqa: E402
from simulator.distributions import Sampler  # noqa: E402
from simulator.model.clock import Clock  # noqa: E402
from simulator.model.log import Attempt, Kind, Log, Task  # noqa: E402
from simulator.scenario.schema import Exponential  # noqa: E402
from simulator.seeds import Streams  # noqa: E402


def run(tasks: int, records: bool, c: int = 10, rho: float = 0.8, mean: float = 600.0) -> float:
    """CPU seconds of one M/M/c run of about `tasks` tasks."""
    lam = rho * c / mean
    env, log, streams = Clock(), Log(), Streams.from_seed(3, 0)
    gap = Sampler(Exponential(dist="exponential", mean=1 / lam), streams.stream("gap"))
    work = Sampler(Exponential(dist="exponential", mean=mean), streams.stream("work"))
    kind = Kind("w", "q", 2, mean, (900.0, 900.0, 900.0), None, 0.0)
    queue: collections.deque = collections.deque()
    free, ids = [c], count()

    def start(task: Task) -> None:
        if records:
            attempt = Attempt(task, 1, "r", 0, env._now)
            task.live, task.status, task.first_assigned_at = attempt, "running", env._now
            task.attempts += 1
            log.attempts.append(attempt)
        env.timeout(task.work, task).callbacks.append(done)

    def done(event: object) -> None:
        if records:
            task = event._value  # type: ignore[attr-defined]
            attempt = task.live
            attempt.ended_at = task.ended_at = env._now
            attempt.outcome = task.status = "finished"
            task.live, task.finished_by = None, attempt
        if queue:
            start(queue.popleft())
        else:
            free[0] += 1

    def arrive(_: object) -> None:
        task = Task(next(ids), kind, env._now, work())
        if records:
            log.tasks.append(task)
        if free[0]:
            free[0] -= 1
            start(task)
        else:
            queue.append(task)
        env.timeout(gap()).callbacks.append(arrive)

    env.timeout(gap()).callbacks.append(arrive)
    with paused():
        began = time.process_time()
        env.run(until=tasks / lam)
        log.close()
        return time.process_time() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for name, records in (("bare", False), ("records", True)):
        best = min(run(args.tasks, records) for _ in range(args.repeats))
        print(f"{name:<8} {args.tasks / best:>10,.0f} tasks per CPU second "
              f"({best / args.tasks * 1e6:.2f} us a task)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
