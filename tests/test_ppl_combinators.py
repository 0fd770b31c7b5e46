"""map, unfold and switch agree with the same models written out by hand, for every operation."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ppl
import semantics
from ppl import dist

SETTINGS = settings(max_examples=15, deadline=None)
probabilities = st.floats(0.05, 0.95)


@SETTINGS
@given(st.lists(probabilities, min_size=1, max_size=3), st.integers(0, 2**31 - 1))
def test_map_agrees_with_a_loop(ps, seed):
    @ppl.gen
    def flip(p):
        x = ppl.sample(dist.Bernoulli(p), "x")
        ppl.observe(dist.Bernoulli(0.8 if x else 0.3), 1, "y")
        return x

    plate = ppl.map(flip)

    @ppl.gen
    def with_map():
        return ppl.sample(plate(ps), "plate")

    @ppl.gen
    def by_hand():
        out = []
        for i, p in enumerate(ps):
            x = ppl.sample(dist.Bernoulli(p), ("plate", i, "x"))
            ppl.observe(dist.Bernoulli(0.8 if x else 0.3), 1, ("plate", i, "y"))
            out.append(x)
        return out

    a, b = semantics.enumerate(with_map), semantics.enumerate(by_hand)
    assert a.log_z == pytest.approx(b.log_z, abs=1e-9)
    assert semantics.total_variation(a.posterior(), b.posterior()) < 1e-9

    trace = with_map.simulate(seed)
    assert trace.score == pytest.approx(by_hand.assess(trace.choices)[0], abs=1e-9)
    t1, w1, d1 = with_map.update(seed, trace, {("plate", 0, "x"): 1})
    t2, w2, d2 = by_hand.update(seed, by_hand.generate(0, trace.choices)[0], {("plate", 0, "x"): 1})
    assert t1.choices == t2.choices and d1 == d2 and w1 == pytest.approx(w2, abs=1e-9)
    r1, v1 = with_map.regenerate(seed, trace, ppl.select(("plate", 0, "x")))
    r2, v2 = by_hand.regenerate(seed, by_hand.generate(0, trace.choices)[0], ppl.select(("plate", 0, "x")))
    assert r1.choices == r2.choices and v1 == pytest.approx(v2, abs=1e-9)


def test_map_with_a_count_is_an_iid_plate():
    @ppl.gen
    def coin(p):
        return ppl.sample(dist.Bernoulli(p), "c")

    trace = ppl.map(coin, 4).simulate(0, 0.5)
    assert trace.choices.addresses() == [(i, "c") for i in range(4)]
    assert trace.score == pytest.approx(4 * math.log(0.5))
    assert len(trace.retval) == 4


@SETTINGS
@given(probabilities, probabilities, st.integers(0, 2**31 - 1))
def test_switch_agrees_with_if_else(p_index, p_branch, seed):
    @ppl.gen
    def left():
        return ppl.sample(dist.Bernoulli(p_branch), "a")

    @ppl.gen
    def right():
        b = ppl.sample(dist.Categorical(probs=np.array([0.2, 0.3, 0.5])), "b")
        ppl.observe(dist.Bernoulli(0.9 if b == 2 else 0.4), 1, "obs")
        return b

    branches = ppl.switch(left, right)

    @ppl.gen
    def with_switch():
        i = ppl.sample(dist.Bernoulli(p_index), "i")
        return ppl.sample(branches(i), "branch")

    @ppl.gen
    def by_hand():
        i = ppl.sample(dist.Bernoulli(p_index), "i")
        if i == 0:
            return ppl.sample(dist.Bernoulli(p_branch), ("branch", "a"))
        b = ppl.sample(dist.Categorical(probs=np.array([0.2, 0.3, 0.5])), ("branch", "b"))
        ppl.observe(dist.Bernoulli(0.9 if b == 2 else 0.4), 1, ("branch", "obs"))
        return b

    a, b = semantics.enumerate(with_switch), semantics.enumerate(by_hand)
    assert a.log_z == pytest.approx(b.log_z, abs=1e-9)
    assert semantics.total_variation(a.posterior(), b.posterior()) < 1e-9

    trace, _ = with_switch.generate(seed, {"i": 0, ("branch", "a"): 1})
    hand, _ = by_hand.generate(seed, trace.choices)
    assert trace.score == pytest.approx(hand.score, abs=1e-12)
    # Changing the index discards one branch and generates the other, in both spellings.
    t1, w1, d1 = with_switch.update(seed, trace, {"i": 1, ("branch", "b"): 2})
    t2, w2, d2 = by_hand.update(seed, hand, {"i": 1, ("branch", "b"): 2})
    assert t1.choices == t2.choices and d1 == d2 and w1 == pytest.approx(w2, abs=1e-9)
    r1, v1 = with_switch.regenerate(seed, t1, ppl.select(("branch", "b")))
    r2, v2 = by_hand.regenerate(seed, t2, ppl.select(("branch", "b")))
    assert r1.choices == r2.choices and v1 == pytest.approx(v2, abs=1e-9)
    assert with_switch.assess(t1.choices)[0] == pytest.approx(by_hand.assess(t1.choices)[0], abs=1e-12)


def test_unfold_returns_states_and_uses_step_addresses():
    @ppl.gen
    def walk(t, position):
        step = ppl.sample(dist.Choice([-1, 1]), "step")
        return position + step

    trace = ppl.unfold(walk, 5).simulate(1, 0)
    assert trace.choices.addresses() == [(t, "step") for t in range(5)]
    assert trace.retval[-1] == sum(trace.choices[(t, "step")] for t in range(5))
    assert trace.score == pytest.approx(5 * math.log(0.5))


def test_combinator_argument_errors():
    @ppl.gen
    def k(t, s):
        return s

    with pytest.raises(TypeError, match="same length"):
        ppl.map(k)([1, 2], [1])
    with pytest.raises(IndexError, match="out of range"):
        ppl.switch(k, k)(2, 0, 0)
    with pytest.raises(ValueError, match="steps"):
        ppl.unfold(k, -1)
    with pytest.raises(TypeError, match="generative function"):
        ppl.map(lambda x: x)
