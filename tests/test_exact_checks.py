"""The one-call exact checks pass on correct algorithms and name a counterexample on broken ones."""
import math

import pytest

import inference
import ppl
import semantics
from inference import Particle, Result
from ppl import dist


@ppl.gen
def sprinkler():
    rain = ppl.sample(dist.Bernoulli(0.2), "rain")
    on = ppl.sample(dist.Bernoulli(0.01 if rain else 0.4), "sprinkler")
    ppl.observe(dist.Bernoulli({(1, 1): 0.99, (1, 0): 0.8, (0, 1): 0.9, (0, 0): 0.0}[(rain, on)]), 1, "wet")
    return rain


def unweighted_importance(rng, particles=2):
    """Importance sampling that forgets the weights: prior samples, each with weight 1/N, the right Z_hat."""
    traces = [sprinkler.simulate(rng) for _ in range(particles)]
    z_hat = sum(math.exp(t.score - t.choice_score) for t in traces) / particles
    if z_hat == 0:
        return Result([Particle(t, -math.inf) for t in traces], -math.inf)
    return Result([Particle(t, 0.0) for t in traces], math.log(z_hat))


def test_importance_is_properly_weighted_and_unbiased():
    report = semantics.check_proper_weighting(lambda rng: inference.importance(sprinkler, particles=2, rng=rng), sprinkler)
    assert report.outcomes == 4 ** 2 and report.expected_z == pytest.approx(report.z, abs=1e-12)
    z = semantics.check_unbiased(lambda rng: inference.importance(sprinkler, particles=3, rng=rng), sprinkler)
    assert z == pytest.approx(math.exp(semantics.enumerate(sprinkler).log_z), abs=1e-12)


def test_forgotten_weights_are_named_with_the_worst_choice():
    # Z_hat is still unbiased; the weighted measure is the prior's, not the posterior's.
    semantics.check_unbiased(unweighted_importance, sprinkler)
    with pytest.raises(semantics.CheckFailed, match=r"not properly weighted: for ChoiceMap\(\{'rain': \d, 'sprinkler': \d\}\), "
                                                    r"E\[Z_hat \* sum_i W_i 1\{x_i = x\}\] = .* but the target p\(x, y\) = "):
        semantics.check_proper_weighting(unweighted_importance, sprinkler)


def test_a_biased_estimator_is_named_with_its_largest_terms():
    def geometric_mean(rng):  # exp(mean log w): biased low (Jensen)
        traces = [sprinkler.simulate(rng) for _ in range(2)]
        return math.exp(sum(t.score - t.choice_score for t in traces) / 2)

    with pytest.raises(semantics.CheckFailed, match=r"biased: E\[Z_hat\] = .* but Z = .*largest terms: Z_hat = "):
        semantics.check_unbiased(geometric_mean, sprinkler)


def test_weighted_samples_against_a_dict_target():
    """A sampler of (value, log_weight) pairs, checked against unnormalized target masses."""
    probs, accept = [0.5, 0.3, 0.2], [True, False, True]

    def rejection_free(rng):  # propose from probs, weight by the indicator: properly weighted for p * c
        v = rng.categorical(probs)
        return [(v, 0.0 if accept[v] else -math.inf)]

    semantics.check_proper_weighting(rejection_free, {0: 0.5, 2: 0.2})
    with pytest.raises(semantics.CheckFailed, match=r"for 2, .* = 0\.2 but the target p\(x, y\) = 0\.25"):
        semantics.check_proper_weighting(rejection_free, {0: 0.5, 2: 0.25})


def test_stationarity_of_a_gibbs_kernel_and_a_kernel_ignoring_the_evidence():
    report = semantics.check_stationary(inference.gibbs("rain"), sprinkler, reversible=True)
    assert sum(report.posterior.values()) == pytest.approx(1.0)

    def prior_move(rng, trace):
        return trace.gen_fn.regenerate(rng, trace, ppl.select("rain"))[0]

    with pytest.raises(semantics.CheckFailed, match=r"not stationary: the posterior probability of ChoiceMap\("):
        semantics.check_stationary(prior_move, sprinkler)
