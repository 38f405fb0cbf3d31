"""Input modelling: the distribution of task work and the arrival process, fitted with scipy.stats.

Work: lognormal and exponential by maximum likelihood (`scipy.stats.lognorm.fit`,
`expon.fit`, location 0), and the empirical distribution. Each candidate reports its parameters,
median and 95th percentile with 95% confidence intervals, the Kolmogorov-Smirnov distance
(`kstest`) and the Anderson-Darling test with estimated parameters (`scipy.stats.anderson`,
whose p-values allow for the estimation: on log(work) against the normal for the
lognormal, on work against the exponential). The choice: the parametric candidates the AD test
does not reject at 5%, the lower AIC among them; when it rejects both, the empirical
distribution.

Intervals (exact, from scipy.stats distributions): lognormal mu by Student t, sigma by chi-square,
its p95 exp(mu + z sigma) by the noncentral t (the one-sided tolerance factor); exponential mean by
chi-square (2 n mean / theta ~ chi2(2n)); empirical quantiles by `scipy.stats.quantile_test`
(order statistics, distribution-free).

Arrivals: the rate of a homogeneous Poisson process, n / T over the record's window, with the
exact (Garwood, chi-square) interval; dispersion test of the counts in equal bins (index of
dispersion (k - 1) s^2 / mean ~ chi2(k - 1), two-sided): is a Poisson process plausible?
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from simulator.calibration.measures import attempt_work
from simulator.calibration.observed import Observed, submission_times

Z95 = float(stats.norm.ppf(0.95))
ALPHA = 0.05


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high


@dataclass
class Candidate:
    """One fitted distribution of the work."""

    name: str  # lognormal | exponential | empirical
    parameters: dict[str, Interval]
    median: Interval
    p95: Interval
    ks: float  # Kolmogorov-Smirnov distance to the data
    ks_pvalue: float  # its p-value as if the parameters were known (optimistic)
    ad: float | None = None  # Anderson-Darling statistic (None for the empirical)
    ad_pvalue: float | None = None  # its p-value, parameters estimated (scipy's tables)
    aic: float | None = None
    frozen: object | None = None  # a scipy.stats frozen distribution (parametric candidates)

    @property
    def rejected(self) -> bool:
        return self.ad_pvalue is not None and self.ad_pvalue < ALPHA

    def test_text(self) -> str:
        if self.ad is None:
            return "the data itself (KS 0)"
        verdict = "rejected" if self.rejected else "not rejected"
        return (
            f"Anderson-Darling A2 = {self.ad:.3g}, p = {self.ad_pvalue:.2g}: {verdict} at 5%; "
            f"KS D = {self.ks:.3g}"
        )


@dataclass
class WorkFit:
    """The candidates for one workload's work, the chosen one and why."""

    n: int
    candidates: list[Candidate]
    chosen: Candidate
    reason: str
    data: np.ndarray = field(repr=False)

    def candidate(self, name: str) -> Candidate:
        return next(c for c in self.candidates if c.name == name)

    def spec(self) -> dict[str, object]:
        """The chosen distribution as a scenario field (seconds); the empirical one as values
        that `save_scenario` writes to a CSV file beside the scenario."""
        c = self.chosen
        if c.name == "lognormal":
            return {
                "dist": "lognormal",
                "median": _round(c.median.value),
                "p95": _round(c.p95.value),
            }
        if c.name == "exponential":
            return {"dist": "exponential", "mean": _round(c.parameters["mean"].value)}
        return {
            "dist": "empirical",
            "file": "work.csv",
            "column": "work_s",
            "values": [float(x) for x in np.sort(self.data)],
        }


@dataclass
class ArrivalFit:
    """The arrival rate (per second) with its interval and the dispersion test."""

    n: int
    window: float  # seconds
    rate: Interval
    bin_seconds: float
    bins: int
    dispersion: float  # index of dispersion: variance / mean of the bin counts
    dispersion_pvalue: float  # two-sided, chi-square with bins - 1 degrees of freedom
    hourly: list[float]  # mean rate (per second) by hour of day (NaN: no time in that hour)
    warnings: list[str] = field(default_factory=list)

    @property
    def poisson_plausible(self) -> bool:
        return not self.dispersion_pvalue < ALPHA

    def spec(self) -> dict[str, object]:
        return {"kind": "poisson", "rate": f"{_round(self.rate.value * 3600.0, 4)}/h"}


def _round(x: float, digits: int = 4) -> float:
    """x to `digits` significant digits (a scenario field a reader can take in)."""
    if x == 0 or not math.isfinite(x):
        return x
    return float(f"{x:.{digits}g}")


def finished_work(observed: Observed) -> np.ndarray:
    """The work of the attempts that finished (work_ended_at - work_started_at, else ended_at -
    assigned_at), positive values only."""
    att = observed.attempts
    work = attempt_work(att)[(att["outcome"] == "finished").to_numpy()]
    return work[np.isfinite(work) & (work > 0)]


def fit_work(x: np.ndarray, confidence: float = 0.95) -> WorkFit:
    """Lognormal, exponential and empirical fits of the work sample `x` (seconds)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    if n < 3:
        raise ValueError(f"{n} finished attempts: a fit needs at least 3")
    a = 1.0 - confidence
    cands = [_lognormal(x, a), _exponential(x, a), _empirical(x, a)]
    ok = [c for c in cands[:2] if not c.rejected]
    if ok:
        best = min(ok, key=lambda c: c.aic if c.aic is not None else math.inf)
        other = [c for c in cands[:2] if c is not best]
        why = f"{best.name}: the Anderson-Darling test does not reject it at 5%" + (
            f" and its AIC ({best.aic:.1f}) is lower than the {other[0].name}'s "
            f"({other[0].aic:.1f})"
            if other and other[0] in ok
            else f", while it rejects the {other[0].name}"
            if other
            else ""
        )
    else:
        best = cands[2]
        why = (
            "empirical: the Anderson-Darling test rejects both the lognormal and the "
            "exponential at 5%, so the scenario resamples the recorded work"
        )
    return WorkFit(n, cands, best, why, np.sort(x))


def _lognormal(x: np.ndarray, a: float) -> Candidate:
    s, _, scale = stats.lognorm.fit(x, floc=0)
    y = np.log(x)
    n = len(y)
    mu, sd = float(y.mean()), float(y.std(ddof=1))
    t = stats.t.ppf(1 - a / 2, n - 1)
    mu_ci = (mu - t * sd / math.sqrt(n), mu + t * sd / math.sqrt(n))
    sig_ci = (
        sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - a / 2, n - 1)),
        sd * math.sqrt((n - 1) / stats.chi2.ppf(a / 2, n - 1)),
    )
    # mu + z sigma: x-bar + k s with k from the noncentral t (exact for normal samples).
    nc = Z95 * math.sqrt(n)
    k_low = stats.nct.ppf(a / 2, n - 1, nc) / math.sqrt(n)
    k_high = stats.nct.ppf(1 - a / 2, n - 1, nc) / math.sqrt(n)
    frozen = stats.lognorm(s, 0, scale)
    ks = stats.kstest(x, frozen.cdf)
    ad = stats.anderson(y, "norm", method="interpolate")
    loglik = float(np.sum(frozen.logpdf(x)))
    return Candidate(
        "lognormal",
        {"mu (log s)": Interval(math.log(scale), *mu_ci), "sigma": Interval(s, *sig_ci)},
        Interval(scale, math.exp(mu_ci[0]), math.exp(mu_ci[1])),
        Interval(float(frozen.ppf(0.95)), math.exp(mu + k_low * sd), math.exp(mu + k_high * sd)),
        float(ks.statistic),
        float(ks.pvalue),
        float(ad.statistic),
        float(ad.pvalue),
        4.0 - 2.0 * loglik,
        frozen,
    )


def _exponential(x: np.ndarray, a: float) -> Candidate:
    _, scale = stats.expon.fit(x, floc=0)
    n = len(x)
    low = 2 * n * scale / stats.chi2.ppf(1 - a / 2, 2 * n)
    high = 2 * n * scale / stats.chi2.ppf(a / 2, 2 * n)
    frozen = stats.expon(0, scale)
    ks = stats.kstest(x, frozen.cdf)
    ad = stats.anderson(x, "expon", method="interpolate")
    loglik = float(np.sum(frozen.logpdf(x)))
    ln2, ln20 = math.log(2.0), math.log(20.0)
    return Candidate(
        "exponential",
        {"mean": Interval(scale, low, high)},
        Interval(scale * ln2, low * ln2, high * ln2),
        Interval(scale * ln20, low * ln20, high * ln20),
        float(ks.statistic),
        float(ks.pvalue),
        float(ad.statistic),
        float(ad.pvalue),
        2.0 - 2.0 * loglik,
        frozen,
    )


def _empirical(x: np.ndarray, a: float) -> Candidate:
    def quantile(p: float) -> Interval:
        ci = stats.quantile_test(x, q=float(np.quantile(x, p)), p=p).confidence_interval(1 - a)
        low = float(ci.low) if math.isfinite(ci.low) else float(x.min())
        high = float(ci.high) if math.isfinite(ci.high) else float(x.max())
        return Interval(float(np.quantile(x, p)), low, high)

    return Candidate(
        "empirical",
        {"values": Interval(len(x), len(x), len(x))},
        quantile(0.5),
        quantile(0.95),
        0.0,
        1.0,
    )


def fit_arrivals(observed: Observed, confidence: float = 0.95) -> ArrivalFit:
    """Constant Poisson rate over the record's window, with a dispersion test of its counts."""
    times = np.sort(submission_times(observed))
    times = times[np.isfinite(times)]
    n = len(times)
    if n < 3:
        raise ValueError(f"{n} submissions: a rate needs at least 3")
    # The window runs from the first submission to the last recorded time; the first submission
    # opens it, so n - 1 arrivals fall inside it.
    start = float(times[0])
    window = max(observed.end - start, float(times[-1] - start))
    a = 1.0 - confidence
    if window <= 0:
        raise ValueError(f"{n} submissions at one instant: no rate can be fitted")
    count = n - 1
    low = stats.chi2.ppf(a / 2, 2 * count) / 2 / window if count else 0.0
    high = stats.chi2.ppf(1 - a / 2, 2 * (count + 1)) / 2 / window
    # Bins: an hour when the window holds 10 hours or more, else a tenth of the window.
    width = 3600.0 if window >= 36000.0 else window / 10.0
    k = max(int(window // width), 2)
    counts, _ = np.histogram(times, bins=k, range=(start, start + k * width))
    mean = counts.mean()
    disp = float(counts.var(ddof=1) / mean) if mean > 0 else float("nan")
    stat = (k - 1) * disp
    cdf = stats.chi2.cdf(stat, k - 1)
    p = float(min(1.0, 2 * min(cdf, 1 - cdf)))
    hour = ((times - start) // 3600.0).astype(int) % 24
    covered = np.bincount((np.arange(int(window // 3600.0)) % 24), minlength=24).astype(float)
    by_hour = np.bincount(hour, minlength=24).astype(float)
    hourly = [
        float(c / (h * 3600.0)) if h > 0 else float("nan")
        for c, h in zip(by_hour, covered, strict=True)
    ]
    fit = ArrivalFit(
        n, window, Interval(count / window, float(low), float(high)), width, k, disp, p, hourly
    )
    if p < ALPHA:
        shape = "over" if disp > 1 else "under"
        more = (
            " An hourly profile (kind: profile) would describe it, but the model has no "
            "arrival profiles yet (issue 16): the fitted scenario uses the best constant rate."
            if disp > 1
            else ""
        )
        fit.warnings.append(
            f"arrivals are {shape}dispersed (index of dispersion {disp:.2f} over {k} bins of "
            f"{width / 60:g} min, p = {p:.2g}): a Poisson process at a constant rate is not "
            f"plausible.{more}"
        )
    return fit
