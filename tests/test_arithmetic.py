"""One home for shared arithmetic (issue 14, item 5): `simulator.arithmetic`.

Arrivals are counted once, as the model submits them: these tests run the model at the boundaries
(offset 0, a batch exactly at the horizon, offset at or beyond the horizon, `every` dividing the
horizon exactly, `every` that is not a binary fraction, listed times at the horizon) and compare
the number of tasks it really submits with `arrivals_before`, the function the warnings, the size
guards and the estimates use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from builders import make_scenario

from simulator import arithmetic
from simulator.model import simulate
from simulator.scenario.schema import Exponential, Fixed, Lognormal, Periodic, Uniform
from simulator.seeds import Streams

QUIET = {"simulation": {"check_invariants": False}, "fleet": [{"runners": 1, "threads": 1}]}


def _submitted(duration: float, arrivals: dict[str, Any], invariants: bool = False) -> int:
    """The tasks the model submits in a run of `duration` seconds with these arrivals."""
    scenario = make_scenario(
        duration=duration, simulation={"check_invariants": invariants},
        fleet=[{"runners": 1, "threads": 1}],
        workload=[{"arrivals": arrivals, "duration": {"dist": "fixed", "value": 1}}],
    )  # fmt: skip
    return len(simulate(scenario, Streams.from_seed(1, 0)).log.tasks)


PERIODIC = [
    # (duration, every, offset, batch): the boundary each one tests
    (3600, 300, 0, 1),  # offset 0, every divides the horizon: the batch at 3600 is not submitted
    (3600, 300, 0, 3),  # batches of 3
    (3600, 300, 100, 1),  # an offset
    (3600, 300, 3600, 2),  # offset exactly at the horizon: nothing
    (3600, 300, 5000, 2),  # offset beyond the horizon: nothing
    (3600, 7200, 0, 1),  # a period longer than the run: one batch, at 0
    (3600, 7200, 3599, 1),  # ... or one just before the end
    (3600, 3600, 0, 1),  # every equal to the horizon
    (1.0, 0.1, 0, 1),  # every not a binary fraction: the clock's sums, not 10 x 0.1
    (3.0, 0.3, 0, 1),
    (100.0, 0.7, 0.3, 1),
    (3600, 1, 0, 1),  # many batches
]


@pytest.mark.parametrize(("duration", "every", "offset", "batch"), PERIODIC)
@pytest.mark.parametrize("invariants", [False, True])
def test_periodic_arrivals_are_counted_as_the_model_submits_them(
    duration: float, every: float, offset: float, batch: int, invariants: bool
) -> None:
    arrivals = {"kind": "periodic", "every": every, "offset": offset, "batch": batch}
    model = _submitted(duration, arrivals, invariants)
    spec = Periodic.model_validate(arrivals)
    assert arithmetic.arrivals_before(spec, duration) == model
    assert float(arithmetic.submitted_before(spec, np.array([duration]))[0]) == model
    assert arithmetic.arrival_rate(spec, duration) == model / duration


def test_the_clock_adds_up_past_a_product() -> None:
    """0.1 added ten times is 0.9999999999999999 < 1.0: the model submits an eleventh task."""
    spec = Periodic.model_validate({"kind": "periodic", "every": 0.1})
    assert math.ceil(1.0 / 0.1) == 10
    assert arithmetic.arrivals_before(spec, 1.0) == _submitted(1.0, spec.model_dump()) == 11


@pytest.mark.parametrize("times", [[0.0, 10.0, 3600.0], [0.0, 0.0, 5.0], [3599.5, 3600.0, 4000.0],
                                   [0.1, 0.30000000000000004, 0.3]])  # fmt: skip
def test_listed_arrivals_at_the_horizon_are_not_submitted(times: list[float]) -> None:
    from simulator.scenario.schema import Explicit

    arrivals = {"kind": "times", "times": times}
    model = _submitted(3600, arrivals)
    assert arithmetic.arrivals_before(Explicit.model_validate(arrivals), 3600) == model


def test_submitted_before_at_many_horizons() -> None:
    spec = Periodic.model_validate({"kind": "periodic", "every": 300, "offset": 100, "batch": 2})
    h = np.array([-5.0, 0.0, 100.0, 100.5, 400.0, 401.0, 3600.0])
    assert arithmetic.submitted_before(spec, h).tolist() == [0, 0, 0, 2, 2, 4, 24]


@pytest.mark.parametrize("spec", [
    Fixed(dist="fixed", value=5.0), Exponential(dist="exponential", mean=5.0),
    Lognormal(dist="lognormal", median=5.0, p95=20.0), Uniform(dist="uniform", low=1.0, high=9.0),
])  # fmt: skip
def test_one_survival(spec: Any) -> None:
    """The scalar (no SciPy) and array survivals agree; the mean and quantiles are consistent."""
    for x in (0.0, 2.0, 5.0, 12.0):
        assert arithmetic.share_above(spec, x) == pytest.approx(float(arithmetic.survival(spec, x)),
                                                                abs=1e-12)  # fmt: skip
    if not isinstance(spec, Fixed):
        median = arithmetic.quantile(spec, 0.5)
        assert float(arithmetic.survival(spec, median)) == pytest.approx(0.5)
    values, weights = arithmetic.nodes(spec, 4096)
    assert float(np.sum(values * weights)) == pytest.approx(arithmetic.mean(spec), rel=0.01)


def test_the_sampler_draws_with_the_shared_lognormal_sigma() -> None:
    from simulator.distributions import batch_function

    spec = Lognormal(dist="lognormal", median=5.0, p95=20.0)
    fn = batch_function(spec)
    assert fn is not None
    draws = fn(np.random.default_rng(0), 1)
    sigma = arithmetic.lognormal_sigma(spec)
    expected = np.random.default_rng(0).lognormal(math.log(5.0), sigma, 1)
    assert draws.tolist() == expected.tolist()


@pytest.mark.parametrize(("duration", "every", "offset", "batch"), PERIODIC)
def test_the_warnings_and_the_size_guards_count_as_the_model(
    duration: float, every: float, offset: float, batch: int
) -> None:
    from simulator.experiments.run_cost import _arrivals  # the size guards' estimate
    from simulator.scenario.rates import arrival_rate

    arrivals = {"kind": "periodic", "every": every, "offset": offset, "batch": batch}
    model = _submitted(duration, arrivals)
    workload = make_scenario(workload=[{"arrivals": arrivals}]).workload[0]
    assert arrival_rate(workload, duration) * duration == pytest.approx(model, abs=1e-9)
    assert _arrivals(workload.arrivals, duration, 1.0)[0] == model
