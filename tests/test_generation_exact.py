"""Constrained generation, checked against the exact conditioned distribution of the tiny LM.

The target is p(text | constraint, at most T tokens), enumerated by semantics.enumerate.
Running the generators under the enumerating rng gives their exact behaviour:
* SMC is properly weighted: E[Z_hat 1{output = x}] = p(x, c) for every text x, so E[Z_hat] = Z
  (with the masking proposal for N = 1..3 particles; AWRS's per-token proper weighting is
  checked exactly on random categoricals in test_awrs_exact.py — enumerating AWRS over whole
  texts visits every order of rejected tokens and is too large for a unit test);
* token masking's sampling distribution (LCD) is not the target, and the exact KL from the
  target of SMC's output distribution shrinks as particles grow.
A statistical test (empirical Bernstein bound) checks E[Z_hat] = Z for AWRS-SMC with 2 particles.
"""
import math

import numpy as np
import pytest

import ppl
import semantics
from lm import constraints, load
from lm.generation.generation import generate

MAX_TOKENS = 3
PATTERN = r"(ab|ba|b)"


@pytest.fixture(scope="module")
def tiny():
    return load("tiny")


def exact_target(llm, constraint, max_tokens):
    @ppl.gen
    def program():
        context = llm.context("")
        text = b""
        for i in range(max_tokens):
            token = ppl.sample(context.next_token(), i)
            if token.is_eos:
                ppl.condition(constraint.accepts(text))
                return text.decode("utf-8", errors="replace")
            text += token.bytes
        ppl.condition(False)  # ConstrainedGeneration stops a particle at max_tokens tokens
        return ""

    exact = semantics.enumerate(program)
    return math.exp(exact.log_z), exact.retval.probabilities()


def exact_behaviour(llm, constraint, max_tokens, **options):
    """Exact law of one output drawn by the result's weights, and E[Z_hat 1{output}], over all randomness."""
    law, weighted, total = {}, {}, 0.0
    for outcome in semantics.explore(lambda rng: generate(llm, "", constraint, max_tokens=max_tokens, rng=rng, **options)):
        prob = math.exp(outcome.log_prob)
        total += prob
        result = outcome.value
        z = math.exp(result.log_ml)
        for particle, w in zip(result.particles, result.weights):
            text = particle.trace.output
            law[text] = law.get(text, 0.0) + prob * w
            weighted[text] = weighted.get(text, 0.0) + prob * z * w
    assert total == pytest.approx(1.0, abs=1e-9)
    return law, weighted


def _kl(p, q):
    return sum(pk * math.log(pk / q[k]) for k, pk in p.items() if pk > 0)


def _assert_properly_weighted(weighted, z, target):
    assert sum(weighted.values()) == pytest.approx(z, rel=1e-9)
    for text, p in target.items():
        assert weighted.get(text, 0.0) == pytest.approx(p * z, rel=1e-9)


def test_smc_is_properly_weighted_and_converges_while_masking_is_biased(tiny):
    constraint = constraints.regex(PATTERN)
    z, target = exact_target(tiny, constraint, MAX_TOKENS)
    lcd, _ = exact_behaviour(tiny, constraint, MAX_TOKENS, method="lcd", particles=1)
    assert set(lcd) == set(target)
    assert 0.5 * sum(abs(lcd[k] - target[k]) for k in target) > 0.01  # the myopic law is not the conditioned one
    kls = []
    for particles in (1, 2, 3):
        law, weighted = exact_behaviour(tiny, constraint, MAX_TOKENS, method="smc", proposal="mask", particles=particles)
        _assert_properly_weighted(weighted, z, target)
        kls.append(_kl(target, law))
    assert kls[0] == pytest.approx(_kl(target, lcd), rel=1e-9)  # one particle samples the local law
    assert kls[0] > kls[1] > kls[2]


def test_awrs_smc_estimates_the_normalizer_without_bias(tiny):
    """Each run's Z_hat lies in [0, 1]; the empirical-Bernstein bound (Maurer & Pontil 2009) at delta = 1e-4."""
    constraint = constraints.regex(PATTERN)
    z, _ = exact_target(tiny, constraint, MAX_TOKENS)
    runs = 300
    estimates = np.array([math.exp(generate(tiny, "", constraint, particles=2, max_tokens=MAX_TOKENS, rng=seed).log_ml)
                          for seed in range(runs)])
    assert ((estimates >= 0) & (estimates <= 1)).all()
    delta = 1e-4
    variance = estimates.var(ddof=1)
    bound = math.sqrt(2 * variance * math.log(2 / delta) / runs) + 7 * math.log(2 / delta) / (3 * (runs - 1))
    assert abs(estimates.mean() - z) <= bound


def test_unsatisfiable_constraint_is_a_clear_result(tiny):
    result = generate(tiny, "", constraints.regex("zzz"), particles=4, max_tokens=5, rng=0)
    assert result.all_dead and result.log_ml == -math.inf
    assert "no valid continuation" in result.message
