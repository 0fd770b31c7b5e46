"""The generative-function interface on random finite programs (Hypothesis).

Every property is exact: it follows from the definitions of the five operations, so it is
checked to 1e-9, not statistically.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import ppl
import semantics
from ppl import dist
from semantics.strategies import bayes_nets, hmms

SETTINGS = settings(max_examples=25, deadline=None)


def _logsumexp(values):
    values = np.asarray(values)
    top = values.max()
    return top + math.log(np.exp(values - top).sum()) if top > -math.inf else -math.inf


@SETTINGS
@given(bayes_nets(max_observations=0, allow_factor=False))
def test_assess_sums_to_one_over_all_assignments(net):
    total = _logsumexp([net.program.assess(a)[0] for a in net.assignments()])
    assert total == pytest.approx(0.0, abs=1e-9)


@SETTINGS
@given(bayes_nets())
def test_assess_over_assignments_gives_the_exact_normalizer(net):
    total = _logsumexp([net.program.assess(a)[0] for a in net.assignments()])
    assert total == pytest.approx(semantics.enumerate(net.program).log_z, abs=1e-9)


@SETTINGS
@given(bayes_nets(), st.integers(0, 2**31 - 1))
def test_generate_under_full_constraints_equals_assess(net, seed):
    for assignment in net.assignments():
        trace, weight = net.program.generate(seed, assignment)
        log_p, retval = net.program.assess(assignment)
        assert weight == pytest.approx(log_p, abs=1e-9) or weight == log_p == -math.inf
        assert trace.score == weight or trace.score == weight == -math.inf
        assert trace.choices == assignment and trace.retval == retval


@SETTINGS
@given(bayes_nets(), st.integers(0, 2**31 - 1))
def test_generate_weight_is_score_minus_proposal(net, seed):
    address = net.addresses()[0]
    value = next(iter(net.assignments()))[address]
    trace, weight = net.program.generate(seed, {address: value})
    fresh = sum(trace.subtraces[(a,)].score for a in net.addresses() if a != address)
    assert weight == pytest.approx(trace.score - fresh, abs=1e-9) or weight == -math.inf


@SETTINGS
@given(bayes_nets(), st.integers(0, 2**31 - 1))
def test_update_without_change_has_weight_zero(net, seed):
    trace = net.program.simulate(seed)
    if trace.score == -math.inf:
        return
    new, weight, discard = net.program.update(seed + 1, trace, {})
    assert weight == 0.0 and discard.is_empty() and new.choices == trace.choices


@SETTINGS
@given(bayes_nets(), st.integers(0, 2**31 - 1), st.data())
def test_update_weight_and_discard_restore_the_trace(net, seed, data):
    trace = net.program.simulate(seed)
    address = data.draw(st.sampled_from(net.addresses()))
    index = int(address[1:])
    value = data.draw(st.integers(0, net.cardinalities[index] - 1))
    new, weight, discard = net.program.update(seed + 1, trace, {address: value})
    assert new.choices[address] == value
    if trace.score > -math.inf and new.score > -math.inf:
        assert weight == pytest.approx(new.score - trace.score, abs=1e-9)
    back, back_weight, back_discard = net.program.update(seed + 2, new, discard)
    assert back.choices == trace.choices
    assert back_discard == {address: value}
    if trace.score > -math.inf and new.score > -math.inf:
        assert back_weight == pytest.approx(-weight, abs=1e-9)


@SETTINGS
@given(bayes_nets(), st.integers(0, 2**31 - 1))
def test_regenerate_with_empty_selection_has_weight_zero(net, seed):
    trace = net.program.simulate(seed)
    if trace.score == -math.inf:
        return
    new, weight = net.program.regenerate(seed + 1, trace, ppl.Selection.none())
    assert weight == 0.0 and new.choices == trace.choices


@SETTINGS
@given(bayes_nets(max_observations=0, allow_factor=False), st.integers(0, 2**31 - 1))
def test_regenerate_everything_from_the_prior_has_weight_zero(net, seed):
    trace = net.program.simulate(seed)
    _, weight = net.program.regenerate(seed + 1, trace, ppl.Selection.all())
    assert weight == pytest.approx(0.0, abs=1e-12)


@SETTINGS
@given(bayes_nets(), st.integers(0, 2**31 - 1), st.data())
def test_regenerate_weight_is_the_mh_ratio(net, seed, data):
    """w = log p(t')/p(t) - log q(t'|t) + log q(t|t') with q the prior of the selected choice."""
    trace = net.program.simulate(seed)
    if trace.score == -math.inf:
        return
    address = data.draw(st.sampled_from(net.addresses()))
    new, weight = net.program.regenerate(seed + 1, trace, ppl.select(address))
    q_new = new.subtraces[(address,)].score
    q_old = trace.subtraces[(address,)].score
    expected = new.score - trace.score - q_new + q_old
    assert weight == pytest.approx(expected, abs=1e-9) or weight == expected == -math.inf


@settings(max_examples=15, deadline=None)
@given(hmms())
def test_unfold_agrees_with_the_handwritten_model(hmm):
    unfolded, handwritten = hmm.unfolded(), hmm.handwritten()
    a, b = semantics.enumerate(unfolded), semantics.enumerate(handwritten)
    assert a.log_z == pytest.approx(b.log_z, abs=1e-9)
    assert semantics.total_variation(a.posterior(), b.posterior()) < 1e-9
    trace = unfolded.simulate(0)
    for name, other in (("assess", handwritten.assess(trace.choices)[0]),):
        assert trace.score == pytest.approx(other, abs=1e-9), name
    constraint = {("steps", 0, "x"): 1}
    t1, w1, d1 = unfolded.update(1, trace, constraint)
    t2, w2, d2 = handwritten.update(1, handwritten.generate(0, trace.choices)[0], constraint)
    assert t1.choices == t2.choices and d1 == d2
    assert w1 == pytest.approx(w2, abs=1e-9)


def test_hierarchical_addresses_and_nested_calls():
    @ppl.gen
    def coin(p):
        return ppl.sample(dist.Bernoulli(p), "flip")

    @ppl.gen
    def two_coins():
        a = ppl.sample(coin(0.3), "first")
        b = ppl.sample(coin(0.6), ("second", "inner"))
        return a + b

    trace = two_coins.simulate(3)
    assert set(trace.choices.addresses()) == {("first", "flip"), ("second", "inner", "flip")}
    assert trace.choices["first", "flip"] == trace.choices[("first", "flip")]
    assert trace.choices.submap("second").submap("inner")["flip"] in (0, 1)
    log_p, _ = two_coins.assess({"first": {"flip": 1}, ("second", "inner", "flip"): 0})
    assert log_p == pytest.approx(math.log(0.3 * 0.4), abs=1e-12)


def test_conditions_and_factors_enter_the_score():
    @ppl.gen
    def program():
        x = ppl.sample(dist.Bernoulli(0.5), "x")
        ppl.factor(1.5)
        ppl.condition(x == 1)
        return x

    assert program.assess({"x": 1})[0] == pytest.approx(math.log(0.5) + 1.5)
    assert program.assess({"x": 0})[0] == -math.inf
    exact = semantics.enumerate(program)
    assert exact.log_z == pytest.approx(math.log(0.5) + 1.5)
    assert exact.marginal("x") == {1: 1.0}


def test_structure_changes_in_update_and_regenerate():
    """A choice that exists only on one branch is discarded or freshly sampled, with Gen's weights."""
    @ppl.gen
    def program():
        branch = ppl.sample(dist.Bernoulli(0.4), "branch")
        if branch:
            ppl.sample(dist.Categorical(probs=np.array([0.1, 0.9])), "extra")
        return branch

    trace, _ = program.generate(0, {"branch": 1, "extra": 0})
    new, weight, discard = program.update(1, trace, {"branch": 0})
    assert "extra" not in new.choices and discard == {"branch": 1, "extra": 0}
    assert weight == pytest.approx(math.log(0.6) - math.log(0.4 * 0.1), abs=1e-12)
    back, w_back = program.regenerate(2, new, ppl.select("branch"))
    if back.choices["branch"] == 1:  # 'extra' appeared: it was proposed from the prior
        assert w_back == pytest.approx(0.0, abs=1e-12)
