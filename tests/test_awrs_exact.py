"""AWRS is properly weighted, checked exactly by enumerating its randomness.

For every token v: E[Z_hat * 1{x = v}] = p(v) c(v), hence E[Z_hat] = Z; and the token is an
exact sample of p c / Z. Checked to 1e-12 under semantics.explore, on random categoricals
and random constraint sets, with and without a rejection cap, with the vocabulary cut into
blocks of every size (the sampler draws a block, then a token in it). With a mask fallback
after C rejections the token law stays exactly p c / Z too (relative 1e-9, tiny masses included),
and ConstrainedGeneration with the fallback on the tiny LM is exactly properly weighted.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ppl
import semantics
from inference.awrs import awrs, masked_sample, token_blocks
from inference.smc_engine.smc import smc
from inference.token_trie import TokenTrie
from lm import constraints, load
from lm.generation.generation import ConstrainedGeneration
from test_generation_exact import MAX_TOKENS, PATTERN, exact_target

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def local_problems(draw):
    size = draw(st.integers(1, 5))
    weights = np.array([draw(st.floats(1e-3, 1.0)) for _ in range(size)])
    accept = [draw(st.booleans()) for _ in range(size)]
    return weights / weights.sum(), accept


def _check_proper_weighting(probs, accept, block_size=None, rtol=0.0, **options):
    """E[w 1{x = v}] = p(v) c(v) for every token v, by semantics.check_proper_weighting (1e-12; also relative `rtol`)."""
    source = probs if block_size is None else token_blocks(probs, block_size)

    def one_draw(rng):
        draw = awrs(rng, source, lambda i: accept[i], **options)
        assert draw.log_weight == -math.inf if draw.token is None else accept[draw.token]
        return [(draw.token, draw.log_weight)]

    target = {v: float(p) for v, (p, a) in enumerate(zip(probs, accept)) if a}
    report = semantics.check_proper_weighting(one_draw, target, atol=1e-12)
    if rtol:
        for v, p in target.items():
            assert report.expected.get(v, 0.0) == pytest.approx(p, rel=rtol, abs=0), v


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


@st.composite
def mixed_problems(draw):
    """Weights that are zero, tiny (down to 1e-300) or ordinary, sometimes one near-certain token; any accept set."""
    size = draw(st.integers(1, 6))
    weights = []
    for _ in range(size):
        kind = draw(st.sampled_from(["zero", "tiny", "ordinary"]))
        weights.append(0.0 if kind == "zero" else draw(st.floats(1e-300, 1e-15)) if kind == "tiny"
                       else draw(st.floats(1e-3, 1.0)))
    if draw(st.booleans()) or not any(w > 0 for w in weights):
        weights[draw(st.integers(0, size - 1))] = 1.0  # near-deterministic when the others are tiny
    total = math.fsum(weights)
    accept = draw(st.lists(st.booleans(), min_size=size, max_size=size))
    return np.array([w / total for w in weights]), accept


def _explore_with_mask(probs, accept, cap, block_size=None, extra_draws=1):
    """Token law, E[Z_hat 1{x = v}] and the outcomes, enumerating awrs with the mask fallback after `cap` rejections."""
    calls = []

    def mask():
        calls.append(1)
        return np.array(accept, dtype=bool), 7  # 7: the work the mask reports

    source = probs if block_size is None else token_blocks(probs, block_size)
    law, weighted, total, outcomes = np.zeros(len(probs)), np.zeros(len(probs)), 0.0, []
    for outcome in semantics.explore(lambda rng: awrs(rng, source, lambda i: accept[i], extra_draws=extra_draws,
                                                      max_rejections=cap, mask=mask)):
        draw, prob = outcome.value, math.exp(outcome.log_prob)
        total += prob
        outcomes.append(draw)
        if draw.token is not None:
            law[draw.token] += prob
            weighted[draw.token] += prob * math.exp(draw.log_weight)
        else:
            assert draw.log_weight == -math.inf
    assert total == pytest.approx(1.0, abs=1e-12)
    assert len(calls) == sum(d.masked for d in outcomes)  # the mask is computed only when the budget runs out
    return law, weighted, outcomes


@settings(max_examples=60, deadline=None)
@given(mixed_problems(), st.integers(0, 2), st.sampled_from([None, 1, 2]), st.integers(1, 2))
def test_mask_fallback_samples_p_c_over_z_and_is_properly_weighted(problem, cap, block_size, extra_draws):
    probs, accept = problem
    c = np.array(accept, dtype=float)
    z = math.fsum(probs * c)
    law, weighted, outcomes = _explore_with_mask(probs, accept, cap, block_size, extra_draws)
    expected_law = probs * c / z if z > 0 else np.zeros(len(probs))
    np.testing.assert_allclose(law, expected_law, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted, probs * c, rtol=1e-9, atol=0)  # relative: tiny masses count
    for draw in outcomes:
        if draw.masked:
            assert draw.rejections == cap and draw.evaluations == cap + 7 + (draw.token is not None)
            if draw.token is not None:
                assert draw.log_weight == pytest.approx(math.log(z), rel=1e-12, abs=1e-12)  # Z exactly
        else:
            assert draw.rejections <= cap
    if z == 0:
        assert all(d.token is None for d in outcomes)


@pytest.mark.parametrize("cap", [0, 1, 2])
def test_mask_fallback_with_nothing_accepted_says_so(cap):
    probs = np.array([0.5, 0.25, 0.125, 0.125])
    law, weighted, outcomes = _explore_with_mask(probs, [False] * 4, cap)
    assert not law.any() and not weighted.any()
    assert all(d.token is None and d.log_weight == -math.inf for d in outcomes)
    assert all(d.masked for d in outcomes)  # 4 tokens, at most 2 rejections: the mask settles it


def test_mask_fallback_on_a_near_certain_rejected_token():
    # The LM puts 1 - 1e-15 on a rejected token: the fallback weight is the tiny accepted mass itself.
    probs = np.array([1.0 - 1e-15, 4e-16, 6e-16 - 1e-30, 1e-30])
    accept = [False, True, False, True]
    law, weighted, outcomes = _explore_with_mask(probs, accept, 1)
    np.testing.assert_allclose(weighted, [0.0, 4e-16, 0.0, 1e-30], rtol=1e-9, atol=0)
    np.testing.assert_allclose(law, [0.0, 4e-16 / (4e-16 + 1e-30), 0.0, 1e-30 / (4e-16 + 1e-30)], rtol=1e-9)
    masked = [d for d in outcomes if d.masked]
    assert masked and all(d.log_weight == pytest.approx(math.log(4e-16 + 1e-30), rel=1e-12) for d in masked)


def test_mask_fallback_bounds_the_work_on_a_large_vocabulary():
    probs = np.full(50_000, 1.0 / 50_000)
    allowed = np.zeros(50_000, dtype=bool)
    allowed[[3, 49_999]] = True
    draw = awrs(ppl.rng(0), probs, lambda i: bool(allowed[i]), max_rejections=64, mask=lambda: (allowed.copy(), 300))
    assert draw.masked and draw.token in (3, 49_999) and draw.rejections == 64
    assert draw.evaluations == 64 + 300 + 1
    assert draw.log_weight == pytest.approx(math.log(2 / 50_000), rel=1e-12)


def test_mask_that_disagrees_with_the_test_is_an_error():
    probs = np.array([0.25, 0.25, 0.25, 0.25])
    with pytest.raises(ValueError, match="must agree"):
        # token 0 is drawn first under the enumerating rng and rejected by the test, accepted by the mask
        next(semantics.explore(lambda rng: awrs(rng, probs, lambda i: False, max_rejections=1,
                                                mask=lambda: (np.ones(4, dtype=bool), 0))))
    with pytest.raises(ValueError, match="must agree"):
        awrs(ppl.rng(0), probs, lambda i: False, max_rejections=0, mask=lambda: (np.ones(4, dtype=bool), 0))


def test_bad_mask_arguments_are_clear_errors():
    probs = np.array([0.5, 0.5])
    with pytest.raises(ValueError, match="max_rejections"):
        awrs(ppl.rng(0), probs, lambda i: True, mask=lambda: (np.ones(2, dtype=bool), 0))
    with pytest.raises(ValueError, match="boolean array of shape"):
        awrs(ppl.rng(0), probs, lambda i: True, max_rejections=0, mask=lambda: (np.ones(3, dtype=bool), 0))
    with pytest.raises(ValueError, match="constraint work"):
        awrs(ppl.rng(0), probs, lambda i: True, max_rejections=0, mask=lambda: np.ones(2, dtype=bool))


@pytest.fixture(scope="module")
def tiny():
    return load("tiny")


class CountingTrie(TokenTrie):
    """The vocabulary trie, counting the masks computed through it."""

    def __init__(self, vocabulary):
        super().__init__(vocabulary)
        self.calls = 0

    def mask(self, constraint, state, keep=None):
        self.calls += 1
        return super().mask(constraint, state, keep)


@pytest.mark.parametrize("budget", [0, 1])
def test_generation_with_the_mask_fallback_is_properly_weighted(tiny, budget):
    """One particle over whole texts, every randomness enumerated: E[Z_hat 1{text = x}] = p(x, c) exactly."""
    constraint = constraints.regex(PATTERN)
    z, target = exact_target(tiny, constraint, MAX_TOKENS)
    trie = CountingTrie([t.bytes if t is not None and not (t.is_special or t.is_eos) else None
                         for t in tiny.vocabulary.tokens])  # as lm.generation.generation.vocabulary_trie builds it
    run = lambda rng: smc(ConstrainedGeneration(tiny, "", constraint, max_tokens=MAX_TOKENS, awrs_budget=budget, trie=trie),
                          particles=1, rng=rng, max_steps=MAX_TOKENS + 1)
    report = semantics.check_proper_weighting(run, {text: p * z for text, p in target.items()},
                                              key=lambda particle: particle.output, atol=0.0, rtol=1e-9)
    assert trie.calls > (report.outcomes if budget == 0 else 0)  # the fallback ran (every step with budget 0)


@settings(max_examples=60, deadline=None)
@given(mixed_problems(), st.integers(0, 2), st.sampled_from([None, 1, 2]), st.data())
def test_candidate_fallback_samples_p_c_over_z_and_is_properly_weighted(problem, cap, block_size, data):
    """After `cap` rejections AWRS draws among a superset of the accepted tokens (less the rejected draws),
    testing only what it draws: the token law is p c / Z and E[w 1{x = v}] = p(v) c(v), exactly."""
    probs, accept = problem
    superset = [a or data.draw(st.booleans()) for a in accept]
    c = np.array(accept, dtype=float)
    z = math.fsum(probs * c)

    def candidates():
        return np.array(superset, dtype=bool), 5

    def mask():
        raise AssertionError("the mask is not computed when candidates are given")

    source = probs if block_size is None else token_blocks(probs, block_size)
    law, weighted, total = np.zeros(len(probs)), np.zeros(len(probs)), 0.0
    for outcome in semantics.explore(lambda rng: awrs(rng, source, lambda i: accept[i], max_rejections=cap,
                                                      mask=mask, candidates=candidates)):
        draw, prob = outcome.value, math.exp(outcome.log_prob)
        total += prob
        if draw.token is not None:
            assert superset[draw.token] and accept[draw.token]
            law[draw.token] += prob
            weighted[draw.token] += prob * math.exp(draw.log_weight)
    assert total == pytest.approx(1.0, abs=1e-12)
    expected_law = probs * c / z if z > 0 else np.zeros(len(probs))
    np.testing.assert_allclose(law, expected_law, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted, probs * c, rtol=1e-9, atol=0)
