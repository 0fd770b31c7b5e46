"""Bad input gets a clear error naming the address or argument; nothing silently becomes NaN."""
import math

import numpy as np
import pytest

import ppl
import semantics
from ppl import dist


def test_repeated_address():
    @ppl.gen
    def twice():
        ppl.sample(dist.Bernoulli(0.5), "x")
        ppl.sample(dist.Bernoulli(0.5), "x")

    with pytest.raises(ppl.AddressError, match="'x' is used twice"):
        twice.simulate(0)


def test_overlapping_addresses():
    @ppl.gen
    def overlap():
        ppl.sample(dist.Bernoulli(0.5), "x")
        ppl.sample(dist.Bernoulli(0.5), ("x", "y"))

    with pytest.raises(ppl.AddressError, match="overlaps"):
        overlap.simulate(0)


def test_observation_outside_support():
    @ppl.gen
    def program():
        ppl.observe(dist.Bernoulli(0.5), 3, "wet")

    with pytest.raises(ppl.SupportError, match="'wet'"):
        program.simulate(0)


def test_constraint_outside_support():
    @ppl.gen
    def program():
        return ppl.sample(dist.Poisson(2.0), "n")

    with pytest.raises(ppl.SupportError, match="-1"):
        program.generate(0, {"n": -1})


@pytest.mark.parametrize("make", [lambda: dist.Normal(0.0, float("nan")), lambda: dist.Bernoulli(float("nan")),
                                  lambda: dist.Normal(float("inf"), 1.0), lambda: dist.Beta(-1.0, 1.0)])
def test_non_finite_or_invalid_parameter(make):
    @ppl.gen
    def program():
        return ppl.sample(make(), "z")

    with pytest.raises(ValueError, match="parameter|invalid|not finite"):
        program.simulate(0)


def test_wrong_arguments_name_the_function():
    @ppl.gen
    def model(mu, sigma):
        return ppl.sample(dist.Normal(mu, sigma), "x")

    with pytest.raises(TypeError, match="model.*missing a required argument: 'sigma'"):
        model.simulate(0, 1.0)
    with pytest.raises(TypeError, match="too many"):
        model(1.0, 2.0, 3.0)


def test_misspelled_constraint_is_an_error():
    @ppl.gen
    def program():
        return ppl.sample(dist.Bernoulli(0.5), "rain")

    with pytest.raises(ppl.AddressError, match="'rian'"):
        program.generate(0, {"rian": 1})
    with pytest.raises(ppl.AddressError, match="'rain'"):
        program.assess({})


def test_statements_outside_a_generative_function():
    with pytest.raises(ppl.ModelError, match="outside a generative function"):
        ppl.sample(dist.Bernoulli(0.5), "x")


def test_factor_nan_is_an_error():
    @ppl.gen
    def program():
        ppl.factor(float("nan"))

    with pytest.raises(ppl.ModelError, match="NaN"):
        program.simulate(0)


def test_enumerate_rejects_infinite_programs():
    @ppl.gen
    def continuous():
        return ppl.sample(dist.Normal(0.0, 1.0), "z")

    with pytest.raises(ppl.NotFiniteError, match="continuous"):
        semantics.enumerate(continuous)

    @ppl.gen
    def unbounded():
        n = 0
        while ppl.sample(dist.Bernoulli(0.9), ("go", n)):
            n += 1
        return n

    with pytest.raises(ppl.NotFiniteError, match="draws"):
        semantics.enumerate(unbounded, max_draws=200)

    @ppl.gen
    def poisson():
        return ppl.sample(dist.Poisson(1.0), "n")

    with pytest.raises(ppl.NotFiniteError):
        semantics.enumerate(poisson)


def test_all_zero_posterior_is_a_clear_error_not_nan():
    @ppl.gen
    def impossible():
        x = ppl.sample(dist.Bernoulli(0.5), "x")
        ppl.condition(False)
        return x

    exact = semantics.enumerate(impossible)
    assert exact.log_z == -math.inf
    with pytest.raises(ppl.ModelError, match="probability 0"):
        exact.marginal("x")


def test_impossible_updates_weigh_minus_infinity_not_nan():
    @ppl.gen
    def emit(t, previous):
        x = ppl.sample(dist.Bernoulli(0.5), "x")
        ppl.observe(dist.Bernoulli(1.0 if x else 0.0), 1, "y")  # x = 0 is impossible
        return x

    chain = ppl.unfold(emit, 2)
    trace, _ = chain.generate(0, {(0, "x"): 1, (1, "x"): 1}, None)
    new, weight, _ = chain.update(0, trace, {(0, "x"): 0})
    assert new.score == -math.inf and weight == -math.inf
    _, generate_weight = chain.generate(0, {(0, "x"): 0}, None)
    assert generate_weight == -math.inf


def test_non_finite_twist_is_an_error():
    class Twisted(ppl.Model):
        def __init__(self):
            super().__init__()

        def step(self):
            self.twist(-math.inf)

    with pytest.raises(ppl.ModelError, match="twist"):
        Twisted().step_sync(ppl.rng(0))
