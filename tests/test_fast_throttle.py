"""Fast mode under the account's rate limits (issue 18, target 1).

Fast mode counts calls in bulk while it can prove that exact mode's token buckets never run dry
(`simulator.model.fast.throttle`), and runs a replication again, exact, where it cannot. These
tests check the proof itself against a token bucket fed every call one by one, and the model:
where both modes draw the same numbers the fast run is the exact run, replication by replication;
where exact mode throttles, fast mode gives exact mode's result and says it re-ran.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from builders import make_scenario
from scipy import stats

import simulator
from simulator.model import simulate
from simulator.model.fast.counting import CountBound, CountPollBound, counts_calls
from simulator.model.fast.thread import FastThread
from simulator.model.fast.throttle import (
    MARGIN,
    BoundedThread,
    BucketBound,
    MayThrottle,
    PollBound,
)
from simulator.model.throttle import TokenBucket
from simulator.scenario.load import load_scenario
from simulator.scenario.modes import fallbacks
from simulator.seeds import Streams

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
THROTTLED = {"throttle": {}}  # the documented limits: burst 100, 2/s, 10/s, 10/s, 1/s


# --- the bound against a bucket that sees every call ----------------------------------------------


def _history(rng: np.random.Generator, rate: float, burst: float, horizon: float):
    """Random streams (begin, first, interval, end) and explicit calls: half of them light, half
    busy enough to run the bucket dry."""
    streams = []
    light = rng.random() < 0.5  # half the histories stay within the bucket's means
    for _ in range(int(rng.integers(1, 8 if light else 40))):
        interval = float(rng.choice([0.5, 1.0, 3.0, 7.5, 60.0]))
        begin = float(rng.uniform(0, horizon))
        first = begin + float(rng.uniform(0, 1.5 * interval))
        end = begin + float(rng.exponential(horizon / 3))
        streams.append((begin, first, interval, end))
    load = float(rng.choice([0.05, 0.2] if light else [0.3, 1.0, 3.0]))  # a share of the rate
    explicit = rng.uniform(0, horizon, int(rng.poisson(load * rate * horizon))).tolist()
    # A burst of explicit calls in one instant, too.
    at = float(rng.uniform(0, horizon))
    explicit += [at] * int(rng.integers(0, max(1.0, burst / 4) if light else burst))
    return streams, sorted(explicit)


def _events(streams, explicit):
    """The bound's updates in time order: (time, order, kind, stream); ends before takes of the
    same instant cannot matter (a stream's calls are strictly before its end)."""
    out = [(t, 1, "take", None) for t in explicit]
    for s in streams:
        out += [(s[0], 0, "begin", s), (s[3], 2, "end", s)]
    return sorted(out, key=lambda e: (e[0], e[1]))


def _calls(streams, explicit) -> list[float]:
    """Every call: the explicit ones and the streams' (strictly before their end)."""
    calls = list(explicit)
    for _begin, first, interval, end in streams:
        k = 0
        while first + k * interval < end:
            calls.append(first + k * interval)
            k += 1
    return sorted(calls)


class _Group:
    """What `PollBound` reads of a worker group: its standing cycles and how many began."""

    def __init__(self) -> None:
        self.standing: list[tuple[float, float, float, float]] = []
        self.stood = 0


def _check_bound(
    rng, bound: BucketBound, pending: list[int], streams, explicit, charge, hidden=(),
    extra: float = 0.2,
) -> None:  # fmt: skip
    """Feed `bound` a history (`charge(kind, t, stream)` takes a stream's begin or end, as the
    model's hooks do, and may count calls of its own: `hidden`) and check it against a bucket
    that sees every call one by one; after each update, the streams it counts are those
    running. Besides the updates the bound asks for itself, and those the service asks for
    every `flush` calls, one comes after a share `extra` of the instants."""
    running = 0
    rate, burst = bound.rate, bound.burst
    calls = sorted(_calls(streams, explicit) + list(hidden))
    events = _events(streams, explicit)
    proved = True
    tokens, last, i = burst, 0.0, 0
    for k, (t, _, kind, stream) in enumerate(events):
        try:
            if kind == "take":
                pending[bound.op] += 1  # as `ThrottledService.handle` counts it
                if pending[bound.op] >= bound.flush:
                    bound.update(t)
            else:
                charge(kind, t, stream)
                running += 1 if kind == "begin" else -1
            if k + 1 < len(events) and events[k + 1][0] == t or rng.random() >= extra:
                continue  # changes wait for an update, mostly; compare once an instant is in
            bound.update(t)
            assert bound.streams == running
        except MayThrottle:
            proved = False  # the fast run stops here: nothing after it is kept
            break
        while i < len(calls) and calls[i] <= t:
            tokens = min(burst, tokens + (calls[i] - last) * rate) - 1.0
            last = calls[i]
            i += 1
        exact = min(burst, tokens + (t - last) * rate)
        # A hidden call in the very instant of the update may be charged to the next stretch,
        # at its start (`CountPollBound.stood`): the bound then holds before it.
        late = sum(h == t for h in hidden)
        assert bound.level <= exact + late + 1e-9, (t, kind, bound.level, exact)
    if not proved:
        return
    try:
        bound.close(events[-1][0])
    except MayThrottle:
        return
    real = TokenBucket(rate, burst)
    assert all(real.take(t) for t in calls)  # not one call throttled
    if isinstance(bound, CountBound):  # every call charged, one by one or on its grid
        assert len(calls) <= bound.counted + bound.fluid + 1e-9
    else:
        assert len(_calls(streams, [])) <= bound.fluid + 1e-9
        assert bound.counted == len(explicit)


@pytest.mark.parametrize("extra", [0.2, 0.0], ids=["often", "own"])
@pytest.mark.parametrize("kind", [BucketBound, CountBound], ids=["fluid", "counted"])
@pytest.mark.parametrize("seed", range(60))
def test_the_bound_is_a_lower_bound_of_the_bucket_and_proves_no_call_throttled(
    seed: int, kind: type[BucketBound], extra: float,
) -> None:  # fmt: skip
    """Until the bound gives up, it is at or below the tokens exact mode's bucket holds after
    each update, with every call, explicit or in bulk, taken one by one (a bucket that never
    refuses: T(t) = min over s of [b + r (t - s) - calls in [s, t]]); a run the bound lets
    through has no call a real `TokenBucket` throttles; the streams' calls never exceed what
    it charged them. Light and heavy loads, bursts of calls in one instant, streams of mixed
    intervals; the fluid bound and the one that counts each stream's calls on its grid;
    updates often, or only where the bound and the service ask for them (long stretches of
    many changes, counted in pieces)."""
    rng = np.random.default_rng(seed)
    rate, burst = float(rng.choice([0.5, 2.0, 10.0])), float(rng.choice([3.0, 20.0, 100.0]))
    streams, explicit = _history(rng, rate, burst, 300.0)
    pending = [0, 0, 0, 0]
    bound = kind(1, rate, burst, pending, flush=int(rng.choice([1, 4, 12])))

    def charge(change: str, t: float, stream) -> None:
        if change == "begin":
            bound.begin(t, stream[1], stream[2])
        else:
            bound.end(stream[2], t, stream[1])

    _check_bound(rng, bound, pending, streams, explicit, charge, extra=extra)


@pytest.mark.parametrize("seed", range(20))
def test_the_count_bound_takes_in_long_stretches_of_many_changes(seed: int) -> None:
    """A large fleet's slow streams (hundreds, each a call a minute or so, beginning and ending
    all the time) and few calls one by one: updates come only where the bound asks for them,
    after dozens of changes and stretches of many pieces, and the bound stays a lower bound of
    the bucket, which it proves never runs dry."""
    rng = np.random.default_rng(1000 + seed)
    rate, burst, horizon = 10.0, 100.0, 3000.0
    streams = []
    for _ in range(int(rng.integers(1500, 2500))):  # about 130 running at once
        interval = float(rng.choice([30.0, 60.0, 90.0]))
        begin = float(rng.uniform(0, horizon))
        first = begin + float(rng.uniform(0, interval))
        streams.append((begin, first, interval, begin + float(rng.exponential(200.0))))
    explicit = sorted(rng.uniform(0, horizon, int(rng.poisson(0.1 * horizon))).tolist())
    pending = [0, 0, 0, 0]
    bound = CountBound(1, rate, burst, pending, flush=12)
    updates: list[int] = []  # changes taken in by the updates the bound asked for

    def charge(change: str, t: float, stream) -> None:
        waiting = len(bound.changes)
        if change == "begin":
            bound.begin(t, stream[1], stream[2])
        else:
            bound.end(stream[2], t, stream[1])
        if not bound.changes:  # the bound brought itself up to date
            updates.append(waiting + 1)

    _check_bound(rng, bound, pending, streams, explicit, charge, extra=0.0)
    assert bound.level >= MARGIN  # proved to the end
    assert max(updates) == CountBound.CHANGES


@pytest.mark.parametrize("seed", range(60))
def test_the_poll_bound_counts_standing_cycles_from_the_groups(seed: int) -> None:
    """The same check for `PollBound`, which is told of no cycle's begin or end but reads the
    groups' `standing` and `stood` at each update: standing cycles of one `long_poll`, each
    after a poll counted one by one, in two groups, over light and heavy loads."""
    rng = np.random.default_rng(seed)
    rate, burst = float(rng.choice([0.5, 2.0, 10.0])), float(rng.choice([3.0, 20.0, 100.0]))
    cycle = float(rng.choice([1.0, 20.0, 90.0]))
    drawn, explicit = _history(rng, rate, burst, 300.0)
    # A cycle's first poll is a call counted one by one; its polls in bulk follow every cycle.
    streams = [(begin, begin + cycle, cycle, end) for begin, _, _, end in drawn]
    explicit = sorted(explicit + [begin for begin, *_ in streams])
    groups = [_Group(), _Group()]
    pending = [0, 0, 0, 0]
    bound = PollBound(rate, burst, pending, int(rng.choice([1, 4, 12])), groups, cycle)
    where: dict[int, _Group] = {}

    def charge(kind: str, t: float, stream) -> None:
        if kind == "begin":  # `FastWorkerGroup.stand`
            group = groups[int(rng.integers(2))]
            group.standing.append(stream)
            group.stood += 1
            where[id(stream)] = group
        else:  # a hand-over, a pause or a crash takes it out of `standing`
            standing = where[id(stream)].standing
            del standing[next(i for i, s in enumerate(standing) if s is stream)]

    _check_bound(rng, bound, pending, streams, explicit, charge)


@pytest.mark.parametrize("seed", range(60))
def test_the_count_poll_bound_counts_standing_cycles_on_their_grid(seed: int) -> None:
    """And for `CountPollBound`: each cycle's first poll is counted one by one by the service
    before the cycle begins (`stood`), which takes it off that count for its grid's."""
    rng = np.random.default_rng(seed)
    rate, burst = float(rng.choice([0.5, 2.0, 10.0])), float(rng.choice([3.0, 20.0, 100.0]))
    cycle = float(rng.choice([1.0, 20.0, 90.0]))
    drawn, explicit = _history(rng, rate, burst, 300.0)
    streams = [(begin, begin + cycle, cycle, end) for begin, _, _, end in drawn]
    pending = [0, 0, 0, 0]
    bound = CountPollBound(rate, burst, pending, int(rng.choice([1, 4, 12])), cycle)

    def charge(kind: str, t: float, stream) -> None:
        if kind == "begin":
            pending[0] += 1  # its first poll, counted by `ThrottledService.handle`
            bound.stood(t)
        else:
            bound.left(_Cycle(stream[0]), t)

    firsts = [begin for begin, *_ in streams]
    _check_bound(rng, bound, pending, streams, explicit, charge, hidden=firsts)


class _Cycle:
    """What `CountPollBound.left` reads of a standing cycle."""

    def __init__(self, first: float) -> None:
        self.first = first


def test_the_count_bound_holds_where_the_fluid_bound_cannot() -> None:
    """200 streams of one call a minute at spread phases, against the documented 10/s and 100:
    3.3 calls a second, far below, but more streams than the burst, which the fluid bound's cap
    (b - N) cannot hold; counted on their grid, they leave the bucket nearly full. Twenty of one
    call a second (twice the rate) run it dry in both."""
    rng = np.random.default_rng(5)
    firsts = rng.uniform(0.0, 60.0, 200)
    fluid = BucketBound(1, 10.0, 100.0, [0, 0, 0, 0], flush=12)
    with pytest.raises(MayThrottle):
        for first in firsts:
            fluid.begin(0.0, float(first), 60.0)
        fluid.close(3600.0)
    counted = CountBound(1, 10.0, 100.0, [0, 0, 0, 0], flush=12)
    for first in firsts:
        counted.begin(0.0, float(first), 60.0)
    counted.close(3600.0)
    assert counted.level > 80.0
    assert counted.fluid >= 200 * 60  # every call of the hour, some counted twice at the edges
    dry = CountBound(1, 10.0, 100.0, [0, 0, 0, 0], flush=12)
    with pytest.raises(MayThrottle, match="ReportTaskProgress token bucket"):
        for _ in range(20):
            dry.begin(0.0, 0.5, 1.0)
        dry.close(100.0)


def test_the_bound_fails_where_the_bucket_runs_dry() -> None:
    """Twenty streams of one call a second against a 10/s bucket: it must stop them."""
    bound = BucketBound(1, 10.0, 100.0, [0, 0, 0, 0], flush=12)
    with pytest.raises(MayThrottle, match="ReportTaskProgress token bucket"):
        for _ in range(20):
            bound.begin(0.0, 0.5, 1.0)
        bound.close(100.0)
    # Twenty at one call a minute: 0.33 calls/s, far below; it holds for ever.
    bound = BucketBound(1, 10.0, 100.0, [0, 0, 0, 0], flush=12)
    for _ in range(20):
        bound.begin(0.0, 60.0, 60.0)
    bound.close(1e7)
    assert bound.level == pytest.approx(100.0 - 20)


# --- the model ---------------------------------------------------------------------------------


def _run(scenario, mode: str, replication: int = 0):
    scenario = scenario.model_copy(
        update={"simulation": scenario.simulation.model_copy(update={"mode": mode})}
    )
    return simulate(scenario, Streams.from_seed(scenario.seed, replication))


def _attempts(simulation) -> list[str]:
    return [
        repr((a.task.id, a.number, a.runner, a.thread, a.assigned_at, a.acked_at, a.ended_at,
              a.outcome, a.reports, a.work_ended_at, a.runner_outcome))
        for a in simulation.log.attempts
    ]  # fmt: skip


def _same(exact, fast) -> None:
    """The two runs' logs hold the same attempts and call counts, and nothing throttled."""
    assert exact.log.calls == fast.log.calls
    assert exact.log.throttled == fast.log.throttled == [0, 0, 0, 0]
    assert _attempts(exact) == _attempts(fast)


def test_fast_mode_counts_in_bulk_under_the_default_throttle() -> None:
    """The documented limits are on by default: fast mode no longer falls back for them (it did
    before issue 18), and its run is exact mode's run, event for event where it matters."""
    scenario = make_scenario(
        duration="2d", service=THROTTLED,
        fleet=[{"runners": 6, "threads": 2, "faults": {"crash": {"rate": "2/d"}}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "20/h"}, "duration": "20m"}],
    )  # fmt: skip
    assert fallbacks(scenario) == {}
    for replication in range(3):
        exact, fast = _run(scenario, "exact", replication), _run(scenario, "fast", replication)
        assert fast.mode == "fast" and fast.fallbacks == {}
        assert fast.events * 4 < exact.events  # calls counted in bulk, not one event each
        _same(exact, fast)


def test_a_fleet_with_more_threads_than_the_burst_counts_its_calls_on_their_grid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """120 threads under the documented limits: more than the burst could poll or report in bulk
    at once, so the fluid bound gives up (its cap b - N), though exact mode's buckets stay
    nearly full (the runners start spread over a long poll). The counting bound
    (`fast.counting`) proves the run: fast mode runs it to the end, and it is exact mode's run."""
    scenario = make_scenario(
        duration="6h", service=THROTTLED,
        fleet=[{"runners": 60, "threads": 2, "start_spread": "90s",
                "faults": {"crash": {"rate": "2/d"}}}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "200/h"},
                   "duration": {"dist": "exponential", "mean": "20m"}}],
    )  # fmt: skip
    assert counts_calls(scenario)
    exact, fast = _run(scenario, "exact"), _run(scenario, "fast")
    assert fast.mode == "fast" and fast.fallbacks == {}
    assert fast.events * 4 < exact.events
    _same(exact, fast)
    monkeypatch.setattr("simulator.model.simulation.counts_calls", lambda _: False)
    fluid = _run(scenario, "fast")
    assert fluid.mode == "exact (fast mode fell back)" and "token bucket" in fluid.fallbacks["*"]


def test_where_a_bucket_could_run_dry_fast_mode_reruns_the_replication_exact() -> None:
    """A burst of 8 tokens and 12 threads: the bound gives up once eight of them poll or report
    in bulk at once (b - N < 1), although the rates are well below the limits; the replication
    is then exact mode's, with the reason."""
    scenario = make_scenario(
        duration="6h", service={"throttle": {"burst": 8, "progress": "1/s"}},
        fleet=[{"runners": 6, "threads": 2, "progress_interval": "60s"}],
        workload=[{"arrivals": {"kind": "poisson", "rate": "30/h"}, "duration": "20m"}],
    )  # fmt: skip
    assert fallbacks(scenario) == {}
    exact, fast = _run(scenario, "exact"), _run(scenario, "fast")
    assert fast.mode == "exact (fast mode fell back)"
    reason = fast.fallbacks["*"]
    assert "ran this replication again exact" in reason and "token bucket (" in reason
    assert fast.events > exact.events  # the abandoned fast part is counted too
    assert exact.log.calls == fast.log.calls and exact.log.throttled == fast.log.throttled
    result = simulator.run(scenario.model_copy(
        update={"simulation": scenario.simulation.model_copy(update={"mode": "fast"})}))
    assert result.meta["mode"] == "exact (fast mode fell back)"
    assert "token bucket" in result.meta["fallbacks"]["*"]


def test_a_stream_the_bound_never_saw_is_caught_after_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The safety net: reports counted in bulk without drawing on the bound (a hook missed) are
    found by the audit after the run, which then runs exact instead of trusting the proof."""
    # ReportTaskProgress streams go unseen: the thread's hooks do not charge them.
    monkeypatch.setattr(BoundedThread, "_bulk", FastThread._bulk)
    monkeypatch.setattr(BoundedThread, "settle", FastThread.settle)
    scenario = make_scenario(duration="3h", service=THROTTLED)
    fast = _run(scenario, "fast")
    assert "internal inconsistency" in fast.fallbacks["*"]


def test_fallbacks_under_throttling() -> None:
    """Message loss with the limits on: the group runs exact (fast mode draws losses its own way,
    so its run is not exact mode's run of the seed). A fleet estimated above a limit runs exact."""
    lossy = make_scenario(service=THROTTLED, fleet=[{"faults": {"message_loss": 0.1}}])
    (reason,) = fallbacks(lossy).values()
    assert "message_loss with service.throttle on" in reason
    assert fallbacks(lossy.model_copy(update={"service": make_scenario().service})) == {}
    busy = make_scenario(service={"throttle": {"progress": "0.01/s"}})
    assert "ReportTaskProgress calls/s is above the account limit" in fallbacks(busy)["*"]
    both = make_scenario(service={"throttle": {"progress": "0.01/s"}, "call_latency": "10ms"})
    assert "call_latency" in fallbacks(both)["*"] and "service.throttle" in fallbacks(both)["*"]


def _loads(path: Path, mode: str, duration: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. scenarios whose groups run exact
        return load_scenario(path, overrides=[f"duration={duration}", f"simulation.mode={mode}"])


FAST = [p for p in SCENARIOS if "*" not in fallbacks(_loads(p, "fast", "1h"))
        and len(fallbacks(_loads(p, "fast", "1h"))) < len(_loads(p, "fast", "1h").fleet)]


def same_draws(path: Path) -> bool:
    """No message loss and no pauses: both modes draw the same numbers and meet no same-instant
    tie they break differently (tests/test_fast_mode.py's `same_draws`)."""
    scenario = _loads(path, "exact", "1h")
    return all(g.faults.message_loss == 0 and g.faults.pause is None for g in scenario.fleet)


@pytest.mark.parametrize("path", FAST, ids=lambda p: p.stem)
def test_shipped_scenarios_run_fast_under_their_limits(path: Path) -> None:
    """Every shipped scenario that runs fast under its (default) limits runs fast to the end of a
    whole day (no replication re-run: nightly-peak's peak comes after 11 h, where a bound that
    counted too few pieces once gave up), and throttles nothing, as exact mode does not; where
    both modes draw the same numbers its first 6 hours are exact mode's (later, the fixed
    lengths of some scenarios, zone-partition's, chain into same-instant ties; and the others:
    the paired test below)."""
    day = _loads(path, "fast", "1d")
    exact_s, fast_s = _loads(path, "exact", "6h"), _loads(path, "fast", "6h")
    for replication in range(2):
        whole = simulate(day, Streams.from_seed(day.seed, replication))
        assert whole.mode.startswith("fast"), whole.fallbacks
        assert "*" not in whole.fallbacks
        exact = simulate(exact_s, Streams.from_seed(exact_s.seed, replication))
        fast = simulate(fast_s, Streams.from_seed(fast_s.seed, replication))
        assert fast.events * 2 < exact.events
        assert exact.log.throttled == fast.log.throttled == [0, 0, 0, 0]
        if same_draws(path):
            _same(exact, fast)


def paired_p(exact: list[float], fast: list[float]) -> float:
    """Two-sided paired t test's p-value; 1 where every pair is equal (nothing to test)."""
    diff = np.asarray(fast, dtype=float) - np.asarray(exact, dtype=float)
    diff = diff[~np.isnan(diff)]
    if len(diff) < 2 or not diff.any():
        return 1.0
    if np.all(diff == diff[0]):
        return 0.0
    return float(stats.ttest_1samp(diff, 0.0).pvalue)


@pytest.mark.slow
@pytest.mark.parametrize("path", FAST, ids=lambda p: p.stem)
def test_fast_mode_under_throttling_is_exact_mode_paired(path: Path) -> None:
    """100 pairs of 6 h (same seed and replication) with the scenario's limits on: no paired
    difference (t test, alpha 0.01) in any summary metric, and no replication re-run."""
    pairs = 100
    runs = {}
    for mode in ("exact", "fast"):
        scenario = _loads(path, mode, "6h")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runs[mode] = simulator.replicate(
                scenario, pairs, executor="processes", workers=2, progress=False
            ).summaries
    exact, fast = runs["exact"], runs["fast"]
    pvalues = {m: paired_p([s[m] for s in exact], [s[m] for s in fast]) for m in exact[0]}
    same = sum(
        all(e[m] == f[m] or (math.isnan(e[m]) and math.isnan(f[m])) for m in e)
        for e, f in zip(exact, fast, strict=True)
    )
    low = min(pvalues, key=pvalues.__getitem__)
    print(f"{path.stem}: {same}/{pairs} pairs identical; lowest p {pvalues[low]:.3g} ({low})")
    differ = {m: p for m, p in pvalues.items() if p < 0.01}
    assert not differ, f"{path.stem}: fast differs from exact (paired t): {differ}"
