"""The HMM SMC example: its exact reference agrees with semantics.enumerate, its pipeline (SMC with
systematic resampling and Gibbs rejuvenation) is exactly properly weighted on a small instance, and
the example itself runs end to end."""
from __future__ import annotations

import math

import numpy as np

from examples import hmm_smc
from semantics import enumerate as exact_enumerate, explore

SMALL = dict(initial=np.array([0.7, 0.3]), transition=np.array([[0.6, 0.4], [0.3, 0.7]]),
             emission=np.array([[0.8, 0.2], [0.25, 0.75]]))


def test_forward_backward_matches_enumeration():
    observations = hmm_smc.BOATS[:4]
    chain = hmm_smc.hmm(hmm_smc.INITIAL, hmm_smc.TRANSITION, hmm_smc.EMISSION, observations)
    exact = exact_enumerate(chain, None)
    log_z, smoothing = hmm_smc.forward_backward(hmm_smc.INITIAL, hmm_smc.TRANSITION, hmm_smc.EMISSION, observations)
    assert abs(log_z - exact.log_z) < 1e-9
    for t in range(len(observations)):
        marginal = exact.marginal((t, "x"))
        np.testing.assert_allclose(smoothing[t], [marginal.get(s, 0.0) for s in range(3)], rtol=0, atol=1e-9)


def test_the_example_pipeline_is_properly_weighted_exactly():
    # Two particles, two steps, resampling (and so rejuvenating) after the first step: every outcome of
    # SMC (states, resampling, Gibbs moves) enumerated.
    observations = [1, 0]
    chain = hmm_smc.hmm(SMALL["initial"], SMALL["transition"], SMALL["emission"], observations)
    exact = exact_enumerate(chain, None)
    want = {e.choices: math.exp(e.log_weight) for e in exact.executions}
    got: dict = {}
    for outcome in explore(lambda rng: hmm_smc.run_smc(SMALL["initial"], SMALL["transition"], SMALL["emission"],
                                                        observations, 2, rng, ess_threshold=1.0)):
        result, p = outcome.value, math.exp(outcome.log_prob)
        assert result.steps[0].resampled
        z = math.exp(result.log_ml)
        for w, particle in zip(result.weights, result.particles):
            got[particle.trace.choices] = got.get(particle.trace.choices, 0.0) + p * z * w
    for key in set(got) | set(want):
        assert abs(got.get(key, 0.0) - want.get(key, 0.0)) < 1e-9


def test_the_example_runs():
    out = hmm_smc.main(particles=20, seed=1)
    result = out["result"]
    assert len(result.particles) == 20 and math.isfinite(out["log_ml"])
    assert out["estimated"].shape == (len(hmm_smc.BOATS), 3)
    np.testing.assert_allclose(out["estimated"].sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(out["smoothing"].sum(axis=1), 1.0, atol=1e-12)
    assert all(p.trace.gen_fn.steps == len(hmm_smc.BOATS) for p in result.particles)
