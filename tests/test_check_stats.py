"""The statistics of `leasesim check`: expectation verdicts, equivalence tests (TOST, Welch) and
the looks. Checked against scipy's own Welch test and against exact cases; no simulation runs.

The slow tests measure the error rates of the designs on synthetic normal data, where the truth
is known, and compare them with their nominal levels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from simulator.check.equivalence import DIFFERENT, EQUIVALENT, tost, welch
from simulator.check.expect import FAIL, INCONCLUSIVE, PASS, Interval, judge
from simulator.check.plan import ALPHA, looks
from simulator.scenario.expect import Bound


def bound(**spec: object) -> Bound:
    return Bound.model_validate(spec)


# --- expectations ---------------------------------------------------------------------------------


def test_interval_is_the_student_t_interval_of_the_mean() -> None:
    x = [1.0, 2.0, 4.0, 7.0]
    got = Interval.of(x, 0.95)
    half = stats.t.ppf(0.975, 3) * np.std(x, ddof=1) / 2
    assert got.mean == pytest.approx(3.5)
    assert (got.low, got.high) == pytest.approx((3.5 - half, 3.5 + half))
    assert got.n == 4


def test_pass_and_fail_need_the_whole_interval() -> None:
    x = [0.010, 0.012, 0.011, 0.013, 0.009]  # mean 0.011, 95% interval about [0.009, 0.013]
    assert judge("m", bound(max=0.02), x, 0.95).verdict == PASS
    assert judge("m", bound(max=0.005), x, 0.95).verdict == FAIL
    assert judge("m", bound(min=0.005), x, 0.95).verdict == PASS
    assert judge("m", bound(min=0.02), x, 0.95).verdict == FAIL
    assert judge("m", bound(between=[0.005, 0.02]), x, 0.95).verdict == PASS
    assert judge("m", bound(between=[0.02, 0.03]), x, 0.95).verdict == FAIL


@pytest.mark.parametrize("spec", [{"max": 0.011}, {"min": 0.011}, {"between": [0.0105, 0.02]},
                                  {"equals": 0.011}])  # fmt: skip
def test_an_interval_straddling_the_bound_is_inconclusive_not_pass(spec: dict) -> None:
    # The mean sits on (or just inside) the bound: most of the data satisfies it, but the
    # interval reaches past it, so the check cannot say.
    x = [0.010, 0.012, 0.011, 0.013, 0.009]
    verdict = judge("m", bound(**spec), x, 0.95)
    assert verdict.verdict == INCONCLUSIVE
    assert "straddles" in verdict.reason


def test_equals_passes_only_when_every_replication_has_the_value() -> None:
    assert judge("m", bound(equals=0), [0.0] * 5, 0.95).verdict == PASS
    assert judge("m", bound(equals=0.1), [0.1] * 3, 0.95).verdict == PASS  # no rounding of 0.1
    assert judge("m", bound(equals=0), [0.0, 0.0, 1.0, 0.0], 0.95).verdict == INCONCLUSIVE
    assert judge("m", bound(equals=0), [3.0, 4.0, 5.0], 0.95).verdict == FAIL


def test_no_interval_is_inconclusive() -> None:
    assert judge("m", bound(max=1), [0.5], 0.95).verdict == INCONCLUSIVE
    assert judge("m", bound(max=1), [math.nan, math.nan], 0.95).verdict == INCONCLUSIVE
    assert judge("m", bound(max=1), [math.nan, 0.2, 0.4], 0.95).observed.n == 2  # NaN left out


# --- equivalence ----------------------------------------------------------------------------------


def test_tost_p_values_are_scipys_welch_tests_shifted_by_the_margin() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        c = rng.normal(10, 2, size=int(rng.integers(3, 15)))
        b = rng.normal(10.5, 1, size=int(rng.integers(3, 15)))
        margin = float(rng.uniform(0.1, 3))
        got = tost("m", c, b, margin, 0.05)
        lower = stats.ttest_ind(c + margin, b, equal_var=False, alternative="greater").pvalue
        upper = stats.ttest_ind(c - margin, b, equal_var=False, alternative="less").pvalue
        assert got.p_value == pytest.approx(max(lower, upper), rel=1e-9)
        # Equivalent exactly when both one-sided tests reject: the TOST rule.
        assert (got.verdict == EQUIVALENT) == (got.p_value <= 0.05)


def test_welch_degrees_of_freedom() -> None:
    c, b = np.array([1.0, 2.0, 3.0, 5.0]), np.array([2.0, 2.5, 2.2])
    d, se, df = welch(c, b)
    vc, vb = c.var(ddof=1) / 4, b.var(ddof=1) / 3
    assert d == pytest.approx(c.mean() - b.mean())
    assert se == pytest.approx(math.sqrt(vc + vb))
    assert df == pytest.approx((vc + vb) ** 2 / (vc**2 / 3 + vb**2 / 2))


def test_interval_of_the_difference_has_level_one_minus_two_alpha() -> None:
    c, b = np.array([5.0, 6.0, 7.0, 6.5, 5.5]), np.array([5.2, 5.9, 6.1, 6.3])
    got = tost("m", c, b, 10.0, 0.05)
    d, se, df = welch(c, b)
    t = stats.t.ppf(0.95, df)
    assert (got.low, got.high) == pytest.approx((d - t * se, d + t * se))
    assert got.confidence == pytest.approx(0.90)


def test_verdicts_of_constant_and_missing_samples() -> None:
    assert tost("m", [0.0] * 4, [0.0] * 6, 0.0, 0.05).verdict == EQUIVALENT
    assert tost("m", [1.0] * 4, [0.0] * 6, 0.5, 0.05).verdict == DIFFERENT
    assert tost("m", [1.0] * 4, [0.0] * 6, 1.0, 0.05).verdict == EQUIVALENT  # closed margin
    assert tost("m", [math.nan] * 3, [math.nan] * 3, 0.1, 0.05).verdict == EQUIVALENT
    assert tost("m", [math.nan] * 3, [1.0, 2.0], 0.1, 0.05).verdict == INCONCLUSIVE
    assert tost("m", [1.0], [1.0, 2.0], 0.1, 0.05).verdict == INCONCLUSIVE


def test_different_needs_the_interval_beyond_the_margin() -> None:
    b = np.array([10.0, 10.2, 9.8, 10.1, 9.9])
    assert tost("m", b + 5, b, 1.0, 0.05).verdict == DIFFERENT
    assert tost("m", b - 5, b, 1.0, 0.05).verdict == DIFFERENT
    assert tost("m", b + 1, b, 1.0, 0.05).verdict == INCONCLUSIVE  # the interval straddles +1


# --- looks ----------------------------------------------------------------------------------------


def test_looks_double_up_to_the_cap() -> None:
    assert looks(5, 30) == (5, 10, 20, 30)
    assert looks(6, 12) == (6, 12)
    assert looks(5, 5) == (5,)
    assert looks(3, 4) == (3, 4)


# --- error rates of the designs (synthetic data, known truth) -------------------------------------


def _sequential(sample: np.ndarray, schedule: tuple[int, ...], decide) -> str:  # type: ignore[no-untyped-def]
    """The verdict of a sequential check: look at each count until a verdict is reached."""
    verdict = INCONCLUSIVE
    for n in schedule:
        verdict = decide(sample[:n])
        if verdict != INCONCLUSIVE:
            return verdict
    return verdict


@pytest.mark.slow
def test_a_mean_on_the_bound_passes_at_most_half_alpha_of_the_time() -> None:
    # True mean exactly at the bound: a pass is an error. Each side of the interval errs with
    # probability at most alpha/2 = 2.5% over all looks (Bonferroni), however the check stops.
    rng = np.random.default_rng(2024)
    schedule = looks(5, 40)
    level = 1 - ALPHA / len(schedule)
    trials = 4000
    passes = sum(
        _sequential(rng.normal(1.0, 1.0, 40), schedule,
                    lambda x: judge("m", bound(max=1.0), x, level).verdict) == PASS
        for _ in range(trials)
    )  # fmt: skip
    rate = passes / trials
    # 2.5% nominal; four standard errors of the estimate above it would still be a failure.
    assert rate <= 0.025 + 4 * math.sqrt(0.025 * 0.975 / trials)


@pytest.mark.slow
def test_tost_calls_a_change_of_one_margin_equivalent_at_most_alpha_of_the_time() -> None:
    rng = np.random.default_rng(77)
    schedule = looks(5, 40)
    alpha = ALPHA / len(schedule)
    trials = 3000
    baseline = [rng.normal(0.0, 1.0, 40) for _ in range(trials)]
    wrong = sum(
        _sequential(rng.normal(1.0, 1.0, 40), schedule,
                    lambda x, b=b: tost("m", x, b, 1.0, alpha).verdict) == EQUIVALENT
        for b in baseline
    )  # fmt: skip
    assert wrong / trials <= ALPHA + 4 * math.sqrt(ALPHA * (1 - ALPHA) / trials)
