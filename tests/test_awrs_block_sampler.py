"""The block sampler draws without replacement with exactly the flat law, checked by enumeration.

`WithoutReplacementDraws` picks a block by its undrawn mass, then a token inside it. Under
semantics.explore every complete drawing order must have probability
prod_j p(v_j) / (mass undrawn before j), the law of drawing from the undrawn tokens in
proportion to p, and the reported undrawn masses must be the direct sums. Checked in relative
terms (log probabilities to 1e-9), so tiny masses next to a near-certain token count too.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import semantics
from inference.awrs import WithoutReplacementDraws, token_blocks

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def categoricals(draw):
    """Small weightings with zeros, tiny masses and ordinary ones (at least one positive)."""
    size = draw(st.integers(1, 6))
    kinds = st.sampled_from(["zero", "tiny", "ordinary"])
    weights = []
    for _ in range(size):
        kind = draw(kinds)
        if kind == "zero":
            weights.append(0.0)
        elif kind == "tiny":
            weights.append(draw(st.floats(1e-300, 1e-15)))
        else:
            weights.append(draw(st.floats(1e-3, 1.0)))
    if not any(w > 0 for w in weights):
        weights[draw(st.integers(0, size - 1))] = 1.0
    total = math.fsum(weights)
    return np.array([w / total for w in weights])


def _flat_order_law(probs):
    """Every order of the positive tokens with its log probability and its undrawn masses, by formula."""
    law = {}

    def extend(order, log_prob, masses):
        rest = [i for i in range(len(probs)) if probs[i] > 0 and i not in order]
        if not rest:
            law[tuple(order)] = (log_prob, masses)
            return
        undrawn = math.fsum(probs[i] for i in rest)
        for i in rest:
            extend(order + [i], log_prob + math.log(probs[i] / undrawn), masses + [undrawn])

    extend([], 0.0, [])
    return law


def _block_order_law(probs, block_size):
    def draw_all(rng):
        draws = WithoutReplacementDraws(token_blocks(probs, block_size))
        order, masses = [], []
        while (undrawn := draws.undrawn_mass()) > 0:
            masses.append(undrawn)
            order.append(draws.draw(rng))
        return tuple(order), masses

    law = {}
    for outcome in semantics.explore(draw_all):
        order, masses = outcome.value
        assert order not in law, "an order reached by two paths: a block was drawn twice"
        law[order] = (outcome.log_prob, masses)
    return law


def _assert_same_law(probs, block_size):
    flat, blocked = _flat_order_law(probs), _block_order_law(probs, block_size)
    assert set(blocked) == set(flat)
    for order, (log_prob, masses) in flat.items():
        block_log_prob, block_masses = blocked[order]
        assert block_log_prob == pytest.approx(log_prob, rel=0, abs=1e-9), order
        np.testing.assert_allclose(block_masses, masses, rtol=1e-12, atol=0)


@SETTINGS
@given(categoricals(), st.data())
def test_block_sampler_order_law_equals_the_flat_one(probs, data):
    block_size = data.draw(st.sampled_from([1, 2, 3, len(probs), len(probs) + 2, None]))
    _assert_same_law(probs, block_size)


@pytest.mark.parametrize("block_size", [1, 2, 3, 4, None])
def test_near_deterministic_distribution_keeps_its_tiny_masses(block_size):
    probs = np.array([1e-20, 1.0 - 1e-15, 0.0, 3e-16, 7e-16 - 1e-20])
    _assert_same_law(probs, block_size)
    tiny = math.fsum([1e-20, 3e-16, 7e-16 - 1e-20])
    # After the near-certain token, the undrawn mass must be the tiny rest itself, not
    # 1 - (1 - 1e-15), which is off by 11% in float64.
    after_certain = [masses[1] for order, (_, masses) in _block_order_law(probs, block_size).items() if order[0] == 1]
    assert len(after_certain) == 6
    for mass in after_certain:
        assert mass == pytest.approx(tiny, rel=1e-14)


def test_draws_copy_only_what_they_change():
    probs = np.linspace(0.0, 1.0, 5000)
    probs /= probs.sum()
    before = probs.copy()
    blocks = token_blocks(probs)
    masses = blocks.masses.copy()
    draws = WithoutReplacementDraws(blocks)
    for outcome in semantics.explore(lambda rng: [draws.draw(rng) for _ in range(3)], max_outcomes=1):
        assert len(set(outcome.value)) == 3
        break
    np.testing.assert_array_equal(probs, before)
    np.testing.assert_array_equal(blocks.masses, masses)
    assert blocks.block_size == 71 and len(blocks.masses) == 71
    assert token_blocks(probs[:2048]).block_size == 2048


def test_block_masses_are_the_block_sums():
    probs = np.random.default_rng(0).random(103)
    blocks = token_blocks(probs, 10)
    assert len(blocks.masses) == 11
    np.testing.assert_allclose(blocks.masses, [probs[b:b + 10].sum() for b in range(0, 103, 10)], rtol=1e-15)
    assert not blocks.probs.flags.writeable


@pytest.mark.parametrize("probs, block_size, message", [
    (np.array([0.5, -0.1, 0.6]), None, r"non-negative: probs\[1\]"),
    (np.array([0.5, np.nan, 0.5]), None, r"finite: probs\[1\]"),
    (np.array([0.5, 0.5, np.inf]), None, r"finite: probs\[2\]"),
    (np.array([]), None, "non-empty"),
    (np.ones((2, 2)) / 4, None, "1-D"),
    (np.array([0.5, 0.5]), 0, "block_size"),
    (np.array([0.5, 0.5]), 1.5, "block_size"),
])
def test_bad_input_is_named(probs, block_size, message):
    with pytest.raises(ValueError, match=message):
        token_blocks(probs, block_size)
