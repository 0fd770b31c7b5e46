"""Importance sampling and SIR: the Result vocabulary, custom proposals, dead populations, bad input,
and statistical checks on conjugate models with continuous latents (Hoeffding bounds, fixed seeds).
The exact proper-weighting checks by enumeration live in test_exact_validation_smc.py."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import ppl
from inference.importance import importance, sir
from ppl import dist

DELTA = 1e-6  # false-alarm rate of each statistical check


@ppl.gen
def sprinkler():
    rain = ppl.sample(dist.Bernoulli(0.2), "rain")
    sprinkler_on = ppl.sample(dist.Bernoulli(0.01 if rain else 0.4), "sprinkler")
    p_wet = {(1, 1): 0.99, (1, 0): 0.8, (0, 1): 0.9, (0, 0): 0.0}[(int(rain), int(sprinkler_on))]
    ppl.observe(dist.Bernoulli(p_wet), 1, "wet")
    return rain


def test_result_vocabulary_on_the_sprinkler():
    result = importance(sprinkler, particles=300, rng=1)
    assert len(result.particles) == 300 and result.weights.dtype == np.float64
    assert abs(result.weights.sum() - 1) < 1e-12 and 1 <= result.ess <= 300
    live = result.log_weights[result.log_weights > -math.inf]
    assert abs(result.log_ml - (np.log(np.exp(live).sum()) - math.log(300))) < 1e-12
    marginal = result.marginal("rain")
    assert set(marginal) <= {0, 1} and abs(sum(marginal.values()) - 1) < 1e-12
    assert abs(result.expectation(lambda tr: tr["rain"]) - marginal.get(1, 0.0)) < 1e-12
    samples = result.samples  # grouped by return value, most probable first
    assert [s.value for s in samples] == sorted(marginal, key=lambda v: -marginal[v])
    assert all(abs(s.probability - marginal[s.value]) < 1e-12 for s in samples)
    assert result.marginal("no_such_address") == {None: pytest.approx(1.0)}
    assert result.message == ""
    assert importance(sprinkler, particles=300, rng=1).log_ml == result.log_ml  # same seed, same estimate


def test_sir_keeps_the_estimate_and_equalizes_weights():
    weighted = importance(sprinkler, particles=200, rng=5)
    resampled = sir(sprinkler, particles=200, samples=50, rng=5)
    assert resampled.log_ml == weighted.log_ml
    assert len(resampled.particles) == 50 and np.allclose(resampled.weights, 1 / 50)
    assert all(p.trace.score > -math.inf for p in resampled.particles)


@ppl.gen
def impossible():
    x = ppl.sample(dist.Bernoulli(0.5), "x")
    ppl.condition(x > 5)
    return x


def test_all_particles_dead_is_a_result_not_a_crash():
    for result in (importance(impossible, particles=5, rng=0), sir(impossible, particles=5, rng=0)):
        assert result.log_ml == -math.inf and result.ess == 0.0
        assert not np.isnan(result.weights).any() and not result.weights.any()
        assert "all particles have weight zero" in result.message
        assert result.samples == [] and result.marginal("x") == {}
        with pytest.raises(ValueError, match="no posterior expectation: all particles have weight zero"):
            result.expectation(lambda tr: tr["x"])


@ppl.gen
def two_latents():
    a = ppl.sample(dist.Bernoulli(0.3), "a")
    b = ppl.sample(dist.Bernoulli(0.6), "b")
    ppl.observe(dist.Bernoulli(0.9 if a == b else 0.2), 1, "c")
    return a + b


def test_a_proposal_address_the_model_lacks_is_named():
    @ppl.gen
    def misspelled():
        ppl.sample(dist.Bernoulli(0.5), "a")
        ppl.sample(dist.Bernoulli(0.5), "z")

    with pytest.raises(ppl.AddressError, match=r"proposal .*misspelled proposes a choice that the model two_latents does not make.*'z'"):
        importance(two_latents, particles=3, proposal=misspelled, rng=0)


def test_a_proposal_outside_the_model_support_gives_weight_zero():
    @ppl.gen
    def positive():
        rate = ppl.sample(dist.Exponential(1.0), "rate")
        ppl.observe(dist.Poisson(rate), 3, "count")

    @ppl.gen
    def wide():
        ppl.sample(dist.Normal(0.5, 1.0), "rate")

    result = importance(positive, particles=200, proposal=wide, rng=0)
    dead = [p for p in result.particles if p.log_weight == -math.inf]
    assert 0 < len(dead) < 200 and all(p.trace is None for p in dead)
    assert np.isfinite(result.log_ml) and result.expectation(lambda tr: tr["rate"]) > 0


def test_the_exact_posterior_as_proposal_gives_constant_weights():
    # Normal-Normal: mu ~ N(0, 1), y ~ N(mu, 0.5), y = 0.8. Posterior N(0.64, sqrt(0.2)); Z = N(0.8; 0, sqrt(1.25)).
    @ppl.gen
    def normal_normal():
        mu = ppl.sample(dist.Normal(0.0, 1.0), "mu")
        ppl.observe(dist.Normal(mu, 0.5), 0.8, "y")
        return mu

    @ppl.gen
    def posterior():
        ppl.sample(dist.Normal(0.64, math.sqrt(0.2)), "mu")

    result = importance(normal_normal, particles=20, proposal=posterior, rng=3)
    log_z = stats.norm(0.0, math.sqrt(1.25)).logpdf(0.8)
    np.testing.assert_allclose(result.log_weights, log_z, rtol=0, atol=1e-9)
    assert abs(result.log_ml - log_z) < 1e-9 and abs(result.ess - 20) < 1e-9


BETA_PRIOR = dist.Beta(2.0, 2.0)


@ppl.gen
def beta_bernoulli():
    theta = ppl.sample(BETA_PRIOR, "theta")
    ppl.factor(2 * math.log(theta) + math.log1p(-theta))  # observations 1, 1, 0 of Bernoulli(theta)
    return theta


def test_importance_on_beta_bernoulli_within_hoeffding_bounds():
    # Weights w = theta^2 (1 - theta) lie in [0, 4/27] and theta * w in [0, 27/256]; each mean is within
    # range * sqrt(log(4 / delta) / (2 N)) of its expectation with probability 1 - delta / 2.
    n = 4000
    result = importance(beta_bernoulli, particles=n, rng=11)
    z = 0.1  # B(4, 3) / B(2, 2)
    a = z * 4 / 7  # E_prior[theta w] = Z E[theta | y], posterior Beta(4, 3)
    spread = math.sqrt(math.log(4 / DELTA) / (2 * n))
    eps_z, eps_a = 4 / 27 * spread, 27 / 256 * spread
    z_hat = math.exp(result.log_ml)
    assert abs(z_hat - z) <= eps_z
    mean = result.expectation(lambda tr: tr["theta"])
    assert (a - eps_a) / (z + eps_z) <= mean <= (a + eps_a) / (z - eps_z)


@pytest.mark.parametrize("particles, error, message", [
    (0, ValueError, "particles must be >= 1, got 0"),
    (-3, ValueError, "particles must be >= 1, got -3"),
    (2.5, TypeError, "particles must be an int >= 1, got 2.5"),
    (True, TypeError, "particles must be an int >= 1, got True"),
])
def test_bad_particle_counts(particles, error, message):
    with pytest.raises(error, match=message):
        importance(sprinkler, particles=particles)
    with pytest.raises(error, match=message):
        sir(sprinkler, particles=particles)


def test_bad_models_proposals_and_schemes():
    with pytest.raises(TypeError, match="importance needs a generative function"):
        importance(lambda: 0, particles=3)
    with pytest.raises(TypeError, match="importance: proposal needs a generative function"):
        importance(sprinkler, particles=3, proposal="prior")
    with pytest.raises(ValueError, match="unknown resampling scheme 'stratify'"):
        sir(sprinkler, particles=3, resampling="stratify")
    with pytest.raises(ValueError, match="samples must be >= 1"):
        sir(sprinkler, particles=3, samples=0)

    class Walk(ppl.Model):
        def step(self):
            self.finish()

    with pytest.raises(TypeError, match="custom proposal needs a generative function"):
        importance(Walk(), particles=2, proposal=sprinkler)
