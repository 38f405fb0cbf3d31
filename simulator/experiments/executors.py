"""Where runs execute: in this process, in local worker processes, or on a Dask cluster.

Every executor has one method that matters, `map(fn, jobs)`: it yields `(job, outcome)` pairs as
the jobs finish, in any order, where `outcome` is `fn(job)` or the exception that stopped the job
from running at all (a worker that died, a lost connection). Each job is a pure function of its
plain-data arguments, so results do not depend on the executor; callers sort them by key.

Stopping (Ctrl-C, or leaving a `with` block early) cancels what has not started and ends the worker
processes, so an interrupt takes effect within a second even when a run would take minutes.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Any, Protocol

from simulator.errors import RUN_ERROR, USAGE_ERROR, LeasesimError
from simulator.units import parse_number

EXECUTORS = ("serial", "processes", "dask")
INSTALL_DASK = "pip install 'leasesim[dask]'"


class Executor(Protocol):
    """Runs jobs somewhere and yields (job, outcome) as each finishes."""

    name: str
    workers: int

    def map(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[tuple[Any, Any]]: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


class SerialExecutor:
    """Every job in this process, one after another, in order: for debugging and tiny runs."""

    name = "serial"
    workers = 1

    def map(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        for job in jobs:
            yield job, fn(job)

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "serial"

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; the parent alone handles it (it keeps finished work
    # and ends the workers), so workers must not die half-way through a result with a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """Linux: the kernel kills this process when its parent goes (here: the forkserver, which
    itself ends once no worker holds its "alive" pipe)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watchdog below still ends the worker


def _watch(alive: Connection) -> None:
    """Block on the pipe whose only writer is leasesim: it reads end-of-file the moment
    leasesim ends, however it ends (kill -9 included); then this worker ends too, at once."""
    with contextlib.suppress(EOFError, OSError):
        alive.recv_bytes()
    os._exit(1)  # no clean-up: the run's result has nobody to go to


def _worker_start(alive: Connection) -> None:
    """Each worker's initializer: Ctrl-C is the parent's to handle, and the worker dies with it.

    Without the watchdog a worker outlives a killed leasesim for ever (it waits on a queue that
    it holds open itself), keeping the forkserver, the resource tracker and leasesim's stderr
    alive, so a pipe reader (`| tee`, a CI job) never sees the end."""
    _ignore_sigint()
    _die_with_parent()
    threading.Thread(target=_watch, args=(alive,), name="leasesim-parent-watch",
                     daemon=True).start()  # fmt: skip


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one: no fork of a parent holding threads (tqdm, Dask)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # Workers fork from a server that has imported the model already: fast start-up.
        ctx.set_forkserver_preload(["simulator.experiments.runs"])
        return ctx
    return multiprocessing.get_context("spawn")


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until a worker is launched: an interrupt half-way through (the
    launch waits for the forkserver) would leave a worker starting that nobody tracks, with its
    pool torn down under it (it prints a traceback). A signal that came meanwhile is raised
    again at the end, to whatever handler was there."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers run in the main thread only
        return
    came: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda number, frame: came.append(number)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(came):
            signal.raise_signal(sig)


def _broken(exc: BaseException) -> BaseException:
    """A dead pool, explained: the usual causes of a worker process dying."""
    if isinstance(exc, WorkerDied):
        return exc
    return WorkerDied(
        f"a worker process died ({exc}). Usual causes: it was killed or ran out of memory, or a "
        "script started the sweep without the `if __name__ == '__main__':` guard that process "
        "pools need."
    )


class WorkerDied(RuntimeError):
    """A local worker process ended before returning its job's result."""


class ProcessExecutor:
    """Local worker processes (default: one per core), fed a few jobs ahead of them at a time."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: cf.ProcessPoolExecutor | None = None
        self._alive: tuple[Connection, Connection] | None = None

    def _start(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            context = _context()
            # Workers watch the read end; only this process holds the write end (`_watch`).
            reader, writer = context.Pipe(duplex=False)
            self._alive = (reader, writer)
            self._pool = cf.ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_worker_start, initargs=(reader,)
            )
        return self._pool

    def map(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        pool = self._start()
        pending = iter(jobs)
        # Only a few jobs are queued ahead of the workers: an interrupt has little to cancel and
        # each result is handed back (and saved) as soon as it exists.
        running: dict[cf.Future[Any], Any] = {}

        def top_up() -> None:
            while len(running) < 2 * self.workers:
                job = next(pending, None)
                if job is None:
                    return
                try:
                    with _signals_held():
                        running[pool.submit(fn, job)] = job
                except cf.BrokenExecutor as exc:  # the pool died: report the job, go on
                    future: cf.Future[Any] = cf.Future()
                    future.set_exception(_broken(exc))
                    running[future] = job

        try:
            top_up()
            while running:
                done, _ = cf.wait(running, timeout=0.2, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        outcome = future.result()
                    except cf.BrokenExecutor as exc:
                        outcome = _broken(exc)
                    except Exception as exc:  # the job never ran to an answer
                        outcome = exc
                    yield job, outcome
                top_up()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        # A run may take minutes: end the workers rather than wait for them. They go before the
        # pool's queues do: a worker still starting would fail to open their semaphores (and
        # print a traceback) if they were gone first.
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=2)
        for process in processes:
            if process.is_alive():  # SIGTERM not acted on in time: no more waiting
                process.kill()
                process.join(timeout=2)
        pool.shutdown(wait=False, cancel_futures=True)
        alive, self._alive = self._alive, None
        for end in alive or ():
            end.close()  # any worker left sees end-of-file and ends

    def describe(self) -> str:
        return f"processes ({self.workers} worker{'s' if self.workers != 1 else ''})"

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise LeasesimError(
            USAGE_ERROR,
            "the dask executor needs Dask's distributed scheduler, which is not installed; "
            f"install it with `{INSTALL_DASK}` (or `pip install 'dask[distributed]'`), or use "
            "--executor processes to run on this machine's cores.",
        ) from None
    return distributed


class WorkersLost(KeyboardInterrupt):
    """No Dask worker was connected for longer than LEASESIM_DASK_WAIT seconds while runs were
    waiting. Raised as an interrupt is: the experiment stops, keeping (and counting) every run
    that finished, so that --resume can finish it once workers are back."""


def stop_reason(exc: BaseException) -> str | None:
    """Why an experiment stopped, if not by Ctrl-C or SIGTERM: the `WorkersLost` behind an
    `Interrupted` (which is raised from it)."""
    cause = exc.__context__
    return str(cause) if isinstance(cause, WorkersLost) else None


def _dask_wait() -> float:
    """LEASESIM_DASK_WAIT: seconds to wait for a Dask worker when none is connected (120)."""
    text = os.environ.get("LEASESIM_DASK_WAIT", "").strip()
    try:
        value = parse_number(text) if text else 120.0  # not float(): full-width digits
    except ValueError:
        raise LeasesimError(USAGE_ERROR, f"LEASESIM_DASK_WAIT: expected seconds (e.g. 120), got "
                            f"{text!r}") from None  # fmt: skip
    return value if value > 0 else 120.0


class _WorkerWatch:
    """Notices a Dask cluster left without workers while runs wait: says so once on stderr,
    and gives up after LEASESIM_DASK_WAIT seconds (checks the scheduler once a second)."""

    def __init__(self, count: Callable[[], int], address: str) -> None:
        self.count = count
        self.address = address
        self.wait = _dask_wait()
        self.since: float | None = None
        self.checked = 0.0
        self.said = False

    def reset(self) -> None:
        self.since = None

    def check(self) -> None:
        now = time.monotonic()
        if now - self.checked < 1.0:
            return
        self.checked = now
        if self.count() > 0:
            self.since = None
            return
        if self.since is None:
            self.since = now
        if not self.said:
            self.said = True
            print(f"leasesim: no Dask worker is connected to the scheduler at {self.address}; "
                  f"waiting up to {self.wait:g} s for one (LEASESIM_DASK_WAIT)", file=sys.stderr)
        if now - self.since >= self.wait:
            raise WorkersLost(
                f"no Dask worker was connected to the scheduler at {self.address} for "
                f"{self.wait:g} s (every worker died or left); start workers (`dask worker "
                f"{self.address}`)"
            )


class DaskExecutor:
    """A Dask cluster: a `distributed.Client` given by the caller, a scheduler's address, or
    (neither) a LocalCluster of `workers` single-threaded processes on this machine.

    Workers must have leasesim installed (the same version: results depend on it).
    """

    name = "dask"

    def __init__(self, client: Any = None, scheduler: str | None = None,
                 workers: int | None = None) -> None:  # fmt: skip
        distributed = _distributed()
        self._owned: list[Any] = []
        if client is None:
            try:
                if scheduler:
                    client = distributed.Client(scheduler, timeout="10s")
                else:
                    cluster = distributed.LocalCluster(
                        n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                        dashboard_address=None,
                    )  # fmt: skip
                    self._owned.append(cluster)
                    client = distributed.Client(cluster)
            except ValueError as exc:  # not an address Dask can read: garbage://x
                self.close()
                if not scheduler:
                    raise
                raise LeasesimError(
                    USAGE_ERROR, f"--scheduler {scheduler}: not a Dask scheduler address "
                    f"({exc}); give one like tcp://HOST:8786.",
                ) from None  # fmt: skip
            except (OSError, TimeoutError) as exc:
                self.close()
                where = f"the Dask scheduler at {scheduler}" if scheduler else "a Dask cluster"
                raise LeasesimError(
                    RUN_ERROR, f"cannot reach {where}: {exc}. Check the address (for example "
                    "tcp://HOST:8786) and that `dask scheduler` is running there.",
                ) from None  # fmt: skip
            self._owned.insert(0, client)
        self.client = client
        self._distributed = distributed
        self.workers = len(client.scheduler_info().get("workers", {})) or 1
        self.address = scheduler or getattr(client.scheduler, "address", None) or "local"

    def map(self, fn: Callable[[Any], Any], jobs: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        jobs = list(jobs)
        futures = {self.client.submit(fn, job, pure=False): job for job in jobs}
        finished = self._distributed.as_completed(futures)
        watch = _WorkerWatch(self._count_workers, self.address)
        try:
            while not finished.is_empty():
                if not finished.has_ready():
                    watch.check()  # no worker for too long: WorkersLost
                    time.sleep(0.05)
                    continue
                for future in finished.next_batch(block=False):
                    job = futures.pop(future)
                    try:
                        outcome = future.result()
                    except Exception as exc:  # a worker died, the job could not be shipped, ...
                        outcome = exc
                    yield job, outcome
                watch.reset()
        finally:
            if futures:  # stopped early: nothing left should keep the cluster busy
                with contextlib.suppress(Exception):
                    self.client.cancel(list(futures))

    def _count_workers(self) -> int:
        try:
            return len(self.client.scheduler_info(n_workers=1).get("workers", {}))
        except TypeError:  # an older distributed: no n_workers
            return len(self.client.scheduler_info().get("workers", {}))

    def close(self) -> None:
        for owned in self._owned:
            with contextlib.suppress(Exception):  # best effort while shutting down
                owned.close()
        self._owned = []

    def describe(self) -> str:
        return f"dask ({self.workers} worker{'s' if self.workers != 1 else ''}, {self.address})"

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    executor: Any = None, workers: int | None = None, scheduler: str | None = None,
    default: str = "serial",
) -> Any:  # fmt: skip
    """An executor from a name ("serial", "processes", "dask"), a `distributed.Client`, or an
    executor object (returned as is). `workers` sizes local pools; `scheduler` is a Dask address.
    """
    if executor is None:
        executor = "dask" if scheduler else default
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):  # fmt: skip
        raise LeasesimError(USAGE_ERROR, f"workers must be a whole number >= 1, got {workers!r}")
    if isinstance(executor, str):
        if scheduler and executor != "dask":
            raise LeasesimError(USAGE_ERROR, f"a scheduler address ({scheduler}) needs the dask "
                                f"executor, not {executor!r}")  # fmt: skip
        if executor == "serial":
            return SerialExecutor()
        if executor == "processes":
            return ProcessExecutor(workers)
        if executor == "dask":
            return DaskExecutor(scheduler=scheduler, workers=workers)
        raise LeasesimError(
            USAGE_ERROR,
            f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}, a "
            "distributed.Client, or an object with map(fn, jobs).",
        )
    if type(executor).__module__.startswith("distributed") and hasattr(executor, "submit"):
        return DaskExecutor(client=executor)
    if callable(getattr(executor, "map", None)):
        return executor
    raise LeasesimError(
        USAGE_ERROR,
        f"executor must be one of {', '.join(EXECUTORS)}, a distributed.Client or an object with "
        f"map(fn, jobs); got {type(executor).__name__}",
    )
