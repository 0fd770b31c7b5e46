"""The exact semantics: enumeration against closed forms; measures and their distances."""
import math

import numpy as np
import pytest

import ppl
import semantics
from ppl import dist


def test_sprinkler_posterior_in_closed_form():
    @ppl.gen
    def sprinkler():
        rain = ppl.sample(dist.Bernoulli(0.2), "rain")
        on = ppl.sample(dist.Bernoulli(0.01 if rain else 0.4), "sprinkler")
        p_wet = {(1, 1): 0.99, (1, 0): 0.8, (0, 1): 0.9, (0, 0): 0.0}[(rain, on)]
        ppl.observe(dist.Bernoulli(p_wet), 1, "wet")
        return rain

    exact = semantics.enumerate(sprinkler)
    joint_rain = 0.2 * (0.01 * 0.99 + 0.99 * 0.8)
    z = joint_rain + 0.8 * 0.4 * 0.9
    assert exact.log_z == pytest.approx(math.log(z), abs=1e-12)
    assert exact.marginal("rain")[1] == pytest.approx(joint_rain / z, abs=1e-12)
    assert exact.retval.probabilities()[1] == pytest.approx(joint_rain / z, abs=1e-12)
    assert exact.expectation(lambda e: e.retval) == pytest.approx(joint_rain / z, abs=1e-12)
    assert exact.probability(lambda e: e["sprinkler"] == 1) == pytest.approx(
        (0.2 * 0.01 * 0.99 + 0.8 * 0.4 * 0.9) / z, abs=1e-12)


def test_binomial_sum_of_bernoullis():
    @ppl.gen
    def flips(n):
        return sum(ppl.sample(dist.Bernoulli(0.3), i) for i in range(n))

    exact = semantics.enumerate(flips, 4)
    binomial = semantics.enumerate(ppl.gen(lambda: ppl.sample(dist.Binomial(4, 0.3), "k")))
    assert semantics.total_variation(exact.retval, binomial.retval) < 1e-12
    assert len(exact.executions) == 16


def test_explore_gives_probabilities_that_sum_to_one():
    def algorithm(rng):
        a = rng.categorical([0.2, 0.8])
        return a + rng.categorical([0.5, 0.0, 0.5]) if a else a

    outcomes = list(semantics.explore(algorithm))
    assert len(outcomes) == 3  # the zero-probability outcome is never visited
    assert sum(math.exp(o.log_prob) for o in outcomes) == pytest.approx(1.0, abs=1e-15)


def test_measure_distances():
    p = semantics.FiniteMeasure([("a", math.log(0.5)), ("b", math.log(0.5))])
    q = semantics.FiniteMeasure([("a", math.log(0.25)), ("b", math.log(0.75))])
    assert semantics.total_variation(p, q) == pytest.approx(0.25)
    assert semantics.kl_divergence(p, q) == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(0.5 / 0.75))
    r = semantics.FiniteMeasure([("a", 0.0)])
    assert semantics.kl_divergence(p, r) == math.inf
    assert p.map(lambda o: o == "a").probabilities() == {True: 0.5, False: 0.5}


def test_exact_and_inference_marginals_are_the_same_kind_of_dict():
    """Value -> probability, most probable first, None where the choice was not made; arrays as tuples."""
    import inference

    @ppl.gen
    def branching():
        x = ppl.sample(dist.Categorical(probs=[0.2, 0.5, 0.3]), "x")
        if x == 2:
            ppl.sample(dist.Bernoulli(0.5), "y")
        ppl.sample(dist.Bernoulli(np.array([0.5, 0.5])), "pair")
        return x

    exact = semantics.enumerate(branching)
    approx = inference.importance(branching, particles=400, rng=0)
    for marginal in (exact.marginal("x"), approx.marginal("x"), exact.marginal("y"), approx.marginal("y"),
                     exact.marginal("pair"), approx.marginal("pair")):
        assert type(marginal) is dict and sum(marginal.values()) == pytest.approx(1.0)
        assert list(marginal.values()) == sorted(marginal.values(), reverse=True)
    assert list(exact.marginal("x")) == [1, 2, 0]
    assert exact.marginal("x") == pytest.approx({1: 0.5, 2: 0.3, 0: 0.2}, abs=1e-12)
    assert exact.marginal("y") == pytest.approx({None: 0.7, 0: 0.15, 1: 0.15}, abs=1e-12)
    assert set(exact.marginal("pair")) == set(approx.marginal("pair")) == {(0, 0), (0, 1), (1, 0), (1, 1)}
