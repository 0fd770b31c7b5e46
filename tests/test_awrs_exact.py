"""AWRS is properly weighted, checked exactly by enumerating its randomness.

For every token v: E[Z_hat * 1{x = v}] = p(v) c(v), hence E[Z_hat] = Z; and the token is an
exact sample of p c / Z. Checked to 1e-12 under semantics.explore, on random categoricals
and random constraint sets, with and without a rejection cap, with the vocabulary cut into
blocks of every size (the sampler draws a block, then a token in it).
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import semantics
from inference.awrs import awrs, masked_sample, token_blocks

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def local_problems(draw):
    size = draw(st.integers(1, 5))
    weights = np.array([draw(st.floats(1e-3, 1.0)) for _ in range(size)])
    accept = [draw(st.booleans()) for _ in range(size)]
    return weights / weights.sum(), accept


def _check_proper_weighting(probs, accept, block_size=None, rtol=0.0, **options):
    expected = np.array([p if a else 0.0 for p, a in zip(probs, accept)])
    weighted = np.zeros(len(probs))
    total = 0.0
    source = probs if block_size is None else token_blocks(probs, block_size)
    for outcome in semantics.explore(lambda rng: awrs(rng, source, lambda i: accept[i], **options)):
        draw = outcome.value
        prob = math.exp(outcome.log_prob)
        total += prob
        if draw.token is not None:
            assert accept[draw.token]
            weighted[draw.token] += prob * math.exp(draw.log_weight)
        else:
            assert draw.log_weight == -math.inf
    assert total == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(weighted, expected, atol=1e-12)
    if rtol:
        np.testing.assert_allclose(weighted, expected, rtol=rtol, atol=0)


@SETTINGS
@given(local_problems(), st.integers(1, 3))
def test_awrs_is_properly_weighted(problem, extra_draws):
    probs, accept = problem
    _check_proper_weighting(probs, accept, extra_draws=extra_draws)


@SETTINGS
@given(local_problems(), st.integers(0, 3))
def test_awrs_with_a_rejection_cap_stays_properly_weighted(problem, cap):
    probs, accept = problem
    _check_proper_weighting(probs, accept, max_rejections=cap)


@SETTINGS
@given(local_problems())
def test_awrs_without_cap_samples_the_local_distribution_exactly(problem):
    probs, accept = problem
    z = sum(p for p, a in zip(probs, accept) if a)
    law = np.zeros(len(probs))
    for outcome in semantics.explore(lambda rng: awrs(rng, probs, lambda i: accept[i])):
        if outcome.value.token is not None:
            law[outcome.value.token] += math.exp(outcome.log_prob)
    if z == 0:
        assert law.sum() == 0
    else:
        np.testing.assert_allclose(law, [p / z if a else 0.0 for p, a in zip(probs, accept)], atol=1e-12)


@SETTINGS
@given(local_problems(), st.integers(1, 6), st.integers(1, 2), st.sampled_from([None, 0, 2]))
def test_awrs_is_properly_weighted_for_every_block_size(problem, block_size, extra_draws, cap):
    probs, accept = problem
    _check_proper_weighting(probs, accept, block_size, extra_draws=extra_draws, max_rejections=cap)


@SETTINGS
@given(local_problems(), st.integers(1, 6))
def test_awrs_samples_the_local_distribution_exactly_for_every_block_size(problem, block_size):
    probs, accept = problem
    z = sum(p for p, a in zip(probs, accept) if a)
    law = np.zeros(len(probs))
    for outcome in semantics.explore(lambda rng: awrs(rng, token_blocks(probs, block_size), lambda i: accept[i])):
        if outcome.value.token is not None:
            law[outcome.value.token] += math.exp(outcome.log_prob)
    expected = [p / z if a else 0.0 for p, a in zip(probs, accept)] if z > 0 else np.zeros(len(probs))
    np.testing.assert_allclose(law, expected, atol=1e-12)


@SETTINGS
@given(local_problems())
def test_token_masking_weight_is_the_exact_local_normalizer(problem):
    probs, accept = problem
    z = sum(p for p, a in zip(probs, accept) if a)
    for outcome in semantics.explore(lambda rng: masked_sample(rng, probs, np.array(accept))):
        assert outcome.value.log_weight == (math.log(z) if z > 0 else -math.inf)


def test_near_deterministic_distribution_is_safe():
    probs = np.array([1.0 - 2e-30, 1e-30, 1e-30])
    for outcome in semantics.explore(lambda rng: awrs(rng, probs, lambda i: i == 2)):
        if outcome.value.token is not None:
            assert outcome.value.token == 2 and np.isfinite(outcome.value.log_weight)
    _check_proper_weighting(probs, [False, False, True])


@pytest.mark.parametrize("block_size", [1, 2, 3, 6, None])
def test_tiny_accepted_masses_next_to_a_near_certain_token_are_weighted_exactly(block_size):
    # E[Z_hat 1{x = v}] = p(v) to 1e-9 relative, for v of mass 1e-16..1e-30: an undrawn mass computed
    # as 1 - drawn would be off by whole multiples of these masses.
    probs = np.array([3e-16, 1.0 - 1e-15, 1e-30, 0.0, 7e-16 - 1e-30, 1e-20])
    for accept in ([True, False, True, False, False, True], [False, False, True, True, True, False]):
        for cap in (None, 1):
            _check_proper_weighting(probs, accept, block_size, rtol=1e-9, max_rejections=cap)


def test_awrs_evaluates_few_tokens_when_the_constraint_agrees_with_the_model():
    rng = __import__("ppl").rng(0)
    probs = np.full(50_000, 1e-9)
    probs[7] = 1.0
    probs /= probs.sum()
    draw = awrs(rng, probs, lambda i: i == 7 or i % 2 == 1)
    assert draw.token == 7 and draw.evaluations == 2
